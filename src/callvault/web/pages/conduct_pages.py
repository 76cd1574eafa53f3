"""``/conduct`` and ``/conduct/incidents/{ref}``: customer conduct, as the safety and conduct
officer works it. The queue of open conduct flags the speech job raised (for those who review
flags), the incidents opened from them, and one incident's recordings, holds, grants and
evidence bundles.

Every act is the incident service's (``conduct/service.py``) or the flag review's
(``speech/flags.py``), which the API and the CLI call too: each field is checked there before
anything is written, and each act and refusal is audited there. A refusal, or a flag or
incident that is not there, is the error page. A form with a mistake comes back on its whole
page, the message beside the field and what was typed kept: the officer decides with the flag
or the incident in view, so the page is read (and its reading audited) again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, Response

from callvault.conduct.service import (
    KEEPS_EVIDENCE,
    MANAGE,
    OUTCOMES,
    PURPOSE,
    READ,
    IncidentService,
)
from callvault.context import RequestContext
from callvault.errors import BadInput, CallvaultError, Conflict, NotFound
from callvault.speech.flags import READ as FLAGS_READ
from callvault.speech.flags import REVIEW as FLAGS_REVIEW
from callvault.speech.flags import FlagQuery
from callvault.web.pages.forms import Act, Entered, act_on_form
from callvault.web.pages.names import distinct_names, short_id
from callvault.web.pages.render import page, render
from callvault.web.pages.rights_pages import Problem
from callvault.web.pages.when import duration_text, when_text
from callvault.web.security import request_context, services_of

router = APIRouter()
# Shows a page again with the mistake marked: (what was typed, the problem, the status).
Shown = Callable[[dict[str, Entered], Problem, int], HTMLResponse]

# Closing a flag without an incident; "action_taken" is what opening an incident records.
DISMISSALS = {"no_action": "No action", "misheard": "Misheard"}
# Each form's fields, with the longest value read: the services apply the real limits and
# name the field, so these only bound what a post can make the server hold.
FORMS: dict[str, dict[str, int]] = {
    "open": {"summary": 4000},
    "review": {"outcome": 32, "note": 2000},
    "link": {"recording_id": 64, "note": 2000},
    "close": {"outcome": 32, "note": 2000},
}
REF_PATH = Path(max_length=32)  # SAF-<year>-<n>; the service says what a reference looks like
FLAG_PATH = Path(max_length=64)
QUEUE_LIMIT = 100


@dataclass(frozen=True, slots=True)
class FlagRow:
    """An open conduct flag as the queue shows it."""

    id: str
    recording_id: str
    call: str  # "Parking, 28 Nov 2026, 14:05"
    rule: str
    speaker: str
    moment: str  # where in the call: "0:41 to 0:43"
    raised_at: str
    # What its fields and buttons add to their visible text, unique on the page.
    name: str


@dataclass(frozen=True, slots=True)
class IncidentRow:
    ref: str
    href: str
    opened: str
    recordings: int
    state: str
    tone: str


@dataclass(frozen=True, slots=True)
class LinkedRow:
    """A recording linked to an incident: its call, the flag that named it, its hold."""

    recording_id: str
    call: str
    length: str
    # The flag that named it (rule, speaker, moment); rule "" when linked by hand.
    rule: str
    speaker: str
    moment: str
    held: bool
    released_at: str
    added: str
    note: str


def _incidents(request: Request) -> IncidentService:
    return IncidentService.for_services(services_of(request))


def _may(request: Request, ctx: RequestContext, action: str) -> bool:
    return services_of(request).permissions.allowed(ctx.actor, action)


def _line_names(request: Request) -> dict[str, str]:
    return {line.id: line.name for line in services_of(request).policy.policy.lines}


def outcome_name(outcome: str | None) -> str:
    return (outcome or "").replace("_", " ").capitalize()


def _in_words(names: list[str], last: str = "and") -> str:
    """Names as a sentence joins them: "a", "a and b", "a, b and c" (or "a, b or c")."""
    return f" {last} ".join([", ".join(names[:-1]), names[-1]] if len(names) > 1 else names)


def _moment(start_s: float | None, end_s: float | None) -> str:
    if start_s is None:
        return ""
    end = f" to {duration_text(end_s, up=True)}" if end_s is not None else ""
    return f"{duration_text(start_s)}{end}"


def _flag_rows(request: Request, flags: list[dict[str, Any]]) -> list[FlagRow]:
    lines = _line_names(request)
    calls = [f"{lines.get(f['line'], f['line'])}, {when_text(f['started_at'])}" for f in flags]
    moments = [_moment(f["start_s"], f["end_s"]) for f in flags]
    names = distinct_names(
        [
            (f"flag {f['rule']} at {moment}", f"in the call of {call}", short_id(f["id"]))
            for f, call, moment in zip(flags, calls, moments, strict=True)
        ]
    )
    return [
        FlagRow(
            id=f["id"],
            recording_id=f["recording_id"],
            call=call,
            rule=f["rule"],
            speaker=f["speaker"],
            moment=moment,
            raised_at=when_text(f["raised_at"]),
            name=name,
        )
        for f, call, moment, name in zip(flags, calls, moments, names, strict=True)
    ]


def _incident_rows(found: list[dict[str, Any]]) -> list[IncidentRow]:
    return [
        IncidentRow(
            ref=row["ref"],
            href=_incident_path(row["ref"]),
            opened=f"{when_text(row['opened_at'])} by {row['opened_by']}",
            recordings=int(row["recordings"]),
            state=f"Closed: {outcome_name(row['outcome'])}" if row["closed_at"] else "Open",
            tone="ok" if row["closed_at"] else "warn",
        )
        for row in found
    ]


def _incident_path(ref: str) -> str:
    return f"/conduct/incidents/{quote(ref, safe='')}"


# -- the queue and the incidents --------------------------------------------------------------
@router.get("/conduct", **page(READ))
def conduct_home(
    request: Request,
    every: bool = Query(default=False, alias="all", description="Closed incidents too."),
) -> HTMLResponse:
    """Open conduct flags, for those who review them; incidents, open ones or all. Both
    readings are audited by their services."""
    return _conduct_page(request, every=every)


def _conduct_page(
    request: Request,
    *,
    every: bool = False,
    entered: dict[str, Entered] | None = None,
    problem: Problem | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    ctx = request_context(request)
    services = services_of(request)
    queue = None
    if _may(request, ctx, FLAGS_READ):  # auditors read incidents, not the flags behind them
        flags = services.flags.list(ctx, FlagQuery(kind="conduct", limit=QUEUE_LIMIT))
        queue = _flag_rows(request, flags)
    found = _incidents(request).list(ctx, open_only=not every)
    return render(
        request,
        "conduct.html",
        status_code=status_code,
        queue=queue,
        queue_full=queue is not None and len(queue) >= QUEUE_LIMIT,
        incidents=_incident_rows(found),
        every=every,
        may_open=_may(request, ctx, MANAGE),
        may_review=_may(request, ctx, FLAGS_REVIEW),
        may_search=_may(request, ctx, "recordings:search"),
        dismissals=list(DISMISSALS.items()),
        entered=entered or {},
        problem=problem,
    )


async def _act(request: Request, form_name: str, form_id: str, act: Act, again: Shown) -> Response:
    """Post the form (``forms.act_on_form``); a mistake in one of its fields brings the page
    back with it marked. Any other error (the flag or incident, or who may act) is the error
    page."""

    def marked(entered: dict[str, Entered], error: CallvaultError) -> HTMLResponse:
        if error.field not in FORMS[form_name]:
            raise error
        return again(entered, Problem(error.message, f"{form_id}-{error.field}"),
                     error.http_status)  # fmt: skip

    return await act_on_form(request, form_id, FORMS[form_name], act, marked,
                             shown=(BadInput, Conflict, NotFound))  # fmt: skip


def _queue_again(request: Request) -> Shown:
    def again(entered: dict[str, Entered], problem: Problem, status: int) -> HTMLResponse:
        return _conduct_page(request, entered=entered, problem=problem, status_code=status)

    return again


@router.post("/conduct/flags/{flag_id}/incident", **page(MANAGE))
async def open_from_flag(request: Request, flag_id: str = FLAG_PATH) -> Response:
    """Open an incident about a flag's call: the call is held under the incident's reference
    at once and the flag closed as acted on."""

    def act(ctx: RequestContext, fields: dict[str, str]) -> tuple[str, str]:
        opened = _incidents(request).open(ctx, fields["summary"], flag_ids=[flag_id])
        ref = opened["ref"]
        return _incident_path(ref), (
            f"Incident {ref} opened. The call is held under {ref}, and the flag is closed as "
            "acted on."
        )

    return await _act(request, "open", f"open-{flag_id}", act, _queue_again(request))


@router.post("/conduct/flags/{flag_id}/review", **page(FLAGS_REVIEW))
async def dismiss_flag(request: Request, flag_id: str = FLAG_PATH) -> Response:
    """Close a flag without an incident: no action, or misheard."""

    def act(ctx: RequestContext, fields: dict[str, str]) -> tuple[str, str]:
        outcome = fields["outcome"]
        if outcome not in DISMISSALS:
            raise BadInput("outcome must be no action or misheard: use one of the buttons",
                           "outcome")  # fmt: skip
        services_of(request).flags.review(ctx, flag_id, outcome, fields["note"])
        return "/conduct", f"Flag closed: {DISMISSALS[outcome].lower()}. No incident was opened."

    return await _act(request, "review", f"review-{flag_id}", act, _queue_again(request))


# -- one incident -----------------------------------------------------------------------------
@router.get("/conduct/incidents/{ref}", **page(READ))
def incident_page(request: Request, ref: str = REF_PATH) -> HTMLResponse:
    """An incident: its recordings and their holds, the grants and bundles under its
    reference; for those who manage incidents, the link and close forms. Audited."""
    return _incident_page(request, ref)


def _incident_page(
    request: Request,
    ref: str,
    entered: dict[str, Entered] | None = None,
    problem: Problem | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    ctx = request_context(request)
    incident = _incidents(request).get(ctx, ref)
    policy = services_of(request).policy.policy
    purpose = next((p for p in policy.purposes if p.id == PURPOSE), None)
    keeps = [outcome_name(o).lower() for o in OUTCOMES if o in KEEPS_EVIDENCE]
    releases = [outcome_name(o).lower() for o in OUTCOMES if o not in KEEPS_EVIDENCE]
    return render(
        request,
        "conduct_incident.html",
        status_code=status_code,
        incident=incident,
        closed=incident["closed_at"] is not None,
        outcome=outcome_name(incident["outcome"]),
        kept=incident["outcome"] in KEEPS_EVIDENCE,
        linked=_linked_rows(request, incident["recordings"]),
        grants=[_grant_row(grant) for grant in incident["grants"]],
        bundles=incident["bundles"],
        base=_incident_path(ref),
        purpose_name=purpose.name if purpose else PURPOSE,
        may_listen=purpose is not None and ctx.actor.role in purpose.roles,
        may_manage=_may(request, ctx, MANAGE),
        may_search=_may(request, ctx, "recordings:search"),
        me=ctx.actor.name,
        outcomes=[(o, outcome_name(o)) for o in OUTCOMES],
        keeps=_in_words(keeps, "or"),
        releases=_in_words(releases, "or"),
        entered=entered or {},
        problem=problem,
    )


def _linked_rows(request: Request, linked: list[dict[str, Any]]) -> list[LinkedRow]:
    lines = _line_names(request)
    return [
        LinkedRow(
            recording_id=row["recording_id"],
            call=f"{lines.get(row['line'], row['line'])}, {when_text(row['started_at'])}",
            length=duration_text(row["duration_s"] or 0, up=True),
            rule=row["rule"] or "",
            speaker=row["speaker"] or "",
            moment=_moment(row["start_s"], None),
            held=row["hold_released_at"] is None,
            released_at=when_text(row["hold_released_at"]),
            added=f"{when_text(row['added_at'])} by {row['added_by']}",
            note=row["note"],
        )
        for row in linked
    ]


def _grant_row(grant: dict[str, Any]) -> dict[str, str]:
    """A grant under the incident's reference; an approved one past its end reads expired."""
    status = str(grant["status"])
    expires = grant["expires_at"]
    if status == "approved" and expires:
        ended = datetime.fromisoformat(str(expires)).astimezone(UTC) <= datetime.now(UTC)
        status = "expired" if ended else f"approved until {when_text(expires)}"
    return {"id": short_id(grant["id"]), "requester": grant["requester"], "status": status}


def _incident_again(request: Request, ref: str) -> Shown:
    def again(entered: dict[str, Entered], problem: Problem, status: int) -> HTMLResponse:
        return _incident_page(request, ref, entered, problem, status)

    return again


@router.post("/conduct/incidents/{ref}/links", **page(MANAGE))
async def link_recording(request: Request, ref: str = REF_PATH) -> Response:
    """Link another recording: it is held under the incident's reference at once."""

    def act(ctx: RequestContext, fields: dict[str, str]) -> tuple[str, str]:
        recording_id = fields["recording_id"]
        if not recording_id:
            raise BadInput("fill in the recording's ID: its page shows it", "recording_id")
        _incidents(request).link(ctx, ref, recording_id=recording_id, note=fields["note"])
        return _incident_path(ref), (
            f"Recording {short_id(recording_id)} linked to {ref}, and held under its reference."
        )

    return await _act(request, "link", "link", act, _incident_again(request, ref))


@router.post("/conduct/incidents/{ref}/close", **page(MANAGE))
async def close_incident(request: Request, ref: str = REF_PATH) -> Response:
    """Close the incident with its outcome; some outcomes keep the holds, others release them."""

    def act(ctx: RequestContext, fields: dict[str, str]) -> tuple[str, str]:
        closed = _incidents(request).close(ctx, ref, fields["outcome"], fields["note"])
        outcome = closed["outcome"]
        holds = (
            "The holds stay until a hold keeper releases them when the proceedings end."
            if outcome in KEEPS_EVIDENCE
            else "Its holds are released."
        )
        return _incident_path(ref), f"{ref} closed: {outcome_name(outcome).lower()}. {holds}"

    return await _act(request, "close", "close", act, _incident_again(request, ref))
