"""Retention: tombstones in place, renditions, legal holds, disposals and purge runs.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-28

A purged recording keeps its ``recordings`` row as a tombstone (``purged_at`` set, caller,
agent and source hash blanked), so grants, exports and the disclosure register still name
what they covered; every query of live recordings filters on ``purged_at IS NULL``.
``renditions`` lists every derived blob of a recording, so a purge can find them all.
``holds`` (with ``hold_recordings``, or a saved search in their own columns) stop a purge;
``disposals`` is each purge's progress and certificate, so a crash mid-purge resumes;
``retention_runs`` admits one purge at a time (a unique index over the running one);
``retention_periods`` is the period last applied to each line, so a policy change is seen.
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_TS = sa.String(32)


def upgrade() -> None:
    with op.batch_alter_table("recordings") as batch:
        batch.add_column(sa.Column("purged_at", _TS))
        batch.create_index("ix_recordings_purged_at", ["purged_at"])
    op.create_table(
        "renditions",
        sa.Column("recording_id", sa.String(40), sa.ForeignKey("recordings.id"), primary_key=True),
        sa.Column("kind", sa.String(32), primary_key=True),
        sa.Column("blob_name", sa.String(200), nullable=False, unique=True),
        sa.Column("created_at", _TS, nullable=False),
    )
    op.create_table(
        "holds",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("case_ref", sa.String(100), nullable=False),
        sa.Column("owner", sa.String(64), nullable=False),
        sa.Column("review_on", sa.String(10), nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("placed_by", sa.String(64), nullable=False),
        sa.Column("placed_at", _TS, nullable=False),
        # A saved search: every recording matching all the criteria set is held, also one
        # imported after the hold was placed.
        sa.Column("search_caller", sa.String(32)),
        sa.Column("search_line", sa.String(64)),
        sa.Column("search_from", _TS),
        sa.Column("search_to", _TS),
        sa.Column("released_at", _TS),
        sa.Column("released_by", sa.String(64)),
        sa.Column("release_reason", sa.Text),
        sa.Column("reminded_for", sa.String(10)),
    )
    op.create_index("ix_holds_released_at", "holds", ["released_at"])
    op.create_table(
        "hold_recordings",
        sa.Column("hold_id", sa.String(32), sa.ForeignKey("holds.id"), primary_key=True),
        sa.Column("recording_id", sa.String(40), sa.ForeignKey("recordings.id"), primary_key=True),
    )
    op.create_index("ix_hold_recordings_recording_id", "hold_recordings", ["recording_id"])
    op.create_table(
        "disposals",
        sa.Column("recording_id", sa.String(40), sa.ForeignKey("recordings.id"), primary_key=True),
        sa.Column("run_id", sa.String(32), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("rule", sa.Text, nullable=False),
        sa.Column("policy_version", sa.String(64), nullable=False),
        sa.Column("retain_until", _TS, nullable=False),
        sa.Column("blobs", sa.Text, nullable=False),
        sa.Column("key_destroyed_at", _TS, nullable=False),
        sa.Column("completed_at", _TS),
        sa.Column("certificate_seq", sa.Integer),
    )
    op.create_index("ix_disposals_state", "disposals", ["state"])
    op.create_table(
        "retention_runs",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("as_of", _TS, nullable=False),
        sa.Column("dry_run", sa.Boolean, nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("started_at", _TS, nullable=False),
        sa.Column("heartbeat_at", _TS, nullable=False),
        sa.Column("finished_at", _TS),
        sa.Column("purged", sa.Integer, nullable=False),
        sa.Column("held", sa.Integer, nullable=False),
        sa.Column("kept", sa.Integer, nullable=False),
    )
    # At most one running purge, whatever the number of workers or machines.
    op.create_index(
        "ux_retention_runs_running",
        "retention_runs",
        ["status"],
        unique=True,
        sqlite_where=sa.text("status = 'running'"),
        postgresql_where=sa.text("status = 'running'"),
    )
    op.create_table(
        "retention_periods",
        sa.Column("line", sa.String(64), primary_key=True),
        sa.Column("months", sa.Integer, nullable=False),
        sa.Column("days", sa.Integer, nullable=False),
        sa.Column("policy_version", sa.String(64), nullable=False),
        sa.Column("applied_at", _TS, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("retention_periods")
    op.drop_index("ux_retention_runs_running", "retention_runs")
    op.drop_table("retention_runs")
    op.drop_table("disposals")
    op.drop_table("hold_recordings")
    op.drop_table("holds")
    op.drop_table("renditions")
    with op.batch_alter_table("recordings") as batch:
        batch.drop_index("ix_recordings_purged_at")
        batch.drop_column("purged_at")
