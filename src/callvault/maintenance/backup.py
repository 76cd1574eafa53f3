"""``callvault backup``: a consistent copy of an embedded home, safe to take while it runs.

The database is copied with SQLite's online backup API in one step, which reads one
consistent snapshot while ingests and purges carry on. The blobs copied are exactly those the
snapshot can decrypt (a live recording with its data key, and its renditions; a training clip
with its own key), as stored: ciphertext, never decrypted, so a backup needs no key and holds
none. A blob erased between the snapshot and its copy is left out and named in the manifest;
its ledger entry erases the recording again on restore. A clip removed meanwhile is left out
of the backup altogether (``backup_clips``). Everything goes to a hidden temporary folder that
is renamed into place only when complete, so a backup folder is either whole or absent.

Key files are not copied: a backup that held the wrapped data keys and the key-encryption
key together would be a readable copy of every recording, and crypto-shredding a recording
could not reach it. Keys are kept apart (docs/backup.md).

PostgreSQL and S3 homes are backed up with their own tools (``require_file_backends``).
"""

from __future__ import annotations

import secrets
import shutil
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from sqlalchemy import and_, create_engine, exists, select, union
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from callvault import __version__
from callvault.bootstrap import Services
from callvault.catalog.service import NEEDED_RENDITION
from callvault.catalog.store import data_keys, recordings, renditions
from callvault.config import SETTINGS_FILE, Settings
from callvault.context import RequestContext
from callvault.db import require_current_schema, transaction
from callvault.errors import CheckFailed, ConfigError, Conflict, NotFound
from callvault.maintenance.backup_clips import copy_clips
from callvault.maintenance.backup_manifest import (
    DATABASE,
    MANIFEST,
    POLICY,
    SETTINGS,
    FileEntry,
    Manifest,
    blob_file,
    copy_private,
    fsync_tree,
    hash_file,
)
from callvault.secretfile import fsync_dir, replace_private
from callvault.training.store import clip_keys, live_clips

NAME_PREFIX = "callvault-backup-"


@dataclass(frozen=True, slots=True)
class BackupResult:
    path: Path
    manifest: Manifest

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "created_at": self.manifest.created_at,
            "recordings": self.manifest.recordings,
            "clips": len(self.manifest.clip_blob_names),
            "blobs": len(self.manifest.all_blob_names),
            "bytes": self.manifest.total_bytes,
            "keys_included": False,
            "ledger_entries": self.manifest.ledger.entries,
            "erased_during_backup": len(self.manifest.erased_during_backup),
            "clips_removed_during_backup": len(self.manifest.clips_removed_during_backup),
        }


def require_file_backends(settings: Settings) -> Path:
    """The SQLite database file of a home whose blobs are files; else a ``ConfigError``
    saying which tools back up a scale-out home."""
    if not settings.db_url.startswith("sqlite"):
        raise ConfigError(
            "callvault backup and restore copy an embedded home (SQLite and files); this home's "
            "database is at db_url "
            f"{make_url(settings.db_url).render_as_string(hide_password=True)}. Back up "
            "PostgreSQL with pg_dump or continuous archiving (point-in-time recovery); after "
            "restoring it, run `callvault restore --ledger-only` to erase again what was "
            "erased since (docs/backup.md)",
            "db_url",
        )
    if urlparse(settings.blob_url).scheme != "file":
        raise ConfigError(
            "callvault backup and restore copy an embedded home (SQLite and files); this "
            f"home's blobs are at {settings.blob_url.split('?')[0]}. Protect an S3 bucket with "
            "versioning and replication to a second bucket (Object Lock where you have it); "
            "after restoring objects, run `callvault restore --ledger-only` to erase again "
            "what was erased since (docs/backup.md)",
            "blob_url",
        )
    database = make_url(settings.db_url).database
    if not database or database == ":memory:":
        raise ConfigError(f"db_url {settings.db_url!r} names no database file", "db_url")
    return Path(database)


def backup_home(services: Services, ctx: RequestContext, out_dir: Path) -> BackupResult:
    """Write a new backup folder under ``out_dir`` (created 0700 if missing)."""
    database = require_file_backends(services.settings)
    require_current_schema(services.engine)
    services.ledger.position()  # a damaged ledger stops the backup before any copying
    created = datetime.now(UTC)
    out_dir = out_dir.resolve()
    out_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    final = out_dir / f"{NAME_PREFIX}{created:%Y%m%dT%H%M%SZ}"
    if final.exists():
        raise Conflict(f"{final} already exists; wait a second and run backup again", "out_dir")
    temp = out_dir / f".{final.name}.partial-{secrets.token_hex(4)}"
    temp.mkdir(mode=0o700)
    try:
        manifest = _write_backup(services, database, temp, created)
        try:
            temp.rename(final)
        except OSError:
            raise Conflict(f"{final} appeared meanwhile; run backup again", "out_dir") from None
        fsync_dir(out_dir)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise
    result = BackupResult(final, manifest)
    with transaction(services.engine) as conn:
        # After the copy: a backup never holds the record of its own making.
        services.audit.append(
            conn, ctx, "store.backed_up", object_type="backup", object_id=final.name,
            details={k: v for k, v in result.as_dict().items() if k != "path"},
        )  # fmt: skip
    return result


def _write_backup(
    services: Services,
    database: Path,
    temp: Path,
    created: datetime,
) -> Manifest:
    _snapshot_database(database, temp / DATABASE)
    snapshot = _read_snapshot(temp / DATABASE)
    files: dict[str, FileEntry] = {}
    erased: list[str] = []
    for name, recording_id in sorted(snapshot.blobs.items()):
        try:
            with services.blobs.open(name) as source:
                files[blob_file(name)] = copy_private(source, temp / blob_file(name))
        except NotFound:
            if _still_readable(services, recording_id):
                raise CheckFailed(
                    f"blob {name} of recording {recording_id} is missing from the blob store; "
                    "run `callvault check`. No backup was written",
                    "blob_url",
                ) from None
            erased.append(name)  # erased since the snapshot; the ledger erases it again
    # May change the database copy (clips removed meanwhile), so hashed only after it.
    clips = copy_clips(services, snapshot.clips, temp, temp / DATABASE, files)
    files[DATABASE] = hash_file(temp / DATABASE)
    # After the copies: purge writes the ledger before deleting, so every blob found erased
    # above is inside this position, and a restore insists on a ledger that holds it.
    ledger_at = services.ledger.position()
    settings_file = services.settings.home / SETTINGS_FILE
    if settings_file.exists():
        with settings_file.open("rb") as source:
            files[SETTINGS] = copy_private(source, temp / SETTINGS)
    with services.settings.policy_file.open("rb") as source:
        files[POLICY] = copy_private(source, temp / POLICY)
    manifest = Manifest(
        created_at=created.isoformat(timespec="seconds"),
        callvault_version=__version__,
        schema_revision=snapshot.revision,
        source_home=str(services.settings.home),
        recordings=snapshot.recordings,
        blob_names=tuple(sorted(set(snapshot.blobs) - set(erased))),
        kek_ids=_kek_ids(temp / DATABASE),
        ledger=ledger_at,
        erased_during_backup=tuple(erased),
        clip_blob_names=clips.blob_names,
        clips_removed_during_backup=clips.removed,
        files=files,
    )
    replace_private(temp / MANIFEST, manifest.to_json())
    fsync_tree(temp)
    return manifest


def _snapshot_database(source: Path, dest: Path) -> None:
    """Copy the live database in one step of the online backup API: one read transaction,
    so one consistent state, while writers carry on (WAL)."""
    replace_private(dest, b"")  # created 0600 before SQLite writes to it
    with (
        closing(sqlite3.connect(source, timeout=30)) as live,
        closing(sqlite3.connect(dest)) as copy,
    ):
        live.backup(copy)
        # A self-contained file: no -wal or -shm beside it for the backup to depend on.
        copy.execute("PRAGMA journal_mode=DELETE")


@dataclass(frozen=True, slots=True)
class _Snapshot:
    revision: str | None
    recordings: int
    blobs: dict[str, str]  # blob name -> recording id
    clips: dict[str, str]  # training clip id -> blob name


def _read_snapshot(copy: Path) -> _Snapshot:
    """What the copied database holds: the blobs worth copying are those it can decrypt."""
    engine = create_engine(f"sqlite:///{copy}", poolclass=NullPool)
    readable = and_(
        recordings.c.purged_at.is_(None),
        exists(select(data_keys.c.recording_id).where(data_keys.c.recording_id == recordings.c.id)),
    )
    try:
        with engine.connect() as conn:
            revision = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
            blobs = {
                str(row.blob_name): str(row.id)
                for row in conn.execute(
                    select(recordings.c.id, recordings.c.blob_name).where(readable)
                )
            }
            count = len(blobs)
            for row in conn.execute(
                select(renditions.c.blob_name, renditions.c.recording_id)
                .join(recordings, recordings.c.id == renditions.c.recording_id)
                # Superseded audio is unreadable (its key destroyed) and hidden: nothing to save.
                .where(readable, NEEDED_RENDITION)
            ):
                blobs[str(row.blob_name)] = str(row.recording_id)
            clips = live_clips(conn)
    finally:
        engine.dispose()
    return _Snapshot(revision, count, blobs, clips)


def _kek_ids(copy: Path) -> tuple[str, ...]:
    """The key-encryption keys that the backup's data keys (recordings' and clips') need."""
    engine = create_engine(f"sqlite:///{copy}", poolclass=NullPool)
    try:
        with engine.connect() as conn:
            used = union(select(data_keys.c.kek_id), select(clip_keys.c.kek_id))
            return tuple(sorted(str(k) for k in conn.execute(used).scalars()))
    finally:
        engine.dispose()


def _still_readable(services: Services, recording_id: str) -> bool:
    """Whether the live database still holds ``recording_id`` with its key (not erased)."""
    with services.engine.connect() as conn:
        row = conn.execute(
            select(recordings.c.id).where(
                recordings.c.id == recording_id,
                recordings.c.purged_at.is_(None),
                exists(
                    select(data_keys.c.recording_id).where(data_keys.c.recording_id == recording_id)
                ),
            )
        ).first()
    return row is not None
