"""Training clips over the API (``training/service.py`` does the work). The staff member's
consent and its withdrawal come only from their own session, never from an operator."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from callvault.training.model import CHECKLIST
from callvault.training.service import TrainingService
from callvault.web.security import declares, request_context, services_of

router = APIRouter(prefix="/api/v1/training", tags=["training"])


class ProposalIn(BaseModel):
    recording_id: str = Field(default="", description="The recording the clip comes from.")
    start_s: float = Field(default=0.0, description="Where the clip starts, in seconds.")
    end_s: float = Field(default=0.0, description="Where it ends, in seconds.")
    why: str = Field(default="", description="What the clip teaches.")


class ConsentIn(BaseModel):
    agree: bool = Field(description="True to agree, false to refuse.")


class ReviewIn(BaseModel):
    checks: dict[str, bool] = Field(default_factory=dict, description="Checklist answers.")
    approve: bool = Field(default=False, description="Publish (true) or reject (false).")
    note: str | None = Field(default=None, description="Required when rejecting.")


def _training(request: Request) -> TrainingService:
    return TrainingService.for_services(services_of(request))


@router.get("/checklist", **declares("training:read"))
def checklist() -> dict[str, Any]:
    """The motivated-intruder checks a reviewer confirms before a clip is published."""
    return {"checks": CHECKLIST}


@router.get("/clips", **declares("training:read"))
def list_clips(
    request: Request,
    every: bool = Query(default=False, alias="all", description="Every clip (proposers)."),
) -> dict[str, Any]:
    """The library (published clips and those of your own calls); ``all`` for proposers and
    reviewers: every clip in every state."""
    found = _training(request).list(request_context(request), library=not every)
    return {"clips": [clip.as_dict() for clip in found]}


@router.post("/clips", status_code=201, **declares("training:propose"))
def propose_clip(request: Request, body: ProposalIn) -> dict[str, Any]:
    clip = _training(request).propose(request_context(request), body.recording_id,
                                      start_s=body.start_s, end_s=body.end_s,
                                      why=body.why)  # fmt: skip
    return clip.as_dict()


@router.get("/clips/{clip_id}", **declares("training:read"))
def show_clip(request: Request, clip_id: str) -> dict[str, Any]:
    return _training(request).get(request_context(request), clip_id).as_dict()


@router.post("/clips/{clip_id}/consent", **declares("training:consent"))
def consent_to_clip(request: Request, clip_id: str, body: ConsentIn) -> dict[str, Any]:
    """The staff member on the call agrees or refuses, signed in as themselves."""
    clip = _training(request).consent(request_context(request), clip_id, agree=body.agree)
    return clip.as_dict()


@router.post("/clips/{clip_id}/withdraw", **declares("training:consent"))
def withdraw_consent(request: Request, clip_id: str) -> dict[str, Any]:
    """Withdraw consent: the clip stops playing now and is removed by the next job run."""
    return _training(request).withdraw(request_context(request), clip_id).as_dict()


@router.post("/clips/{clip_id}/review", **declares("training:review"))
def review_clip(request: Request, clip_id: str, body: ReviewIn) -> dict[str, Any]:
    clip = _training(request).review(request_context(request), clip_id, checks=body.checks,
                                     approve=body.approve, note=body.note)  # fmt: skip
    return clip.as_dict()


@router.get("/clips/{clip_id}/audio", **declares("training:read"))
def clip_audio(request: Request, clip_id: str) -> Response:
    """A published clip's audio (Ogg Opus); a made one to its reviewer. Audited first."""
    audio = _training(request).audio(request_context(request), clip_id)
    return Response(audio, media_type="audio/ogg", headers={"Cache-Control": "no-store"})
