"""The audit trail and the policy, read over the API.

Reading the trail is itself audited: its entries name callers' numbers and search terms.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request

from callvault.db import transaction
from callvault.web.security import declares, request_context, services_of

router = APIRouter(prefix="/api/v1", tags=["audit"])


@router.get("/audit", **declares("audit:read"))
def show_audit(
    request: Request,
    after: int = Query(default=0, ge=0, le=2**62),
    limit: int = Query(default=100, ge=1, le=10_000),
    object_id: str | None = Query(default=None, alias="object", max_length=64),
) -> dict[str, Any]:
    """Audit entries in order, after sequence ``after``; optionally about one object."""
    services = services_of(request)
    with transaction(services.engine) as conn:
        services.audit.append(
            conn,
            request_context(request),
            "audit.read",
            object_type="audit",
            details={"after": after, "limit": limit, "object": object_id},
        )
    return {"entries": services.audit.show(object_id=object_id, limit=limit, after=after)}


@router.get("/audit/verify", **declares("audit:verify"))
def verify_audit(request: Request) -> dict[str, Any]:
    """Check the whole hash chain and its signed checkpoints."""
    return services_of(request).audit.verify().as_dict()


@router.get("/policy", **declares("policy:read"))
def show_policy(request: Request) -> dict[str, Any]:
    """The loaded recording policy as data."""
    return services_of(request).policy.show()
