"""``/demand``: the demand dashboard, calls per line, hour and topic over a window.

The figures are the API's demand report (``demand_report_as``, audited, the same dict as
``GET /api/v1/reports/demand``), drawn as bar charts in server-rendered SVG with a table of
the same numbers under each, so a screen reader and a person who wants the numbers read the
same thing the chart shows. The CSV link goes to the API route itself: it is a GET, which a
signed-in browser's session cookie authenticates without a CSRF token (``web.security``).

The form's days are UK days and both are included, as on the other pages' forms; the report's
window ends before its ``to``, so the page asks for the day after the last one.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse

from callvault.analytics.demand import MAX_DAYS, DemandWindow, demand_report_as
from callvault.errors import BadInput
from callvault.web.pages.demand_view import (
    charts_for,
    figures_for,
    headline,
    line_rows,
    quiet_lines,
)
from callvault.web.pages.render import page, render
from callvault.web.pages.when import day_start, parse_day
from callvault.web.security import request_context, services_of

router = APIRouter()

ACTION = "demand:read"
FIELDS = ("from", "to", "line")
# What is read back into the form after a mistake: no more than a field could hold.
_TYPED_MAX = 200
CSV_ROUTE = "/api/v1/reports/demand"


def read_window(params: Mapping[str, Any]) -> tuple[DemandWindow | None, dict[str, str]]:
    """The report's window from the form's days (both included; empty: the report's
    default, the 28 days to now); or the problems, by field."""
    errors: dict[str, str] = {}
    days: dict[str, date | None] = {}
    for name in ("from", "to"):
        try:
            days[name] = parse_day(params, name)
        except BadInput as error:
            errors[name] = error.message
    if errors:
        return None, errors
    first, last = days["from"], days["to"]
    if first and last and first > last:
        return None, {"from": "from must not be after to"}
    if first and not last and day_start(first) > datetime.now(UTC):
        return None, {"from": "from must not be after today when to is left empty"}
    # Said here in the form's own days: the report's message would name the day after ``to``.
    if first and last and (last - first).days + 1 > MAX_DAYS:
        span = (last - first).days + 1
        return None, {"from": f"from and to span {span} days; the figures cover {MAX_DAYS} "
                              "days at most, so move from later"}  # fmt: skip
    try:
        window = DemandWindow.parse(
            first.isoformat() if first else None,
            (last + timedelta(days=1)).isoformat() if last else None,
        )
    except BadInput as error:
        return None, {_field_of(error): error.message}
    return window, {}


def _field_of(error: BadInput) -> str:
    """The form field an error belongs by (an error about the window as a whole: from)."""
    return error.field if error.field in FIELDS else "from"


def read_line(params: Mapping[str, Any], lines: Mapping[str, str]) -> tuple[str, dict[str, str]]:
    """The line to show ("" for every line), or the problem: one the policy does not name."""
    value = params.get("line")
    line = value.strip() if isinstance(value, str) else ""
    if line and line not in lines:
        return "", {"line": "line must be one of the lines in the list"}
    return line, {}


def csv_link(report: Mapping[str, Any]) -> str:
    """The API's CSV of this very window (its instants, so it covers what the page shows)."""
    query = {"format": "csv", "from": str(report["from"]), "to": str(report["to"])}
    return f"{CSV_ROUTE}?{urlencode(query)}"


def line_link(form: Mapping[str, str], line: str) -> str:
    """This page for the same days, one line only."""
    query = {name: form[name] for name in ("from", "to") if form[name]}
    return f"/demand?{urlencode({**query, 'line': line})}"


@router.get("/demand", **page(ACTION))
async def demand_page(request: Request) -> HTMLResponse:
    params = request.query_params
    form = {name: params.get(name, "").strip()[:_TYPED_MAX] for name in FIELDS}
    services = services_of(request)
    policy = services.policy.policy
    lines = {line.id: line.name for line in policy.lines}
    window, errors = read_window(params)
    line, line_errors = read_line(params, lines)
    errors |= line_errors
    shown: dict[str, Any] = {"form": form, "lines": lines, "line": line}
    if window is None or errors:
        return render(request, "demand.html", status_code=422, errors=errors, report=None,
                      **shown)  # fmt: skip
    report: dict[str, Any] = await run_in_threadpool(
        demand_report_as,
        services.engine,
        services.audit,
        services.permissions,
        policy,
        request_context(request),
        window,
    )
    figures = figures_for(report, line)
    rows = line_rows(report, lines)
    charts = charts_for(figures, report)
    return render(
        request,
        "demand.html",
        errors={},
        report=report,
        figures=headline(figures),
        charts=charts,
        has_topics=any(chart.id == "topic" for chart in charts),
        line_rows=rows,
        quiet_lines=quiet_lines(report),
        line_links={row.id: line_link(form, row.id) for row in rows if row.in_policy},
        csv_url=csv_link(report),
        **shown,
    )
