"""The governed recording core: decisions, recordings, data keys, users, audit.

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

from callvault.audit.store import GENERATED, json_field_sql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_TS = sa.String(32)


def upgrade() -> None:
    op.create_table(
        "call_decisions",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("call_id", sa.String(128), nullable=False, unique=True),
        sa.Column("direction", sa.String(10), nullable=False),
        sa.Column("dialled", sa.String(32), nullable=False),
        sa.Column("record", sa.Boolean, nullable=False),
        sa.Column("line", sa.String(64)),
        sa.Column("rule", sa.String(100), nullable=False),
        sa.Column("policy_version", sa.String(64), nullable=False),
        sa.Column("decided_at", _TS, nullable=False),
        sa.Column("origin", sa.String(200), nullable=False),
    )
    op.create_table(
        "recordings",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("call_id", sa.String(128), nullable=False, unique=True),
        sa.Column("decision_id", sa.String(40), sa.ForeignKey("call_decisions.id"), nullable=False),
        sa.Column("line", sa.String(64), nullable=False),
        sa.Column("sensitivity", sa.String(32), nullable=False),
        sa.Column("direction", sa.String(10), nullable=False),
        sa.Column("dialled", sa.String(32), nullable=False),
        sa.Column("caller", sa.String(32), nullable=False),
        sa.Column("agent", sa.String(64), nullable=False),
        sa.Column("started_at", _TS, nullable=False, index=True),
        sa.Column("ended_at", _TS, nullable=False),
        sa.Column("duration_s", sa.Float, nullable=False),
        sa.Column("announcement_played", sa.Boolean, nullable=False),
        sa.Column("notice_version", sa.String(64), nullable=False),
        sa.Column("channel_map", sa.Text, nullable=False),
        sa.Column("flags", sa.Text, nullable=False),
        sa.Column("source_sha256", sa.String(64), nullable=False),
        sa.Column("source_bytes", sa.Integer, nullable=False),
        sa.Column("source_format", sa.String(64), nullable=False),
        sa.Column("blob_name", sa.String(200), nullable=False, unique=True),
        sa.Column("codec", sa.String(16), nullable=False),
        sa.Column("sample_rate", sa.Integer, nullable=False),
        sa.Column("channels", sa.Integer, nullable=False),
        sa.Column("retain_until", _TS, nullable=False, index=True),
        sa.Column("created_at", _TS, nullable=False),
    )
    op.create_table(
        "data_keys",
        sa.Column("recording_id", sa.String(40), sa.ForeignKey("recordings.id"), primary_key=True),
        sa.Column("kek_id", sa.String(64), nullable=False),
        sa.Column("wrapped", sa.LargeBinary, nullable=False),
        sa.Column("created_at", _TS, nullable=False),
    )
    op.create_table(
        "users",
        sa.Column("username", sa.String(64), primary_key=True),
        sa.Column("role", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("password_hash", sa.String(200)),
        sa.Column("token_sha256", sa.String(64), unique=True),
        sa.Column("disabled", sa.Boolean, nullable=False),
        sa.Column("created_at", _TS, nullable=False),
    )
    _create_audit_tables()


def _create_audit_tables() -> None:
    dialect = op.get_bind().dialect.name
    # SQLite computes generated columns on read (VIRTUAL); PostgreSQL stores them.
    persisted = dialect != "sqlite"
    op.create_table(
        "audit_log",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("entry", sa.Text, nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        *(
            sa.Column(
                name, sa.Text, sa.Computed(json_field_sql(dialect, name), persisted=persisted)
            )
            for name in GENERATED
        ),
    )
    op.create_index("ix_audit_log_object_id", "audit_log", ["object_id"])
    for name in ("audit_checkpoints", "audit_head"):
        key = "seq" if name == "audit_checkpoints" else "id"
        op.create_table(
            name,
            sa.Column(key, sa.Integer, primary_key=True, autoincrement=False),
            *([sa.Column("seq", sa.Integer, nullable=False)] if key == "id" else []),
            sa.Column("at", _TS, nullable=False),
            sa.Column("hash", sa.String(64), nullable=False),
            sa.Column("key_id", sa.String(64), nullable=False),
            sa.Column("signature", sa.String(128), nullable=False),
        )
    _refuse_changes("audit_log")
    _refuse_changes("audit_checkpoints")


def _refuse_changes(table: str) -> None:
    """The database itself refuses UPDATE and DELETE on the append-only tables."""
    if op.get_bind().dialect.name == "sqlite":
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
            )
    else:
        op.execute(
            f"CREATE OR REPLACE FUNCTION {table}_append_only() RETURNS trigger AS $$ "
            f"BEGIN RAISE EXCEPTION '{table} is append-only'; END $$ LANGUAGE plpgsql"
        )
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION {table}_append_only()"
        )


def downgrade() -> None:
    for table in (
        "audit_head",
        "audit_checkpoints",
        "audit_log",
        "users",
        "data_keys",
        "recordings",
        "call_decisions",
    ):
        op.drop_table(table)
