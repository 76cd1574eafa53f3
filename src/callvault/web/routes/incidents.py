"""Customer conduct incidents over the API (``conduct/service.py`` does the work)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from callvault.conduct.service import IncidentService
from callvault.web.security import declares, request_context, services_of

router = APIRouter(prefix="/api/v1/incidents", tags=["conduct"])


class IncidentIn(BaseModel):
    summary: str = Field(default="", description="What happened (kept with the incident only).")
    flag_ids: list[str] = Field(default_factory=list, description="Conduct flags it is about.")
    recording_ids: list[str] = Field(default_factory=list, description="Recordings it is about.")
    note: str = Field(default="", description="A note on each link.")


class LinkIn(BaseModel):
    flag_id: str | None = Field(default=None, description="A conduct flag (or a recording).")
    recording_id: str | None = Field(default=None, description="A recording (or a flag).")
    note: str = Field(default="", description="Why it belongs to the incident.")


class CloseIn(BaseModel):
    outcome: str = Field(default="", description="injunction, police_referral, …")
    note: str = Field(default="", description="What was decided, for the record.")


def _incidents(request: Request) -> IncidentService:
    return IncidentService.for_services(services_of(request))


@router.get("", **declares("incidents:read"))
def list_incidents(
    request: Request,
    every: bool = Query(default=False, alias="all", description="Closed incidents too."),
) -> dict[str, Any]:
    return {"incidents": _incidents(request).list(request_context(request), open_only=not every)}


@router.post("", status_code=201, **declares("incidents:manage"))
def open_incident(request: Request, body: IncidentIn) -> dict[str, Any]:
    """Open an incident; each linked recording is held under its reference at once."""
    return _incidents(request).open(
        request_context(request), body.summary, recording_ids=body.recording_ids,
        flag_ids=body.flag_ids, note=body.note,
    )  # fmt: skip


@router.get("/{ref}", **declares("incidents:read"))
def show_incident(request: Request, ref: str) -> dict[str, Any]:
    return _incidents(request).get(request_context(request), ref)


@router.post("/{ref}/links", **declares("incidents:manage"))
def link_to_incident(request: Request, ref: str, body: LinkIn) -> dict[str, Any]:
    return _incidents(request).link(
        request_context(request), ref, recording_id=body.recording_id, flag_id=body.flag_id,
        note=body.note,
    )  # fmt: skip


@router.post("/{ref}/close", **declares("incidents:manage"))
def close_incident(request: Request, ref: str, body: CloseIn) -> dict[str, Any]:
    """Close with the outcome; injunction and police_referral keep the holds."""
    return _incidents(request).close(request_context(request), ref, body.outcome, body.note)
