"""Web sessions for people: a random id in a cookie, its SHA-256 in the database.

The id is 256 random bits, so a fast hash suffices (as for API tokens) and a copy of the
``sessions`` table cannot be replayed as cookies. A session ends when it is unused for the
idle timeout, at its absolute lifetime, at sign-out (the row is deleted, so a replayed cookie
finds nothing) and, at once, when its user is disabled (every request reads the user row).
Each session has its own CSRF token, which a browser script must echo in ``X-CSRF-Token`` on
every unsafe request; another site can make the browser send the cookie but cannot read the
token. Every refusal is audited.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NoReturn

from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    Engine,
    ForeignKey,
    Row,
    String,
    Table,
    delete,
    insert,
    select,
    update,
)

from callvault.access.store import users
from callvault.audit.service import AuditLog
from callvault.config import Settings
from callvault.context import Actor, RequestContext
from callvault.db import metadata, transaction
from callvault.errors import Refused

# The __Host- prefix makes browsers insist on Secure, Path=/ and no Domain: no subdomain or
# plain-http page can plant or overwrite it.
SESSION_COOKIE = "__Host-callvault_session"
# Without Secure the prefix is refused by browsers, so an insecure set-up uses a plain name.
INSECURE_SESSION_COOKIE = "callvault_session"
CSRF_HEADER = "X-CSRF-Token"
# Writing last_seen on every request would make each read a write; a minute is precise enough
# for a 30-minute idle timeout.
TOUCH_EVERY_S = 60
# Who is not yet anyone: the actor of audit entries about failed sign-ins and bad cookies.
ANONYMOUS = Actor(name="anonymous", kind="anonymous")
_SIGN_IN_AGAIN = "your session has ended ({why}); sign in again"

sessions = Table(
    "sessions",
    metadata,
    Column("id_sha256", String(64), primary_key=True),
    Column("username", String(64), ForeignKey("users.username"), nullable=False, index=True),
    Column("csrf_token", String(64), nullable=False),
    Column("method", String(16), nullable=False),  # "password" | "oidc"
    Column("second_factor", Boolean, nullable=False),
    Column("client_address", String(64), nullable=False),
    Column("created_at", String(32), nullable=False),
    Column("last_seen_at", String(32), nullable=False),
    Column("expires_at", String(32), nullable=False),
)


@dataclass(frozen=True, slots=True)
class SessionRules:
    idle_s: int = 30 * 60
    lifetime_s: int = 12 * 3600
    cookie_secure: bool = True

    @classmethod
    def from_settings(cls, settings: Settings) -> SessionRules:
        return cls(
            idle_s=settings.session_idle_minutes * 60,
            lifetime_s=settings.session_max_hours * 3600,
            cookie_secure=settings.session_cookie_secure,
        )

    @property
    def cookie_name(self) -> str:
        return SESSION_COOKIE if self.cookie_secure else INSECURE_SESSION_COOKIE


@dataclass(frozen=True, slots=True)
class NewSession:
    """A session just opened. ``session_id`` is the cookie value: it exists only here and in
    the browser (the database keeps its hash)."""

    session_id: str
    csrf_token: str
    username: str
    role: str
    expires_at: str  # the absolute end; idle sessions end sooner

    def __repr__(self) -> str:  # keeps the cookie value out of logs and tracebacks
        return f"NewSession(username={self.username!r}, expires_at={self.expires_at!r})"


@dataclass(frozen=True, slots=True)
class LiveSession:
    """A session a request presented, checked and still valid."""

    id_sha256: str
    username: str
    role: str
    csrf_token: str
    method: str
    second_factor: bool
    expires_at: str

    @property
    def actor(self) -> Actor:
        return Actor(name=self.username, kind="user", role=self.role)


def iso(moment: float) -> str:
    """A timestamp in the same form as ``audit.service.utc_now_iso`` (sorts as text)."""
    return datetime.fromtimestamp(moment, UTC).isoformat(timespec="microseconds")


def seconds(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def id_hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


class Sessions:
    """Opens, checks and closes sessions; every refusal is audited (committed on its own)."""

    def __init__(
        self,
        engine: Engine,
        audit: AuditLog,
        rules: SessionRules,
        second_factor_roles: frozenset[str],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._engine, self._audit, self.rules = engine, audit, rules
        self._second_factor_roles = second_factor_roles
        self._clock = clock

    def insert(
        self,
        conn: Connection,
        username: str,
        role: str,
        *,
        method: str,
        second_factor: bool,
        client_address: str,
    ) -> NewSession:
        """Add a session row inside the caller's transaction (beside its audit entry)."""
        now = self._clock()
        # Ended sessions are removed as new ones open, so the table holds live ones only.
        conn.execute(delete(sessions).where(sessions.c.expires_at < iso(now)))
        session_id = secrets.token_urlsafe(32)
        expires_at = iso(now + self.rules.lifetime_s)
        new = NewSession(session_id, secrets.token_urlsafe(32), username, role, expires_at)
        conn.execute(
            insert(sessions).values(
                id_sha256=id_hash(session_id),
                username=username,
                csrf_token=new.csrf_token,
                method=method,
                second_factor=second_factor,
                client_address=client_address[:64],
                created_at=iso(now),
                last_seen_at=iso(now),
                expires_at=expires_at,
            )
        )
        return new

    def resolve(self, ctx: RequestContext, session_id: str) -> LiveSession:
        """The live session behind a cookie value, or Refused (audited) saying why not."""
        now = self._clock()
        with self._engine.connect() as conn:
            row = conn.execute(
                select(sessions, users.c.role, users.c.disabled)
                .join(users, users.c.username == sessions.c.username)
                .where(sessions.c.id_sha256 == id_hash(session_id))
            ).first()
        if row is None:
            # Forged, signed out, or removed after it ended: nothing to tell them apart by.
            self._refuse(ctx, None, "unknown", "it is not a current session")
        why = self._ended(row, now)
        if why is not None:
            self._refuse(ctx, row, *why)
        if now - seconds(row.last_seen_at) >= TOUCH_EVERY_S:
            with transaction(self._engine) as conn:
                conn.execute(
                    update(sessions)
                    .where(sessions.c.id_sha256 == row.id_sha256)
                    .values(last_seen_at=iso(now))
                )
        return LiveSession(
            id_sha256=row.id_sha256,
            username=row.username,
            role=row.role,
            csrf_token=row.csrf_token,
            method=row.method,
            second_factor=bool(row.second_factor),
            expires_at=row.expires_at,
        )

    def _ended(self, row: Row[Any], now: float) -> tuple[str, str] | None:
        """(reason code, words) if the session may no longer be used."""
        if row.disabled:
            return "user_disabled", "your account is disabled"
        if now >= seconds(row.expires_at):
            hours = self.rules.lifetime_s // 3600
            return "expired", f"sessions last at most {hours} hours"
        if now - seconds(row.last_seen_at) >= self.rules.idle_s:
            return "idle", f"it was unused for {self.rules.idle_s // 60} minutes"
        if row.role in self._second_factor_roles and not row.second_factor:
            # The role changed to one that needs a second factor since this sign-in.
            return "second_factor_needed", f"role {row.role} needs a second factor at sign-in"
        return None

    def _refuse(self, ctx: RequestContext, row: Row[Any] | None, reason: str, why: str) -> NoReturn:
        with transaction(self._engine) as conn:
            if row is not None:
                # An ended session is deleted, so its cookie is simply unknown from now on.
                conn.execute(delete(sessions).where(sessions.c.id_sha256 == row.id_sha256))
                ctx = dataclasses.replace(
                    ctx, actor=Actor(name=row.username, kind="user", role=row.role)
                )
            self._audit.append(
                conn,
                ctx,
                "session.refused",
                object_type="user" if row is not None else None,
                object_id=row.username if row is not None else None,
                details={"reason": reason},
            )
        raise Refused(_SIGN_IN_AGAIN.format(why=why), "session")

    def check_csrf(
        self, ctx: RequestContext, live: LiveSession, sent: str | None, method: str, path: str
    ) -> None:
        """Refused (audited) unless ``sent`` is this session's CSRF token."""
        if sent and hmac.compare_digest(sent.encode(), live.csrf_token.encode()):
            return
        reason = "missing" if not sent else "wrong"
        with transaction(self._engine) as conn:
            self._audit.append(
                conn,
                ctx,
                "session.csrf_refused",
                object_type="user",
                object_id=live.username,
                details={"reason": reason, "method": method, "path": path[:200]},
            )
        raise Refused(
            f"the {CSRF_HEADER} header is {reason}: a {method} signed in by cookie must send the "
            f"csrf_token that POST or GET /api/v1/session returned in the {CSRF_HEADER} header",
            CSRF_HEADER,
        )

    def close(self, ctx: RequestContext, live: LiveSession) -> None:
        """Sign out: the row goes, so the cookie (or a copy of it) works no more."""
        with transaction(self._engine) as conn:
            conn.execute(delete(sessions).where(sessions.c.id_sha256 == live.id_sha256))
            self._audit.append(conn, ctx, "signout", object_type="user", object_id=live.username)
