"""Incident tables (migration 0014 creates them)."""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Index, String, Table, Text

from callvault.db import metadata

incidents = Table(
    "incidents",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("ref", String(32), nullable=False, unique=True),
    Column("summary", Text, nullable=False),
    Column("opened_by", String(64), nullable=False),
    Column("opened_at", String(32), nullable=False),
    Column("closed_by", String(64)),
    Column("closed_at", String(32)),
    Column("outcome", String(32)),
    Column("outcome_note", Text),
)

incident_recordings = Table(
    "incident_recordings",
    metadata,
    Column("incident_id", String(32), ForeignKey("incidents.id"), primary_key=True),
    Column("recording_id", String(40), ForeignKey("recordings.id"), primary_key=True),
    Column("flag_id", String(32)),
    Column("hold_id", String(32), nullable=False),
    Column("note", Text, nullable=False),
    Column("added_by", String(64), nullable=False),
    Column("added_at", String(32), nullable=False),
    Index("ix_incident_recordings_recording", "recording_id"),
)

__all__ = ["incident_recordings", "incidents"]
