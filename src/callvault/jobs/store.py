"""The jobs table of the database queue (migration 0002)."""

from __future__ import annotations

from sqlalchemy import JSON, Column, Index, Integer, String, Table, Text, text

from callvault.db import metadata

# A literal (not bound parameters), so PostgreSQL matches ON CONFLICT to the partial index.
UNFINISHED_SQL = text("status IN ('queued', 'running')")

jobs = Table(
    "jobs",
    metadata,
    # A random id, not a serial: no sequence for the application role to be granted, and ids
    # from many machines never collide.
    Column("id", String(32), primary_key=True),
    Column("queue", String(32), nullable=False),
    Column("task", String(100), nullable=False),
    Column("key", String(200), nullable=False),
    Column("payload", JSON, nullable=False),
    Column("status", String(10), nullable=False),  # queued | running | done | failed
    Column("attempts", Integer, nullable=False),
    Column("max_attempts", Integer, nullable=False),
    Column("run_after", String(32), nullable=False),
    Column("locked_by", String(200)),
    Column("locked_at", String(32)),
    Column("heartbeat", String(32)),
    Column("last_error", Text),
    Column("created_at", String(32), nullable=False),
    Column("finished_at", String(32)),
    # One unfinished job per key: enqueueing it again is a no-op.
    Index(
        "ux_jobs_key_unfinished",
        "key",
        unique=True,
        sqlite_where=UNFINISHED_SQL,
        postgresql_where=UNFINISHED_SQL,
    ),
    Index("ix_jobs_claim", "queue", "status", "run_after"),
)
