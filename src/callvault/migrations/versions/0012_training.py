"""Training clips: the library and each clip's own data key.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-29

``training_clips`` follows a clip from a manager's proposal through the staff member's
consent (or refusal, or later withdrawal), the making (cut, caller's personal data muted,
caller's voice altered, measured), a reviewer's sign-off with the motivated-intruder
checklist, publication in the library and removal (consent withdrawn, or the library's own
retention over). ``clip_keys`` holds each clip's wrapped data key: removing a clip destroys it.
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

_TS = sa.String(32)


def upgrade() -> None:
    op.create_table(
        "training_clips",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("recording_id", sa.String(40), sa.ForeignKey("recordings.id"), nullable=False),
        sa.Column("start_s", sa.Float, nullable=False),
        sa.Column("end_s", sa.Float, nullable=False),
        sa.Column("why", sa.Text, nullable=False),
        sa.Column("line", sa.String(64), nullable=False),
        sa.Column("agent", sa.String(64), nullable=False),
        sa.Column("proposed_by", sa.String(64), nullable=False),
        sa.Column("proposed_at", _TS, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("consent_at", _TS),
        sa.Column("refused_at", _TS),
        sa.Column("withdrawn_at", _TS),
        sa.Column("made_at", _TS),
        sa.Column("blob_name", sa.String(200)),
        sa.Column("duration_s", sa.Float),
        sa.Column("label", sa.String(16)),
        sa.Column("similarity", sa.Float),
        sa.Column("reviewed_by", sa.String(64)),
        sa.Column("reviewed_at", _TS),
        sa.Column("checklist", sa.Text),
        sa.Column("review_note", sa.Text),
        sa.Column("published_at", _TS),
        sa.Column("retain_until", _TS),
        sa.Column("removed_at", _TS),
        sa.Column("removed_why", sa.Text),
    )
    op.create_index("ix_training_clips_recording_id", "training_clips", ["recording_id"])
    op.create_index("ix_training_clips_state", "training_clips", ["state"])
    op.create_table(
        "clip_keys",
        sa.Column("clip_id", sa.String(32), sa.ForeignKey("training_clips.id"), primary_key=True),
        sa.Column("kek_id", sa.String(64), nullable=False),
        sa.Column("wrapped", sa.LargeBinary, nullable=False),
        sa.Column("created_at", _TS, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("clip_keys")
    op.drop_table("training_clips")
