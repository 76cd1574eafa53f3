"""Indexes for metadata search: each filter a manager uses, newest first.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# (name, columns): each leads with the equality filter and ends with the sort order.
INDEXES = (
    ("ix_recordings_line_started", ["line", "started_at", "id"]),
    ("ix_recordings_caller_started", ["caller", "started_at", "id"]),
    ("ix_recordings_agent_started", ["agent", "started_at", "id"]),
    ("ix_recordings_started_id", ["started_at", "id"]),
)


def upgrade() -> None:
    for name, columns in INDEXES:
        op.create_index(name, "recordings", columns)


def downgrade() -> None:
    for name, _columns in INDEXES:
        op.drop_index(name, "recordings")
