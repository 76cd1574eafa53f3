"""Liveness, readiness and metrics."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse

from callvault import __version__
from callvault.web.metrics import render as render_metrics
from callvault.web.readiness import readiness_problems
from callvault.web.security import declares, services_of

router = APIRouter(tags=["operations"])


@router.get("/health", **declares("health:read"))
def health() -> dict[str, object]:
    """Liveness: the process answers. Cheap, touches nothing."""
    return {"ok": True, "version": __version__}


@router.get("/ready", **declares("health:read"))
def ready(request: Request) -> JSONResponse:
    """Readiness: database reachable and migrated, keys readable, blob store listable."""
    problems = readiness_problems(services_of(request))
    return JSONResponse(
        {"ready": not problems, "problems": problems}, status_code=503 if problems else 200
    )


@router.get("/metrics", response_class=PlainTextResponse, **declares("metrics:read"))
def metrics(request: Request) -> str:
    """Prometheus metrics: counts only, no personal data."""
    return render_metrics(services_of(request), request.app.state.ingests)
