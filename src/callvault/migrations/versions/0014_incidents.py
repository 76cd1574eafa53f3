"""Customer conduct incidents: the case that links flagged recordings, holds and evidence.

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-29

An incident is the safety and conduct officer's case about a caller's behaviour (threats,
abuse). ``incident_recordings`` links each recording to it, with the conduct flag that led
there (if any) and the legal hold that keeps the recording while the case needs it. Evidence
bundles made for the case are exports under grants naming the incident's reference.
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

_TS = sa.String(32)


def upgrade() -> None:
    op.create_table(
        "incidents",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("ref", sa.String(32), nullable=False, unique=True),
        sa.Column("summary", sa.Text, nullable=False),
        sa.Column("opened_by", sa.String(64), nullable=False),
        sa.Column("opened_at", _TS, nullable=False),
        sa.Column("closed_by", sa.String(64)),
        sa.Column("closed_at", _TS),
        sa.Column("outcome", sa.String(32)),
        sa.Column("outcome_note", sa.Text),
    )
    op.create_table(
        "incident_recordings",
        sa.Column("incident_id", sa.String(32), sa.ForeignKey("incidents.id"), primary_key=True),
        sa.Column("recording_id", sa.String(40), sa.ForeignKey("recordings.id"), primary_key=True),
        sa.Column("flag_id", sa.String(32)),
        sa.Column("hold_id", sa.String(32), nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("added_by", sa.String(64), nullable=False),
        sa.Column("added_at", _TS, nullable=False),
    )
    op.create_index("ix_incident_recordings_recording", "incident_recordings", ["recording_id"])


def downgrade() -> None:
    op.drop_index("ix_incident_recordings_recording", "incident_recordings")
    op.drop_table("incident_recordings")
    op.drop_table("incidents")
