"""The disclosure register: every export of recordings, and every disclosure of one.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02

``exports`` holds one row per signed export under a grant (written with its audit entries,
before any audio is; ``completed_at`` once the file is in place), ``export_recordings`` the
recordings each holds (so erasure and subject access requests can find them), and
``disclosures`` who was sent an export, by whom, why, when and how.
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_TS = sa.String(32)


def upgrade() -> None:
    op.create_table(
        "exports",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("grant_id", sa.String(32), sa.ForeignKey("grants.id"), nullable=False),
        sa.Column("purpose", sa.String(64), nullable=False),
        sa.Column("case_ref", sa.String(64), nullable=False),
        sa.Column("exported_by", sa.String(64), nullable=False),
        sa.Column("exported_at", _TS, nullable=False),
        sa.Column("manifest_sha256", sa.String(64), nullable=False),
        sa.Column("signing_key_id", sa.String(64), nullable=False),
        sa.Column("file_sha256", sa.String(64)),
        sa.Column("completed_at", _TS),
    )
    op.create_index("ix_exports_grant_id", "exports", ["grant_id"])
    op.create_table(
        "export_recordings",
        sa.Column("export_id", sa.String(32), sa.ForeignKey("exports.id"), primary_key=True),
        sa.Column("recording_id", sa.String(40), sa.ForeignKey("recordings.id"), primary_key=True),
    )
    op.create_index("ix_export_recordings_recording_id", "export_recordings", ["recording_id"])
    op.create_table(
        "disclosures",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("export_id", sa.String(32), sa.ForeignKey("exports.id"), nullable=False),
        sa.Column("recipient", sa.String(200), nullable=False),
        sa.Column("organisation", sa.String(200), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("method", sa.String(32), nullable=False),
        sa.Column("sent_on", sa.String(10), nullable=False),
        sa.Column("recorded_by", sa.String(64), nullable=False),
        sa.Column("recorded_at", _TS, nullable=False),
    )
    op.create_index("ix_disclosures_export_id", "disclosures", ["export_id"])
    op.create_index("ix_disclosures_sent_on", "disclosures", ["sent_on"])


def downgrade() -> None:
    op.drop_table("disclosures")
    op.drop_table("export_recordings")
    op.drop_table("exports")
