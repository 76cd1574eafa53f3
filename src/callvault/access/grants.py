"""Purpose-bound grants: request, approve, deny, revoke.

A grant lets one person listen to the recordings it names (one call for a complaint, a
caller's calls for a subject access request) for one purpose and one case, until it
expires. Every step (and every refusal) is in the audit trail with the purpose and case
reference, written in the same transaction as the grant row it changes.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, NoReturn

from sqlalchemy import Connection, Engine, insert, select, update

from callvault.access.actions import Permissions
from callvault.access.quality_gate import QUALITY_PURPOSE, not_sampled
from callvault.access.refusals import record_refusal
from callvault.access.store import grant_recordings, grants
from callvault.audit.service import AuditLog
from callvault.catalog.model import Recording
from callvault.catalog.service import Catalog
from callvault.context import RequestContext
from callvault.db import transaction
from callvault.errors import BadInput, CallvaultError, Conflict, NotFound, Refused
from callvault.policy.model import Policy, Purpose

# Recording and grant ids are generated hex; anything else (paths, huge strings) is bad input.
_ID = re.compile(r"[A-Za-z0-9_-]{1,40}")
_MAX_REASON = 2000
_MAX_CASE_REF = 64
# A subject access request can cover a caller's calls for a year; more is a search, not a grant.
MAX_RECORDINGS = 500

# Special category lines (health, care, homelessness: UK GDPR Art. 9/10) are not heard by
# team leaders: their purposes (quality, training) never justify special category data, and
# DPA 2018 Sch. 1 conditions cover only the investigative and legal purposes. Any other role
# that may use the purpose may hear them.
SPECIAL_CATEGORY = "special_category"
NOT_FOR_SPECIAL_CATEGORY = frozenset({"team_leader"})

Clock = Callable[[], datetime]


def check_id(value: str, field: str) -> str:
    """An id as callvault makes them; BadInput (nothing changes, nothing audited) otherwise."""
    if not isinstance(value, str) or not _ID.fullmatch(value):
        shown = value[:40] + "…" if isinstance(value, str) and len(value) > 40 else value
        raise BadInput(f"{field} {shown!r} is not an id (1-40 letters, digits, '-', '_')", field)
    return value


@dataclass(frozen=True, slots=True)
class Grant:
    id: str
    recording_ids: tuple[str, ...]
    requester: str
    purpose: str
    case_ref: str
    reason: str
    status: str
    approver: str | None
    requested_at: str
    decided_at: str | None
    expires_at: str | None
    revoked_reason: str | None

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "recording_ids": list(self.recording_ids)}

    def expired(self, now: datetime) -> bool:
        return self.expires_at is None or datetime.fromisoformat(self.expires_at) <= now


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="microseconds")


class GrantService:
    def __init__(
        self,
        engine: Engine,
        audit: AuditLog,
        policy: Policy,
        catalog: Catalog,
        permissions: Permissions,
        clock: Clock | None = None,
    ) -> None:
        self._engine, self._audit, self._policy, self._catalog = engine, audit, policy, catalog
        self._permissions = permissions
        self._clock: Clock = clock or (lambda: datetime.now(UTC))

    # -- refusals ---------------------------------------------------------------------------
    def refuse(
        self,
        ctx: RequestContext,
        error: CallvaultError,
        *,
        object_type: str,
        object_id: str | None,
        **details: Any,
    ) -> NoReturn:
        """Record the refusal (committed on its own) and raise ``error``."""
        record_refusal(
            self._engine, self._audit, ctx, error,
            object_type=object_type, object_id=object_id, **details,
        )  # fmt: skip

    def require(
        self, ctx: RequestContext, action: str, object_id: str | None = None, **details: Any
    ) -> None:
        """``actions.require`` with an audit entry when the actor is refused."""
        if not self._permissions.allowed(ctx.actor, action):
            refusal = Refused(f"{ctx.actor.name} may not do {action}", "actor")
            self.refuse(
                ctx, refusal, object_type="action", object_id=object_id, action=action, **details
            )

    def eligibility(self, ctx: RequestContext, purpose_id: str | None, rec: Recording) -> Purpose:
        """The purpose, if the actor's role may use it for this recording; else the refusal."""
        purposes = {p.id: p for p in self._policy.purposes}
        roles = {r.id: r for r in self._policy.roles}
        if not purpose_id:
            raise Refused(
                f"a purpose is required; one of: {', '.join(sorted(purposes))}", "purpose"
            )
        purpose = purposes.get(purpose_id)
        if purpose is None:
            raise Refused(
                f"unknown purpose {purpose_id[:64]!r}; one of: {', '.join(sorted(purposes))}",
                "purpose",
            )
        role = roles.get(ctx.actor.role or "")
        if ctx.actor.kind != "user" or role is None or not role.can_hear_audio:
            raise Refused(
                f"{ctx.actor.name} (role {ctx.actor.role or 'none'}) may not hear recordings",
                "actor",
            )
        if role.id not in purpose.roles:
            raise Refused(
                f"role {role.id} may not use purpose {purpose.id}; "
                f"it is for: {', '.join(purpose.roles)}",
                "purpose",
            )
        if rec.sensitivity == SPECIAL_CATEGORY and role.id in NOT_FOR_SPECIAL_CATEGORY:
            raise Refused(
                f"recording {rec.id} is special category data (line {rec.line}); "
                f"role {role.id} may not hear it",
                "recording_id",
            )
        return purpose

    # -- the flow ---------------------------------------------------------------------------
    def request(
        self,
        ctx: RequestContext,
        recording_ids: Sequence[str],
        purpose: str | None,
        case_ref: str | None,
        reason: str = "",
    ) -> Grant:
        """Ask to listen to some recordings; approved at once unless the purpose needs a
        second person (then pending). Refused as a whole if any recording is refused."""
        wanted = _recording_ids(recording_ids)
        ctx = replace(ctx, purpose=(purpose or None) and purpose[:64], case_ref=_short(case_ref))
        self.require(ctx, "recordings:request", recording_ids=list(wanted))
        refuse = self._refuser(ctx, "request", None, recording_ids=list(wanted))
        rule: Purpose | None = None
        for recording_id in wanted:
            try:
                rule = self.eligibility(ctx, purpose, self._catalog.get(recording_id))
            except (NotFound, Refused) as exc:
                refuse(exc)
        assert rule is not None  # wanted is never empty
        if (
            not case_ref
            or len(case_ref) > _MAX_CASE_REF
            or not re.fullmatch(rule.case_ref_pattern, case_ref)
        ):
            refuse(
                BadInput(
                    f"case reference {_short(case_ref)!r} does not match the format for "
                    f"{rule.id}: {rule.case_ref_pattern}",
                    "case_ref",
                )
            )
        if rule.id == QUALITY_PURPOSE:
            unsampled = not_sampled(self._engine, wanted, case_ref)
            if unsampled is not None:
                refuse(unsampled)
        if len(reason) > _MAX_REASON:
            raise BadInput(f"the reason is longer than {_MAX_REASON} characters", "reason")
        now = self._clock()
        row: dict[str, Any] = {
            "id": uuid.uuid4().hex,
            "requester": ctx.actor.name,
            "purpose": rule.id,
            "case_ref": case_ref,
            "reason": reason,
            "status": "pending" if rule.second_approval else "approved",
            "approver": None,
            "requested_at": _iso(now),
            "decided_at": None,
            "expires_at": None,
            "revoked_reason": None,
        }
        if not rule.second_approval:
            row |= {"approver": "auto", "decided_at": _iso(now)}
            row["expires_at"] = _iso(now + timedelta(hours=rule.max_grant_hours))
        with transaction(self._engine) as conn:
            conn.execute(insert(grants).values(**row))
            conn.execute(
                insert(grant_recordings),
                [{"grant_id": row["id"], "recording_id": rid} for rid in wanted],
            )
            details = {"status": row["status"], "reason": reason, "recording_ids": list(wanted)}
            self._audit.append(
                conn, ctx, "access.requested", object_type="grant",
                object_id=row["id"], details=details,
            )  # fmt: skip
            if not rule.second_approval:
                self._audit.append(
                    conn, ctx, "access.approved", object_type="grant", object_id=row["id"],
                    details={"approver": "auto", "expires_at": row["expires_at"]},
                )  # fmt: skip
        return Grant(recording_ids=tuple(sorted(wanted)), **row)

    def approve(self, ctx: RequestContext, grant_id: str) -> Grant:
        """A second, different person who may use the purpose approves a pending grant."""
        grant, ctx = self._decide_checks(ctx, grant_id, "recordings:approve")
        now = self._clock()
        rule = next(p for p in self._policy.purposes if p.id == grant.purpose)
        expires = _iso(now + timedelta(hours=rule.max_grant_hours))
        return self._change(
            ctx, grant, "access.approved", "pending",
            status="approved", approver=ctx.actor.name, decided_at=_iso(now), expires_at=expires,
        )  # fmt: skip

    def deny(self, ctx: RequestContext, grant_id: str) -> Grant:
        grant, ctx = self._decide_checks(ctx, grant_id, "recordings:approve")
        return self._change(
            ctx, grant, "access.denied", "pending",
            status="denied", approver=ctx.actor.name, decided_at=_iso(self._clock()),
        )  # fmt: skip

    def revoke(self, ctx: RequestContext, grant_id: str, reason: str) -> Grant:
        """Withdraw a pending or approved grant: its holder, or anyone who may decide it."""
        if not reason or len(reason) > _MAX_REASON:
            raise BadInput(f"a reason of 1 to {_MAX_REASON} characters is required", "reason")
        grant = self.get(grant_id)
        ctx = replace(ctx, purpose=grant.purpose, case_ref=grant.case_ref)
        self.require(ctx, "recordings:revoke", grant_id)
        if ctx.actor.name != grant.requester:
            grant, ctx = self._decide_checks(ctx, grant_id, "recordings:revoke", own_ok=True)
        return self._change(
            ctx, grant, "access.revoked", "pending", "approved",
            status="revoked", revoked_reason=reason, decided_at=_iso(self._clock()),
        )  # fmt: skip

    def purpose(self, purpose_id: str) -> Purpose:
        """The policy's purpose ``purpose_id`` (a grant's purpose is always one)."""
        return next(p for p in self._policy.purposes if p.id == purpose_id)

    def get(self, grant_id: str) -> Grant:
        check_id(grant_id, "grant_id")
        with self._engine.connect() as conn:
            found = load_grants(conn, grants.c.id == grant_id)
        if not found:
            raise NotFound(f"no grant {grant_id!r}", "grant_id")
        return found[0]

    def for_recording(self, recording_id: str) -> list[Grant]:
        covering = select(grant_recordings.c.grant_id).where(
            grant_recordings.c.recording_id == check_id(recording_id, "recording_id")
        )
        with self._engine.connect() as conn:
            return load_grants(conn, grants.c.id.in_(covering))

    def now(self) -> datetime:
        return self._clock()

    # -- helpers ----------------------------------------------------------------------------
    def _refuser(
        self, ctx: RequestContext, object_type: str, object_id: str | None, **details: Any
    ) -> Callable[[CallvaultError], NoReturn]:
        def refuse(error: CallvaultError) -> NoReturn:
            self.refuse(ctx, error, object_type=object_type, object_id=object_id, **details)

        return refuse

    def _decide_checks(
        self, ctx: RequestContext, grant_id: str, action: str, own_ok: bool = False
    ) -> tuple[Grant, RequestContext]:
        check_id(grant_id, "grant_id")
        self.require(ctx, action, grant_id)
        refuse = self._refuser(ctx, "grant", grant_id)
        try:
            grant = self.get(grant_id)
        except NotFound as exc:
            refuse(exc)
        ctx = replace(ctx, purpose=grant.purpose, case_ref=grant.case_ref)
        refuse = self._refuser(ctx, "grant", grant_id)
        if ctx.actor.name == grant.requester and not own_ok:
            refuse(Refused(f"{ctx.actor.name} asked for grant {grant_id}; "
                           "a different person must decide it", "actor"))  # fmt: skip
        for recording_id in grant.recording_ids:
            try:
                self.eligibility(ctx, grant.purpose, self._catalog.get(recording_id))
            except Refused as exc:
                refuse(Refused(f"{exc.message} (so may not decide grant {grant_id})", exc.field))
        return grant, ctx

    def _change(
        self, ctx: RequestContext, grant: Grant, action: str, *from_status: str, **values: Any
    ) -> Grant:
        with transaction(self._engine) as conn:
            changed = conn.execute(
                update(grants)
                .where(grants.c.id == grant.id, grants.c.status.in_(from_status))
                .values(**values)
            ).rowcount
            if changed != 1:
                raise Conflict(
                    f"grant {grant.id} is {grant.status}; only a "
                    f"{' or '.join(from_status)} grant can be {values['status']}",
                    "grant_id",
                )
            details = {k: v for k, v in values.items() if k != "status"}
            self._audit.append(
                conn, ctx, action, object_type="grant", object_id=grant.id,
                details=details,
            )  # fmt: skip
        return replace(grant, **values)


def load_grants(conn: Connection, where: Any) -> list[Grant]:
    """The grants matching ``where``, oldest first, each with its recordings."""
    rows = conn.execute(select(grants).where(where).order_by(grants.c.requested_at)).all()
    covered: dict[str, list[str]] = {row.id: [] for row in rows}
    if covered:
        pairs = conn.execute(
            select(grant_recordings.c.grant_id, grant_recordings.c.recording_id)
            .where(grant_recordings.c.grant_id.in_(covered))
            .order_by(grant_recordings.c.recording_id)
        )
        for grant_id, recording_id in pairs:
            covered[grant_id].append(recording_id)
    return [Grant(recording_ids=tuple(covered[r.id]), **r._asdict()) for r in rows]


def _recording_ids(values: Sequence[str]) -> tuple[str, ...]:
    if isinstance(values, str):
        values = [values]
    if not values:
        raise BadInput("name at least one recording", "recording_ids")
    if len(values) > MAX_RECORDINGS:
        raise BadInput(
            f"a request covers at most {MAX_RECORDINGS} recordings; split it", "recording_ids"
        )
    return tuple(dict.fromkeys(check_id(value, "recording_id") for value in values))


def _short(value: str | None) -> str | None:
    return None if not value else value[:_MAX_CASE_REF]
