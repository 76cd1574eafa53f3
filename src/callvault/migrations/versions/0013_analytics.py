"""Demand analysis facts and quality sample draws.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-29

``demand_calls`` holds one row per recorded call, derived by a job from the catalogue and the
redacted transcript: the line, when (UTC, and as the council's clocks showed it), whether it
was out of hours under the hours then in force, how long, which topics, and the caller as a
keyed hash (never the number). Demand reports read only this table, so the business
intelligence role never touches a recording, a transcript or a number. Purging a recording
clears its ``caller_key``; the rest (no personal data) stays, so past figures do not change.

``analytics_keys`` holds the key of that hash, wrapped by the key-encryption key like a
recording's data key.

``quality_draws`` and ``quality_samples``: each month's random sample of calls per advisor,
with the seed that reproduces it. A month has one draw; drawing it again needs a reason, keeps
the first, and is audited.
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

_TS = sa.String(32)


def upgrade() -> None:
    op.create_table(
        "demand_calls",
        sa.Column("recording_id", sa.String(40), sa.ForeignKey("recordings.id"), primary_key=True),
        sa.Column("line", sa.String(64), nullable=False),
        sa.Column("direction", sa.String(10), nullable=False),
        sa.Column("started_at", _TS, nullable=False),
        sa.Column("local_date", sa.String(10), nullable=False),
        sa.Column("local_hour", sa.Integer, nullable=False),
        sa.Column("weekday", sa.Integer, nullable=False),
        sa.Column("out_of_hours", sa.Boolean, nullable=False),
        sa.Column("duration_s", sa.Float, nullable=False),
        sa.Column("caller_key", sa.String(64)),
        sa.Column("topics", sa.Text),
        sa.Column("transcribed", sa.Boolean, nullable=False),
        sa.Column("indexed_at", _TS, nullable=False),
    )
    op.create_index("ix_demand_calls_started", "demand_calls", ["started_at"])
    op.create_index("ix_demand_calls_transcribed", "demand_calls", ["transcribed", "recording_id"])
    op.create_table(
        "analytics_keys",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("kek_id", sa.String(64), nullable=False),
        sa.Column("wrapped", sa.LargeBinary, nullable=False),
        sa.Column("created_at", _TS, nullable=False),
    )
    op.create_table(
        "quality_draws",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("month", sa.String(7), nullable=False),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("seed", sa.String(64), nullable=False),
        sa.Column("calls_per_advisor", sa.Integer, nullable=False),
        sa.Column("min_duration_s", sa.Float, nullable=False),
        sa.Column("eligible", sa.Integer, nullable=False),
        sa.Column("drawn", sa.Integer, nullable=False),
        sa.Column("policy_version", sa.String(64), nullable=False),
        sa.Column("drawn_at", _TS, nullable=False),
        sa.Column("drawn_by", sa.String(64), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("superseded_at", _TS),
        sa.UniqueConstraint("month", "attempt", name="uq_quality_draws_month_attempt"),
    )
    op.create_table(
        "quality_samples",
        sa.Column("draw_id", sa.String(32), sa.ForeignKey("quality_draws.id"), primary_key=True),
        sa.Column("recording_id", sa.String(40), sa.ForeignKey("recordings.id"), primary_key=True),
        sa.Column("agent", sa.String(64), nullable=False),
        sa.Column("line", sa.String(64), nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("case_ref", sa.String(32), nullable=False, unique=True),
    )
    op.create_index("ix_quality_samples_agent", "quality_samples", ["agent"])


def downgrade() -> None:
    op.drop_table("quality_samples")
    op.drop_table("quality_draws")
    op.drop_table("analytics_keys")
    op.drop_index("ix_demand_calls_transcribed", "demand_calls")
    op.drop_index("ix_demand_calls_started", "demand_calls")
    op.drop_table("demand_calls")
