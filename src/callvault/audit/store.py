"""Audit tables. Rows are only ever inserted; the database refuses UPDATE and DELETE."""

from __future__ import annotations

from sqlalchemy import Column, Integer, String, Table, Text

from callvault.db import metadata

audit_log = Table(
    "audit_log",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("at", String(32), nullable=False),
    Column("actor", String(200), nullable=False),
    Column("operator", String(200)),
    Column("action", String(100), nullable=False),
    Column("object_type", String(50)),
    Column("object_id", String(200), index=True),
    Column("purpose", String(100)),
    Column("case_ref", String(200)),
    Column("origin", String(200), nullable=False),
    Column("request_id", String(64), nullable=False),
    Column("details", Text, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
)

# Signed (seq, hash) pairs: one every CHECKPOINT_EVERY entries, kept for good.
audit_checkpoints = Table(
    "audit_checkpoints",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("at", String(32), nullable=False),
    Column("hash", String(64), nullable=False),
    Column("key_id", String(64), nullable=False),
    Column("signature", String(128), nullable=False),
)

# The signed head of the chain, replaced by every appending transaction: cutting entries off
# the tail leaves a head that names an entry that no longer exists.
audit_head = Table(
    "audit_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", Integer, nullable=False),
    Column("at", String(32), nullable=False),
    Column("hash", String(64), nullable=False),
    Column("key_id", String(64), nullable=False),
    Column("signature", String(128), nullable=False),
)

COLUMNS = (
    "seq",
    "at",
    "actor",
    "operator",
    "action",
    "object_type",
    "object_id",
    "purpose",
    "case_ref",
    "origin",
    "request_id",
    "details",
)
