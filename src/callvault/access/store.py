"""People and service accounts."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, String, Table

from callvault.db import metadata

users = Table(
    "users",
    metadata,
    Column("username", String(64), primary_key=True),
    Column("role", String(64), nullable=False),
    Column("kind", String(16), nullable=False),  # "person" | "service"
    Column("password_hash", String(200)),
    # SHA-256 of a service account's API token; tokens are random 256-bit, so no slow hash.
    Column("token_sha256", String(64), unique=True),
    Column("disabled", Boolean, nullable=False, default=False),
    Column("created_at", String(32), nullable=False),
)
