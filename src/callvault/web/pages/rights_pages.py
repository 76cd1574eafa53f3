"""``/rights`` and ``/rights/{ref}``: the register of people's rights requests (subject access,
erasure, objection) and their deadlines, for the DPO who works it and the auditors who read it.

Every change goes through the services the API and the CLI call (``rights.service``,
``rights.erasure``), so each field is checked there before anything is written, and each act
is audited the same way; a refused form changes nothing and names the field to correct.
Reading the register (``rights.listed``) and a request (``rights.viewed``) is audited by the
service: both show requesters' names and numbers. So a form that comes back with an error is
shown alone, with what was entered, and not on the whole page again: that would be another
reading to audit. The DPO's forms on a request are in ``rights_actions``; the review step and
the response package of a subject access request in ``rights_review_pages``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import func, select

from callvault.errors import BadInput, CallvaultError, Conflict
from callvault.rights.bank_holidays import HolidayCalendar
from callvault.rights.erasure import ERASE_REASONS, KEEP_REASONS
from callvault.rights.model import RightsRequest
from callvault.rights.package import Packager
from callvault.rights.service import CLOSE_OUTCOMES, RightsService
from callvault.rights.store import rights_items, rights_pauses
from callvault.rights.terms import KINDS, PAUSE_REASONS
from callvault.web.pages.names import short_id
from callvault.web.pages.render import as_entered, form_texts, page, redirect, render
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
REF_PATH = Path(max_length=100)  # a reference (at most 100 characters) or a request's id
RECORDING_PATH = Path(max_length=64)


@dataclass(frozen=True, slots=True)
class Problem:
    """What to correct in a form: the message, and the id of the field it names (None when
    it is about the form as a whole)."""

    message: str
    field_id: str | None


def form_problem(form_id: str, form_name: str, error: CallvaultError) -> Problem:
    # The services name the numbers "phone", as the API's field, and a pause's days as the
    # clock does ("pauses[0].start"); the forms call them "phones" and "on".
    field = error.field or ""
    field = "phones" if field == "phone" else "on" if field.startswith("pauses[") else field
    return Problem(error.message, f"{form_id}-{field}" if field in FORMS[form_name] else None)


# -- words -------------------------------------------------------------------------------------
def count_words(number: int, word: str) -> str:
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
    return f"{count_words(abs(days), 'day')} {word} ({count_words(abs(working), 'working day')})"


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
        extended=count_words(found.extension.months, "month") if found.extension else "No",
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


def rights_of(request: Request) -> RightsService:
    return RightsService.for_services(services_of(request))


def form_choices() -> dict[str, Any]:
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
    rights = rights_of(request)
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
        choices=form_choices(),
    )


@router.get("/rights", **page(READ))
def register(
    request: Request,
    closed: bool = Query(default=False, description="Show closed requests too."),
) -> HTMLResponse:
    """Open requests by deadline: overdue, due this week, later, clock stopped. Audited."""
    found = rights_of(request).deadlines(request_context(request), include_closed=closed)
    return _register_page(request, found, include_closed=closed)


def phones_of(text: str) -> list[str]:
    return [number.strip() for number in _PHONES.split(text) if number.strip()]


@router.post("/rights", **page(MANAGE))
async def open_request(request: Request) -> Response:
    """Register a request: its calls are searched for and, for subject access, held."""
    # Not through forms.act_on_form, which imports this module's Problem; the same steps.
    form = await request.form()
    try:
        fields = form_texts(form, FORMS["open"])
        opened = await run_in_threadpool(_open, request, fields)
    except (BadInput, Conflict) as error:
        problem = form_problem("open", "open", error)
        entered = as_entered(form, FORMS["open"])
        return await run_in_threadpool(
            _register_page, request, None, False, entered, problem, error.http_status
        )
    return redirect(request, request_path(opened.ref, opened.id), _opened(opened))


def _open(request: Request, fields: dict[str, str]) -> RightsRequest:
    return rights_of(request).open(
        request_context(request), kind=fields["kind"] or None, ref=fields["ref"],
        requester=fields["requester"], contact=fields["contact"],
        received_on=fields["received_on"] or None, identity=fields["identity"] or None,
        phones=phones_of(fields["phones"]), started_from=fields["from"] or None,
        started_to=fields["to"] or None, note=fields["note"] or None,
    )  # fmt: skip


def _opened(opened: RightsRequest) -> str:
    count = len(opened.items)
    found = f"{count_words(count, 'recording')} found"
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
    base = request_path(found.ref, found.id)
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
                review_href=f"{base}/recordings/{item.recording_id}/review"
                if found.kind == "access"
                else None,
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
        # Subject access: the response packages made, and the DPO's button to make one.
        packages=Packager.for_services(services).packages(request_context(request), found.id)
        if found.kind == "access"
        else [],
        may_package=may_manage and all(item.outcome != "pending" for item in found.items),
        problem=None,
        choices=form_choices(),
    )


@router.get("/rights/{ref}", **page(READ))
def request_page(request: Request, ref: str = REF_PATH) -> HTMLResponse:
    """One request: its clock, the searches made, the recordings found. Audited."""
    rights = rights_of(request)
    return _request_page(request, rights, rights.get(request_context(request), ref))
