"""``/holds`` and ``/retention``: legal holds (read, place, release) and what retention will
delete next.

Holds are placed and released by the hold service the API calls (``web.routes.holds``), so
every field is checked there, before anything is written: a refused form changes nothing,
and says which field to correct. The retention page reads the purge's own selection
(``RetentionService.outlook``), so it lists exactly what a purge would delete.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response

from callvault.errors import BadInput
from callvault.retention.hold_terms import DEFAULT_REVIEW_DAYS, MAX_RECORDINGS, REASONS
from callvault.retention.holds import Hold
from callvault.web.pages.names import distinct_names, short_id
from callvault.web.pages.render import as_entered, form_text, form_texts, page, redirect, render
from callvault.web.pages.when import day_text, when_text
from callvault.web.security import request_context, services_of

router = APIRouter()

PLACE_FIELDS = ("recording_ids", "reason", "case_ref", "review_on", "note")
# Upper bounds on what is read from the form; the hold service applies the real limits and
# names the field. An id is at most 40 characters, plus a separator.
_LIMITS = {
    "recording_ids": MAX_RECORDINGS * 42,
    "reason": 64,
    "case_ref": 1000,
    "review_on": 32,
    "note": 4000,
}
_RELEASE_REASON_LIMIT = 2000
_IDS = re.compile(r"[\s,;]+")
# A hold may name up to a thousand recordings; the page lists the first few of each.
_IDS_SHOWN = 10
REASON_NAMES = {
    "complaint": "Complaint",
    "ombudsman": "Ombudsman investigation",
    "subject_access": "Subject access request",
    "injunction": "Injunction",
    "litigation": "Litigation",
    "police_request": "Police request",
}
WINDOWS = (7, 30, 90)


@dataclass(frozen=True, slots=True)
class HoldRow:
    hold: Hold
    reason: str
    placed_at: str
    review_on: str
    shown_ids: tuple[str, ...]
    more_ids: int
    search: str
    # What its release field and button add to their visible text, unique on the page.
    name: str


def _search_text(hold: Hold, line_names: dict[str, str]) -> str:
    """A saved search in words: "Calls on line Parking started before 1 Mar 2026, 09:00"."""
    if hold.search is None:
        return ""
    terms = hold.search
    parts = [
        f"from {terms.caller}" if terms.caller else "",
        f"on line {line_names.get(terms.line, terms.line)}" if terms.line else "",
        f"started at or after {when_text(terms.started_from)}" if terms.started_from else "",
        f"started before {when_text(terms.started_to)}" if terms.started_to else "",
    ]
    return "Calls " + " ".join(part for part in parts if part)


def _rows(found: list[Hold], line_names: dict[str, str]) -> list[HoldRow]:
    names = distinct_names(
        [
            (
                f"hold for {hold.case_ref}",
                f"placed {when_text(hold.placed_at)}",
                f"reference {short_id(hold.id)}",
            )
            for hold in found
        ]
    )
    return [
        HoldRow(
            hold=hold,
            reason=REASON_NAMES.get(hold.reason, hold.reason),
            placed_at=when_text(hold.placed_at),
            review_on=day_text(hold.review_on),
            shown_ids=hold.recording_ids[:_IDS_SHOWN],
            more_ids=max(0, len(hold.recording_ids) - _IDS_SHOWN),
            search=_search_text(hold, line_names),
            name=name,
        )
        for hold, name in zip(found, names, strict=True)
    ]


def _holds_page(
    request: Request,
    found: list[Hold] | None,
    entered: dict[str, str] | None = None,
    error: BadInput | None = None,
) -> HTMLResponse:
    """The register with its forms; ``found`` None: only the place form, re-shown with what
    was entered and what to correct (reading the register again would audit a reading)."""
    services = services_of(request)
    actor = request_context(request).actor
    return render(
        request,
        "holds.html",
        status_code=error.http_status if error else 200,
        rows=_rows(found, _line_names(request)) if found is not None else None,
        may_place=services.permissions.allowed(actor, "holds:place"),
        may_release=services.permissions.allowed(actor, "holds:release"),
        reasons=[(reason, REASON_NAMES.get(reason, reason)) for reason in REASONS],
        entered=entered or dict.fromkeys(PLACE_FIELDS, ""),
        error=error,
        field_ids=PLACE_FIELDS,
        review_days=DEFAULT_REVIEW_DAYS,
    )


@router.get("/holds", **page("holds:read"))
def holds_register(request: Request) -> HTMLResponse:
    """Active holds, soonest review first (the reading is audited by the service)."""
    return _holds_page(request, services_of(request).holds.list(request_context(request)))


@router.post("/holds", **page("holds:place"))
async def place_hold(request: Request) -> Response:
    form = await request.form()
    try:
        entered = form_texts(form, _LIMITS)
    except BadInput as error:
        return _holds_page(request, None, as_entered(form, _LIMITS), error)
    fields: dict[str, Any] = {
        "reason": entered["reason"],
        "case_ref": entered["case_ref"],
        "recording_ids": [rid for rid in _IDS.split(entered["recording_ids"]) if rid],
        "review_on": entered["review_on"] or None,
        "note": entered["note"],
    }
    holds = services_of(request).holds
    try:
        hold = await run_in_threadpool(lambda: holds.place(request_context(request), **fields))
    except BadInput as error:
        # As read (trimmed), unlike act_on_form's as typed: the values the service refused.
        return _holds_page(request, None, entered, error)
    count = len(hold.recording_ids)
    return redirect(
        request,
        "/holds",
        f"Hold placed for {hold.case_ref}: {count} recording{'s' if count != 1 else ''} kept "
        f"until it is released. Review it by {day_text(hold.review_on)}.",
    )


@router.post("/holds/{hold_id}/release", **page("holds:release"))
async def release_hold(request: Request, hold_id: str) -> Response:
    """End a hold; the reason is required and audited."""
    form = await request.form()
    reason = form_text(form, "reason", _RELEASE_REASON_LIMIT)
    holds = services_of(request).holds
    hold = await run_in_threadpool(holds.release, request_context(request), hold_id, reason)
    return redirect(request, "/holds", f"Hold for {hold.case_ref} released.")


def _line_names(request: Request) -> dict[str, str]:
    return {line.id: line.name for line in services_of(request).policy.policy.lines}


# -- retention --------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class DueRow:
    recording_id: str
    line: str
    started_at: str
    retain_until: str
    # "CMP-2026-0001 (Complaint)" for each hold that keeps it; empty: deleted when due.
    held_by: list[str]


@router.get("/retention", **page("retention:read"))
def retention_outlook(
    request: Request, within: int = Query(default=30, description="Days ahead: 7, 30 or 90.")
) -> HTMLResponse:
    """What purges will delete in the next ``within`` days, soonest first, and what holds
    keep past its date."""
    if within not in WINDOWS:
        raise BadInput(f"within must be one of {', '.join(map(str, WINDOWS))} days", "within")
    services = services_of(request)
    outlook = services.retention.outlook(request_context(request), timedelta(days=within))
    lines = _line_names(request)
    rows = [
        DueRow(
            recording_id=due.recording_id,
            line=lines.get(due.line, due.line),
            started_at=when_text(due.started_at),
            retain_until=when_text(due.retain_until),
            held_by=[
                f"{ref.case_ref} ({REASON_NAMES.get(ref.reason, ref.reason)})"
                for ref in due.held_by
            ],
        )
        for due in outlook.recordings
    ]
    return render(
        request,
        "retention.html",
        outlook=outlook,
        rows=rows,
        within=within,
        windows=WINDOWS,
        until=when_text(outlook.until),
    )
