"""People's rights: subject access, erasure and objection requests.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-29

``rights_requests`` is the register of requests with the statutory clock's inputs (received
date, extension and when the requester was told) and its last computed deadline, indexed for
the deadlines view. ``rights_pauses`` are the stop-the-clock periods (Art. 12A: waiting for
identity or clarification). ``rights_searches`` keep every search made for a request, the
evidence that it was reasonable and proportionate (Art. 15(1A)). ``rights_items`` are the
recordings found and what became of each: reviewed and released or withheld (access), or
erased or kept with a reason code (erasure, objection). ``rights_mutes`` are the spans a
reviewer mutes in a released recording (other people's voices and details).
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_TS = sa.String(32)
_DAY = sa.String(10)


def upgrade() -> None:
    op.create_table(
        "rights_requests",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("ref", sa.String(100), nullable=False, unique=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("requester", sa.Text, nullable=False),
        sa.Column("contact", sa.Text, nullable=False),
        sa.Column("identity", sa.String(16), nullable=False),
        sa.Column("received_on", _DAY, nullable=False),
        sa.Column("identifiers", sa.Text, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("deadline", _DAY),
        sa.Column("extension_months", sa.Integer, nullable=False, server_default="0"),
        sa.Column("extension_reason", sa.Text),
        sa.Column("extension_told_on", _DAY),
        sa.Column("opened_by", sa.String(64), nullable=False),
        sa.Column("opened_at", _TS, nullable=False),
        sa.Column("closed_by", sa.String(64)),
        sa.Column("closed_at", _TS),
        sa.Column("outcome", sa.Text),
    )
    op.create_index("ix_rights_requests_open", "rights_requests", ["state", "deadline"])
    op.create_table(
        "rights_pauses",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("request_id", sa.String(32), sa.ForeignKey("rights_requests.id"), nullable=False),
        sa.Column("reason", sa.String(16), nullable=False),
        sa.Column("started_on", _DAY, nullable=False),
        sa.Column("ended_on", _DAY),
        sa.Column("note", sa.Text, nullable=False),
    )
    op.create_index("ix_rights_pauses_request_id", "rights_pauses", ["request_id"])
    op.create_table(
        "rights_searches",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("request_id", sa.String(32), sa.ForeignKey("rights_requests.id"), nullable=False),
        sa.Column("searched_by", sa.String(64), nullable=False),
        sa.Column("searched_at", _TS, nullable=False),
        sa.Column("terms", sa.Text, nullable=False),
        sa.Column("matched", sa.Integer, nullable=False),
        sa.Column("hold_id", sa.String(32)),
    )
    op.create_index("ix_rights_searches_request_id", "rights_searches", ["request_id"])
    op.create_table(
        "rights_items",
        sa.Column(
            "request_id", sa.String(32), sa.ForeignKey("rights_requests.id"), primary_key=True
        ),
        sa.Column("recording_id", sa.String(40), sa.ForeignKey("recordings.id"), primary_key=True),
        sa.Column("search_id", sa.String(32), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("reason_code", sa.String(32)),
        sa.Column("note", sa.Text),
        sa.Column("decided_by", sa.String(64)),
        sa.Column("decided_at", _TS),
        sa.Column("certificate_seq", sa.Integer),
    )
    op.create_index("ix_rights_items_recording_id", "rights_items", ["recording_id"])
    op.create_table(
        "rights_mutes",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("request_id", sa.String(32), sa.ForeignKey("rights_requests.id"), nullable=False),
        sa.Column("recording_id", sa.String(40), sa.ForeignKey("recordings.id"), nullable=False),
        sa.Column("channel", sa.Integer),
        sa.Column("start_s", sa.Float, nullable=False),
        sa.Column("end_s", sa.Float, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("added_by", sa.String(64), nullable=False),
    )
    op.create_index("ix_rights_mutes_item", "rights_mutes", ["request_id", "recording_id"])


def downgrade() -> None:
    op.drop_table("rights_mutes")
    op.drop_table("rights_items")
    op.drop_table("rights_searches")
    op.drop_table("rights_pauses")
    op.drop_table("rights_requests")
