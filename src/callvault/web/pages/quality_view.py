"""What the quality pages (``quality_pages.py``, ``quality_sample_pages.py``) share: the
services, paths and names they show, the scorecard as a table, the calibration sessions open.
Their forms are posted through ``forms.act_on_form``."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from fastapi import Request

from callvault.access.quality_gate import QUALITY_PURPOSE
from callvault.analytics.evaluations import EvaluationService
from callvault.analytics.sampling import QualitySampler
from callvault.analytics.sampling_rule import parse_month
from callvault.context import RequestContext
from callvault.policy.analytics_model import Scorecard
from callvault.web.pages.when import when_text
from callvault.web.security import services_of

MAX_TEXT = 2000  # the evaluation service's longest comment, response and note


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
