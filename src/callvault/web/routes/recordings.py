"""Searching recordings: only what the asker may see, filtered in SQL, every search audited."""

from __future__ import annotations

from functools import partial
from typing import Any

import anyio
from fastapi import APIRouter, Query, Request

from callvault.access.searching import SearchTerms, search_as
from callvault.catalog.search import MAX_PAGE
from callvault.web.security import declares, request_context, services_of

router = APIRouter(prefix="/api/v1/recordings", tags=["recordings"])

# Searches run at once; the rest wait their turn in the event loop, first come first served.
# Run in anyio's 40 threads, a burst shares one interpreter lock 40 ways and every search ends
# late (and throughput falls by two thirds); a few at a time end in turn
# (docs/performance.md, "Search under load").
SEARCHES_AT_ONCE = 4


def search_turns(request: Request) -> anyio.CapacityLimiter:
    """The app's search limiter, made on first use (it must be made inside the event loop)."""
    state = request.app.state
    limiter: anyio.CapacityLimiter | None = getattr(state, "search_turns", None)
    if limiter is None:
        limiter = state.search_turns = anyio.CapacityLimiter(SEARCHES_AT_ONCE)
    return limiter


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
    search = partial(
        search_as,
        services.engine,
        services.audit_batch,
        services.permissions,
        request_context(request),
        terms.query(),
    )
    results = await anyio.to_thread.run_sync(search, limiter=search_turns(request))
    return {"results": results}
