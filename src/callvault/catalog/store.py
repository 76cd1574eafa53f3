"""Catalog tables: every policy decision, every kept recording, and its wrapped data key."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
)

from callvault.db import metadata

# One row per call that reached callvault, recorded or not: the scope report's evidence.
# Holds no audio and, for declined calls, no caller number.
call_decisions = Table(
    "call_decisions",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("call_id", String(128), nullable=False, unique=True),
    Column("direction", String(10), nullable=False),
    Column("dialled", String(32), nullable=False),
    Column("record", Boolean, nullable=False),
    Column("line", String(64)),
    Column("rule", String(100), nullable=False),
    Column("policy_version", String(64), nullable=False),
    Column("decided_at", String(32), nullable=False),
    Column("origin", String(200), nullable=False),
)

recordings = Table(
    "recordings",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("call_id", String(128), nullable=False, unique=True),
    Column("decision_id", String(40), ForeignKey("call_decisions.id"), nullable=False),
    Column("line", String(64), nullable=False),
    Column("sensitivity", String(32), nullable=False),
    Column("direction", String(10), nullable=False),
    Column("dialled", String(32), nullable=False),
    Column("caller", String(32), nullable=False),
    Column("agent", String(64), nullable=False),
    Column("started_at", String(32), nullable=False, index=True),
    Column("ended_at", String(32), nullable=False),
    Column("duration_s", Float, nullable=False),
    Column("announcement_played", Boolean, nullable=False),
    Column("notice_version", String(64), nullable=False),
    Column("channel_map", Text, nullable=False),
    Column("flags", Text, nullable=False),
    Column("source_sha256", String(64), nullable=False),
    Column("source_bytes", Integer, nullable=False),
    Column("source_format", String(64), nullable=False),
    Column("blob_name", String(200), nullable=False, unique=True),
    Column("codec", String(16), nullable=False),
    Column("sample_rate", Integer, nullable=False),
    Column("channels", Integer, nullable=False),
    Column("retain_until", String(32), nullable=False, index=True),
    Column("created_at", String(32), nullable=False),
    # Set when retention purged it: the row stays as a tombstone (no caller, agent or hash).
    Column("purged_at", String(32), index=True),
)

# Derived blobs of a recording (a redacted or browser rendition): a purge deletes them all.
renditions = Table(
    "renditions",
    metadata,
    Column("recording_id", String(40), ForeignKey("recordings.id"), primary_key=True),
    Column("kind", String(32), primary_key=True),
    Column("blob_name", String(200), nullable=False, unique=True),
    Column("created_at", String(32), nullable=False),
)

# The per-recording data key, wrapped by the key-encryption key. Deleting the row destroys
# the only copy of the key: every blob of that recording becomes unreadable (crypto-shredding).
data_keys = Table(
    "data_keys",
    metadata,
    Column("recording_id", String(40), ForeignKey("recordings.id"), primary_key=True),
    Column("kek_id", String(64), nullable=False),
    Column("wrapped", LargeBinary, nullable=False),
    Column("created_at", String(32), nullable=False),
)

__all__ = ["call_decisions", "data_keys", "recordings", "renditions"]
