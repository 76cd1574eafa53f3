"""The demand report over the API (docs/demand.md): JSON, or CSV as a download.

Figures only, from demand facts (no audio, no numbers); reading it is audited, and a refusal
is audited before the 403, as for the other reports.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from callvault.analytics.demand import DEMAND, DemandWindow, demand_csv, demand_report_as
from callvault.uktime import UK
from callvault.web.security import declares, request_context, services_of

router = APIRouter(prefix="/api/v1", tags=["reports"])


@router.get("/reports/demand", **declares(DEMAND))
async def demand(
    request: Request,
    from_: str | None = Query(default=None, alias="from", max_length=40),
    to: str | None = Query(default=None, max_length=40),
    fmt: str = Query(default="json", alias="format", pattern="^(json|csv)$"),
) -> Response:
    """Calls per line and in all: out of hours, durations, repeat callers, topics, by UK hour,
    weekday, day and week (default: the 28 days to now). ``from``/``to``: a UK day or an
    ISO time, ``to`` exclusive. ``format=csv``: one row per line, UK day and hour."""
    window = DemandWindow.parse(from_, to)
    services = services_of(request)
    report: dict[str, Any] = await run_in_threadpool(
        demand_report_as, services.engine, services.audit, services.permissions,
        services.policy.policy, request_context(request), window,
    )  # fmt: skip
    if fmt == "json":
        return JSONResponse(report)
    first = window.start.astimezone(UK).date()
    end = window.end.astimezone(UK).date()
    return PlainTextResponse(
        demand_csv(report),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="demand-{first}-{end}.csv"'},
    )
