"""Grants cover several recordings: a complaint or a subject access request spans calls.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28

``grant_recordings`` lists the recordings one grant covers; the single ``grants.recording_id``
column is moved into it and dropped.
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "grant_recordings",
        sa.Column("grant_id", sa.String(32), sa.ForeignKey("grants.id"), primary_key=True),
        sa.Column("recording_id", sa.String(40), sa.ForeignKey("recordings.id"), primary_key=True),
    )
    op.create_index("ix_grant_recordings_recording_id", "grant_recordings", ["recording_id"])
    op.execute(
        "INSERT INTO grant_recordings (grant_id, recording_id) SELECT id, recording_id FROM grants"
    )
    op.drop_index("ix_grants_recording_id", "grants")
    with op.batch_alter_table("grants") as batch:
        batch.drop_column("recording_id")


def downgrade() -> None:
    with op.batch_alter_table("grants") as batch:
        batch.add_column(sa.Column("recording_id", sa.String(40), nullable=True))
    op.execute(
        "UPDATE grants SET recording_id = (SELECT MIN(recording_id) FROM grant_recordings"
        " WHERE grant_recordings.grant_id = grants.id)"
    )
    op.drop_table("grant_recordings")
