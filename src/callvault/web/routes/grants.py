"""Purpose-bound grants over the API: request, list, approve, deny, revoke."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from callvault.access.grant_views import visible_grants
from callvault.access.grants import MAX_RECORDINGS
from callvault.web.security import declares, request_context, services_of

router = APIRouter(prefix="/api/v1/grants", tags=["grants"])

_ID = r"^[A-Za-z0-9_-]{1,40}$"


class GrantRequest(BaseModel):
    recording_ids: list[str] = Field(
        min_length=1, max_length=MAX_RECORDINGS, description="The recordings to hear."
    )
    purpose: str = Field(max_length=64, description="A purpose id from the policy file.")
    case_ref: str = Field(max_length=64, description="The case reference, in the purpose's format.")
    reason: str = Field(default="", max_length=2000, description="Why these recordings.")


class Revocation(BaseModel):
    reason: str = Field(min_length=1, max_length=2000, description="Why it is withdrawn.")


class GrantOut(BaseModel):
    id: str
    recording_ids: list[str]
    requester: str
    purpose: str
    status: str
    requested_at: str
    expires_at: str | None
    case_ref: str | None = None
    reason: str | None = None
    approver: str | None = None
    decided_at: str | None = None
    revoked_reason: str | None = None


class GrantList(BaseModel):
    grants: list[GrantOut]


@router.post("", status_code=201, response_model=GrantOut, **declares("recordings:request"))
async def request_grant(request: Request, body: GrantRequest) -> dict[str, Any]:
    """Ask to hear recordings for a purpose and case: approved at once, or pending when the
    purpose needs a second person."""
    flow = services_of(request).grants
    grant = await run_in_threadpool(
        flow.request,
        request_context(request),
        body.recording_ids,
        body.purpose,
        body.case_ref,
        body.reason,
    )
    return grant.as_dict()


@router.get("", response_model=GrantList, **declares("grants:read"))
def list_grants(
    request: Request, status: str | None = Query(default=None, max_length=16)
) -> dict[str, Any]:
    """Grants you asked for or decided, pending ones you could decide; for advisors, the
    requests that concern their own calls."""
    services = services_of(request)
    actor = request_context(request).actor
    found = visible_grants(
        services.engine, services.policy.policy, services.permissions, actor, status
    )
    return {"grants": found}


@router.post("/{grant_id}/approve", response_model=GrantOut, **declares("recordings:approve"))
def approve_grant(request: Request, grant_id: str) -> dict[str, Any]:
    """Approve a pending grant (a different person from the one who asked)."""
    return services_of(request).grants.approve(request_context(request), grant_id).as_dict()


@router.post("/{grant_id}/deny", response_model=GrantOut, **declares("recordings:approve"))
def deny_grant(request: Request, grant_id: str) -> dict[str, Any]:
    """Deny a pending grant."""
    return services_of(request).grants.deny(request_context(request), grant_id).as_dict()


@router.post("/{grant_id}/revoke", response_model=GrantOut, **declares("recordings:revoke"))
def revoke_grant(request: Request, grant_id: str, body: Revocation) -> dict[str, Any]:
    """Withdraw a pending or approved grant."""
    flow = services_of(request).grants
    return flow.revoke(request_context(request), grant_id, body.reason).as_dict()
