"""Settings: ``callvault.toml`` in the home folder, overridden by ``CALLVAULT_*`` variables.

``callvault check`` validates them; a bad setting fails fast with the key and the fix.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, fields
from pathlib import Path

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
    max_ingest_bytes: int
    max_clock_skew_s: int
    max_call_hours: int

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
    "max_ingest_bytes",
    "max_clock_skew_s",
    "max_call_hours",
    "log_format",
)
_INT_KEYS = {"max_ingest_bytes", "max_clock_skew_s", "max_call_hours"}


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
        "max_ingest_bytes": DEFAULT_MAX_INGEST_BYTES,
        "max_clock_skew_s": DEFAULT_MAX_CLOCK_SKEW_S,
        "max_call_hours": DEFAULT_MAX_CALL_HOURS,
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
        max_ingest_bytes=int(str(typed["max_ingest_bytes"])),
        max_clock_skew_s=int(str(typed["max_clock_skew_s"])),
        max_call_hours=int(str(typed["max_call_hours"])),
    )


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
        elif key in {"policy_file", "key_file", "audit_key_file"}:
            out[key] = Path(str(value))
        else:
            out[key] = str(value)
    return out
