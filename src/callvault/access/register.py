"""Tables of the disclosure register: exports, the recordings in each, disclosures."""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, String, Table, Text

from callvault.db import metadata

# One row per signed export, written with its audit entries before any audio is written;
# ``completed_at`` (and the file's hash) once the file is in place. Only a completed export
# can be disclosed.
exports = Table(
    "exports",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("grant_id", String(32), ForeignKey("grants.id"), nullable=False, index=True),
    Column("purpose", String(64), nullable=False),
    Column("case_ref", String(64), nullable=False),
    Column("exported_by", String(64), nullable=False),
    Column("exported_at", String(32), nullable=False),
    Column("manifest_sha256", String(64), nullable=False),
    Column("signing_key_id", String(64), nullable=False),
    Column("file_sha256", String(64)),
    Column("completed_at", String(32)),
)

# Which recordings each export holds: erasure and subject access requests must find copies.
export_recordings = Table(
    "export_recordings",
    metadata,
    Column("export_id", String(32), ForeignKey("exports.id"), primary_key=True),
    Column("recording_id", String(40), ForeignKey("recordings.id"), primary_key=True, index=True),
)

# Who was sent an export, why, when and how: the register the DPO answers from.
disclosures = Table(
    "disclosures",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("export_id", String(32), ForeignKey("exports.id"), nullable=False, index=True),
    Column("recipient", String(200), nullable=False),
    Column("organisation", String(200), nullable=False),
    Column("reason", Text, nullable=False),
    Column("method", String(32), nullable=False),
    Column("sent_on", String(10), nullable=False, index=True),
    Column("recorded_by", String(64), nullable=False),
    Column("recorded_at", String(32), nullable=False),
)
