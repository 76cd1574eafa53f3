"""Speech: the redaction log and review flags.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-28

``redactions`` records each item the speech pipeline muted (kind, speaker, times, detector):
the proof of what a redacted rendition withholds, without the withheld words. ``review_flags``
are recordings a person must look at (abusive or threatening language; digits on a payment
line that could not be ruled out as card data). Transcripts themselves are blobs (rows in
``renditions``), encrypted under the recording's data key.
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_TS = sa.String(32)


def upgrade() -> None:
    op.create_table(
        "redactions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("recording_id", sa.String(40), sa.ForeignKey("recordings.id"), nullable=False),
        sa.Column("rendition", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("speaker", sa.String(16), nullable=False),
        sa.Column("start_s", sa.Float, nullable=False),
        sa.Column("end_s", sa.Float, nullable=False),
        sa.Column("detector", sa.String(64), nullable=False),
        sa.Column("score", sa.Float, nullable=False),
        sa.Column("created_at", _TS, nullable=False),
    )
    op.create_index("ix_redactions_recording_id", "redactions", ["recording_id"])
    op.create_table(
        "review_flags",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("recording_id", sa.String(40), sa.ForeignKey("recordings.id"), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("rule", sa.String(64), nullable=False),
        sa.Column("speaker", sa.String(16), nullable=False),
        sa.Column("start_s", sa.Float, nullable=False),
        sa.Column("end_s", sa.Float, nullable=False),
        sa.Column("raised_at", _TS, nullable=False),
        sa.Column("reviewed_at", _TS),
        sa.Column("reviewed_by", sa.String(64)),
        sa.Column("outcome", sa.String(32)),
    )
    op.create_index("ix_review_flags_open", "review_flags", ["kind", "reviewed_at"])
    op.create_index("ix_review_flags_recording", "review_flags", ["recording_id"])


def downgrade() -> None:
    op.drop_table("review_flags")
    op.drop_table("redactions")
