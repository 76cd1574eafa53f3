"""``/quality`` and ``/quality/mine``: quality monitoring (docs/quality.md) as evaluators,
managers and advisors work it. The monthly sample of each advisor's calls with each call's
case reference, the draws and their verification, the calibration sessions open; and for the
staff who take calls, the evaluations of their own calls and their one response to each.

One sampled call's page, its scorecard and calibration are ``quality_sample_pages.py``; what
both share is ``quality_view.py``. Every act is the sampler's (``analytics/sampling.py``) or
the evaluation service's (``analytics/evaluations.py``), which the API and the CLI call too:
they check each field and audit each act, reading and refusal. A form with a mistake comes
back on its whole page, the message beside the field and what was typed kept, and changes
nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, Response

from callvault.analytics.evaluations import OWN
from callvault.analytics.sampling import DRAW, MIN_REASON, READ
from callvault.analytics.sampling_rule import due_month, month_text
from callvault.context import RequestContext
from callvault.errors import BadInput, CallvaultError, Conflict
from callvault.web.pages.forms import Entered, act_on_form, problem_of
from callvault.web.pages.quality_view import (
    MAX_TEXT,
    evaluations,
    line_names,
    listening,
    may,
    month_name,
    open_sessions,
    sample_path,
    samplers,
    scorecard,
    scored_items,
)
from callvault.web.pages.render import page, render
from callvault.web.pages.rights_pages import Problem
from callvault.web.pages.when import when_text
from callvault.web.security import request_context, services_of

router = APIRouter()

# The services say what an id looks like. One Path object a parameter name: FastAPI names a
# shared one after the first parameter that used it.
DRAW_PATH = Path(max_length=64)
EVALUATION_PATH = Path(max_length=64)
# The draw form's fields and the longest value read; the sampler applies the real limits.
DRAW_FORM = {"month": 32, "reason": MAX_TEXT, "early": 8}
RESPOND_FORM = {"agrees": 8, "response": MAX_TEXT}
AGREES = {"yes": True, "no": False}


# -- the samples, the draws and the sessions --------------------------------------------------
@dataclass(frozen=True, slots=True)
class SampleRow:
    case_ref: str
    href: str
    recording_id: str
    agent: str
    line: str
    started: str
    evaluation: str  # "15 of 18", or "" when it has none yet
    purged: bool


@dataclass(frozen=True, slots=True)
class DrawRow:
    id: str
    month: str  # "October 2026 (2026-10)"
    attempt: int
    drawn: str  # "1 Nov 2026, 02:00 by system:worker"
    eligible: int
    sampled: int
    superseded: str  # when a later draw replaced it; "" for a current draw
    reason: str  # why this draw was made again; "" for a first draw
    name: str  # what its verify link adds to its visible text, unique on the page


@router.get("/quality", **page(READ))
def quality_home(
    request: Request,
    month: str | None = Query(default=None, max_length=32, description="YYYY-MM"),
) -> HTMLResponse:
    """A month's sample (the newest drawn by default), every draw, the calibration sessions
    open; the draw form for those who may draw. Each listing is audited by its service."""
    return quality_page(request, month=month)


def quality_page(
    request: Request,
    *,
    month: str | None = None,
    entered: dict[str, Entered] | None = None,
    problem: Problem | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    ctx = request_context(request)
    draws = samplers(request).draws(ctx)
    months = sorted({str(d["month"]) for d in draws}, reverse=True)
    chosen = month or (months[0] if months else None)
    samples: list[dict[str, Any]] = []
    if chosen is not None:
        try:
            samples = samplers(request).samples(ctx, chosen)
        except BadInput as error:  # a month typed into the address: say so by the selector
            problem, status_code = Problem(error.message, "show-month"), error.http_status
            chosen = None
    of_record = {e["case_ref"]: e for e in evaluations(request).evaluations(ctx)} if samples else {}
    draw_on_day = services_of(request).policy.policy.quality.draw_on_day
    return render(
        request,
        "quality.html",
        status_code=status_code,
        months=[(label, month_name(label)) for label in months],
        month=chosen,
        month_name=month_name(chosen) if chosen else "",
        samples=_sample_rows(request, samples, of_record),
        draws=_draw_rows(draws),
        sessions=open_sessions(request, ctx),
        may_draw=may(request, ctx, DRAW),
        **listening(request, ctx),
        # The month the daily job would draw now: the latest whose draw day has come.
        last_month=month_text(*due_month(datetime.now(UTC), draw_on_day)),
        draw_on_day=draw_on_day,
        min_reason=MIN_REASON,
        entered=entered or {},
        problem=problem,
    )


def _sample_rows(
    request: Request, samples: list[dict[str, Any]], of_record: dict[str, dict[str, Any]]
) -> list[SampleRow]:
    lines = line_names(request)
    rows = []
    for sample in samples:
        done = of_record.get(sample["case_ref"])
        rows.append(
            SampleRow(
                case_ref=sample["case_ref"],
                href=sample_path(sample["case_ref"]),
                recording_id=sample["recording_id"],
                agent=sample["agent"],
                line=lines.get(sample["line"], sample["line"]),
                started=when_text(sample["started_at"]),
                evaluation=f"{done['total']} of {done['max_total']}" if done else "",
                purged=bool(sample["purged"]),
            )
        )
    return rows


def _draw_rows(draws: list[dict[str, Any]]) -> list[DrawRow]:
    return [
        DrawRow(
            id=d["id"],
            month=f"{month_name(d['month'])} ({d['month']})",
            attempt=int(d["attempt"]),
            drawn=f"{when_text(d['drawn_at'])} by {d['drawn_by']}",
            eligible=int(d["eligible"]),
            sampled=int(d["drawn"]),
            superseded=when_text(d["superseded_at"]),
            reason=d["reason"] or "",
            name=f"the draw of {d['month']}, attempt {d['attempt']}",
        )
        for d in draws
    ]


@router.post("/quality/draws", **page(DRAW))
async def draw_month(request: Request) -> Response:
    """Draw a month that is over, from its draw day (before it only with "early" ticked);
    drawing it again needs a reason (the earlier draw is kept, superseded)."""

    def act(ctx: RequestContext, fields: dict[str, str]) -> tuple[str, str]:
        reason, early = fields["reason"] or None, fields["early"] == "yes"
        try:
            drawn = samplers(request).draw(ctx, fields["month"], reason, early=early)
        except Conflict as error:
            if reason is None:  # the month is drawn: the fix is a reason, so say it there
                raise Conflict(error.message, "reason") from error
            raise
        label = str(drawn["month"])
        if drawn["draw_id"] is None:
            return "/quality", (
                f"No call in {month_name(label)} was eligible, so nothing was drawn. The monthly "
                "job looks again each day."
            )
        return f"/quality?month={label}", (
            f"{month_name(label)} drawn (attempt {drawn['attempt']}): {drawn['drawn']} of "
            f"{drawn['eligible']} eligible calls sampled."
            + (" Drawn early: calls uploaded from now on are not in it." if drawn["early"] else "")
        )

    def again(entered: dict[str, Entered], error: CallvaultError) -> HTMLResponse:
        problem = problem_of("draw", DRAW_FORM, error)
        return quality_page(request, entered=entered, problem=problem,
                            status_code=error.http_status)  # fmt: skip

    return await act_on_form(request, "draw", DRAW_FORM, act, again)


@router.get("/quality/draws/{draw_id}", **page(READ))
def verify_draw(request: Request, draw_id: str = DRAW_PATH) -> HTMLResponse:
    """Re-draw the sample from the seed in the draw's audit entry and compare it with what is
    stored. The verification is audited."""
    report = samplers(request).verify(request_context(request), draw_id)
    return render(request, "quality_draw.html", report=report,
                  month=month_name(str(report["month"])))  # fmt: skip


# -- my evaluations ---------------------------------------------------------------------------
@router.get("/quality/mine", **page(OWN))
def my_evaluations(request: Request) -> HTMLResponse:
    """The evaluations of record of the signed-in person's own calls, each with its response
    form until they have answered. Audited."""
    return mine_page(request)


def mine_page(
    request: Request,
    entered: dict[str, Entered] | None = None,
    problem: Problem | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    ctx = request_context(request)
    found = evaluations(request).mine(ctx)
    lines = line_names(request)
    shown = [
        {**ev, "line_name": lines.get(ev["line"], ev["line"]),
         "call": _call_start(request, ev["recording_id"]),
         "items": scored_items(scorecard(request, ev["scorecard_id"]), ev["scores"])}
        for ev in found
    ]  # fmt: skip
    return render(request, "quality_mine.html", status_code=status_code, evaluations=shown,
                  entered=entered or {}, problem=problem)  # fmt: skip


def _call_start(request: Request, recording_id: str) -> str:
    """When the call started, so the staff member knows which call it was; "" once the
    recording is deleted."""
    try:
        return when_text(services_of(request).catalog.get(recording_id).started_at)
    except CallvaultError:
        return ""


@router.post("/quality/mine/{evaluation_id}/respond", **page(OWN))
async def respond(request: Request, evaluation_id: str = EVALUATION_PATH) -> Response:
    """The staff member on the call answers its evaluation, once."""

    def act(ctx: RequestContext, fields: dict[str, str]) -> tuple[str, str]:
        agrees = AGREES.get(fields["agrees"])
        if agrees is None:
            raise BadInput("choose whether you agree with the evaluation", "agrees")
        found = evaluations(request).respond(ctx, evaluation_id, agrees=agrees,
                                             response=fields["response"])  # fmt: skip
        return "/quality/mine", (
            f"Your response to the evaluation of {found['case_ref']} is saved with it, where "
            "evaluators and managers read it."
        )

    def again(entered: dict[str, Entered], error: CallvaultError) -> HTMLResponse:
        problem = problem_of(f"respond-{evaluation_id}", RESPOND_FORM, error)
        return mine_page(request, entered, problem, error.http_status)

    return await act_on_form(request, f"respond-{evaluation_id}", RESPOND_FORM, act, again)
