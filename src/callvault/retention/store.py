"""Tables of retention: legal holds, disposals (purge progress and certificates), runs, periods.

Migration 0009 creates them; see its docstring for why each exists.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, ForeignKey, Index, Integer, String, Table, Text, text

from callvault.db import metadata

holds = Table(
    "holds",
    metadata,
    Column("id", String(32), primary_key=True),
    # complaint, ombudsman, subject_access, injunction, litigation, police_request
    Column("reason", String(32), nullable=False),
    Column("case_ref", String(100), nullable=False),
    Column("owner", String(64), nullable=False),
    Column("review_on", String(10), nullable=False),
    Column("note", Text, nullable=False),
    Column("placed_by", String(64), nullable=False),
    Column("placed_at", String(32), nullable=False),
    # A saved search (all set criteria must match): holds recordings imported later too.
    Column("search_caller", String(32)),
    Column("search_line", String(64)),
    Column("search_from", String(32)),
    Column("search_to", String(32)),
    Column("released_at", String(32), index=True),
    Column("released_by", String(64)),
    Column("release_reason", Text),
    # The review date a reminder was last written for, so each review is reminded once.
    Column("reminded_for", String(10)),
)

hold_recordings = Table(
    "hold_recordings",
    metadata,
    Column("hold_id", String(32), ForeignKey("holds.id"), primary_key=True),
    Column("recording_id", String(40), ForeignKey("recordings.id"), primary_key=True, index=True),
)

# One row per recording being or having been purged. ``state`` is "shredded" once the data key
# is destroyed (the audio is unreadable from then on) and "done" once every blob is deleted,
# the row scrubbed and the certificate written; a run finding "shredded" rows finishes them.
disposals = Table(
    "disposals",
    metadata,
    Column("recording_id", String(40), ForeignKey("recordings.id"), primary_key=True),
    Column("run_id", String(32), nullable=False),
    Column("state", String(16), nullable=False, index=True),
    Column("rule", Text, nullable=False),
    Column("policy_version", String(64), nullable=False),
    Column("retain_until", String(32), nullable=False),
    Column("blobs", Text, nullable=False),
    Column("key_destroyed_at", String(32), nullable=False),
    Column("completed_at", String(32)),
    Column("certificate_seq", Integer),
)

retention_runs = Table(
    "retention_runs",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("status", String(16), nullable=False),
    Column("as_of", String(32), nullable=False),
    Column("dry_run", Boolean, nullable=False),
    Column("actor", String(64), nullable=False),
    Column("started_at", String(32), nullable=False),
    Column("heartbeat_at", String(32), nullable=False),
    Column("finished_at", String(32)),
    Column("purged", Integer, nullable=False),
    Column("held", Integer, nullable=False),
    Column("kept", Integer, nullable=False),
)
Index(
    "ux_retention_runs_running",
    retention_runs.c.status,
    unique=True,
    sqlite_where=text("status = 'running'"),
    postgresql_where=text("status = 'running'"),
)

retention_periods = Table(
    "retention_periods",
    metadata,
    Column("line", String(64), primary_key=True),
    Column("months", Integer, nullable=False),
    Column("days", Integer, nullable=False),
    Column("policy_version", String(64), nullable=False),
    Column("applied_at", String(32), nullable=False),
)

__all__ = ["disposals", "hold_recordings", "holds", "retention_periods", "retention_runs"]
