"""Tables of demand analysis and quality sampling (migration 0013 creates them)."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from callvault.db import metadata

# One row per recorded call: what demand reports read, and all they read. No number, no
# words: the caller as a keyed hash (cleared when the recording is purged) and topic ids.
demand_calls = Table(
    "demand_calls",
    metadata,
    Column("recording_id", String(40), ForeignKey("recordings.id"), primary_key=True),
    Column("line", String(64), nullable=False),
    Column("direction", String(10), nullable=False),
    Column("started_at", String(32), nullable=False),
    Column("local_date", String(10), nullable=False),  # YYYY-MM-DD, UK local
    Column("local_hour", Integer, nullable=False),  # 0-23, UK local
    Column("weekday", Integer, nullable=False),  # 0 Monday … 6 Sunday, UK local
    Column("out_of_hours", Boolean, nullable=False),
    Column("duration_s", Float, nullable=False),
    Column("caller_key", String(64)),
    Column("topics", Text),  # topic ids, comma-separated; "" none matched
    Column("transcribed", Boolean, nullable=False),
    Column("indexed_at", String(32), nullable=False),
    Index("ix_demand_calls_started", "started_at"),
    Index("ix_demand_calls_transcribed", "transcribed", "recording_id"),
)

# The key of the caller hash, wrapped by the key-encryption key (id "caller").
analytics_keys = Table(
    "analytics_keys",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("kek_id", String(64), nullable=False),
    Column("wrapped", LargeBinary, nullable=False),
    Column("created_at", String(32), nullable=False),
)

# A month's quality sample: the seed reproduces it; a second draw of a month needs a reason.
quality_draws = Table(
    "quality_draws",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("month", String(7), nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("seed", String(64), nullable=False),
    Column("calls_per_advisor", Integer, nullable=False),
    Column("min_duration_s", Float, nullable=False),
    Column("eligible", Integer, nullable=False),
    Column("drawn", Integer, nullable=False),
    Column("policy_version", String(64), nullable=False),
    Column("drawn_at", String(32), nullable=False),
    Column("drawn_by", String(64), nullable=False),
    Column("reason", Text, nullable=False),
    Column("superseded_at", String(32)),
    UniqueConstraint("month", "attempt", name="uq_quality_draws_month_attempt"),
)

# Each sampled call, with the case reference an evaluator's quality grant must name.
quality_samples = Table(
    "quality_samples",
    metadata,
    Column("draw_id", String(32), ForeignKey("quality_draws.id"), primary_key=True),
    Column("recording_id", String(40), ForeignKey("recordings.id"), primary_key=True),
    Column("agent", String(64), nullable=False),
    Column("line", String(64), nullable=False),
    Column("position", Integer, nullable=False),
    Column("case_ref", String(32), nullable=False, unique=True),
    Index("ix_quality_samples_agent", "agent"),
)


# A blind comparison of evaluators on one sampled call.
calibrations = Table(
    "calibrations",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("case_ref", String(32), nullable=False),
    Column("recording_id", String(40), ForeignKey("recordings.id"), nullable=False),
    Column("evaluators", Text, nullable=False),  # usernames, comma-separated
    Column("opened_by", String(64), nullable=False),
    Column("opened_at", String(32), nullable=False),
    Column("closed_at", String(32)),
    Column("note", Text),
)

# One evaluator's scores for one sampled call ("" calibration_id: the call's own evaluation).
quality_evaluations = Table(
    "quality_evaluations",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("case_ref", String(32), nullable=False),
    Column("recording_id", String(40), ForeignKey("recordings.id"), nullable=False),
    Column("agent", String(64), nullable=False),
    Column("line", String(64), nullable=False),
    Column("evaluator", String(64), nullable=False),
    Column("scorecard_id", String(64), nullable=False),
    Column("scores", Text, nullable=False),  # JSON: {item id: points}
    Column("total", Integer, nullable=False),
    Column("max_total", Integer, nullable=False),
    Column("comment", Text, nullable=False),
    Column("calibration_id", String(32), nullable=False),
    Column("submitted_at", String(32), nullable=False),
    UniqueConstraint("case_ref", "evaluator", "calibration_id", name="uq_quality_evaluations_once"),
    Index("ix_quality_evaluations_agent", "agent"),
)

# The advisor's one response to an evaluation of their call.
evaluation_responses = Table(
    "evaluation_responses",
    metadata,
    Column("evaluation_id", String(32), ForeignKey("quality_evaluations.id"), primary_key=True),
    Column("agent", String(64), nullable=False),
    Column("agrees", Boolean, nullable=False),
    Column("response", Text, nullable=False),
    Column("responded_at", String(32), nullable=False),
)

__all__ = [
    "analytics_keys",
    "calibrations",
    "demand_calls",
    "evaluation_responses",
    "quality_draws",
    "quality_evaluations",
    "quality_samples",
]
