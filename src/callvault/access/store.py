"""People and service accounts."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
)

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
    # Sign-in state (access/signin.py). The TOTP secret is sealed (AES-256-GCM) under a data
    # key that the key ring wraps, like a recording's: a copy of the database alone cannot
    # mint codes.
    Column("totp_kek_id", String(64)),
    Column("totp_key_wrapped", LargeBinary),
    Column("totp_secret_sealed", LargeBinary),
    Column("totp_enrolled_at", String(32)),
    # The last 30-second step a code was accepted for: a code (or an older one) works once.
    Column("totp_last_step", BigInteger),
    Column("failed_signins", Integer, nullable=False, default=0, server_default="0"),
    Column("locked_until", String(32)),
    Column("last_signin_at", String(32)),
    Column("auth_source", String(16), nullable=False, default="local", server_default="local"),
    # Single sign-on accounts are bound to one (issuer, subject): a username alone is not proof.
    Column("oidc_issuer", String(255)),
    Column("oidc_subject", String(255)),
    Index("ux_users_oidc_identity", "oidc_issuer", "oidc_subject", unique=True),
)

# One row per request to listen: scoped to its recordings, one purpose and one case, expiring.
# Status moves pending -> approved | denied, approved -> revoked; the audit trail holds every step.
grants = Table(
    "grants",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("requester", String(64), nullable=False, index=True),
    Column("purpose", String(64), nullable=False),
    Column("case_ref", String(64), nullable=False),
    Column("reason", Text, nullable=False),
    Column("status", String(16), nullable=False),  # pending | approved | denied | revoked
    Column("approver", String(64)),
    Column("requested_at", String(32), nullable=False),
    Column("decided_at", String(32)),
    Column("expires_at", String(32)),
    Column("revoked_reason", Text),
)

# The recordings one grant covers (a complaint or a subject access request spans calls).
grant_recordings = Table(
    "grant_recordings",
    metadata,
    Column("grant_id", String(32), ForeignKey("grants.id"), primary_key=True),
    Column("recording_id", String(40), ForeignKey("recordings.id"), primary_key=True, index=True),
)
