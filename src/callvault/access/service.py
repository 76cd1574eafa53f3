"""People and service accounts: creation, passwords, API tokens; the entry point to grants.

The purpose-bound access flow (``access.grants``) and playback (``access.playback``) are
``Services.grants`` and ``Services.player``.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from typing import Any

from argon2 import PasswordHasher
from sqlalchemy import Engine, insert, select, update

from callvault.access.store import users
from callvault.audit.service import AuditLog, utc_now_iso
from callvault.context import Actor, RequestContext
from callvault.db import transaction
from callvault.errors import BadInput, Conflict, NotFound, Refused

_USERNAME = re.compile(r"[a-z][a-z0-9._-]{1,63}")
# Service accounts: a PBX's uploader, and a payment system that pauses live recordings.
SERVICE_ROLES = frozenset({"ingest", "payments"})


class AccessService:
    def __init__(self, engine: Engine, audit: AuditLog, roles: frozenset[str]) -> None:
        self._engine, self._audit = engine, audit
        self._roles = roles
        self._hasher = PasswordHasher()  # argon2id, library defaults (RFC 9106 profile)

    def add_person(
        self, ctx: RequestContext, username: str, role: str, password: str | None = None
    ) -> str:
        """Create a person; returns the password (generated when none is given)."""
        self._check_new(username, role, self._roles)
        password = password or secrets.token_urlsafe(15)
        if len(password) < 12:
            raise BadInput("passwords need at least 12 characters", "password")
        self._insert(ctx, username, role, "person", password_hash=self._hasher.hash(password))
        return password

    def add_service(self, ctx: RequestContext, username: str, role: str = "ingest") -> str:
        """Create a service account (e.g. the PBX's uploader); returns its API token, once."""
        self._check_new(username, role, SERVICE_ROLES)
        token = "cvt_" + secrets.token_urlsafe(32)
        self._insert(ctx, username, role, "service", token_sha256=_token_hash(token))
        return token

    def actor_for_token(self, token: str) -> Actor:
        """The service account an API token belongs to; Refused for any other token."""
        with self._engine.connect() as conn:
            row = conn.execute(
                select(users).where(users.c.token_sha256 == _token_hash(token))
            ).first()
        if row is None or row.disabled:
            raise Refused("the API token is not valid; ask an administrator for a new one", "token")
        return Actor(name=row.username, kind="service", role=row.role)

    def person(self, username: str, operator: str | None = None) -> Actor:
        """The person ``username`` as an actor (``operator``: who acts for them at the CLI);
        Refused when there is no such person or the account is disabled."""
        with self._engine.connect() as conn:
            row = conn.execute(
                select(users).where(users.c.username == username, users.c.kind == "person")
            ).first()
        if row is None or row.disabled:
            state = "is disabled" if row is not None else "does not exist"
            raise Refused(f"user {username[:64]!r} {state}", "as")
        return Actor(name=row.username, kind="user", role=row.role, operator=operator)

    def list_users(self) -> list[dict[str, Any]]:
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(
                    users.c.username, users.c.role, users.c.kind, users.c.disabled,
                    users.c.created_at,
                ).order_by(users.c.username)
            ).all()  # fmt: skip
        return [
            {"user": r.username, "role": r.role, "kind": r.kind,
             "disabled": bool(r.disabled), "created_at": r.created_at}
            for r in rows
        ]  # fmt: skip

    def disable(self, ctx: RequestContext, username: str) -> None:
        """Disable an account: it can no longer sign in, act or use its grants."""
        with transaction(self._engine) as conn:
            changed = conn.execute(
                update(users).where(users.c.username == username).values(disabled=True)
            ).rowcount
            if changed != 1:
                raise NotFound(f"no user {username[:64]!r}", "username")
            self._audit.append(conn, ctx, "user.disabled", object_type="user", object_id=username)

    def _check_new(self, username: str, role: str, roles: frozenset[str]) -> None:
        if not _USERNAME.fullmatch(username):
            raise BadInput(
                f"username {username!r} must start with a letter and use a-z, 0-9, '.', '_', '-'",
                "username",
            )
        if role not in roles:
            raise BadInput(
                f"unknown role {role!r}; known roles: {', '.join(sorted(roles))}", "role"
            )
        with self._engine.connect() as conn:
            if conn.execute(select(users.c.username).where(users.c.username == username)).first():
                raise Conflict(f"user {username!r} already exists", "username")

    def _insert(
        self, ctx: RequestContext, username: str, role: str, kind: str, **secret: str
    ) -> None:
        with transaction(self._engine) as conn:
            conn.execute(
                insert(users).values(
                    username=username,
                    role=role,
                    kind=kind,
                    disabled=False,
                    created_at=utc_now_iso(),
                    **secret,
                )
            )
            self._audit.append(
                conn,
                ctx,
                "user.added",
                object_type="user",
                object_id=username,
                details={"role": role, "kind": kind},
            )


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
