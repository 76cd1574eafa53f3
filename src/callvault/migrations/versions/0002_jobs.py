"""The database job queue: one table, written in the same transaction as the act.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_TS = sa.String(32)
_UNFINISHED = sa.text("status IN ('queued', 'running')")


def upgrade() -> None:
    op.create_table(
        "jobs",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("queue", sa.String(32), nullable=False),
        sa.Column("task", sa.String(100), nullable=False),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("max_attempts", sa.Integer, nullable=False),
        sa.Column("run_after", _TS, nullable=False),
        sa.Column("locked_by", sa.String(200)),
        sa.Column("locked_at", _TS),
        sa.Column("heartbeat", _TS),
        sa.Column("last_error", sa.Text),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("finished_at", _TS),
    )
    op.create_index(
        "ux_jobs_key_unfinished",
        "jobs",
        ["key"],
        unique=True,
        sqlite_where=_UNFINISHED,
        postgresql_where=_UNFINISHED,
    )
    op.create_index("ix_jobs_claim", "jobs", ["queue", "status", "run_after"])


def downgrade() -> None:
    op.drop_index("ix_jobs_claim", "jobs")
    op.drop_index("ux_jobs_key_unfinished", "jobs")
    op.drop_table("jobs")
