"""Rights requests over the API: the register, its clock, searches, erasure decisions
(``rights/service.py`` and ``rights/erasure.py`` do the work)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from callvault.rights.erasure import ErasureDecisions
from callvault.rights.service import RightsService
from callvault.web.security import declares, request_context, services_of

router = APIRouter(prefix="/api/v1", tags=["rights"])


# Every field optional here so that the service names what is missing or wrong, in the same
# {"error", "field"} shape as every other refusal.
class RequestIn(BaseModel):
    kind: str = Field(default="access", description="access, erasure or objection.")
    ref: str = Field(default="", description="The case reference (SAR-YYYY-NNN for access).")
    requester: str = Field(default="", description="The requester's name.")
    contact: str = Field(default="", description="Where the response goes.")
    received_on: str | None = Field(default=None, description="YYYY-MM-DD (default: today).")
    identity: str = Field(default="", description="verified, or awaiting (the clock stops).")
    phones: list[str] = Field(default_factory=list, max_length=20, description="Numbers used.")
    started_from: str | None = Field(default=None, alias="from", description="YYYY-MM-DD.")
    started_to: str | None = Field(default=None, alias="to", description="YYYY-MM-DD.")
    note: str | None = Field(default=None, description="Anything the next reader needs.")


class SearchIn(BaseModel):
    phones: list[str] = Field(default_factory=list, max_length=20)
    started_from: str | None = Field(default=None, alias="from")
    started_to: str | None = Field(default=None, alias="to")


class PauseIn(BaseModel):
    reason: str = Field(default="", description="identity or clarification.")
    on: str | None = Field(default=None, description="The day the council asked.")
    note: str = Field(default="", description="What was asked, and how.")


class ResumeIn(BaseModel):
    on: str | None = Field(default=None, description="The day the answer came.")


class ExtendIn(BaseModel):
    months: int | None = Field(default=None, description="1 or 2.")
    reason: str = Field(default="", description="Why the request is complex.")
    told_on: str | None = Field(default=None, description="The day the requester was told.")


class CloseIn(BaseModel):
    outcome: str = Field(default="", description="responded, withdrawn or refused.")
    note: str | None = Field(default=None, description="Why (required unless responded).")


class DecisionIn(BaseModel):
    decision: str = Field(default="", description="erase or keep.")
    reason_code: str = Field(default="", description="The ground or exemption relied on.")
    note: str | None = Field(default=None, description="The reasoning.")


def _rights(request: Request) -> RightsService:
    return RightsService.for_services(services_of(request))


def _shown(request: Request, rights: RightsService, found: Any) -> dict[str, Any]:
    return dict(found.as_dict(rights.today()))


@router.get("/rights", **declares("rights:read"))
def list_requests(
    request: Request,
    days: int | None = Query(default=None, ge=0, le=366, description="Due within N days."),
    include_closed: bool = Query(default=False, alias="all", description="Closed ones too."),
) -> dict[str, Any]:
    """Requests soonest deadline first; ``days=7`` is the week's view. Audited."""
    rights = _rights(request)
    due_by = rights.today() + timedelta(days=days) if days is not None else None
    found = rights.deadlines(request_context(request), due_by=due_by, include_closed=include_closed)
    return {"requests": [r.as_dict(rights.today()) for r in found]}


@router.post("/rights", status_code=201, **declares("rights:manage"))
def open_request(request: Request, body: RequestIn) -> dict[str, Any]:
    """Register a request; subject access holds what the search finds (DPA 2018 s.173)."""
    rights = _rights(request)
    found = rights.open(
        request_context(request), kind=body.kind, ref=body.ref, requester=body.requester,
        contact=body.contact, received_on=body.received_on, identity=body.identity,
        phones=body.phones, started_from=body.started_from, started_to=body.started_to,
        note=body.note,
    )  # fmt: skip
    return _shown(request, rights, found)


@router.get("/rights/{ref}", **declares("rights:read"))
def show_request(request: Request, ref: str) -> dict[str, Any]:
    """A request with its clock, pauses, searches and recordings. Audited."""
    rights = _rights(request)
    return _shown(request, rights, rights.get(request_context(request), ref))


@router.post("/rights/{ref}/search", **declares("rights:manage"))
def search_again(request: Request, ref: str, body: SearchIn) -> dict[str, Any]:
    rights = _rights(request)
    found = rights.search(request_context(request), ref, phones=body.phones,
                          started_from=body.started_from, started_to=body.started_to)  # fmt: skip
    return _shown(request, rights, found)


@router.post("/rights/{ref}/pause", **declares("rights:manage"))
def pause_clock(request: Request, ref: str, body: PauseIn) -> dict[str, Any]:
    """Stop the clock while waiting for identity or clarification (Art. 12A)."""
    rights = _rights(request)
    found = rights.pause(request_context(request), ref, reason=body.reason, on=body.on,
                         note=body.note)  # fmt: skip
    return _shown(request, rights, found)


@router.post("/rights/{ref}/resume", **declares("rights:manage"))
def resume_clock(request: Request, ref: str, body: ResumeIn | None = None) -> dict[str, Any]:
    rights = _rights(request)
    found = rights.resume(request_context(request), ref, on=body.on if body else None)
    return _shown(request, rights, found)


@router.post("/rights/{ref}/extend", **declares("rights:manage"))
def extend_deadline(request: Request, ref: str, body: ExtendIn) -> dict[str, Any]:
    rights = _rights(request)
    found = rights.extend(request_context(request), ref, months=body.months,
                          reason=body.reason, told_on=body.told_on)  # fmt: skip
    return _shown(request, rights, found)


@router.post("/rights/{ref}/close", **declares("rights:manage"))
def close_request(request: Request, ref: str, body: CloseIn) -> dict[str, Any]:
    """Close the request; the holds it placed are released."""
    rights = _rights(request)
    found = rights.close(request_context(request), ref, outcome=body.outcome, note=body.note)
    return _shown(request, rights, found)


@router.post("/rights/{ref}/recordings/{recording_id}/decision", **declares("rights:manage"))
def decide_recording(
    request: Request, ref: str, recording_id: str, body: DecisionIn
) -> dict[str, Any]:
    """Erase one recording of an erasure or objection request (at once, with a certificate)
    or keep it under an exemption."""
    decisions = ErasureDecisions.for_services(services_of(request))
    item = decisions.decide(
        request_context(request), ref, recording_id, decision=body.decision,
        reason_code=body.reason_code, note=body.note,
    )  # fmt: skip
    return item.as_dict()
