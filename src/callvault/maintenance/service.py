"""Looking after a home folder: create it, check it (and repair what is safe), rotate keys."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from callvault.access.signin import rewrap_totp_secrets
from callvault.analytics.caller_key import rewrap_caller_key
from callvault.audit.signing import create_signer
from callvault.bootstrap import Services, build
from callvault.capture.spool import remove_stale_spools, spool_folder
from callvault.config import SETTINGS_FILE, defaults
from callvault.context import RequestContext
from callvault.db import current_revision, head_revision, migrate, transaction
from callvault.errors import CallvaultError, Conflict
from callvault.locks import file_lock, file_lock_if_free, live_lock_beside
from callvault.policy.loader import load_policy
from callvault.retention.purge import blobs_being_purged
from callvault.secretfile import replace_private
from callvault.speech.weights import model_files
from callvault.training.store import live_clip_blobs, rewrap_clip_keys
from callvault.vault.interfaces import BlobLocked
from callvault.vault.keys import LocalKeyFile

SHIPPED_POLICY = Path(__file__).parent.parent / "policy" / "data" / "council-example.yaml"

_SETTINGS_TEMPLATE = """\
# callvault settings. CALLVAULT_<NAME> environment variables override these.
# Every setting is described in docs/settings.md.
# db_url = "postgresql+psycopg://callvault@db/callvault"
# blob_url = "file:///var/lib/callvault/blobs"
# policy_file = "policy.yaml"
# max_ingest_bytes = 536870912
"""


@dataclass
class InitResult:
    home: Path
    admin_user: str
    admin_password: str
    ingest_user: str
    ingest_token: str
    demo: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "home": str(self.home),
            "admin_user": self.admin_user,
            "admin_password": self.admin_password,
            "ingest_user": self.ingest_user,
            "ingest_token": self.ingest_token,
            "demo": self.demo,
        }


def init_home(ctx: RequestContext, home: Path, policy_file: Path | None = None) -> Services:
    """Create a home folder: settings, key files, policy copy, database. Refuses to overwrite."""
    home = home.resolve()
    if (home / SETTINGS_FILE).exists():
        raise Conflict(f"{home} is already a callvault home; choose another folder", "home")
    source_policy = policy_file or SHIPPED_POLICY
    load_policy(source_policy)  # a bad policy stops init before anything is written
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    home.chmod(0o700)
    paths = defaults(home)
    LocalKeyFile.create(Path(str(paths["key_file"])))
    create_signer(Path(str(paths["audit_key_file"])))
    shutil.copyfile(source_policy, Path(str(paths["policy_file"])))
    services = build(home)
    migrate(services.engine)
    # Settings last: its presence marks a finished home, so a failed init can be re-run.
    # Backends chosen by environment at init are written down, so later commands find them.
    chosen = [
        f"{key} = {_toml_string(str(getattr(services.settings, key)))}"
        for key in ("db_url", "blob_url", "queue_url")
        if str(getattr(services.settings, key)) != str(paths.get(key, ""))
    ]
    settings_text = _SETTINGS_TEMPLATE + "".join(f"{line}\n" for line in chosen)
    # 0600: a database URL may carry a password.
    replace_private(home / SETTINGS_FILE, settings_text.encode())
    with transaction(services.engine) as conn:
        services.audit.append(
            conn,
            ctx,
            "home.initialised",
            object_type="home",
            object_id=str(home),
            details={"policy_version": services.policy.policy.version},
        )
    return services


def _toml_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass
class CheckResult:
    problems: list[str]
    repaired: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "problems": self.problems, "repaired": self.repaired}


def check_home(services: Services, *, repair: bool) -> CheckResult:
    """Validate settings, policy, keys, speech model, schema, audit chain, erasure ledger and
    blob/catalogue consistency."""
    problems: list[str] = []
    repaired: list[str] = []
    for label, probe in (
        ("policy", lambda: services.policy),
        ("key file", services.keys.active_key_id),
        ("audit signing key", lambda: services.audit),
        # The weights' hashes (or a model folder's files), without loading the model.
        ("speech model", lambda: model_files(services.settings.speech_model_dir)),
    ):
        try:
            probe()
        except CallvaultError as exc:
            problems.append(f"{label}: {exc.message}")
    if problems:
        return CheckResult(problems, repaired)
    _check_home_private(services.settings.home, repair, problems, repaired)
    if current_revision(services.engine) != head_revision():
        problems.append("database schema is not current; run `callvault check --repair`")
        if repair:
            migrate(services.engine)
            repaired.append("migrated the database schema")
            problems.pop()
    verified = services.audit.verify()
    if not verified.ok:
        problems.append(f"audit trail: {verified.problem} (first bad entry {verified.first_bad})")
    ledger = services.ledger.verify()
    if not ledger.ok:
        # Purge refuses to append to it and restore to rely on it: both wait for a fix.
        problems.append(f"erasure ledger: {ledger.problem}")
    _check_blobs(services, repair, problems, repaired)
    return CheckResult(problems, repaired)


def _check_home_private(home: Path, repair: bool, problems: list[str], repaired: list[str]) -> None:
    """The home holds personal data and keys: nobody but its owner may enter it."""
    if home.stat().st_mode & 0o077:
        if repair:
            home.chmod(0o700)
            repaired.append(f"made {home} private to its owner (chmod 700)")
        else:
            problems.append(f"{home} is open to other users; run `chmod 700 {home}`")


def _check_blobs(
    services: Services, repair: bool, problems: list[str], repaired: list[str]
) -> None:
    # Exclusive: no ingest is between writing its blob and committing its row meanwhile.
    with file_lock(services.lock_path, exclusive=True):
        # Blobs a purge is still deleting are neither needed nor orphans: the purge has them.
        purging = blobs_being_purged(services.engine)
        with services.engine.connect() as conn:
            clips = live_clip_blobs(conn)
        catalogued = (services.catalog.blob_names() | clips) - purging
        stored = set(services.blobs.names())
        orphans = sorted(stored - catalogued - purging)
        missing = sorted(catalogued - stored)
        for name in missing:
            problems.append(f"recording blob {name} is missing from the blob store")
        if repair:
            _remove_unfinished_writes(services, repaired)
            locked = 0
            for name in orphans:
                try:
                    services.blobs.delete(name)
                except BlobLocked:
                    # Object Lock keeps the bytes until their date; their key never existed
                    # outside the crashed process, so they are unreadable meanwhile.
                    locked += 1
            if orphans:
                repaired.append(
                    f"removed {len(orphans) - locked} orphan blob(s) never catalogued"
                    + (
                        f"; {locked} more hidden, kept by Object Lock until their retention "
                        "date (unreadable: their keys were never stored); a later --repair "
                        "removes them"
                        if locked
                        else ""
                    )
                )
        elif orphans:
            problems.append(
                f"{len(orphans)} blob(s) were never catalogued (an interrupted ingest); "
                "run `callvault check --repair`"
            )


def _remove_unfinished_writes(services: Services, repaired: list[str]) -> None:
    """Delete writes a crash left unfinished, unless a live call is writing right now."""
    with file_lock_if_free(live_lock_beside(services.lock_path)) as no_call_in_progress:
        if not no_call_in_progress:
            repaired.append(
                "calls are being recorded: unfinished writes are left alone; run "
                "`callvault check --repair` again when none is"
            )
            return
        removed = services.blobs.remove_incomplete()
        spools = remove_stale_spools(spool_folder(services.settings.home))
    if removed:
        repaired.append(f"removed {removed} incomplete blob write(s)")
    if spools:
        # Sealed under keys that died with the process that wrote them: unreadable.
        repaired.append(f"removed {spools} unfinished call spool(s)")


def rotate_keys(services: Services, ctx: RequestContext) -> int:
    """Re-wrap every data key under a new key-encryption key; audio is not re-encrypted."""
    # Exclusive: an ingest that wrapped its key under the old KEK commits before we start, so
    # no row can still name a retired KEK.
    with file_lock(services.lock_path, exclusive=True):
        return _rotate_locked(services, ctx)


def _rotate_locked(services: Services, ctx: RequestContext) -> int:
    keys = services.keys
    old_ids = list(keys.key_ids())
    new_id = keys.add_key()
    rewrapped = 0
    with transaction(services.engine) as conn:
        for recording_id, wrapped in list(services.catalog.iter_wrapped_keys(conn)):
            if wrapped.kek_id != new_id:
                fresh = services.vault.rewrap_key(wrapped, recording_id)
                services.catalog.replace_wrapped_key(conn, recording_id, fresh)
                rewrapped += 1
        # People's TOTP secrets are sealed under the same ring: re-wrap them in the same
        # commit, or nobody could sign in once the old keys are retired.
        totp_secrets = rewrap_totp_secrets(conn, keys)
        # Training clips have keys of their own under the same ring.
        rewrapped += rewrap_clip_keys(conn, services.vault)
        # So has the key of the caller hash in demand figures (analytics/caller_key.py).
        caller_key = rewrap_caller_key(conn, keys)
        rewrapped += caller_key
        services.audit.append(
            conn,
            ctx,
            "keys.rotated",
            object_type="kek",
            object_id=new_id,
            details={
                "rewrapped": rewrapped,
                "totp_secrets": totp_secrets,
                "caller_key": caller_key,
                "retired": old_ids,
            },
        )
    # Only after the new wraps are committed may the old key-encryption keys go.
    for kek_id in old_ids:
        keys.retire(kek_id)
    return rewrapped
