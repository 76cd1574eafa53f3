"""``/approvals`` and ``/requests``: deciding other people's requests to hear recordings, and
following one's own.

Both call the grant service the API calls (``web.routes.grants``), so separation of duties
(nobody decides their own request), the purpose rules and the audit trail are the
service's; a refusal is its error, shown as the error page, and changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response

from callvault.access.grant_views import ADVISOR, visible_grants
from callvault.web.pages.names import distinct_names, short_id
from callvault.web.pages.render import form_text, page, redirect, render
from callvault.web.pages.when import when_text
from callvault.web.security import request_context, services_of

router = APIRouter()

_REASON_LIMIT = 2000  # access.grants: a revocation's reason


@dataclass(frozen=True, slots=True)
class RequestRow:
    """A grant as these pages show it (an advisor's view has no case reference or reason)."""

    id: str
    requester: str
    purpose: str
    case_ref: str
    reason: str
    recording_ids: list[str]
    requested_at: str
    expires_at: str
    status: str
    # Approved and not yet expired: its recordings may be heard now.
    live: bool
    # What its buttons and fields add to their visible text, unique on the page.
    name: str


Describe = Callable[[dict[str, Any]], Sequence[str]]


def _rows(
    grants: list[dict[str, Any]], purposes: dict[str, str], now: datetime, describe: Describe
) -> list[RequestRow]:
    names = distinct_names([describe(grant) for grant in grants])
    rows = []
    for grant, name in zip(grants, names, strict=True):
        expires = grant.get("expires_at")
        expired = expires is not None and datetime.fromisoformat(expires) <= now
        status = "expired" if grant["status"] == "approved" and expired else grant["status"]
        rows.append(
            RequestRow(
                id=grant["id"],
                requester=grant["requester"],
                purpose=purposes.get(grant["purpose"], grant["purpose"]),
                case_ref=grant.get("case_ref") or "",
                reason=grant.get("reason") or "",
                recording_ids=list(grant["recording_ids"]),
                requested_at=when_text(grant["requested_at"]),
                expires_at=when_text(expires),
                status=status,
                live=status == "approved",
                name=name,
            )
        )
    return rows


def _visible(request: Request, status: str | None = None) -> list[dict[str, Any]]:
    services = services_of(request)
    actor = request_context(request).actor
    policy, permissions = services.policy.policy, services.permissions
    return visible_grants(services.engine, policy, permissions, actor, status)


def _purpose_names(request: Request) -> dict[str, str]:
    return {p.id: p.name for p in services_of(request).policy.policy.purposes}


# -- approvals --------------------------------------------------------------------------------
@router.get("/approvals", **page("recordings:approve"))
def approvals(request: Request) -> HTMLResponse:
    """Other people's pending requests this person's role could decide, oldest first."""
    me = request_context(request).actor.name
    pending = _visible(request, "pending")
    waiting = [grant for grant in pending if grant["requester"] != me]
    rows = _rows(
        waiting,
        _purpose_names(request),
        services_of(request).grants.now(),
        lambda g: (
            f"request by {g['requester']} for {g['case_ref']}",
            f"made {when_text(g['requested_at'])}",
            f"reference {short_id(g['id'])}",
        ),
    )
    own_pending = len(pending) - len(waiting)
    return render(request, "approvals.html", rows=rows, own_pending=own_pending)


@router.post("/approvals/{grant_id}/approve", **page("recordings:approve"))
def approve(request: Request, grant_id: str) -> Response:
    grant = services_of(request).grants.approve(request_context(request), grant_id)
    return redirect(
        request,
        "/approvals",
        f"Approved: the request by {grant.requester} for {grant.case_ref}. They may listen "
        f"until {when_text(grant.expires_at)}.",
    )


@router.post("/approvals/{grant_id}/deny", **page("recordings:approve"))
def deny(request: Request, grant_id: str) -> Response:
    grant = services_of(request).grants.deny(request_context(request), grant_id)
    return redirect(
        request, "/approvals", f"Denied: the request by {grant.requester} for {grant.case_ref}."
    )


# -- my requests ------------------------------------------------------------------------------
@router.get("/requests", **page("grants:read"))
def my_requests(request: Request) -> HTMLResponse:
    """A listener's own requests in every state, newest first; an advisor's view is the
    requests to hear their calls (``visible_grants`` shapes what they may see)."""
    services = services_of(request)
    actor = request_context(request).actor
    found = _visible(request)
    advisor = actor.role == ADVISOR
    shown = found if advisor else [g for g in found if g["requester"] == actor.name]
    shown.reverse()  # visible_grants gives oldest first

    def describe(grant: dict[str, Any]) -> Sequence[str]:
        return (
            f"your request for {grant.get('case_ref')}",
            f"made {when_text(grant['requested_at'])}",
            f"reference {short_id(grant['id'])}",
        )

    rows = _rows(shown, _purpose_names(request), services.grants.now(), describe)
    return render(
        request,
        "requests.html",
        rows=rows,
        advisor=advisor,
        may_withdraw=services.permissions.allowed(actor, "recordings:revoke"),
        may_approve=services.permissions.allowed(actor, "recordings:approve"),
    )


@router.post("/requests/{grant_id}/revoke", **page("recordings:revoke"))
async def withdraw(request: Request, grant_id: str) -> Response:
    """Withdraw a pending or approved request; the reason is required and audited."""
    form = await request.form()
    reason = form_text(form, "reason", _REASON_LIMIT)
    flow = services_of(request).grants
    grant = await run_in_threadpool(flow.revoke, request_context(request), grant_id, reason)
    return redirect(request, "/requests", f"Withdrawn: the request for {grant.case_ref}.")
