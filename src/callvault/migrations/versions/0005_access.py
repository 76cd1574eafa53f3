"""Purpose-bound access: one grant per request to listen to a recording.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28

A grant names one recording, the purpose and case reference it was asked for, who asked and
who decided, and when it expires. Grants are changed only through ``access.grants``, beside
the audit entry for the same step.
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_TS = sa.String(32)


def upgrade() -> None:
    op.create_table(
        "grants",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("recording_id", sa.String(40), sa.ForeignKey("recordings.id"), nullable=False),
        sa.Column("requester", sa.String(64), nullable=False),
        sa.Column("purpose", sa.String(64), nullable=False),
        sa.Column("case_ref", sa.String(64), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("approver", sa.String(64)),
        sa.Column("requested_at", _TS, nullable=False),
        sa.Column("decided_at", _TS),
        sa.Column("expires_at", _TS),
        sa.Column("revoked_reason", sa.Text),
        sa.CheckConstraint(
            "status IN ('pending', 'approved', 'denied', 'revoked')", name="grants_status"
        ),
    )
    op.create_index("ix_grants_recording_id", "grants", ["recording_id"])
    op.create_index("ix_grants_requester", "grants", ["requester"])


def downgrade() -> None:
    op.drop_table("grants")
