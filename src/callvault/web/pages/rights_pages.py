"""``/rights`` and ``/rights/{ref}``: the register of people's rights requests (subject access,
erasure, objection) and their deadlines, for the DPO who works it and the auditors who read it.

Every change goes through the services the API and the CLI call (``rights.service``,
``rights.erasure``), so each field is checked there before anything is written, and each act
is audited the same way; a refused form changes nothing and names the field to correct.
Reading the register (``rights.listed``) and a request (``rights.viewed``) is audited by the
service: both show requesters' names and numbers. So a form that comes back with an error is
shown alone, with what was entered, and not on the whole page again: that would be another
reading to audit.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import func, select

from callvault.context import RequestContext
from callvault.errors import BadInput, CallvaultError, Conflict
from callvault.rights.bank_holidays import HolidayCalendar
from callvault.rights.erasure import ERASE_REASONS, KEEP_REASONS, ErasureDecisions
from callvault.rights.model import RightsRequest
from callvault.rights.service import CLOSE_OUTCOMES, RightsService
from callvault.rights.store import rights_items, rights_pauses
from callvault.rights.terms import KINDS, PAUSE_REASONS
from callvault.web.pages.names import short_id
from callvault.web.pages.render import form_text, page, redirect, render
from callvault.web.pages.when import day_text, when_text
from callvault.web.security import request_context, services_of

router = APIRouter()

READ, MANAGE = "rights:read", "rights:manage"
WEEK = 7  # "due this week": a deadline from today to seven days on
KIND_NAMES = {
    "access": "Subject access (Art. 15)",
    "erasure": "Erasure (Art. 17)",
    "objection": "Objection (Art. 21)",
}
IDENTITY_NAMES = {"verified": "Verified", "awaiting": "Awaiting proof (the clock stops)"}
WAITING_FOR = {"identity": "Proof of identity", "clarification": "Clarification"}
STATE_NAMES = {"open": "Open", "responded": "Responded", "withdrawn": "Withdrawn",
               "refused": "Refused (Art. 12(5))"}  # fmt: skip
CLOSE_NAMES = {
    "responded": "Responded: the answer went out",
    "withdrawn": "Withdrawn by the requester",
    "refused": "Refused as manifestly unfounded or excessive (Art. 12(5))",
}
OUTCOME_NAMES = {"pending": "Not decided", "erasing": "Erasure under way", "erased": "Erased",
                 "kept": "Kept", "released": "Released", "withheld": "Withheld"}  # fmt: skip
DECISION_NAMES = {"erase": "Erase it now", "keep": "Keep it"}
# Each form's fields, with the longest value read: the services apply the real limits, and
# name the field, so these only bound what a post can make the server hold.
FORMS: dict[str, dict[str, int]] = {
    "open": {"kind": 16, "ref": 200, "requester": 400, "contact": 400, "received_on": 32,
             "identity": 16, "phones": 2000, "from": 32, "to": 32, "note": 4000},
    "pause": {"reason": 32, "on": 32, "note": 4000},
    "resume": {"on": 32},
    "extend": {"months": 8, "reason": 4000, "told_on": 32},
    "search": {"phones": 2000, "from": 32, "to": 32},
    "close": {"outcome": 32, "note": 4000},
    "decide": {"decision": 16, "reason_code": 64, "note": 4000},
}  # fmt: skip
FORM_TITLES = {
    "open": "Open a rights request",
    "pause": "Stop the clock",
    "resume": "Restart the clock",
    "extend": "Extend the deadline",
    "search": "Search again",
    "close": "Close the request",
    "decide": "Decide a recording",
}
_PHONES = re.compile(r"[\r\n,;]+")  # one number a line; commas and semicolons as well
_Ref = Path(max_length=100)  # a reference (at most 100 characters) or a request's id
_RecordingId = Path(max_length=64)


@dataclass(frozen=True, slots=True)
class Problem:
    """What to correct in a form: the message, and the id of the field it names (None when
    it is about the form as a whole)."""

    message: str
    field_id: str | None


def _problem(form_id: str, form_name: str, error: CallvaultError) -> Problem:
    # The services name the numbers "phone", as the API's field, and a pause's days as the
    # clock does ("pauses[0].start"); the forms call them "phones" and "on".
    field = error.field or ""
    field = "phones" if field == "phone" else "on" if field.startswith("pauses[") else field
    return Problem(error.message, f"{form_id}-{field}" if field in FORMS[form_name] else None)


# -- words -------------------------------------------------------------------------------------
def _count(number: int, word: str) -> str:
    return f"{number} {word}{'' if number == 1 else 's'}"


def deadline_text(day: date | None) -> str:
    """A deadline as people read it: "Tuesday 29 Dec 2026"; "" for none (clock stopped)."""
    return f"{day:%A} {day_text(day)}" if day else ""


def left_text(days: int | None, working: int | None) -> str:
    """ "5 days left (3 working days)", "Due today", "2 days overdue (1 working day)"."""
    if days is None or working is None:
        return ""
    if days == 0:
        return "Due today"
    word = "overdue" if days < 0 else "left"
    return f"{_count(abs(days), 'day')} {word} ({_count(abs(working), 'working day')})"


def request_path(ref: str, request_id: str) -> str:
    """A request's page: by its reference, or by its id where the reference has a '/'."""
    return f"/rights/{quote(ref, safe='')}" if "/" not in ref else f"/rights/{request_id}"


# -- the deadlines view ------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class DeadlineRow:
    ref: str
    href: str
    kind: str
    received: str
    deadline: str
    left: str
    overdue: bool
    extended: str
    found: int
    state: str
    waiting_for: str  # while the clock is stopped: what the council waits for, and since
    since: str
    closed: str  # the day it was closed


@dataclass(frozen=True, slots=True)
class Section:
    id: str
    title: str
    hint: str
    rows: list[DeadlineRow]


def _deadline_row(
    found: RightsRequest, today: date, calendar: HolidayCalendar, count: int
) -> DeadlineRow:
    clock = found.clock
    waiting = next((p for p in found.pauses if p.end is None), None)
    state = STATE_NAMES.get(found.state, found.state)
    if found.state == "open" and found.identity == "awaiting":
        state += ", identity not yet verified"
    return DeadlineRow(
        ref=found.ref,
        href=request_path(found.ref, found.id),
        kind=KIND_NAMES.get(found.kind, found.kind),
        received=day_text(found.received_on),
        deadline=deadline_text(clock.deadline),
        left=left_text(clock.days_left(today), clock.working_days_left(today, calendar)),
        overdue=clock.is_overdue(today),
        extended=_count(found.extension.months, "month") if found.extension else "No",
        found=count,
        state=state,
        waiting_for=WAITING_FOR.get(waiting.reason, waiting.reason) if waiting else "",
        since=day_text(waiting.start) if waiting else "",
        closed=day_text(found.closed_at) if found.closed_at else "",
    )


def sections(
    found: Sequence[RightsRequest],
    today: date,
    calendar: HolidayCalendar,
    counts: Mapping[str, int],
    include_closed: bool,
) -> list[Section]:
    """The register as the DPO works it: overdue, due this week, later, clock stopped (and,
    when asked for, closed), each in the service's order (soonest deadline first)."""
    parts: dict[str, list[DeadlineRow]] = {
        "overdue": [], "week": [], "later": [], "stopped": [], "closed": []
    }  # fmt: skip
    for request in found:
        clock = request.clock
        if request.state != "open":
            part = "closed"
        elif clock.deadline is None:
            part = "stopped"
        elif clock.is_overdue(today):
            part = "overdue"
        else:
            part = "week" if clock.deadline <= today + timedelta(days=WEEK) else "later"
        parts[part].append(_deadline_row(request, today, calendar, counts.get(request.id, 0)))
    shown = [
        Section("overdue", "Overdue", "The deadline has passed: answer these first.",
                parts["overdue"]),
        Section("week", "Due this week", f"Due by {deadline_text(today + timedelta(days=WEEK))}.",
                parts["week"]),
        Section("later", "Later", "Due after this week.", parts["later"]),
        Section("stopped", "Clock stopped",
                "Waiting for the requester's proof of identity or clarification (Art. 12A): "
                "the deadline moves on by the days it waits.", parts["stopped"]),
    ]  # fmt: skip
    if include_closed:
        shown.append(Section("closed", "Closed", "Answered, withdrawn or refused.",
                             parts["closed"]))  # fmt: skip
    return shown


def _found_counts(request: Request, ids: Sequence[str]) -> dict[str, int]:
    """request id -> how many recordings its searches found."""
    if not ids:
        return {}
    c = rights_items.c
    query = (
        select(c.request_id, func.count()).where(c.request_id.in_(list(ids))).group_by(c.request_id)
    )
    with services_of(request).engine.connect() as conn:
        return {row[0]: int(row[1]) for row in conn.execute(query)}


def _rights(request: Request) -> RightsService:
    return RightsService.for_services(services_of(request))


def _choices() -> dict[str, Any]:
    """What the forms' selects offer, each with the words (and the law) people choose by."""
    return {
        "kinds": [(kind, KIND_NAMES.get(kind, kind)) for kind in KINDS],
        "identities": list(IDENTITY_NAMES.items()),
        "pause_reasons": [(reason, WAITING_FOR.get(reason, reason)) for reason in PAUSE_REASONS],
        "outcomes": [(outcome, CLOSE_NAMES.get(outcome, outcome)) for outcome in CLOSE_OUTCOMES],
        "decisions": list(DECISION_NAMES.items()),
        "reason_groups": [
            ("Erase: Art. 17(1) grounds", list(ERASE_REASONS.items())),
            ("Keep: the exemptions", list(KEEP_REASONS.items())),
        ],
    }


def _register_page(
    request: Request,
    found: Sequence[RightsRequest] | None,
    include_closed: bool = False,
    entered: Mapping[str, str] | None = None,
    problem: Problem | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    """The deadlines view with the form to open a request; ``found`` None: only the form,
    again, with what was entered and what to correct."""
    services = services_of(request)
    rights = _rights(request)
    today = rights.today()
    shown = None
    if found is not None:
        counts = _found_counts(request, [r.id for r in found])
        shown = sections(found, today, rights.calendar, counts, include_closed)
    return render(
        request,
        "rights.html",
        status_code=status_code,
        sections=shown,
        include_closed=include_closed,
        today=deadline_text(today),
        may_open=services.permissions.allowed(request_context(request).actor, MANAGE),
        entered=entered or {**dict.fromkeys(FORMS["open"], ""), "kind": "access"},
        problem=problem,
        choices=_choices(),
    )


@router.get("/rights", **page(READ))
def register(
    request: Request,
    closed: bool = Query(default=False, description="Show closed requests too."),
) -> HTMLResponse:
    """Open requests by deadline: overdue, due this week, later, clock stopped. Audited."""
    found = _rights(request).deadlines(request_context(request), include_closed=closed)
    return _register_page(request, found, include_closed=closed)


def _phones(text: str) -> list[str]:
    return [number.strip() for number in _PHONES.split(text) if number.strip()]


def _read(form: Mapping[str, Any], name: str) -> dict[str, str]:
    """The form ``name``'s fields, trimmed; BadInput naming one longer than its bound."""
    return {field: form_text(form, field, limit, required=False)
            for field, limit in FORMS[name].items()}  # fmt: skip


def _as_entered(form: Mapping[str, Any], name: str) -> dict[str, str]:
    """What was posted, cut to the form's bounds, to show again after an error."""
    return {field: value[:limit] if isinstance(value := form.get(field), str) else ""
            for field, limit in FORMS[name].items()}  # fmt: skip


@router.post("/rights", **page(MANAGE))
async def open_request(request: Request) -> Response:
    """Register a request: its calls are searched for and, for subject access, held."""
    form = await request.form()
    try:
        fields = _read(form, "open")
        opened = await run_in_threadpool(_open, request, fields)
    except (BadInput, Conflict) as error:
        problem = _problem("open", "open", error)
        entered = _as_entered(form, "open")
        return await run_in_threadpool(
            _register_page, request, None, False, entered, problem, error.http_status
        )
    return redirect(request, request_path(opened.ref, opened.id), _opened(opened))


def _open(request: Request, fields: dict[str, str]) -> RightsRequest:
    return _rights(request).open(
        request_context(request), kind=fields["kind"] or None, ref=fields["ref"],
        requester=fields["requester"], contact=fields["contact"],
        received_on=fields["received_on"] or None, identity=fields["identity"] or None,
        phones=_phones(fields["phones"]), started_from=fields["from"] or None,
        started_to=fields["to"] or None, note=fields["note"] or None,
    )  # fmt: skip


def _opened(opened: RightsRequest) -> str:
    count = len(opened.items)
    found = f"{_count(count, 'recording')} found"
    if opened.kind == "access" and count:
        found += " and held until the request is closed"
    due = (
        "The clock is stopped until proof of identity comes."
        if opened.clock.stopped
        else f"Answer by {deadline_text(opened.clock.deadline)}."
    )
    return f"Request {opened.ref} opened: {found}. {due}"


# -- one request -------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ItemRow:
    recording_id: str
    short: str
    outcome: str
    reason: str  # the reason code and the law it rests on
    decided: str
    note: str
    certificate_seq: int | None
    certificate_href: str
    decidable: bool
    # The review step's page for this recording (subject access), when there is one.
    review_href: str | None = None


def _item_rows(found: RightsRequest, may_decide: bool) -> list[ItemRow]:
    rows = []
    for item in found.items:
        laws = {"erased": ERASE_REASONS, "erasing": ERASE_REASONS, "kept": KEEP_REASONS}
        code = item.reason_code or ""
        law = laws.get(item.outcome, {}).get(code, "")
        seq = item.certificate_seq
        audit = urlencode({"object": item.recording_id, "before": (seq or 0) + 1})
        rows.append(
            ItemRow(
                recording_id=item.recording_id,
                short=short_id(item.recording_id),
                outcome=OUTCOME_NAMES.get(item.outcome, item.outcome),
                reason=f"{code}: {law}" if law else code,
                decided=f"{item.decided_by}, {when_text(item.decided_at)}"
                if item.decided_by
                else "",
                note=item.note or "",
                certificate_seq=seq,
                certificate_href=f"/audit?{audit}" if seq else "",
                decidable=may_decide and item.outcome in {"pending", "erasing"},
            )
        )
    return rows


def _search_rows(found: RightsRequest) -> list[dict[str, Any]]:
    rows = []
    for search in found.searches:
        terms = search["terms"]
        start, end = terms.get("from"), terms.get("to")
        period = (
            f"{day_text(start) or 'the first call'} to {day_text(end) or 'today'}"
            if start or end
            else "All dates"
        )
        rows.append({
            "at": when_text(search["searched_at"]), "by": search["searched_by"],
            "phones": terms.get("phones", []), "period": period, "found": search["matched"],
            "hold": short_id(search["hold_id"]) if search["hold_id"] else "",
        })  # fmt: skip
    return rows


def _pause_rows(request: Request, found: RightsRequest) -> list[dict[str, str]]:
    """Each stop of the clock, with what was asked (the note kept beside it)."""
    c = rights_pauses.c
    query = select(c.started_on, c.reason, c.note).where(c.request_id == found.id)
    with services_of(request).engine.connect() as conn:
        notes = {(row.started_on, row.reason): row.note or "" for row in conn.execute(query)}
    return [
        {
            "waiting_for": WAITING_FOR.get(pause.reason, pause.reason),
            "start": day_text(pause.start),
            "end": day_text(pause.end) if pause.end else "Still waiting",
            "days": str((pause.end - pause.start).days) if pause.end else "",
            "note": notes.get((pause.start.isoformat(), pause.reason), ""),
        }
        for pause in found.pauses
    ]


def _request_page(request: Request, rights: RightsService, found: RightsRequest) -> HTMLResponse:
    services = services_of(request)
    actor = request_context(request).actor
    today = rights.today()
    clock = found.clock
    may_manage = services.permissions.allowed(actor, MANAGE) and found.state == "open"
    return render(
        request,
        "rights_request.html",
        case=found,
        base=request_path(found.ref, found.id),
        kind=KIND_NAMES.get(found.kind, found.kind),
        identity=IDENTITY_NAMES.get(found.identity, found.identity),
        state=STATE_NAMES.get(found.state, found.state),
        received=day_text(found.received_on),
        deadline=deadline_text(clock.deadline),
        left=left_text(clock.days_left(today), clock.working_days_left(today, rights.calendar))
        if found.state == "open"
        else "",
        overdue=found.state == "open" and clock.is_overdue(today),
        pauses=_pause_rows(request, found),
        searches=_search_rows(found),
        items=_item_rows(found, may_manage and found.kind != "access"),
        may_manage=may_manage,
        may_open_recordings=services.permissions.allowed(actor, "recordings:search"),
        problem=None,
        choices=_choices(),
    )


@router.get("/rights/{ref}", **page(READ))
def request_page(request: Request, ref: str = _Ref) -> HTMLResponse:
    """One request: its clock, the searches made, the recordings found. Audited."""
    rights = _rights(request)
    return _request_page(request, rights, rights.get(request_context(request), ref))


# -- the DPO's forms on a request --------------------------------------------------------------
Act = Callable[[RequestContext, dict[str, str]], str]


async def _act(
    request: Request, ref: str, form_name: str, act: Act, recording_id: str | None = None
) -> Response:
    """Run ``act`` with the form's fields and go back to the request with the message it
    returns; on bad input (or a conflict with the request's state), the form again alone."""
    form = await request.form()
    ctx = request_context(request)
    base = f"/rights/{quote(ref, safe='')}"
    try:
        message = await run_in_threadpool(act, ctx, _read(form, form_name))
    except (BadInput, Conflict) as error:
        if error.field in {"ref", "recording_id"}:
            raise  # the request or recording is wrong, not the form: the error page says so
        form_id = f"decide-{recording_id}" if recording_id else form_name
        return render(
            request,
            "rights_form.html",
            status_code=error.http_status,
            form_name=form_name,
            title=FORM_TITLES[form_name],
            ref=ref,
            base=base,
            recording_id=recording_id or "",
            entered={form_id: _as_entered(form, form_name)},
            problem=_problem(form_id, form_name, error),
            choices=_choices(),
        )
    return redirect(request, base, message)


def _months(text: str) -> int | None:
    if not text:
        return None  # the service says months is required
    if not text.isdigit():
        raise BadInput("months must be 1 or 2", "months")
    return int(text)


@router.post("/rights/{ref}/pause", **page(MANAGE))
async def pause_clock(request: Request, ref: str = _Ref) -> Response:
    """Stop the clock while the council waits for identity or clarification (Art. 12A)."""

    def act(ctx: RequestContext, fields: dict[str, str]) -> str:
        done = _rights(request).pause(ctx, ref, reason=fields["reason"] or None,
                                      on=fields["on"] or None, note=fields["note"])  # fmt: skip
        pause = done.pauses[-1]
        return (
            f"The clock of {done.ref} is stopped from {day_text(pause.start)} while waiting "
            f"for {WAITING_FOR.get(pause.reason, pause.reason).lower()}. Restart it when the "
            "answer comes."
        )

    return await _act(request, ref, "pause", act)


@router.post("/rights/{ref}/resume", **page(MANAGE))
async def resume_clock(request: Request, ref: str = _Ref) -> Response:
    def act(ctx: RequestContext, fields: dict[str, str]) -> str:
        done = _rights(request).resume(ctx, ref, on=fields["on"] or None)
        return (
            f"The clock of {done.ref} is running again. "
            f"Answer by {deadline_text(done.clock.deadline)}."
        )

    return await _act(request, ref, "resume", act)


@router.post("/rights/{ref}/extend", **page(MANAGE))
async def extend_deadline(request: Request, ref: str = _Ref) -> Response:
    """Extend a complex request by one or two months (Art. 12(3))."""

    def act(ctx: RequestContext, fields: dict[str, str]) -> str:
        done = _rights(request).extend(ctx, ref, months=_months(fields["months"]),
                                       reason=fields["reason"],
                                       told_on=fields["told_on"] or None)  # fmt: skip
        months = _count(done.extension.months if done.extension else 0, "month")
        return (
            f"{done.ref} is extended by {months}. Answer by {deadline_text(done.clock.deadline)}."
        )

    return await _act(request, ref, "extend", act)


@router.post("/rights/{ref}/search", **page(MANAGE))
async def search_again(request: Request, ref: str = _Ref) -> Response:
    """Search again: new numbers after clarification, or another period."""

    def act(ctx: RequestContext, fields: dict[str, str]) -> str:
        done = _rights(request).search(ctx, ref, phones=_phones(fields["phones"]),
                                       started_from=fields["from"] or None,
                                       started_to=fields["to"] or None)  # fmt: skip
        new = done.searches[-1]["matched"] if done.searches else 0
        held = " and held" if done.kind == "access" and new else ""
        return f"Searched again for {done.ref}: {_count(new, 'more recording')} found{held}."

    return await _act(request, ref, "search", act)


@router.post("/rights/{ref}/close", **page(MANAGE))
async def close_request(request: Request, ref: str = _Ref) -> Response:
    """Close the request; the holds it placed are released."""

    def act(ctx: RequestContext, fields: dict[str, str]) -> str:
        done = _rights(request).close(ctx, ref, outcome=fields["outcome"] or None,
                                      note=fields["note"] or None)  # fmt: skip
        released = " The holds it placed are released." if done.hold_ids else ""
        return f"{done.ref} is closed: {STATE_NAMES.get(done.state, done.state)}.{released}"

    return await _act(request, ref, "close", act)


@router.post("/rights/{ref}/recordings/{recording_id}/decision", **page(MANAGE))
async def decide_recording(
    request: Request, ref: str = _Ref, recording_id: str = _RecordingId
) -> Response:
    """Erase one recording of an erasure or objection request now, or keep it under an
    exemption; the reason code says which law the decision rests on."""

    def act(ctx: RequestContext, fields: dict[str, str]) -> str:
        decisions = ErasureDecisions.for_services(services_of(request))
        item = decisions.decide(ctx, ref, recording_id, decision=fields["decision"] or None,
                                reason_code=fields["reason_code"] or None,
                                note=fields["note"] or None)  # fmt: skip
        name = f"Recording {short_id(item.recording_id)}"
        if item.outcome == "erased":
            seq = item.certificate_seq
            return f"{name} is erased; its disposal certificate is audit entry {seq}."
        outcome = OUTCOME_NAMES.get(item.outcome, item.outcome).lower()
        return f"{name} is {outcome} ({item.reason_code})."

    return await _act(request, ref, "decide", act, recording_id)
