"""Searching recordings: only what the asker may see, filtered in SQL, every search audited."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool

from callvault.access.searching import SearchTerms, search_as
from callvault.catalog.search import MAX_PAGE
from callvault.web.security import declares, request_context, services_of

router = APIRouter(prefix="/api/v1/recordings", tags=["recordings"])


@router.get("", **declares("recordings:search"))
async def search_recordings(
    request: Request,
    line: str | None = Query(default=None, max_length=64),
    caller: str | None = Query(default=None, max_length=32, description="Any spelling."),
    agent: str | None = Query(default=None, max_length=64),
    from_: str | None = Query(default=None, alias="from", max_length=40),
    to: str | None = Query(default=None, max_length=40),
    min_duration_s: float | None = Query(default=None, ge=0),
    max_duration_s: float | None = Query(default=None, ge=0),
    text: str | None = Query(default=None, max_length=200, description="Words said."),
    limit: int = Query(default=50, ge=1, le=MAX_PAGE),
) -> dict[str, Any]:
    """Recordings you may see, newest first (best match first when searching words said).
    Caller numbers are masked for roles that have no need for them."""
    terms = SearchTerms(
        line=line,
        caller=caller,
        agent=agent,
        started_from=from_,
        started_to=to,
        min_duration_s=min_duration_s,
        max_duration_s=max_duration_s,
        text=text,
        limit=limit,
    )
    services = services_of(request)
    results = await run_in_threadpool(
        search_as,
        services.engine,
        services.audit_batch,
        services.permissions,
        request_context(request),
        terms.query(),
    )
    return {"results": results}
