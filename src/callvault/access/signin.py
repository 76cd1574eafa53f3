"""Signing people in: password and TOTP, lockout with back-off, sessions, SSO accounts.

Every failure a guesser could learn from gets the same words (``FAILED``) and about the same
work: an unknown username still costs an argon2 verification, against a dummy hash. Two
answers differ, on purpose: a locked account says so (its attempts are refused without
checking the password, which the response time would reveal anyway), and a correct password
for a role that needs TOTP but has none enrolled says whom to ask (only the password's owner
can see that one).

Roles that can hear audio (policy ``can_hear_audio``) and administrators (they create
accounts) must pass a second factor: TOTP here, the provider's MFA for single sign-on. Others
may enrol TOTP and must then use it.

Lockout: the ``LOCK_AFTER``-th consecutive failure locks the account for ``LOCK_FIRST_S``,
each further failure doubles the lock up to ``LOCK_MAX_S``; a successful sign-in or
``callvault user unlock`` resets the count.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any, NoReturn

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Connection, Engine, Row, select, update

from callvault.access import totp
from callvault.access.oidc_accounts import provision
from callvault.access.oidc_identity import USERNAME_RULE
from callvault.access.sessions import NewSession, SessionRules, Sessions, iso, seconds
from callvault.access.store import users
from callvault.audit.service import AuditLog
from callvault.context import Actor, RequestContext
from callvault.db import transaction
from callvault.errors import BadInput, CallvaultError, NotFound, Refused
from callvault.vault.interfaces import KeyWrapper

if TYPE_CHECKING:
    from callvault.access.oidc import OidcLogin
    from callvault.bootstrap import Services

FAILED = "username, password or code is wrong"
LOCK_AFTER = 5
LOCK_FIRST_S = 60
LOCK_MAX_S = 3600
ADMINISTRATOR = "administrator"


def lock_seconds(failures: int) -> int:
    """How long ``failures`` consecutive failures lock an account (0: not locked)."""
    if failures < LOCK_AFTER:
        return 0
    # Capped exponent: the count can grow without bound, the lock cannot.
    doublings = min(failures - LOCK_AFTER, 32)
    return min(LOCK_FIRST_S << doublings, LOCK_MAX_S)


@dataclass(frozen=True, slots=True)
class TotpEnrolment:
    """What the person types or scans into an authenticator app; shown once."""

    username: str
    uri: str
    secret: str  # base32

    def __repr__(self) -> str:  # keeps the secret out of logs and tracebacks
        return f"TotpEnrolment(username={self.username!r})"


class _Replayed(Exception):
    """A valid code for a step already used (raised inside the sign-in transaction)."""


class SignInService:
    """The one door for sign-in, sign-up by single sign-on, TOTP enrolment and unlocking."""

    def __init__(
        self,
        engine: Engine,
        audit: AuditLog,
        keys: KeyWrapper,
        sessions: Sessions,
        second_factor_roles: frozenset[str],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._engine, self._audit, self._keys = engine, audit, keys
        self.sessions = sessions
        self.second_factor_roles = second_factor_roles
        self._clock = clock
        self._hasher = PasswordHasher()  # the same parameters AccessService hashes with

    @classmethod
    def for_services(
        cls, services: Services, clock: Callable[[], float] = time.time
    ) -> SignInService:
        second = services.permissions.listener_roles | {ADMINISTRATOR}
        rules = SessionRules.from_settings(services.settings)
        sessions = Sessions(services.engine, services.audit, rules, second, clock)
        return cls(services.engine, services.audit, services.keys, sessions, second, clock)

    # -- password and TOTP ------------------------------------------------------------------
    def sign_in(
        self, ctx: RequestContext, username: str, password: str, code: str | None
    ) -> NewSession:
        """A new session for a person whose password (and TOTP code, where enrolled or
        required) is right; Refused, audited, otherwise."""
        username = username.strip().lower()
        row = self._person(username)
        if row is None or row.disabled or not row.password_hash:
            _burn_time(self._hasher, password)
            reason = "unknown_user" if row is None else "disabled" if row.disabled else "sso_only"
            self._refuse(ctx, _audited_name(username), reason, Refused(FAILED, "credentials"))
        if row.locked_until and seconds(row.locked_until) > self._clock():
            self._refuse(ctx, username, "locked", _locked(row))
        if not self._password_matches(row.password_hash, password):
            self._count_failure(ctx, username, "bad_password")
        if row.totp_secret_sealed is None and row.role in self.second_factor_roles:
            refusal = Refused(
                f"role {row.role} needs a one-time code from an authenticator app and none is "
                f"set up for {username}; ask an administrator to enrol you "
                f"(callvault user totp {username})",
                "totp",
            )
            self._refuse(ctx, username, "totp_not_enrolled", refusal)
        step = None
        if row.totp_secret_sealed is not None:
            step = totp.matching_step(self._totp_secret(row), code or "", self._clock())
            if step is None:
                self._count_failure(ctx, username, "bad_totp" if code else "totp_missing")
        try:
            return self._succeed(ctx, row, password, step)
        except _Replayed:
            self._count_failure(ctx, username, "totp_replayed")

    def _succeed(
        self, ctx: RequestContext, row: Row[Any], password: str, step: int | None
    ) -> NewSession:
        values: dict[str, Any] = {
            "failed_signins": 0,
            "locked_until": None,
            "last_signin_at": iso(self._clock()),
        }
        # Hashing parameters raised since this password was set: store a stronger hash now,
        # the one moment the password is known.
        if self._hasher.check_needs_rehash(row.password_hash):
            values["password_hash"] = self._hasher.hash(password)
        with transaction(self._engine) as conn:
            if step is not None:
                # Read again under the write lock: two requests with one code race here.
                last = conn.execute(
                    select(users.c.totp_last_step)
                    .where(users.c.username == row.username)
                    .with_for_update()
                ).scalar_one()
                if last is not None and step <= last:
                    raise _Replayed
                values["totp_last_step"] = step
            conn.execute(update(users).where(users.c.username == row.username).values(**values))
            new = self.sessions.insert(
                conn,
                row.username,
                row.role,
                method="password",
                second_factor=step is not None,
                client_address=_client_of(ctx),
            )
            self._audit.append(
                conn,
                _as_user(ctx, row.username, row.role),
                "signin.succeeded",
                object_type="user",
                object_id=row.username,
                details={
                    "method": "password",
                    "second_factor": step is not None,
                    "rehashed": "password_hash" in values,
                    "expires_at": new.expires_at,
                },
            )
        return new

    def _password_matches(self, stored: str, password: str) -> bool:
        try:
            return bool(self._hasher.verify(stored, password))
        except (VerificationError, InvalidHashError):
            return False

    def _totp_secret(self, row: Row[Any]) -> bytes:
        sealed = totp.SealedSecret(row.totp_kek_id, row.totp_key_wrapped, row.totp_secret_sealed)
        return totp.unseal(self._keys, row.username, sealed)

    def _count_failure(self, ctx: RequestContext, username: str, reason: str) -> NoReturn:
        with transaction(self._engine) as conn:
            failures = (
                1
                + conn.execute(
                    select(users.c.failed_signins)
                    .where(users.c.username == username)
                    .with_for_update()
                ).scalar_one()
            )
            lock_s = lock_seconds(failures)
            values: dict[str, Any] = {"failed_signins": failures}
            if lock_s:
                values["locked_until"] = iso(self._clock() + lock_s)
            conn.execute(update(users).where(users.c.username == username).values(**values))
            self._append_failure(conn, ctx, username, reason, failures=failures)
            if lock_s:
                self._audit.append(
                    conn,
                    ctx,
                    "user.locked",
                    object_type="user",
                    object_id=username,
                    details={
                        "failures": failures,
                        "seconds": lock_s,
                        "until": values["locked_until"],
                    },
                )
        raise Refused(FAILED, "credentials")

    def _refuse(
        self, ctx: RequestContext, username: str | None, reason: str, error: CallvaultError
    ) -> NoReturn:
        """Audit a failed sign-in that does not count towards the lock, and raise ``error``."""
        with transaction(self._engine) as conn:
            self._append_failure(conn, ctx, username, reason, why=error.message)
        raise error

    def _append_failure(
        self,
        conn: Connection,
        ctx: RequestContext,
        username: str | None,
        reason: str,
        **details: Any,
    ) -> None:
        self._audit.append(
            conn,
            ctx,
            "signin.failed",
            object_type="user" if username else None,
            object_id=username,
            details={"reason": reason, **details},
        )

    def record_failure(
        self, ctx: RequestContext, reason: str, error: CallvaultError, username: str | None = None
    ) -> NoReturn:
        """Audit a sign-in that failed elsewhere (the SSO callback) and raise ``error``."""
        self._refuse(ctx, username, reason, error)

    # -- sessions opened after an external sign-in ------------------------------------------
    def open_session(
        self,
        ctx: RequestContext,
        username: str,
        second_factor: bool,
        *,
        method: str = "oidc",
        details: Mapping[str, Any] | None = None,
    ) -> NewSession:
        """A session for ``username`` after another party (the SSO provider) signed them in;
        ``second_factor``: whether that sign-in used one (required for some roles)."""
        row = self._person(username)
        if row is None or row.disabled:
            state = "is disabled" if row is not None else "does not exist"
            refused = Refused(f"user {username!r} {state}", "user")
            self._refuse(ctx, username, "not_allowed", refused)
        if row.role in self.second_factor_roles and not second_factor:
            self._refuse(ctx, username, "second_factor_needed", _needs_mfa(row.role))
        with transaction(self._engine) as conn:
            conn.execute(
                update(users)
                .where(users.c.username == username)
                .values(last_signin_at=iso(self._clock()))
            )
            new = self.sessions.insert(
                conn,
                username,
                row.role,
                method=method,
                second_factor=second_factor,
                client_address=_client_of(ctx),
            )
            self._audit.append(
                conn,
                _as_user(ctx, username, row.role),
                "signin.succeeded",
                object_type="user",
                object_id=username,
                details={
                    "method": method,
                    "second_factor": second_factor,
                    "expires_at": new.expires_at,
                    **(details or {}),
                },
            )
        return new

    def sign_in_oidc(
        self, ctx: RequestContext, login: OidcLogin, second_factor: bool
    ) -> NewSession:
        """Provision or update the person an SSO sign-in names, then open their session.

        First sign-in creates the account (auth source oidc, no password) bound to the
        provider's (issuer, subject); later ones take the role from the groups again. A local
        account, or one bound to another subject, with the same username is refused: a
        matching name is not proof of being that person.
        """
        if login.role in self.second_factor_roles and not second_factor:
            # Checked before the account is created or changed: a refused sign-in leaves none.
            self._refuse(ctx, login.username, "second_factor_needed", _needs_mfa(login.role))
        with transaction(self._engine) as conn:
            problem = provision(conn, self._audit, ctx, login, iso(self._clock()))
        if problem is not None:
            self._refuse(ctx, login.username, problem[0], problem[1])
        return self.open_session(
            ctx, login.username, second_factor, method="oidc", details=login.audit
        )

    # -- administration ---------------------------------------------------------------------
    def enrol_totp(self, ctx: RequestContext, username: str) -> TotpEnrolment:
        """A new TOTP secret for ``username`` (replacing any old one); shown once."""
        row = self._person(username)
        if row is None:
            raise NotFound(f"no person {username[:64]!r}", "username")
        if row.auth_source == "oidc":
            raise BadInput(
                f"{username} signs in with single sign-on; the provider's MFA is their second "
                "factor",
                "username",
            )
        secret = totp.new_secret()
        sealed = totp.seal(self._keys, username, secret)
        with transaction(self._engine) as conn:
            conn.execute(
                update(users)
                .where(users.c.username == username)
                .values(
                    totp_kek_id=sealed.kek_id,
                    totp_key_wrapped=sealed.key_wrapped,
                    totp_secret_sealed=sealed.secret_sealed,
                    totp_enrolled_at=iso(self._clock()),
                    totp_last_step=None,
                )
            )
            self._audit.append(
                conn,
                ctx,
                "user.totp_enrolled",
                object_type="user",
                object_id=username,
                details={"replaced": row.totp_secret_sealed is not None},
            )
        return TotpEnrolment(
            username, totp.provisioning_uri(secret, username), totp.base32_secret(secret)
        )

    def unlock(self, ctx: RequestContext, username: str) -> None:
        """Clear the failure count and any lock."""
        row = self._person(username)
        if row is None:
            raise NotFound(f"no person {username[:64]!r}", "username")
        with transaction(self._engine) as conn:
            conn.execute(
                update(users)
                .where(users.c.username == username)
                .values(failed_signins=0, locked_until=None)
            )
            self._audit.append(
                conn,
                ctx,
                "user.unlocked",
                object_type="user",
                object_id=username,
                details={"failures": row.failed_signins, "was_locked_until": row.locked_until},
            )

    def _person(self, username: str) -> Row[Any] | None:
        with self._engine.connect() as conn:
            return conn.execute(
                select(users).where(users.c.username == username, users.c.kind == "person")
            ).first()


def rewrap_totp_secrets(conn: Connection, keys: KeyWrapper) -> int:
    """Re-wrap every TOTP secret's data key under the active KEK, inside ``conn``'s
    transaction; key rotation must call this before it retires the old KEKs."""
    active = keys.active_key_id()
    rows = conn.execute(
        select(users.c.username, users.c.totp_kek_id, users.c.totp_key_wrapped,
               users.c.totp_secret_sealed)
        .where(users.c.totp_kek_id.is_not(None), users.c.totp_kek_id != active)
    ).all()  # fmt: skip
    for row in rows:
        sealed = totp.SealedSecret(row.totp_kek_id, row.totp_key_wrapped, row.totp_secret_sealed)
        fresh = totp.rewrap(keys, row.username, sealed)
        conn.execute(
            update(users)
            .where(users.c.username == row.username)
            .values(totp_kek_id=fresh.kek_id, totp_key_wrapped=fresh.key_wrapped)
        )
    return len(rows)


@cache
def _dummy_hash() -> str:
    return PasswordHasher().hash("no such user: this hash only makes a miss cost the same")


def _burn_time(hasher: PasswordHasher, password: str) -> None:
    """The work of a real verification, so response time does not reveal unknown users."""
    with contextlib.suppress(VerificationError):
        hasher.verify(_dummy_hash(), password)


def _audited_name(username: str) -> str | None:
    # Someone may type their password into the username box: only a name that could be a
    # username goes into the (permanent) audit log.
    return username if USERNAME_RULE.fullmatch(username) else None


def _locked(row: Row[Any]) -> Refused:
    until = row.locked_until[11:19]
    return Refused(
        f"this account is locked after {row.failed_signins} failed sign-ins, until {until} UTC; "
        f"try again then, or ask an administrator to unlock it (callvault user unlock "
        f"{row.username})",
        "credentials",
    )


def _needs_mfa(role: str) -> Refused:
    return Refused(
        f"role {role} needs multi-factor sign-in; ask for MFA to be required for callvault at "
        "the sign-in provider (Entra ID: Conditional Access), then sign in again",
        "amr",
    )


def _as_user(ctx: RequestContext, username: str, role: str) -> RequestContext:
    return dataclasses.replace(ctx, actor=Actor(name=username, kind="user", role=role))


def _client_of(ctx: RequestContext) -> str:
    return ctx.origin.removeprefix("api:")
