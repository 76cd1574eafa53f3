"""The web application: REST API under /api/v1 and (for now) a status page."""

from __future__ import annotations

import base64
import binascii

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse

from callvault import __version__
from callvault.bootstrap import Services
from callvault.capture.ingest import AudioInput
from callvault.context import Actor, RequestContext
from callvault.errors import BadInput, CallvaultError
from callvault.web.metrics import IngestCounter
from callvault.web.metrics import render as render_metrics
from callvault.web.readiness import readiness_problems
from callvault.web.security import declares

META_HEADER = "callvault-meta"


def create_app(services: Services) -> FastAPI:
    # No Swagger/ReDoc pages: they load scripts from a CDN, which council networks block.
    app = FastAPI(title="callvault", version=__version__, docs_url=None, redoc_url=None)
    app.state.services = services

    @app.exception_handler(CallvaultError)
    async def _callvault_error(_request: Request, exc: CallvaultError) -> JSONResponse:
        return JSONResponse(exc.as_dict(), status_code=exc.http_status)

    ingests = IngestCounter()

    @app.get("/health", **declares("health:read"))
    def health() -> dict[str, object]:
        """Liveness: the process answers. Cheap, touches nothing."""
        return {"ok": True, "version": __version__}

    @app.get("/ready", **declares("health:read"))
    def ready() -> JSONResponse:
        """Readiness: database reachable and migrated, keys readable, blob store listable."""
        problems = readiness_problems(services)
        return JSONResponse({"ready": not problems, "problems": problems},
                            status_code=503 if problems else 200)  # fmt: skip

    @app.get("/metrics", response_class=PlainTextResponse, **declares("metrics:read"))
    def metrics() -> str:
        """Prometheus metrics: counts only, no personal data."""
        return render_metrics(services, ingests)

    @app.get("/", response_class=HTMLResponse, **declares("health:read"))
    def home() -> str:
        return _STATUS_PAGE.format(version=__version__)

    @app.post("/api/v1/ingest", **declares("recordings:ingest"))
    async def ingest(request: Request) -> JSONResponse:
        """Ingest a call: the body is the audio; the `Callvault-Meta` header is the metadata
        JSON, base64-encoded. Answers 201 when recorded, 200 when not covered."""
        meta = _meta_from_header(request)
        audio = await _read_body(request, services.settings.max_ingest_bytes)
        actor: Actor = request.state.actor
        client = request.client.host if request.client else "unknown"
        ctx = RequestContext(actor=actor, origin=f"api:{client}")
        result = await run_in_threadpool(services.ingest.ingest, ctx, AudioInput(data=audio), meta)
        ingests.add(result.status)
        status = 201 if result.status == "recorded" else 200
        return JSONResponse(result.as_dict(), status_code=status)

    return app


def _meta_from_header(request: Request) -> bytes:
    raw = request.headers.get(META_HEADER)
    if not raw:
        raise BadInput(
            "send the call's metadata JSON, base64-encoded, in the Callvault-Meta header", "meta"
        )
    try:
        # Accept standard and URL-safe alphabets, with or without padding.
        text = raw.strip().replace("-", "+").replace("_", "/")
        return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise BadInput("the Callvault-Meta header is not base64", "meta") from exc


async def _read_body(request: Request, limit: int) -> bytes:
    """The upload, held in memory only (never spooled to disk), refused past ``limit``."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise BadInput(f"the audio is over the limit of {limit} bytes", "audio")
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > limit:
            raise BadInput(f"the audio is over the limit of {limit} bytes", "audio")
    return bytes(body)


_STATUS_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>callvault</title></head>
<body><main><h1>callvault {version}</h1>
<p>The recorder is running. The manager's interface arrives with a later release;
the API is under <code>/api/v1</code>, described at
<a href="/openapi.json">/openapi.json</a>.</p>
</main></body></html>
"""
