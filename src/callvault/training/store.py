"""Tables of the training library: clips, and each clip's own data key.

Migration 0012 creates them; see its docstring for why each exists.
"""

from __future__ import annotations

from sqlalchemy import (
    Column,
    Connection,
    Float,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    Table,
    Text,
    exists,
    select,
    update,
)

from callvault.db import metadata
from callvault.vault.interfaces import WrappedKey
from callvault.vault.service import Vault

training_clips = Table(
    "training_clips",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("recording_id", String(40), ForeignKey("recordings.id"), nullable=False, index=True),
    Column("start_s", Float, nullable=False),
    Column("end_s", Float, nullable=False),
    Column("why", Text, nullable=False),
    # The line only: the clip's own metadata carries nothing of the caller (no number, no
    # date or time of the call).
    Column("line", String(64), nullable=False),
    # The staff member on the call, whose consent the clip needs (their sign-in name).
    Column("agent", String(64), nullable=False),
    Column("proposed_by", String(64), nullable=False),
    Column("proposed_at", String(32), nullable=False),
    # proposed | consented | made | published | refused | rejected | withdrawn | removed
    Column("state", String(16), nullable=False),
    Column("consent_at", String(32)),
    Column("refused_at", String(32)),
    Column("withdrawn_at", String(32)),
    Column("made_at", String(32)),
    Column("blob_name", String(200)),
    Column("duration_s", Float),
    # anonymised | pseudonymised, and the speaker-similarity measure behind it (None: the
    # measure was not available, so no claim of anonymity is made).
    Column("label", String(16)),
    Column("similarity", Float),
    Column("reviewed_by", String(64)),
    Column("reviewed_at", String(32)),
    Column("checklist", Text),
    Column("review_note", Text),
    Column("published_at", String(32)),
    # The library's own retention: the clip is removed on this day whatever its call's.
    Column("retain_until", String(32)),
    Column("removed_at", String(32)),
    Column("removed_why", Text),
    Index("ix_training_clips_state", "state"),
)

# Each clip is encrypted under a key of its own, so removing a clip (consent withdrawn, its
# retention over) is destroying that key, whatever becomes of its call's recording.
clip_keys = Table(
    "clip_keys",
    metadata,
    Column("clip_id", String(32), ForeignKey("training_clips.id"), primary_key=True),
    Column("kek_id", String(64), nullable=False),
    Column("wrapped", LargeBinary, nullable=False),
    Column("created_at", String(32), nullable=False),
)


def live_clip_blobs(conn: Connection) -> set[str]:
    """Blobs of clips that still have a key: needed, so never orphans to a store check."""
    return set(live_clips(conn).values())


def live_clips(conn: Connection) -> dict[str, str]:
    """Clips that still have a key and audio, by id: their blob names (what a backup copies)."""
    c = training_clips.c
    query = select(c.id, c.blob_name).where(
        c.blob_name.is_not(None), exists().where(clip_keys.c.clip_id == c.id)
    )
    return {str(row.id): str(row.blob_name) for row in conn.execute(query)}


def clip_key_aad(clip_id: str) -> str:
    """What a clip's wrapped key is bound to: never confusable with a recording's id."""
    return f"clip:{clip_id}"


def rewrap_clip_keys(conn: Connection, vault: Vault) -> int:
    """Re-seal every clip key under the vault's active key-encryption key (key rotation)."""
    active = vault.active_key_id()
    rewrapped = 0
    for row in conn.execute(select(clip_keys)).all():
        if row.kek_id == active:
            continue
        fresh = vault.rewrap_key(
            WrappedKey(row.kek_id, bytes(row.wrapped)), clip_key_aad(row.clip_id)
        )
        conn.execute(
            update(clip_keys)
            .where(clip_keys.c.clip_id == row.clip_id)
            .values(kek_id=fresh.kek_id, wrapped=fresh.blob)
        )
        rewrapped += 1
    return rewrapped
