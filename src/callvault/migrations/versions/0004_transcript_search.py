"""Full-text search over transcript segments: SQLite FTS5, PostgreSQL tsvector + GIN.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28

The index holds the text the speech pipeline hands it (the redacted transcript), one row per
segment with its speaker and start time, so a hit can jump to the moment it was said. Purging
a recording deletes its rows with its key.
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            "CREATE VIRTUAL TABLE transcript_segments USING fts5("
            "recording_id UNINDEXED, segment UNINDEXED, speaker UNINDEXED, "
            "start_s UNINDEXED, end_s UNINDEXED, text, tokenize = 'porter unicode61')"
        )
        return
    op.execute(
        "CREATE TABLE transcript_segments ("
        " recording_id VARCHAR(40) NOT NULL REFERENCES recordings (id),"
        " segment INTEGER NOT NULL,"
        " speaker VARCHAR(16) NOT NULL,"
        " start_s DOUBLE PRECISION NOT NULL,"
        " end_s DOUBLE PRECISION NOT NULL,"
        " text TEXT NOT NULL,"
        " tsv TSVECTOR GENERATED ALWAYS AS (to_tsvector('english', text)) STORED,"
        " PRIMARY KEY (recording_id, segment))"
    )
    op.execute("CREATE INDEX ix_transcript_segments_tsv ON transcript_segments USING GIN (tsv)")


def downgrade() -> None:
    op.execute("DROP TABLE transcript_segments")
