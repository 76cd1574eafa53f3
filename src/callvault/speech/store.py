"""Tables of the speech pipeline: the redaction log and recordings flagged for review.

Migration 0010 creates them. Neither holds what was said: the words stay in the encrypted
transcripts; these rows say what kind of item was muted where, and why a person should look.
"""

from __future__ import annotations

from sqlalchemy import Column, Float, ForeignKey, Index, Integer, String, Table

from callvault.db import metadata

# Each muted item: which rendition it was muted in ("redacted", or "original" where card data
# was muted in a payment line's stored audio), what kind, who said it, when, and which
# detector found it.
redactions = Table(
    "redactions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("recording_id", String(40), ForeignKey("recordings.id"), nullable=False, index=True),
    Column("rendition", String(32), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("speaker", String(16), nullable=False),
    Column("start_s", Float, nullable=False),
    Column("end_s", Float, nullable=False),
    Column("detector", String(64), nullable=False),
    Column("score", Float, nullable=False),
    Column("created_at", String(32), nullable=False),
)

# A recording a person must look at: abusive or threatening language (for the safety and
# conduct officer) or digits on a payment line that could not be ruled out as card data.
# Nothing is done automatically; a reviewer closes the flag with an outcome.
review_flags = Table(
    "review_flags",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("recording_id", String(40), ForeignKey("recordings.id"), nullable=False),
    Column("kind", String(16), nullable=False),  # "conduct" | "digits"
    Column("rule", String(64), nullable=False),
    Column("speaker", String(16), nullable=False),
    Column("start_s", Float, nullable=False),
    Column("end_s", Float, nullable=False),
    Column("raised_at", String(32), nullable=False),
    Column("reviewed_at", String(32)),
    Column("reviewed_by", String(64)),
    Column("outcome", String(32)),
    Index("ix_review_flags_open", "kind", "reviewed_at"),
    Index("ix_review_flags_recording", "recording_id"),
)

__all__ = ["redactions", "review_flags"]
