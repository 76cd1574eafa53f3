"""Legal holds over the API: list, place, release (``retention/holds.py`` does the work)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from callvault.retention.hold_terms import MAX_RECORDINGS
from callvault.web.security import declares, request_context, services_of

router = APIRouter(prefix="/api/v1", tags=["holds"])


# Every field optional here so that the service names what is missing or wrong, in the same
# {"error", "field"} shape as every other refusal.
class HoldIn(BaseModel):
    recording_ids: list[str] = Field(
        default_factory=list, max_length=MAX_RECORDINGS, description="Recordings to hold by id."
    )
    reason: str = Field(default="", description="complaint, ombudsman, subject_access, ...")
    case_ref: str = Field(default="", description="The case reference the hold is for.")
    owner: str | None = Field(default=None, description="Who reviews it (default: you).")
    review_on: str | None = Field(default=None, description="YYYY-MM-DD (default: 90 days).")
    note: str = Field(default="", description="Anything the next reader needs to know.")
    caller: str | None = Field(default=None, description="Saved search: the caller's number.")
    line: str | None = Field(default=None, description="Saved search: a line id.")
    started_from: str | None = Field(
        default=None, alias="from", description="Saved search: calls starting at or after."
    )
    started_to: str | None = Field(
        default=None, alias="to", description="Saved search: calls starting before."
    )


class ReleaseIn(BaseModel):
    reason: str = Field(default="", description="Why the recordings need not be kept.")


@router.get("/holds", **declares("holds:read"))
def list_holds(
    request: Request,
    include_released: bool = Query(default=False, alias="all", description="Released too."),
    due: bool = Query(default=False, description="Only active holds due for review."),
) -> dict[str, Any]:
    """Legal holds, soonest review first; every reading is audited."""
    found = services_of(request).holds.list(
        request_context(request), active_only=not include_released, due_only=due
    )
    return {"holds": [hold.as_dict() for hold in found]}


@router.post("/holds", status_code=201, **declares("holds:place"))
def place_hold(request: Request, body: HoldIn) -> dict[str, Any]:
    """Hold recordings by id, or by a saved search that also holds calls imported later."""
    hold = services_of(request).holds.place(
        request_context(request), reason=body.reason, case_ref=body.case_ref,
        recording_ids=body.recording_ids, caller=body.caller, line=body.line,
        started_from=body.started_from, started_to=body.started_to, owner=body.owner,
        review_on=body.review_on, note=body.note,
    )  # fmt: skip
    return hold.as_dict()


@router.post("/holds/{hold_id}/release", **declares("holds:release"))
def release_hold(request: Request, hold_id: str, body: ReleaseIn | None = None) -> dict[str, Any]:
    """End a hold; the reason is required and audited."""
    reason = body.reason if body else ""
    hold = services_of(request).holds.release(request_context(request), hold_id, reason)
    return hold.as_dict()
