"""Training clips in a backup: each live clip's audio is copied as stored, like a recording's,
and a clip removed while the backup runs is left out of it altogether.

A clip is live while it has its own data key (``live_clips``). Removing one (consent
withdrawn, rejected at review, the library's retention over) commits the destroyed key before
it deletes the blob (``TrainingService.remove``), so the live database, read after the copies,
says reliably which clips went meanwhile: a blob found missing then is an erasure, not damage.

Unlike a recording's erasure, a clip's removal is not in the erasure ledger that a restore
re-applies, so nothing would remove the clip again after a restore. The backup itself must
therefore not keep it: its copied blob is dropped, and in the backup's copy of the database its
key is destroyed and its row made what the live one is now (removed). The copy is then one
snapshot plus those removals, which is what a restore of it should bring back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, delete, select, update
from sqlalchemy.pool import NullPool

from callvault.bootstrap import Services
from callvault.errors import CheckFailed, NotFound
from callvault.maintenance.backup_manifest import FileEntry, blob_file, copy_private
from callvault.training.store import clip_keys, live_clips, training_clips


@dataclass(frozen=True, slots=True)
class ClipCopies:
    blob_names: tuple[str, ...]  # the clip blobs the backup holds
    removed: tuple[str, ...]  # ids of clips removed while the backup ran


def copy_clips(
    services: Services,
    clips: dict[str, str],
    temp: Path,
    database_copy: Path,
    files: dict[str, FileEntry],
) -> ClipCopies:
    """Copy the blob of each clip in ``clips`` (id -> blob name, live in the snapshot) into
    ``temp``, adding each to ``files``; then leave out every clip removed meanwhile."""
    missing: list[str] = []
    for clip_id, name in sorted(clips.items()):
        try:
            with services.blobs.open(name) as source:
                files[blob_file(name)] = copy_private(source, temp / blob_file(name))
        except NotFound:
            missing.append(clip_id)
    # After every copy: a clip removed before its blob was copied, or after, is caught here.
    with services.engine.connect() as conn:
        still_live = live_clips(conn)
    for clip_id in missing:
        if clip_id in still_live:
            raise CheckFailed(
                f"blob {clips[clip_id]} of training clip {clip_id} is missing from the blob "
                "store; run `callvault check`. No backup was written",
                "blob_url",
            )
    removed = sorted(set(clips) - set(still_live))
    for clip_id in removed:
        if files.pop(blob_file(clips[clip_id]), None) is not None:
            (temp / blob_file(clips[clip_id])).unlink()
    if removed:
        _remove_from_copy(services, database_copy, removed)
    kept = tuple(sorted(name for clip_id, name in clips.items() if clip_id not in removed))
    return ClipCopies(kept, tuple(removed))


def _remove_from_copy(services: Services, database_copy: Path, clip_ids: Sequence[str]) -> None:
    """Destroy the keys of ``clip_ids`` in the backup's database and copy in their live rows."""
    with services.engine.connect() as conn:
        rows = conn.execute(select(training_clips).where(training_clips.c.id.in_(clip_ids))).all()
    engine = create_engine(f"sqlite:///{database_copy}", poolclass=NullPool)
    try:
        with engine.begin() as copy:
            copy.execute(delete(clip_keys).where(clip_keys.c.clip_id.in_(clip_ids)))
            for row in rows:
                values = {k: v for k, v in row._mapping.items() if k != "id"}
                copy.execute(
                    update(training_clips).where(training_clips.c.id == row.id).values(**values)
                )
    finally:
        engine.dispose()
