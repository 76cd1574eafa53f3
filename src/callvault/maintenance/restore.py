"""``callvault restore``: put a backup back, then erase again everything erased since.

Before anything is written the whole backup is read back against its manifest, and restore
refuses a backup it could not make whole: a changed file, a key-encryption key the key file
lacks, a schema newer than this callvault, or an erasure ledger older than the backup (that
ledger could not name what was erased since, so the restore would bring it back).

Then, holding the ingest lock: the blobs, recordings' and training clips' (except those the
ledger already names: erased audio is never written back, even for a moment), then the
database through SQLite's backup API. Last, the erasure ledger is re-applied through the
purge's own ``reapply``: every entry whose recording the restored database still holds, or
whose blob is stored again, is erased again, with a fresh certificate, and every training clip
removed since is removed again (``training/removal.py``). ``reapply_ledger``
alone does that for any backend (after pg_restore or an S3 restore): ``callvault restore
--ledger-only``.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Sequence
from contextlib import closing
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, BinaryIO

from sqlalchemy import select, union

from callvault.bootstrap import Services
from callvault.catalog.store import data_keys, recordings
from callvault.config import SETTINGS_FILE, load_settings
from callvault.context import RequestContext
from callvault.db import MIGRATIONS_DIR, migrate, transaction
from callvault.errors import CallvaultError, CheckFailed, ConfigError, IntegrityFailure
from callvault.locks import file_lock
from callvault.maintenance.backup import require_file_backends
from callvault.maintenance.backup_manifest import (
    DATABASE,
    POLICY,
    SETTINGS,
    FileEntry,
    Manifest,
    blob_file,
    verify_backup,
)
from callvault.policy.loader import load_policy
from callvault.retention.ledger import CLIP_REMOVED, Erasure
from callvault.secretfile import replace_private
from callvault.training.removal import clip_entries, remove_again, undone_removals
from callvault.training.store import live_clip_blobs
from callvault.vault.crypto import ByteSink

_BATCH = 500  # ids per IN (...): under every driver's parameter limit
_COPY_CHUNK = 1024 * 1024
# Settings that say where restore writes; the backup's settings file may not move them.
_PLACES = ("db_url", "blob_url", "policy_file", "key_file", "erasure_ledger")


@dataclass(frozen=True, slots=True)
class RestoreResult:
    restored: bool
    reapplied: int
    backup: Path | None = None
    manifest: Manifest | None = None
    blobs: int = 0
    skipped_erased: int = 0
    settings_written: bool = False
    policy_written: bool = False
    orphan_blobs: int = 0

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"restored": self.restored, "reapplied": self.reapplied}
        if self.manifest is not None:
            out |= {
                "backup": str(self.backup),
                "created_at": self.manifest.created_at,
                "recordings": self.manifest.recordings,
                "clips": len(self.manifest.clip_blob_names),
                "blobs": self.blobs,
                "skipped_erased": self.skipped_erased,
                "settings_written": self.settings_written,
                "policy_written": self.policy_written,
                "orphan_blobs": self.orphan_blobs,
            }
        return out


def restore_home(services: Services, ctx: RequestContext, backup_dir: Path) -> RestoreResult:
    """Restore the backup in ``backup_dir`` into this home, then re-apply the ledger.

    Stop ``serve`` and every ``worker`` of the home first: they would keep working on the
    database as it was (docs/backup.md).
    """
    database = require_file_backends(services.settings)
    backup_dir = backup_dir.resolve()
    manifest = verify_backup(backup_dir)
    _require_known_revision(manifest)
    _require_keys(services, manifest)
    _require_ledger(services, manifest)
    erased = {name for e in services.ledger.entries() for name in e.blob_names}
    settings_written = _settings_from_backup(services, backup_dir, manifest)
    policy_written = _policy_from_backup(services, backup_dir)
    # Exclusive: no ingest on this machine is between writing its blob and committing its row.
    with file_lock(services.lock_path, exclusive=True):
        blobs, skipped = _restore_blobs(services, backup_dir, manifest, erased)
        services.engine.dispose()  # our pooled connections: none may hold the old state
        _restore_database(backup_dir / DATABASE, database)
    services.engine.dispose()
    migrate(services.engine)  # a backup made by an older callvault
    with transaction(services.engine) as conn:
        services.audit.append(
            conn, ctx, "store.restored", object_type="backup", object_id=backup_dir.name,
            details={"created_at": manifest.created_at, "recordings": manifest.recordings,
                     "blobs": blobs, "skipped_erased": skipped,
                     "ledger_entries": manifest.ledger.entries},
        )  # fmt: skip
    reapplied = _reapply_after_restore(services, ctx)
    with services.engine.connect() as conn:
        clips = live_clip_blobs(conn)
    orphans = set(services.blobs.names()) - services.catalog.blob_names() - clips
    return RestoreResult(
        restored=True,
        reapplied=reapplied,
        backup=backup_dir,
        manifest=manifest,
        blobs=blobs,
        skipped_erased=skipped,
        settings_written=settings_written,
        policy_written=policy_written,
        orphan_blobs=len(orphans),
    )


def reapply_ledger(services: Services, ctx: RequestContext) -> int:
    """Erase again every ledger entry this home has not (or no longer) applied; how many.

    Works on every backend: run it after restoring PostgreSQL or S3 by their own tools.
    """
    entries = list(services.ledger.entries())
    if not entries:
        return 0
    # One read of the ledger and one listing of the store, for recordings and clips alike:
    # the ledger grows for years, and listing an S3 bucket is slow.
    stored = set(services.blobs.names())
    pending = pending_erasures(services, entries, stored)
    erased = services.retention.reapply(ctx, pending) if pending else 0
    clips = clip_entries(entries)
    undone = undone_removals(services.engine, stored, clips) if clips else []
    if undone:
        erased += remove_again(services.engine, services.audit, services.vault, ctx, undone)
    return erased


def pending_erasures(
    services: Services, entries: Sequence[Erasure], stored: set[str]
) -> list[Erasure]:
    """Ledger ``entries`` whose recording the database still holds unerased (a live row or a
    data key), or whose blob is in ``stored`` again; one per recording, blob names merged.
    Training clips' entries are left to ``training/removal.py``."""
    merged: dict[str, Erasure] = {}
    for erasure in entries:
        if erasure.reason == CLIP_REMOVED:
            continue
        first = merged.get(erasure.recording_id)
        if first is None:
            merged[erasure.recording_id] = erasure
        elif not set(erasure.blob_names) <= set(first.blob_names):
            names = tuple(dict.fromkeys(first.blob_names + erasure.blob_names))
            merged[erasure.recording_id] = replace(first, blob_names=names)
    if not merged:
        return []
    undone = _unerased_ids(services, list(merged))
    return [
        e
        for e in merged.values()
        if e.recording_id in undone or not stored.isdisjoint(e.blob_names)
    ]


def _unerased_ids(services: Services, ids: list[str]) -> set[str]:
    found: set[str] = set()
    with services.engine.connect() as conn:
        for start in range(0, len(ids), _BATCH):
            chunk = ids[start : start + _BATCH]
            live = select(recordings.c.id).where(
                recordings.c.id.in_(chunk), recordings.c.purged_at.is_(None)
            )
            keyed = select(data_keys.c.recording_id).where(data_keys.c.recording_id.in_(chunk))
            found.update(str(rid) for rid in conn.execute(union(live, keyed)).scalars())
    return found


def _reapply_after_restore(services: Services, ctx: RequestContext) -> int:
    try:
        return reapply_ledger(services, ctx)
    except Exception as exc:  # whatever failed, the operator must know the restore is unfinished
        detail = exc.message if isinstance(exc, CallvaultError) else repr(exc)
        raise CheckFailed(
            "the backup was restored, but erasing again what the erasure ledger lists failed "
            f"({detail}); recordings erased since the backup may be readable until it is done. "
            "Fix the cause and run `callvault restore --ledger-only`",
            "erasure_ledger",
        ) from exc


# -- checks before anything is written ----------------------------------------------------------


def _require_known_revision(manifest: Manifest) -> None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    known = {rev.revision for rev in ScriptDirectory.from_config(config).walk_revisions()}
    if manifest.schema_revision not in known:
        raise ConfigError(
            f"the backup's database is at schema revision {manifest.schema_revision}, which "
            f"this callvault does not know (the backup was made by callvault "
            f"{manifest.callvault_version}); restore it with that version or newer. Nothing "
            "was restored",
            "backup",
        )


def _require_keys(services: Services, manifest: Manifest) -> None:
    missing = sorted(set(manifest.kek_ids) - set(services.keys.key_ids()))
    if missing:
        raise ConfigError(
            f"the backup's data keys are wrapped under key-encryption key(s) "
            f"{', '.join(missing)}, which the key file {services.settings.key_file} does not "
            "hold: put back the key file kept from that time (docs/backup.md, Keys), then "
            "restore again. Nothing was restored",
            "key_file",
        )


def _require_ledger(services: Services, manifest: Manifest) -> None:
    if not services.ledger.contains(manifest.ledger):
        raise ConfigError(
            f"the erasure ledger {services.settings.erasure_ledger} does not hold the "
            f"{manifest.ledger.entries} entries it had when this backup was made, so it cannot "
            "name what was erased since and the restore would bring those recordings back. Put "
            "back the newest copy of the ledger and its .head file, then restore again. "
            "Nothing was restored",
            "erasure_ledger",
        )


def _settings_from_backup(services: Services, backup_dir: Path, manifest: Manifest) -> bool:
    """Write the backup's settings file into a home that has none (a rebuilt machine),
    unless it would move the database, blobs, policy, keys or ledger elsewhere."""
    target = services.settings.home / SETTINGS_FILE
    if SETTINGS not in manifest.files or target.exists():
        return False
    replace_private(target, (backup_dir / SETTINGS).read_bytes())
    try:
        after = load_settings(services.settings.home)
    except CallvaultError:
        target.unlink(missing_ok=True)
        raise
    moved = [key for key in _PLACES if getattr(after, key) != getattr(services.settings, key)]
    if moved:
        target.unlink(missing_ok=True)
        raise ConfigError(
            f"the backup's {SETTINGS} sets {', '.join(moved)} to other places than this home "
            f"uses; write {target} for this machine first (start from the backup's copy), then "
            "restore again. Nothing was restored",
            moved[0],
        )
    return True


def _policy_from_backup(services: Services, backup_dir: Path) -> bool:
    """A home without a policy file (a rebuilt machine) gets the backup's; one with a policy
    keeps it: it is the policy in force now, and the backup's may be older."""
    target = services.settings.policy_file
    if target.exists():
        return False
    load_policy(backup_dir / POLICY)  # refuse a policy this callvault cannot read
    replace_private(target, (backup_dir / POLICY).read_bytes())
    return True


# -- writing ------------------------------------------------------------------------------------


def _restore_blobs(
    services: Services, backup_dir: Path, manifest: Manifest, erased: set[str]
) -> tuple[int, int]:
    restored = skipped = 0
    for name in manifest.all_blob_names:
        if name in erased:
            skipped += 1  # erased since the backup: its ciphertext never comes back
            continue
        expected = manifest.files[blob_file(name)]
        with (
            (backup_dir / blob_file(name)).open("rb") as source,
            services.blobs.writer(name) as sink,
        ):
            # Checked again as it is copied: raising here leaves no blob (atomic writer).
            if _copy_hashed(source, sink) != expected:
                raise IntegrityFailure(
                    f"backup {backup_dir}: {blob_file(name)} changed while it was restored; "
                    "restore again from an undisturbed copy"
                )
        restored += 1
    return restored, skipped


def _copy_hashed(source: BinaryIO, sink: ByteSink) -> FileEntry:
    digest = hashlib.sha256()
    size = 0
    while chunk := source.read(_COPY_CHUNK):
        digest.update(chunk)
        size += len(chunk)
        sink.write(chunk)
    return FileEntry(digest.hexdigest(), size)


def _restore_database(source: Path, live: Path) -> None:
    """Copy the backup's database over the live one with SQLite's backup API: one
    transaction on the live file, so a crash leaves the old database or the restored one."""
    if not live.exists():
        live.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        replace_private(live, b"")  # 0600 before SQLite writes to it
    # immutable: the verified backup is only read, and nothing beside it is created.
    uri = f"{source.as_uri()}?mode=ro&immutable=1"
    with (
        closing(sqlite3.connect(uri, uri=True)) as backup,
        closing(sqlite3.connect(live, timeout=30)) as target,
    ):
        backup.backup(target)
        # The newer state's pages must not linger in the write-ahead log.
        target.execute("PRAGMA wal_checkpoint(TRUNCATE)")
