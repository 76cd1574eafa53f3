"""The scope proof and the record of processing over the API.

The scope report answers 200 whatever it finds: its ``ok`` and ``violations`` are the finding
(the CLI turns them into exit 1). Refusals are audited before the 403, as for the other reports.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from callvault.catalog.scope import SCOPE, ScopeWindow, scope_report_as
from callvault.notice.service import ROPA, ropa_as, ropa_text
from callvault.web.security import declares, request_context, services_of

router = APIRouter(prefix="/api/v1", tags=["compliance"])

_MEDIA = {"csv": "text/csv; charset=utf-8", "md": "text/markdown; charset=utf-8"}


@router.get("/reports/scope", **declares(SCOPE))
async def scope(
    request: Request,
    from_: str | None = Query(default=None, alias="from", max_length=40),
    to: str | None = Query(default=None, max_length=40),
) -> dict[str, Any]:
    """Per line: calls recorded (live and purged) and declined, declined calls by rule, and
    the proof that no call outside the policy was kept (default: the month to now)."""
    window = ScopeWindow.parse(from_, to)
    services = services_of(request)
    report: dict[str, Any] = await run_in_threadpool(
        scope_report_as, services.engine, services.audit, services.permissions,
        services.policy.policy, request_context(request), window,
    )  # fmt: skip
    return report


@router.get("/reports/ropa", **declares(ROPA))
async def ropa(
    request: Request,
    fmt: str = Query(default="json", alias="format", pattern="^(json|csv|md)$"),
) -> Response:
    """The record of processing (UK GDPR Art. 30), one row per purpose: JSON, CSV or
    Markdown."""
    services = services_of(request)
    record: dict[str, Any] = await run_in_threadpool(
        ropa_as, services.engine, services.audit, services.permissions,
        request_context(request), services.policy.policy,
    )  # fmt: skip
    if fmt == "json":
        return JSONResponse(record)
    name = f"record-of-processing-{record['policy_version'].replace('+', '-')}.{fmt}"
    return PlainTextResponse(
        ropa_text(record, fmt),
        media_type=_MEDIA[fmt],
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
