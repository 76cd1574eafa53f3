"""Quality evaluations, advisors' responses and calibration sessions.

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-29

An evaluation scores one sampled call (by its sample's case reference) on the policy's
scorecard. The advisor on the call reads it and may respond once. A calibration session asks
several evaluators to score the same sampled call blind, to compare how they judge; its
evaluations carry the session's id (an evaluation outside any session has ``calibration_id``
"", so the unique constraint counts it once per evaluator).
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

_TS = sa.String(32)


def upgrade() -> None:
    op.create_table(
        "calibrations",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("case_ref", sa.String(32), nullable=False),
        sa.Column("recording_id", sa.String(40), sa.ForeignKey("recordings.id"), nullable=False),
        sa.Column("evaluators", sa.Text, nullable=False),
        sa.Column("opened_by", sa.String(64), nullable=False),
        sa.Column("opened_at", _TS, nullable=False),
        sa.Column("closed_at", _TS),
        sa.Column("note", sa.Text),
    )
    op.create_table(
        "quality_evaluations",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("case_ref", sa.String(32), nullable=False),
        sa.Column("recording_id", sa.String(40), sa.ForeignKey("recordings.id"), nullable=False),
        sa.Column("agent", sa.String(64), nullable=False),
        sa.Column("line", sa.String(64), nullable=False),
        sa.Column("evaluator", sa.String(64), nullable=False),
        sa.Column("scorecard_id", sa.String(64), nullable=False),
        sa.Column("scores", sa.Text, nullable=False),
        sa.Column("total", sa.Integer, nullable=False),
        sa.Column("max_total", sa.Integer, nullable=False),
        sa.Column("comment", sa.Text, nullable=False),
        sa.Column("calibration_id", sa.String(32), nullable=False),
        sa.Column("submitted_at", _TS, nullable=False),
        sa.UniqueConstraint(
            "case_ref", "evaluator", "calibration_id", name="uq_quality_evaluations_once"
        ),
    )
    op.create_index("ix_quality_evaluations_agent", "quality_evaluations", ["agent"])
    op.create_table(
        "evaluation_responses",
        sa.Column(
            "evaluation_id",
            sa.String(32),
            sa.ForeignKey("quality_evaluations.id"),
            primary_key=True,
        ),
        sa.Column("agent", sa.String(64), nullable=False),
        sa.Column("agrees", sa.Boolean, nullable=False),
        sa.Column("response", sa.Text, nullable=False),
        sa.Column("responded_at", _TS, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("evaluation_responses")
    op.drop_index("ix_quality_evaluations_agent", "quality_evaluations")
    op.drop_table("quality_evaluations")
    op.drop_table("calibrations")
