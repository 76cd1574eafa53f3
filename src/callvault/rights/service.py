"""The register of rights requests: opening, the clock's pauses and extensions, searches, close.

Subject access (Art. 15), erasure (Art. 17) and objection (Art. 21) requests share the
register, the search for the requester's calls and the statutory clock. Opening a subject
access request places a legal hold on every recording the search finds (DPA 2018 s.173 makes
altering or erasing them to prevent disclosure an offence), before the request row exists: a
crash between the two leaves an extra hold, never an unprotected request. Each search is kept
as the evidence that it was reasonable and proportionate (Art. 15(1A)).

The audit trail records each act with the request's reference and the recordings it touched,
never the requester's name or numbers: the trail is kept for good, the request's personal data
only as long as the register's retention says.
"""

from __future__ import annotations

import builtins
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

import orjson
from sqlalchemy import Connection, insert, select, update

from callvault.access.actions import Permissions
from callvault.audit.service import AuditLog
from callvault.catalog.store import recordings
from callvault.context import RequestContext
from callvault.db import transaction
from callvault.errors import BadInput, Conflict
from callvault.policy.model import Policy
from callvault.retention.hold_terms import MAX_RECORDINGS
from callvault.retention.holds import HoldService
from callvault.rights.bank_holidays import HolidayCalendar
from callvault.rights.clock import Extension, Pause, check_extension, statutory_clock
from callvault.rights.items import (
    ACCESS_PURPOSE,
    MANAGE,
    READ,
    case_context,
    find_request,
    load_by_ref,
)
from callvault.rights.items import (
    require as require_rights,
)
from callvault.rights.model import RightsRequest, load_request, request_row
from callvault.rights.store import rights_items, rights_pauses, rights_requests, rights_searches
from callvault.rights.terms import (
    parse_identity,
    parse_kind,
    parse_note,
    parse_on,
    parse_pause_reason,
    parse_phones,
    parse_ref,
    parse_text,
)
from callvault.uktime import UK

if TYPE_CHECKING:
    from callvault.bootstrap import Services

# Closing outcomes: answered (the response went out), withdrawn by the requester, or refused
# as manifestly unfounded or excessive (Art. 12(5)), which the requester may complain about.
CLOSE_OUTCOMES = ("responded", "withdrawn", "refused")
Clock = Callable[[], datetime]


class RightsService:
    def __init__(
        self,
        engine: Any,
        audit: AuditLog,
        permissions: Permissions,
        holds: HoldService,
        policy: Policy,
        calendar: HolidayCalendar | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.engine, self._audit, self._permissions = engine, audit, permissions
        self._holds, self._policy = holds, policy
        self.calendar = calendar or HolidayCalendar()
        self._clock: Clock = clock or (lambda: datetime.now(UTC))

    @classmethod
    def for_services(cls, services: Services) -> RightsService:
        return cls(services.engine, services.audit, services.permissions, services.holds,
                   services.policy.policy)  # fmt: skip

    def today(self) -> date:
        """Today in the UK, where the statutory days are counted."""
        return self._clock().astimezone(UK).date()

    # -- opening --------------------------------------------------------------------------------
    def open(
        self,
        ctx: RequestContext,
        *,
        kind: str | None,
        ref: str | None,
        requester: str | None,
        contact: str | None,
        received_on: str | None,
        identity: str | None,
        phones: Iterable[str],
        started_from: str | None = None,
        started_to: str | None = None,
        note: str | None = None,
    ) -> RightsRequest:
        """Register a request, search for the requester's calls and, for subject access,
        hold what the search found. Bad input of any field changes nothing."""
        self.require(ctx, MANAGE, None)
        today = self.today()
        kind = parse_kind(kind)
        row: dict[str, Any] = {
            "id": uuid.uuid4().hex,
            "kind": kind,
            "ref": parse_ref(ref, self._ref_pattern(kind)),
            "requester": parse_text(requester, "requester", required=True),
            "contact": parse_text(contact, "contact", required=True),
            "identity": parse_identity(identity),
            "received_on": parse_on(received_on, "received_on", default=today, not_after=today),
            "state": "open",
            "extension_months": 0,
            "opened_by": ctx.actor.name,
            "opened_at": self._now(),
        }
        identifiers = parse_phones(phones)
        terms = _terms(identifiers, started_from, started_to)
        note_text = parse_note(note)
        pauses = []
        if row["identity"] == "awaiting":  # asked for proof on receipt: the clock never started
            pauses.append(Pause(row["received_on"], None, "identity"))
        clock = statutory_clock(row["received_on"], pauses=pauses, calendar=self.calendar)
        row |= {
            "received_on": row["received_on"].isoformat(),
            "identifiers": orjson.dumps(identifiers).decode(),
            "deadline": clock.deadline.isoformat() if clock.deadline else None,
        }
        ctx = self._case(ctx, kind, row["ref"])
        with self.engine.connect() as conn:
            if request_row(conn, row["ref"]) is not None:
                raise Conflict(f"a request {row['ref']} is already registered", "ref")
            found = _matches(conn, terms)
        hold_id = self._hold(ctx, kind, row["ref"], found)
        with transaction(self.engine) as conn:
            conn.execute(insert(rights_requests).values(**row))
            if pauses:
                conn.execute(
                    insert(rights_pauses),
                    [{"request_id": row["id"], "reason": p.reason,
                      "started_on": p.start.isoformat(), "note": "identity asked for on receipt"}
                     for p in pauses],
                )  # fmt: skip
            search_id = self._record_search(conn, ctx, row["id"], terms, found, hold_id)
            self._audit.append(
                conn, ctx, "rights.opened", object_type="rights_request", object_id=row["id"],
                details={"ref": row["ref"], "kind": kind, "received_on": row["received_on"],
                         "identity": row["identity"], "deadline": row["deadline"],
                         "search_id": search_id, "recording_ids": found, "hold_id": hold_id,
                         "phones": len(identifiers), "note": bool(note_text)},
            )  # fmt: skip
        return self.get(ctx, row["id"], audited=False)

    def search(
        self,
        ctx: RequestContext,
        ref: str,
        *,
        phones: Iterable[str] = (),
        started_from: str | None = None,
        started_to: str | None = None,
    ) -> RightsRequest:
        """Search again (new numbers after clarification, another period): the new matches
        join the request and, for subject access, a hold of their own."""
        self.require(ctx, MANAGE, None)
        request = self.open_request(ref)
        given = list(phones)
        identifiers = parse_phones(given) if given else list(request.identifiers)
        terms = _terms(identifiers, started_from, started_to)
        ctx = self._case(ctx, request.kind, request.ref)
        with self.engine.connect() as conn:
            known = {i.recording_id for i in request.items}
            found = [rid for rid in _matches(conn, terms) if rid not in known]
        hold_id = self._hold(ctx, request.kind, request.ref, found)
        with transaction(self.engine) as conn:
            merged = list({i["value"]: i for i in (*request.identifiers, *identifiers)}.values())
            conn.execute(
                update(rights_requests)
                .where(rights_requests.c.id == request.id)
                .values(identifiers=orjson.dumps(merged).decode())
            )
            search_id = self._record_search(conn, ctx, request.id, terms, found, hold_id)
            self._audit.append(
                conn, ctx, "rights.searched", object_type="rights_request", object_id=request.id,
                details={"ref": request.ref, "search_id": search_id, "recording_ids": found,
                         "hold_id": hold_id, "phones": len(identifiers)},
            )  # fmt: skip
        return self.get(ctx, request.id, audited=False)

    # -- the clock ------------------------------------------------------------------------------
    def pause(
        self, ctx: RequestContext, ref: str, *, reason: str | None, on: str | None, note: str | None
    ) -> RightsRequest:
        """Stop the clock from ``on`` (the day the council asked) while it waits for the
        requester's identity or clarification (Art. 12A)."""
        self.require(ctx, MANAGE, None)
        request = self.open_request(ref)
        reason = parse_pause_reason(reason)
        today = self.today()
        day = parse_on(on, "on", default=today, not_after=today)
        text = parse_note(note, required=True)
        if request.clock.stopped:
            raise Conflict(f"the clock of {request.ref} is already stopped; resume it first", "on")
        pauses = (*request.pauses, Pause(day, None, reason))
        statutory_clock(request.received_on, pauses=pauses, extension=request.extension,
                        calendar=self.calendar)  # fmt: skip
        with transaction(self.engine) as conn:
            conn.execute(
                insert(rights_pauses).values(request_id=request.id, reason=reason,
                                             started_on=day.isoformat(), note=text)
            )  # fmt: skip
            self._set_deadline(conn, request.id, None)
            self._audit.append(
                conn, self._case(ctx, request.kind, request.ref), "rights.paused",
                object_type="rights_request", object_id=request.id,
                details={"ref": request.ref, "reason": reason, "on": day.isoformat()},
            )  # fmt: skip
        return self.get(ctx, request.id, audited=False)

    def resume(self, ctx: RequestContext, ref: str, *, on: str | None) -> RightsRequest:
        """Restart the clock on ``on`` (the day the answer came). Proof of identity coming in
        marks the requester verified."""
        self.require(ctx, MANAGE, None)
        request = self.open_request(ref)
        if not request.clock.stopped:
            raise Conflict(f"the clock of {request.ref} is running; nothing to resume", "on")
        today = self.today()
        day = parse_on(on, "on", default=today, not_after=today)
        open_pause = next(p for p in request.pauses if p.end is None)
        pauses = tuple(replace(p, end=day) if p.end is None else p for p in request.pauses)
        clock = statutory_clock(request.received_on, pauses=pauses, extension=request.extension,
                                calendar=self.calendar)  # fmt: skip
        with transaction(self.engine) as conn:
            conn.execute(
                update(rights_pauses)
                .where(rights_pauses.c.request_id == request.id, rights_pauses.c.ended_on.is_(None))
                .values(ended_on=day.isoformat())
            )
            if open_pause.reason == "identity":
                conn.execute(
                    update(rights_requests)
                    .where(rights_requests.c.id == request.id)
                    .values(identity="verified")
                )
            self._set_deadline(conn, request.id, clock.deadline)
            self._audit.append(
                conn, self._case(ctx, request.kind, request.ref), "rights.resumed",
                object_type="rights_request", object_id=request.id,
                details={"ref": request.ref, "reason": open_pause.reason, "on": day.isoformat(),
                         "deadline": clock.deadline.isoformat() if clock.deadline else None},
            )  # fmt: skip
        return self.get(ctx, request.id, audited=False)

    def extend(
        self,
        ctx: RequestContext,
        ref: str,
        *,
        months: int | None,
        reason: str | None,
        told_on: str | None,
    ) -> RightsRequest:
        """Extend a complex request by one or two months; the requester must have been told,
        with the reason, within the first month (Art. 12(3))."""
        self.require(ctx, MANAGE, None)
        request = self.open_request(ref)
        if request.extension is not None:
            raise Conflict(
                f"{request.ref} is already extended by {request.extension.months} month(s); "
                "an extension is made once, for the whole time needed",
                "months",
            )
        if months is None:
            raise BadInput("months is required: 1 or 2", "months")
        today = self.today()
        told = parse_on(told_on, "told_on", default=today, not_after=today)
        text = parse_note(reason, "reason", required=True)
        extension = Extension(months=months, reason=text, told_on=told)
        check_extension(request.received_on, extension, request.pauses, self.calendar)
        clock = statutory_clock(request.received_on, pauses=request.pauses, extension=extension,
                                calendar=self.calendar)  # fmt: skip
        with transaction(self.engine) as conn:
            conn.execute(
                update(rights_requests)
                .where(rights_requests.c.id == request.id)
                .values(extension_months=months, extension_reason=text,
                        extension_told_on=told.isoformat(),
                        deadline=clock.deadline.isoformat() if clock.deadline else None)
            )  # fmt: skip
            self._audit.append(
                conn, self._case(ctx, request.kind, request.ref), "rights.extended",
                object_type="rights_request", object_id=request.id,
                details={"ref": request.ref, "months": months, "told_on": told.isoformat(),
                         "deadline": clock.deadline.isoformat() if clock.deadline else None},
            )  # fmt: skip
        return self.get(ctx, request.id, audited=False)

    # -- closing --------------------------------------------------------------------------------
    def close(
        self, ctx: RequestContext, ref: str, *, outcome: str | None, note: str | None
    ) -> RightsRequest:
        """Close the request and release the holds it placed: the recordings go back to their
        retention schedule (or stay, where another hold covers them)."""
        self.require(ctx, MANAGE, None)
        request = self.open_request(ref)
        if outcome not in CLOSE_OUTCOMES:
            raise BadInput(f"outcome must be one of {', '.join(CLOSE_OUTCOMES)}", "outcome")
        text = parse_note(note, required=outcome != "responded")
        pending = [i.recording_id for i in request.items if i.outcome in {"pending", "erasing"}]
        if outcome == "responded" and pending:
            raise Conflict(
                f"{len(pending)} recording(s) of {request.ref} are not reviewed yet; review "
                "each before closing as responded",
                "outcome",
            )
        ctx = self._case(ctx, request.kind, request.ref)
        with transaction(self.engine) as conn:
            conn.execute(
                update(rights_requests)
                .where(rights_requests.c.id == request.id)
                .values(state="withdrawn" if outcome == "withdrawn" else outcome,
                        closed_by=ctx.actor.name, closed_at=self._now(), outcome=text or outcome)
            )  # fmt: skip
            self._audit.append(
                conn, ctx, "rights.closed", object_type="rights_request", object_id=request.id,
                details={"ref": request.ref, "outcome": outcome, "holds": request.hold_ids},
            )  # fmt: skip
        for hold_id in request.hold_ids:
            self._holds.release(ctx, hold_id, f"{request.ref} closed: {outcome}")
        return self.get(ctx, request.id, audited=False)

    # -- reading --------------------------------------------------------------------------------
    def get(self, ctx: RequestContext, ref: str, *, audited: bool = True) -> RightsRequest:
        self.require(ctx, READ, ref)
        with transaction(self.engine) as conn:
            request = load_by_ref(conn, self.calendar, ref)
            if audited:
                self._audit.append(
                    conn, self._case(ctx, request.kind, request.ref), "rights.viewed",
                    object_type="rights_request", object_id=request.id,
                    details={"ref": request.ref},
                )  # fmt: skip
        return request

    def deadlines(
        self, ctx: RequestContext, *, due_by: date | None = None, include_closed: bool = False
    ) -> builtins.list[RightsRequest]:
        """Open requests, soonest deadline first (stopped clocks last); ``due_by``: only those
        due on or before that day (the week's view), overdue ones included."""
        self.require(ctx, READ, None)
        c = rights_requests.c
        query = select(rights_requests)
        if not include_closed:
            query = query.where(c.state == "open")
        if due_by is not None:
            query = query.where(c.deadline.is_not(None), c.deadline <= due_by.isoformat())
        query = query.order_by(c.deadline.is_(None), c.deadline, c.received_on, c.ref)
        with transaction(self.engine) as conn:
            found = [load_request(conn, r, self.calendar, full=False) for r in conn.execute(query)]
            self._audit.append(
                conn, ctx, "rights.listed", object_type="rights_requests", object_id=None,
                details={"due_by": due_by.isoformat() if due_by else None,
                         "include_closed": include_closed, "count": len(found)},
            )  # fmt: skip
        return found

    # -- helpers --------------------------------------------------------------------------------
    def require(self, ctx: RequestContext, action: str, ref: str | None) -> None:
        require_rights(self.engine, self._audit, self._permissions, ctx, action, ref)

    def open_request(self, ref: str) -> RightsRequest:
        request = find_request(self.engine, self.calendar, ref)
        if request.state != "open":
            raise Conflict(f"{request.ref} is closed ({request.state}); nothing can change", "ref")
        return request

    def _ref_pattern(self, kind: str) -> str | None:
        if kind != "access":
            return None
        return next(
            (p.case_ref_pattern for p in self._policy.purposes if p.id == ACCESS_PURPOSE), None
        )

    def _case(self, ctx: RequestContext, kind: str, ref: str) -> RequestContext:
        return case_context(ctx, ref, kind)

    def _hold(self, ctx: RequestContext, kind: str, ref: str, found: Sequence[str]) -> str | None:
        """For subject access, hold what was found (s.173); nothing to hold, no hold."""
        if kind != "access" or not found:
            return None
        hold = self._holds.place(
            ctx, reason="subject_access", case_ref=ref, recording_ids=found,
            note=f"Held while subject access request {ref} is answered (DPA 2018 s.173).",
        )  # fmt: skip
        return hold.id

    def _record_search(
        self,
        conn: Connection,
        ctx: RequestContext,
        request_id: str,
        terms: dict[str, Any],
        found: Sequence[str],
        hold_id: str | None,
    ) -> str:
        search_id = uuid.uuid4().hex
        conn.execute(
            insert(rights_searches).values(
                id=search_id, request_id=request_id, searched_by=ctx.actor.name,
                searched_at=self._now(), terms=orjson.dumps(terms).decode(),
                matched=len(found), hold_id=hold_id,
            )
        )  # fmt: skip
        if found:
            conn.execute(
                insert(rights_items),
                [{"request_id": request_id, "recording_id": rid, "search_id": search_id,
                  "outcome": "pending"} for rid in found],
            )  # fmt: skip
        return search_id

    def _set_deadline(self, conn: Connection, request_id: str, deadline: date | None) -> None:
        conn.execute(
            update(rights_requests)
            .where(rights_requests.c.id == request_id)
            .values(deadline=deadline.isoformat() if deadline else None)
        )

    def _now(self) -> str:
        return self._clock().isoformat(timespec="microseconds")


def _terms(
    identifiers: Sequence[dict[str, Any]], started_from: str | None, started_to: str | None
) -> dict[str, Any]:
    """What a search looks for: the numbers, and optionally a period (UK days, inclusive)."""
    start = parse_on(started_from, "from", default=date.min, not_after=date.max)
    end = parse_on(started_to, "to", default=date.max, not_after=date.max)
    if start > end:
        raise BadInput(f"from {start} is after to {end}; swap them", "from")
    return {
        "phones": [i["value"] for i in identifiers],
        "from": start.isoformat() if started_from else None,
        "to": end.isoformat() if started_to else None,
    }


def _matches(conn: Connection, terms: dict[str, Any]) -> list[str]:
    """Recordings (not purged) from any of the numbers, in the period, oldest first."""
    c = recordings.c
    query = select(c.id).where(c.purged_at.is_(None), c.caller.in_(terms["phones"]))
    if terms["from"]:
        query = query.where(c.started_at >= _uk_midnight(terms["from"]))
    if terms["to"]:
        next_day = date.fromordinal(date.fromisoformat(terms["to"]).toordinal() + 1)
        query = query.where(c.started_at < _uk_midnight(next_day.isoformat()))
    found = [r.id for r in conn.execute(query.order_by(c.started_at, c.id))]
    if len(found) > MAX_RECORDINGS:
        raise BadInput(
            f"the search finds {len(found)} recordings, more than one request can hold "
            f"({MAX_RECORDINGS}); search a period at a time with --from and --to",
            "from",
        )
    return found


def _uk_midnight(day: str) -> str:
    """The UTC instant (as stored, ISO) at which UK day ``day`` begins."""
    start = datetime.combine(date.fromisoformat(day), datetime.min.time(), tzinfo=UK)
    return start.astimezone(UTC).isoformat()
