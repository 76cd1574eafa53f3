"""Sign-in for people: passwords with lockout, TOTP, single sign-on bindings, web sessions.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02

``users`` gains its sign-in state: the TOTP secret (sealed under a data key that the key ring
wraps, never stored plain), the last time step used (a code works once), the failure count
and lock that back off guessing, the last sign-in, where the account authenticates (local or
oidc) and, for oidc, the (issuer, subject) it is bound to. ``sessions`` holds web sessions by
the SHA-256 of their id, so a copy of the database cannot be replayed as cookies.
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_TS = sa.String(32)

_USER_COLUMNS = (
    "totp_kek_id",
    "totp_key_wrapped",
    "totp_secret_sealed",
    "totp_enrolled_at",
    "totp_last_step",
    "failed_signins",
    "locked_until",
    "last_signin_at",
    "auth_source",
    "oidc_issuer",
    "oidc_subject",
)


def upgrade() -> None:
    # Plain ADD COLUMN (no table rebuild on SQLite): every new column is nullable or has a
    # constant default.
    op.add_column("users", sa.Column("totp_kek_id", sa.String(64)))
    op.add_column("users", sa.Column("totp_key_wrapped", sa.LargeBinary))
    op.add_column("users", sa.Column("totp_secret_sealed", sa.LargeBinary))
    op.add_column("users", sa.Column("totp_enrolled_at", _TS))
    op.add_column("users", sa.Column("totp_last_step", sa.BigInteger))
    op.add_column(
        "users", sa.Column("failed_signins", sa.Integer, nullable=False, server_default="0")
    )
    op.add_column("users", sa.Column("locked_until", _TS))
    op.add_column("users", sa.Column("last_signin_at", _TS))
    op.add_column(
        "users", sa.Column("auth_source", sa.String(16), nullable=False, server_default="local")
    )
    op.add_column("users", sa.Column("oidc_issuer", sa.String(255)))
    op.add_column("users", sa.Column("oidc_subject", sa.String(255)))
    # A unique index, not a constraint: SQLite cannot add a constraint to an existing table.
    op.create_index("ux_users_oidc_identity", "users", ["oidc_issuer", "oidc_subject"], unique=True)
    op.create_table(
        "sessions",
        sa.Column("id_sha256", sa.String(64), primary_key=True),
        sa.Column("username", sa.String(64), sa.ForeignKey("users.username"), nullable=False),
        sa.Column("csrf_token", sa.String(64), nullable=False),
        sa.Column("method", sa.String(16), nullable=False),
        sa.Column("second_factor", sa.Boolean, nullable=False),
        sa.Column("client_address", sa.String(64), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("last_seen_at", _TS, nullable=False),
        sa.Column("expires_at", _TS, nullable=False),
    )
    op.create_index("ix_sessions_username", "sessions", ["username"])


def downgrade() -> None:
    op.drop_table("sessions")
    op.drop_index("ux_users_oidc_identity", "users")
    with op.batch_alter_table("users") as batch:
        for column in reversed(_USER_COLUMNS):
            batch.drop_column(column)
