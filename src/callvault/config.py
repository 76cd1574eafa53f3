"""Settings: ``callvault.toml`` in the home folder, overridden by ``CALLVAULT_*`` variables.

``callvault check`` validates them; a bad setting fails fast with the key and the fix.
"""

from __future__ import annotations

import json
import os
import tomllib
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from callvault.errors import ConfigError

SETTINGS_FILE = "callvault.toml"
DEFAULT_HOME = "callvault-home"


@dataclass(frozen=True, slots=True)
class Settings:
    home: Path
    db_url: str
    blob_url: str
    queue_url: str
    log_format: str
    policy_file: Path
    key_file: Path
    audit_key_file: Path
    # Every erasure, outside the database so a restore cannot undo it (retention/ledger.py).
    erasure_ledger: Path
    max_ingest_bytes: int
    max_clock_skew_s: int
    max_call_hours: int
    # Single sign-on (OpenID Connect, access/oidc.py); an empty oidc_issuer turns it off.
    oidc_issuer: str
    oidc_client_id: str
    oidc_client_secret_file: Path
    oidc_redirect_uri: str
    oidc_token_auth_method: str
    oidc_username_claim: str
    oidc_username_domain: str
    oidc_groups_claim: str
    oidc_group_roles: dict[str, str]  # group id (Entra: object id) -> policy role id
    oidc_mfa_amr: tuple[str, ...]
    # Web sessions (access/sessions.py).
    session_idle_minutes: int
    session_max_hours: int
    session_cookie_secure: bool
    # Speech (speech/): which Whisper model, where it runs, and how found data is muted.
    speech_model_dir: Path | None  # None: the Whisper base weights packaged with callvault
    speech_device: str
    speech_compute_type: str
    speech_threads: int  # 0: one per core
    redaction_mode: str  # "silence" or "bleep"

    def as_dict(self) -> dict[str, object]:
        return {f.name: str(getattr(self, f.name)) for f in fields(self)}


# A 2-hour two-channel 16 kHz WAV is about 460 MB; larger uploads are refused.
DEFAULT_MAX_INGEST_BYTES = 512 * 1024 * 1024
# PBX clocks drift; a start time further ahead than this is a metadata error.
DEFAULT_MAX_CLOCK_SKEW_S = 300
DEFAULT_MAX_CALL_HOURS = 24

# Keys a toml file or the environment may set; each documented in docs/settings.md.
SETTING_KEYS = (
    "db_url",
    "blob_url",
    "queue_url",
    "policy_file",
    "erasure_ledger",
    "max_ingest_bytes",
    "max_clock_skew_s",
    "max_call_hours",
    "log_format",
    "oidc_issuer",
    "oidc_client_id",
    "oidc_client_secret_file",
    "oidc_redirect_uri",
    "oidc_token_auth_method",
    "oidc_username_claim",
    "oidc_username_domain",
    "oidc_groups_claim",
    "oidc_group_roles",
    "oidc_mfa_amr",
    "session_idle_minutes",
    "session_max_hours",
    "session_cookie_secure",
    "speech_model_dir",
    "speech_device",
    "speech_compute_type",
    "speech_threads",
    "redaction_mode",
)
_INT_KEYS = {
    "max_ingest_bytes",
    "max_clock_skew_s",
    "max_call_hours",
    "session_idle_minutes",
    "session_max_hours",
}
_BOOL_KEYS = {"session_cookie_secure"}


def home_from_env() -> Path:
    return Path(os.environ.get("CALLVAULT_HOME", DEFAULT_HOME)).resolve()


def defaults(home: Path) -> dict[str, object]:
    return {
        "db_url": f"sqlite:///{home / 'callvault.db'}",
        "blob_url": f"file://{home / 'blobs'}",
        # Empty: the jobs table in db_url's database; a PostgreSQL URL: procrastinate.
        "queue_url": "",
        "log_format": "text",
        "policy_file": home / "policy.yaml",
        "key_file": home / "keys" / "kek.json",
        "audit_key_file": home / "keys" / "audit-signing.json",
        "erasure_ledger": home / "erasure-ledger.jsonl",
        "max_ingest_bytes": DEFAULT_MAX_INGEST_BYTES,
        "max_clock_skew_s": DEFAULT_MAX_CLOCK_SKEW_S,
        "max_call_hours": DEFAULT_MAX_CALL_HOURS,
        "oidc_issuer": "",
        "oidc_client_id": "",
        "oidc_client_secret_file": home / "keys" / "oidc-client-secret",
        "oidc_redirect_uri": "",
        "oidc_token_auth_method": "client_secret_basic",
        "oidc_username_claim": "preferred_username",
        "oidc_username_domain": "",
        "oidc_groups_claim": "groups",
        "oidc_group_roles": {},
        "oidc_mfa_amr": ("mfa",),
        "session_idle_minutes": 30,
        "session_max_hours": 12,
        "session_cookie_secure": True,
        "speech_model_dir": "",
        "speech_device": "cpu",
        "speech_compute_type": "int8",
        "speech_threads": "0",
        "redaction_mode": "silence",
    }


def load_settings(home: Path | None = None) -> Settings:
    """Read settings for ``home`` (default ``$CALLVAULT_HOME`` or ``./callvault-home``)."""
    home = (home or home_from_env()).resolve()
    values = defaults(home)
    toml_path = home / SETTINGS_FILE
    if toml_path.exists():
        values.update(_read_toml(toml_path))
    for key in SETTING_KEYS:
        env = os.environ.get(f"CALLVAULT_{key.upper()}")
        if env is not None:
            values[key] = env
    typed = _coerce(values)
    return Settings(
        home=home,
        db_url=str(typed["db_url"]),
        blob_url=str(typed["blob_url"]),
        queue_url=str(typed["queue_url"]),
        log_format=_choice(typed["log_format"], "log_format", ("text", "json")),
        policy_file=_path(typed["policy_file"], home),
        key_file=_path(typed["key_file"], home),
        audit_key_file=_path(typed["audit_key_file"], home),
        erasure_ledger=_path(typed["erasure_ledger"], home),
        max_ingest_bytes=int(str(typed["max_ingest_bytes"])),
        max_clock_skew_s=int(str(typed["max_clock_skew_s"])),
        max_call_hours=int(str(typed["max_call_hours"])),
        **_oidc_settings(typed, home),
        session_idle_minutes=int(str(typed["session_idle_minutes"])),
        session_max_hours=int(str(typed["session_max_hours"])),
        session_cookie_secure=bool(typed["session_cookie_secure"]),
        **_speech_settings(typed, home),
    )


def _speech_settings(typed: dict[str, object], home: Path) -> dict[str, Any]:
    folder = str(typed["speech_model_dir"]).strip()
    threads = str(typed["speech_threads"]).strip()
    if not threads.isdigit():
        raise ConfigError(
            f"setting speech_threads must be 0 (one per core) or a whole number, got {threads!r}",
            "speech_threads",
        )
    return {
        "speech_model_dir": _path(folder, home) if folder else None,
        "speech_device": _choice(typed["speech_device"], "speech_device", ("cpu", "cuda", "auto")),
        "speech_compute_type": _choice(
            typed["speech_compute_type"],
            "speech_compute_type",
            ("int8", "int8_float16", "float16", "float32", "default"),
        ),
        "speech_threads": int(threads),
        "redaction_mode": _choice(typed["redaction_mode"], "redaction_mode", ("silence", "bleep")),
    }


def _choice(value: object, key: str, allowed: tuple[str, ...]) -> str:
    text = str(value)
    if text not in allowed:
        raise ConfigError(f"setting {key} must be one of {', '.join(allowed)}, got {text!r}", key)
    return text


def _path(value: object, home: Path) -> Path:
    # Relative paths in settings are relative to the home folder, not the working directory.
    path = Path(str(value))
    return path if path.is_absolute() else home / path


def _read_toml(path: Path) -> dict[str, object]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}", field=str(path)) from exc
    unknown = sorted(set(data) - set(SETTING_KEYS))
    if unknown:
        raise ConfigError(
            f"{path}: unknown setting {unknown[0]!r}; known settings: {', '.join(SETTING_KEYS)}",
            field=unknown[0],
        )
    return dict(data)


def _coerce(values: dict[str, object]) -> dict[str, object]:
    out: dict[str, object] = {}
    for key, value in values.items():
        if key in _INT_KEYS:
            try:
                number = int(str(value))
            except ValueError:
                raise ConfigError(
                    f"setting {key} must be a whole number, got {value!r}", field=key
                ) from None
            if number <= 0:
                raise ConfigError(f"setting {key} must be positive, got {number}", field=key)
            out[key] = number
        elif key in _BOOL_KEYS:
            out[key] = _flag(value, key)
        elif key == "oidc_group_roles":
            out[key] = _group_roles(value)
        elif key == "oidc_mfa_amr":
            out[key] = _names(value, key)
        elif key in {
            "policy_file",
            "key_file",
            "audit_key_file",
            "erasure_ledger",
            "oidc_client_secret_file",
        }:
            out[key] = Path(str(value))
        else:
            out[key] = str(value)
    return out


def _oidc_settings(typed: dict[str, object], home: Path) -> dict[str, Any]:
    text = {
        key: str(typed[key]).strip()
        for key in (
            "oidc_issuer",
            "oidc_client_id",
            "oidc_redirect_uri",
            "oidc_username_claim",
            "oidc_username_domain",
            "oidc_groups_claim",
        )
    }
    return {
        **text,
        "oidc_client_secret_file": _path(typed["oidc_client_secret_file"], home),
        "oidc_token_auth_method": _choice(
            typed["oidc_token_auth_method"],
            "oidc_token_auth_method",
            ("client_secret_basic", "client_secret_post"),
        ),
        "oidc_group_roles": typed["oidc_group_roles"],
        "oidc_mfa_amr": typed["oidc_mfa_amr"],
    }


def _group_roles(value: object) -> dict[str, str]:
    # A toml table, or (from the environment) the same mapping as a JSON object.
    if isinstance(value, str):
        try:
            value = json.loads(value) if value.strip() else {}
        except ValueError:
            value = None
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and k and v for k, v in value.items()
    ):
        raise ConfigError(
            "setting oidc_group_roles must map group ids to role ids, e.g. "
            '{"<group object id>": "team_leader"} (a toml table, or JSON in the environment)',
            field="oidc_group_roles",
        )
    return dict(value)


def _flag(value: object, key: str) -> bool:
    # A toml boolean, or (from the environment) true/false.
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"true", "1", "yes"}:
        return True
    if text in {"false", "0", "no"}:
        return False
    raise ConfigError(f"setting {key} must be true or false, got {value!r}", field=key)


def _names(value: object, key: str) -> tuple[str, ...]:
    # A toml list, or (from the environment) names separated by commas.
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not all(isinstance(i, str) for i in items):
        raise ConfigError(f"setting {key} must be a list of names, got {value!r}", field=key)
    return tuple(item.strip() for item in items if item.strip())
