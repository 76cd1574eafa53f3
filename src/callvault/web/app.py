"""The web application: the REST API under /api/v1 and the operations endpoints.

Each area's routes live in ``web.routes.<area>``; every route declares its action
(``web.security.declares``), and a test walks them all.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from callvault import __version__
from callvault.bootstrap import Services
from callvault.capture.siprec.server import RecorderThread
from callvault.errors import CallvaultError
from callvault.web.headers import SecurityHeaders
from callvault.web.metrics import IngestCounter
from callvault.web.routes import (
    audit,
    calls,
    compliance,
    disclosures,
    grants,
    holds,
    ingest,
    notice,
    oidc,
    operations,
    oversight,
    playback,
    recordings,
    session,
    speech,
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
    async def _callvault_error(_request: Request, exc: CallvaultError) -> JSONResponse:
        # RFC 9110: a 401 names how to authenticate (a bearer token; people use the session).
        headers = (
            {"WWW-Authenticate": 'Bearer realm="callvault"'} if exc.http_status == 401 else None
        )
        return JSONResponse(exc.as_dict(), status_code=exc.http_status, headers=headers)

    routers = (operations, ingest, grants, recordings, users, audit, session, oidc, oversight)
    for module in (*routers, playback, speech, disclosures, holds, calls):
        app.include_router(module.router)
    # The public notices and the compliance reports (docs/notice.md, docs/retention.md).
    for module in (notice, compliance):
        app.include_router(module.router)
    return app
