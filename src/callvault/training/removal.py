"""Removed clips stay removed across a restore: their entries in the erasure ledger.

``TrainingService.remove`` writes a ledger entry (reason ``training_clip``) before destroying
the clip's key. A backup taken before the removal still holds the clip's row, key and audio;
after restoring it, ``remove_again`` destroys the key and the audio once more and marks the
clip removed, whatever state the backup caught it in: the staff member's withdrawal, or the
reviewer's rejection, happened, even if the restored database no longer says so.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import Engine, delete, select, update

from callvault.audit.service import AuditLog
from callvault.context import RequestContext
from callvault.db import transaction
from callvault.retention.ledger import CLIP_REMOVED, Erasure
from callvault.training.model import REMOVED
from callvault.training.store import clip_keys, training_clips
from callvault.vault.service import Vault


def clip_erasure(clip_id: str, blob_name: str | None, at: str, why: str) -> Erasure:
    """The ledger entry for a clip being removed (its id in the ``recording_id`` place)."""
    return Erasure(
        recording_id=clip_id,
        blob_names=(blob_name,) if blob_name else (),
        at=at,
        reason=CLIP_REMOVED,
        rule=f"training clip removed: {why}"[:500],
    )


def clip_entries(erasures: Iterable[Erasure]) -> list[Erasure]:
    """The ledger's clip removals, one per clip."""
    return list({e.recording_id: e for e in erasures if e.reason == CLIP_REMOVED}.values())


def undone_removals(engine: Engine, stored: set[str], removals: Sequence[Erasure]) -> list[Erasure]:
    """Removals a restore undid: the clip has its key again, is not marked removed, or its
    audio is stored again."""
    ids = [e.recording_id for e in removals]
    with engine.connect() as conn:
        keyed = set(
            conn.execute(select(clip_keys.c.clip_id).where(clip_keys.c.clip_id.in_(ids))).scalars()
        )
        not_removed = set(
            conn.execute(
                select(training_clips.c.id).where(
                    training_clips.c.id.in_(ids), training_clips.c.state != REMOVED
                )
            ).scalars()
        )
    return [
        e
        for e in removals
        if e.recording_id in keyed | not_removed or not stored.isdisjoint(e.blob_names)
    ]


def remove_again(
    engine: Engine, audit: AuditLog, vault: Vault, ctx: RequestContext, removals: Sequence[Erasure]
) -> int:
    """Destroy each restored clip's key, mark it removed and delete its audio; how many."""
    for removal in removals:
        clip_id = removal.recording_id
        with transaction(engine) as conn:
            conn.execute(delete(clip_keys).where(clip_keys.c.clip_id == clip_id))
            conn.execute(
                update(training_clips)
                .where(training_clips.c.id == clip_id, training_clips.c.state != REMOVED)
                .values(state=REMOVED, removed_at=removal.at, removed_why=removal.rule)
            )
            audit.append(
                conn, ctx, "training.removed", object_type="training_clip", object_id=clip_id,
                details={"why": "removed again after a restore", "ledger_at": removal.at,
                         "key_destroyed": True, "blob": list(removal.blob_names)},
            )  # fmt: skip
    vault.delete_many(sorted({name for r in removals for name in r.blob_names}))
    return len(removals)
