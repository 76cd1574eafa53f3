"""Oversight over the API: the access review and the bulk-access alerts.

A refusal here is audited before the 403 (who tried to read the staff activity report is
itself something a DPO wants to know), like a refused search.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool

from callvault.access.bulk_access import alert_days, bulk_alerts_as
from callvault.access.oversight import UNUSED_DAYS, ReviewWindow, access_review_as
from callvault.web.security import declares, request_context, services_of

router = APIRouter(prefix="/api/v1", tags=["oversight"])


@router.get("/reports/access-review", **declares("users:review"))
async def access_review(
    request: Request,
    from_: str | None = Query(default=None, alias="from", max_length=40),
    to: str | None = Query(default=None, max_length=40),
    unused_days: int = Query(default=UNUSED_DAYS, ge=1, le=3660),
) -> dict[str, Any]:
    """Every account: role, disabled, created, last use, activity over the window (default:
    the six months to now) and the flags a reviewer acts on."""
    window = ReviewWindow.parse(from_, to)
    services = services_of(request)
    roles = frozenset(role.id for role in services.policy.policy.roles)
    report: dict[str, Any] = await run_in_threadpool(
        access_review_as, services.engine, services.audit, services.permissions,
        request_context(request), window, unused_days, roles,
    )  # fmt: skip
    return report


@router.get("/alerts/bulk-access", **declares("alerts:read"))
async def bulk_access(
    request: Request,
    from_: str | None = Query(default=None, alias="from", max_length=10),
    to: str | None = Query(default=None, max_length=10),
) -> dict[str, Any]:
    """People whose listening on a day (UTC) ran far above their own usual; the last 7 days
    by default. The rule is in the response and in docs/oversight.md."""
    days = alert_days(from_, to, datetime.now(UTC).date())
    services = services_of(request)
    found: dict[str, Any] = await run_in_threadpool(
        bulk_alerts_as, services.engine, services.audit, services.permissions,
        request_context(request), days,
    )  # fmt: skip
    return found
