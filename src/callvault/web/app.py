"""The web application: the REST API under /api/v1, the manager's pages and the operations
endpoints.

Each area's routes live in ``web.routes.<area>``; every route declares its action
(``web.security.declares``), and a test walks them all.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exception_handlers import request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles

from callvault import __version__
from callvault.bootstrap import Services
from callvault.capture.siprec.server import RecorderThread
from callvault.errors import BadInput, CallvaultError
from callvault.web.headers import SecurityHeaders
from callvault.web.metrics import IngestCounter
from callvault.web.pages import ROUTERS as PAGE_ROUTERS
from callvault.web.pages.render import error_page, is_page
from callvault.web.routes import (
    audit,
    calls,
    compliance,
    demand,
    disclosures,
    evidence,
    grants,
    holds,
    incidents,
    ingest,
    notice,
    oidc,
    operations,
    oversight,
    playback,
    quality,
    recordings,
    rights,
    session,
    speech,
    training,
    users,
)


def create_app(services: Services, recorder: RecorderThread | None = None) -> FastAPI:
    """The app; ``recorder`` is the SIPREC recorder when this server runs one (live calls)."""
    # No Swagger/ReDoc pages: they load scripts from a CDN, which council networks block.
    app = FastAPI(title="callvault", version=__version__, docs_url=None, redoc_url=None)
    app.state.services = services
    app.state.recorder = recorder
    app.state.ingests = IngestCounter()
    # Outermost, so every response gets them, errors and refusals included.
    app.add_middleware(SecurityHeaders)

    @app.exception_handler(CallvaultError)
    async def _callvault_error(request: Request, exc: CallvaultError) -> Response:
        if is_page(request):
            return error_page(request, exc)
        # RFC 9110: a 401 names how to authenticate (a bearer token; people use the session).
        headers = (
            {"WWW-Authenticate": 'Bearer realm="callvault"'} if exc.http_status == 401 else None
        )
        return JSONResponse(exc.as_dict(), status_code=exc.http_status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        if is_page(request):
            first = exc.errors()[0] if exc.errors() else {}
            field = str(first.get("loc", ("", "input"))[-1])
            message = f"{field.replace('_', ' ')}: {first.get('msg', 'not valid')}"
            return error_page(request, BadInput(message, field))
        return await request_validation_exception_handler(request, exc)

    routers = (operations, ingest, grants, recordings, users, audit, session, oidc, oversight)
    for module in (*routers, playback, speech, disclosures, holds, calls):
        app.include_router(module.router)
    # Evidence bundles (docs/evidence.md): an export entered in the disclosure register.
    app.include_router(evidence.router)
    # People's rights: the register of subject access, erasure and objection requests.
    app.include_router(rights.router)
    # Training clips: proposal, the staff member's consent, review, the library.
    app.include_router(training.router)
    # The public notices and the compliance reports (docs/notice.md, docs/retention.md).
    for module in (notice, compliance):
        app.include_router(module.router)
    # Demand analysis: figures from demand facts, never audio or numbers (docs/demand.md).
    app.include_router(demand.router)
    # Quality monitoring: the monthly sample, evaluations and calibration (docs/quality.md).
    app.include_router(quality.router)
    # Customer conduct incidents: flagged calls, their holds and evidence (docs/conduct.md).
    app.include_router(incidents.router)
    # The manager's pages (web/pages) and their stylesheet and scripts: served from the
    # package itself, public by design (no data in them), nothing from a CDN.
    for router in PAGE_ROUTERS:
        app.include_router(router)
    app.mount("/static", StaticFiles(packages=[("callvault.web", "static")]), name="static")
    return app
