"""What the quality pages (``quality_pages.py``, ``quality_sample_pages.py``) share: the
services, paths and names they show, the scorecard as a table, the calibration sessions open,
and how their forms are posted and come back with a mistake marked."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import FormData

from callvault.access.quality_gate import QUALITY_PURPOSE
from callvault.analytics.evaluations import EvaluationService
from callvault.analytics.sampling import QualitySampler
from callvault.analytics.sampling_rule import parse_month
from callvault.context import RequestContext
from callvault.errors import BadInput, CallvaultError, Conflict, NotSignedIn
from callvault.policy.analytics_model import Scorecard
from callvault.web.pages.render import form_text, redirect
from callvault.web.pages.rights_pages import Problem
from callvault.web.pages.when import when_text
from callvault.web.security import request_context, services_of

MAX_TEXT = 2000  # the evaluation service's longest comment, response and note
# What was typed into one form (a list for a group of checkboxes), by field name.
Entered = dict[str, Any]
Act = Callable[[RequestContext, dict[str, str]], tuple[str, str]]
Again = Callable[[dict[str, Entered], CallvaultError], HTMLResponse]


def samplers(request: Request) -> QualitySampler:
    return QualitySampler.for_services(services_of(request))


def evaluations(request: Request) -> EvaluationService:
    return EvaluationService.for_services(services_of(request))


def may(request: Request, ctx: RequestContext, action: str) -> bool:
    return services_of(request).permissions.allowed(ctx.actor, action)


def sample_path(case_ref: str) -> str:
    return f"/quality/samples/{quote(case_ref, safe='')}"


def calibration_path(calibration_id: str) -> str:
    return f"/quality/calibrations/{quote(calibration_id, safe='')}"


def month_name(label: str) -> str:
    """ "2026-10" as people say it: "October 2026"."""
    year, month = parse_month(label)
    return f"{datetime(year, month, 1, tzinfo=UTC):%B} {year}"


def line_names(request: Request) -> dict[str, str]:
    return {line.id: line.name for line in services_of(request).policy.policy.lines}


def listening(request: Request, ctx: RequestContext) -> dict[str, Any]:
    """How this person hears a sampled call: the purpose's name, and whether the quality
    purpose and the recording's page are theirs."""
    policy = services_of(request).policy.policy
    purpose = next((p for p in policy.purposes if p.id == QUALITY_PURPOSE), None)
    return {
        "purpose_name": purpose.name if purpose else QUALITY_PURPOSE,
        "may_listen": purpose is not None and ctx.actor.role in purpose.roles,
        "may_search": may(request, ctx, "recordings:search"),
    }


def scorecard(request: Request, scorecard_id: str) -> Scorecard | None:
    cards = services_of(request).policy.policy.quality.scorecards
    return next((card for card in cards if card.id == scorecard_id), None)


def scored_items(card: Scorecard | None, scores: Mapping[str, int]) -> list[dict[str, Any]]:
    """Each question with the points given and its most; a question the policy no longer
    has (its scorecard changed since) shows by its id."""
    known = {item.id: item for item in card.items} if card is not None else {}
    return [
        {"question": known[item_id].question if item_id in known else item_id,
         "points": points, "most": known[item_id].points if item_id in known else None}
        for item_id, points in scores.items()
    ]  # fmt: skip


# -- the forms --------------------------------------------------------------------------------
def problem_of(form_id: str, fields: Iterable[str], error: CallvaultError) -> Problem:
    """``error`` beside its field when the form has one, else about the form as a whole."""
    field = error.field or ""
    return Problem(error.message, f"{form_id}-{field}" if field in set(fields) else None)


async def act_on_form(
    request: Request,
    form_id: str,
    fields: Mapping[str, int],
    act: Act,
    again: Again,
    *,
    shown: tuple[type[CallvaultError], ...] = (BadInput, Conflict),
    lists: Sequence[str] = (),
) -> Response:
    """Run ``act`` with the form's ``fields`` (trimmed, each at most its length) and follow the
    (path, message) it returns. An error of a ``shown`` kind brings the page back through
    ``again``, with what was typed; any other (who may act, a thing not there) is the error
    page. ``lists`` are fields posted several times (checkboxes), kept for showing again."""
    form = await request.form()
    entered = _as_entered(form, fields, lists)
    try:
        values = {
            name: form_text(form, name, limit, required=False) for name, limit in fields.items()
        }
        to, message = await run_in_threadpool(act, request_context(request), values)
    except shown as error:
        if isinstance(error, NotSignedIn):
            raise
        return await run_in_threadpool(again, {form_id: entered}, error)
    return redirect(request, to, message)


def _as_entered(form: FormData, fields: Mapping[str, int], lists: Sequence[str]) -> Entered:
    """What was posted, cut to the form's bounds, to show again after an error."""
    entered: Entered = {
        name: value[:limit] if isinstance(value := form.get(name), str) else ""
        for name, limit in fields.items()
    }
    for name in lists:
        entered[name] = [value for value in form.getlist(name) if isinstance(value, str)][:100]
    return entered


def open_sessions(
    request: Request, ctx: RequestContext, case_ref: str | None = None
) -> list[dict[str, Any]]:
    """Calibration sessions not closed yet, newest first, as the pages list them: who is in
    each and who has scored (the service never lists points)."""
    return [
        {**session, "href": calibration_path(session["id"]),
         "opened": when_text(session["opened_at"])}
        for session in evaluations(request).calibrations(ctx, case_ref=case_ref)
    ]  # fmt: skip
