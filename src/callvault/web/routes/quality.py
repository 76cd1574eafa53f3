"""Quality monitoring over the API: the monthly draws and samples (``analytics/sampling.py``),
evaluations, responses and calibration (``analytics/evaluations.py``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from callvault.analytics.evaluations import EvaluationService
from callvault.analytics.sampling import QualitySampler
from callvault.web.security import declares, request_context, services_of

router = APIRouter(prefix="/api/v1/quality", tags=["quality"])


class DrawIn(BaseModel):
    month: str = Field(default="", description="The UK month to draw, YYYY-MM (it must be over).")
    reason: str | None = Field(default=None, description="Required to draw a month again.")
    early: bool = Field(
        default=False,
        description="Draw before the month's draw day (quality.draw_on_day of the next "
        "month); calls uploaded after the draw are left out.",
    )


class EvaluationIn(BaseModel):
    case_ref: str = Field(default="", description="The sampled call's case reference.")
    scores: dict[str, int] = Field(default_factory=dict, description="Question id -> points.")
    comment: str = Field(default="", description="What the advisor should hear.")
    calibration_id: str | None = Field(default=None, description="Score within this session.")


class ResponseIn(BaseModel):
    agrees: bool = Field(description="Whether you agree with the evaluation.")
    response: str = Field(default="", description="Your response, in your own words.")


class CalibrationIn(BaseModel):
    case_ref: str = Field(default="", description="The sampled call everyone scores.")
    evaluators: list[str] = Field(default_factory=list, description="2 to 12 evaluators.")


class CloseIn(BaseModel):
    note: str = Field(default="", description="What the team agreed.")


def _sampler(request: Request) -> QualitySampler:
    return QualitySampler.for_services(services_of(request))


def _evaluations(request: Request) -> EvaluationService:
    return EvaluationService.for_services(services_of(request))


@router.get("/draws", **declares("quality:read"))
def list_draws(
    request: Request, month: str | None = Query(default=None, max_length=7)
) -> dict[str, Any]:
    """Every draw, superseded ones too, with each redraw's reason."""
    return {"draws": _sampler(request).draws(request_context(request), month)}


@router.post("/draws", status_code=201, **declares("quality:draw"))
def draw_month(request: Request, body: DrawIn) -> dict[str, Any]:
    """Draw a month's sample from its draw day on (before it only with ``early``; 422
    without); a month already drawn needs a reason (409 without one)."""
    return _sampler(request).draw(
        request_context(request), body.month, body.reason, early=body.early
    )


@router.get("/draws/{draw_id}/verify", **declares("quality:read"))
def verify_draw(request: Request, draw_id: str) -> dict[str, Any]:
    """Re-draw from the seed in the audit trail and compare with the stored sample."""
    return _sampler(request).verify(request_context(request), draw_id)


@router.get("/samples", **declares("quality:read"))
def list_samples(
    request: Request,
    month: str | None = Query(default=None, max_length=7),
    agent: str | None = Query(default=None, max_length=64),
) -> dict[str, Any]:
    """The sampled calls of current draws, each with the case reference to listen under."""
    return {"samples": _sampler(request).samples(request_context(request), month, agent)}


@router.get("/evaluations", **declares("quality:read"))
def list_evaluations(
    request: Request,
    case_ref: str | None = Query(default=None, max_length=32),
    agent: str | None = Query(default=None, max_length=64),
) -> dict[str, Any]:
    found = _evaluations(request).evaluations(
        request_context(request), case_ref=case_ref, agent=agent
    )
    return {"evaluations": found}


@router.post("/evaluations", status_code=201, **declares("quality:evaluate"))
def evaluate(request: Request, body: EvaluationIn) -> dict[str, Any]:
    """Score a sampled call you listened to under the quality purpose."""
    return _evaluations(request).evaluate(
        request_context(request), body.case_ref, body.scores, body.comment,
        calibration_id=body.calibration_id,
    )  # fmt: skip


@router.get("/evaluations/mine", **declares("quality:own"))
def my_evaluations(request: Request) -> dict[str, Any]:
    """The evaluations of your own calls."""
    return {"evaluations": _evaluations(request).mine(request_context(request))}


@router.post("/evaluations/{evaluation_id}/response", **declares("quality:own"))
def respond(request: Request, evaluation_id: str, body: ResponseIn) -> dict[str, Any]:
    """The staff member on the call responds to its evaluation, once."""
    return _evaluations(request).respond(
        request_context(request), evaluation_id, agrees=body.agrees, response=body.response
    )


@router.post("/calibrations", status_code=201, **declares("quality:calibrate"))
def calibrate(request: Request, body: CalibrationIn) -> dict[str, Any]:
    """Open a blind calibration session on one sampled call."""
    return _evaluations(request).calibrate(request_context(request), body.case_ref, body.evaluators)


@router.get("/calibrations/{calibration_id}", **declares("quality:read"))
def calibration(request: Request, calibration_id: str) -> dict[str, Any]:
    """Who has scored; once all have (or it is closed), each question's spread."""
    return _evaluations(request).calibration(request_context(request), calibration_id)


@router.post("/calibrations/{calibration_id}/close", **declares("quality:calibrate"))
def close_calibration(request: Request, calibration_id: str, body: CloseIn) -> dict[str, Any]:
    return _evaluations(request).close_calibration(
        request_context(request), calibration_id, body.note
    )
