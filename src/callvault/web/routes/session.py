"""``/api/v1/session``: sign in with a password (and code), see who you are, sign out.

The session id travels only in the cookie (HttpOnly: page scripts never see it); the CSRF
token travels in the JSON, for the page's script to echo in ``X-CSRF-Token``.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response

from callvault.access.sessions import ANONYMOUS, LiveSession, NewSession, SessionRules
from callvault.context import RequestContext
from callvault.errors import BadInput
from callvault.web.security import declares, origin_of, signin_of

router = APIRouter(prefix="/api/v1", tags=["session"])

# Generous for a passphrase, small enough that nobody makes us hash megabytes.
_LIMITS = {"username": 64, "password": 1024, "totp": 16}
# The CSRF token is in these bodies: no cache may keep them.
_NO_STORE = {"Cache-Control": "no-store"}


@router.post("/session", **declares("session:open"))
async def sign_in(request: Request) -> JSONResponse:
    """Sign in: JSON `{username, password, totp}` (totp where enrolled). Sets the session
    cookie; answers `{user, role, csrf_token, expires_at}`."""
    fields = await _credentials(request)
    ctx = RequestContext(actor=ANONYMOUS, origin=origin_of(request))
    signin = signin_of(request)
    # argon2 takes tens of milliseconds of CPU: off the event loop.
    new = await run_in_threadpool(
        signin.sign_in, ctx, fields["username"], fields["password"], fields.get("totp")
    )
    response = JSONResponse(session_body(new), headers=_NO_STORE)
    set_session_cookie(response, signin.sessions.rules, new)
    return response


@router.get("/session", **declares("session:read"))
def who_am_i(request: Request) -> JSONResponse:
    """Who is signed in; for a cookie session also its CSRF token and when it ends."""
    actor = request.state.actor
    live: LiveSession | None = getattr(request.state, "session", None)
    body: dict[str, Any] = {"user": actor.name, "role": actor.role, "kind": actor.kind}
    if live is not None:
        body |= {"csrf_token": live.csrf_token, "expires_at": live.expires_at,
                 "second_factor": live.second_factor, "method": live.method}  # fmt: skip
    return JSONResponse(body, headers=_NO_STORE)


@router.delete("/session", **declares("session:close"))
def sign_out(request: Request) -> JSONResponse:
    """Sign out: the session ends on the server, so a copy of the cookie is useless too."""
    live: LiveSession | None = getattr(request.state, "session", None)
    if live is None:
        raise BadInput("there is no session to end: API tokens do not sign in", "session")
    signin = signin_of(request)
    signin.sessions.close(RequestContext(actor=live.actor, origin=origin_of(request)), live)
    response = JSONResponse({"signed_out": True}, headers=_NO_STORE)
    rules = signin.sessions.rules
    response.delete_cookie(
        rules.cookie_name, path="/", secure=rules.cookie_secure, httponly=True, samesite="strict"
    )
    return response


def session_body(new: NewSession) -> dict[str, Any]:
    return {"user": new.username, "role": new.role, "csrf_token": new.csrf_token,
            "expires_at": new.expires_at}  # fmt: skip


def set_session_cookie(response: Response, rules: SessionRules, new: NewSession) -> None:
    # No Max-Age: the browser forgets the cookie when it closes (shared council PCs); the
    # server ends the session at its idle and absolute limits whatever the browser keeps.
    # SameSite=Strict: no other site can make the browser send it, not even by a link.
    response.set_cookie(
        rules.cookie_name,
        new.session_id,
        path="/",
        secure=rules.cookie_secure,
        httponly=True,
        samesite="strict",
    )


async def _credentials(request: Request) -> dict[str, str]:
    # JSON only: a cross-site HTML form cannot send application/json without CORS (login CSRF).
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        raise BadInput("send the sign-in as JSON (Content-Type: application/json)", "body")
    try:
        body = orjson.loads(await request.body())
    except orjson.JSONDecodeError:
        raise BadInput("the sign-in body is not valid JSON", "body") from None
    if not isinstance(body, dict):
        raise BadInput('send {"username": ..., "password": ..., "totp": ...}', "body")
    fields: dict[str, str] = {}
    for name, limit in _LIMITS.items():
        value = body.get(name)
        if value is None and name == "totp":
            continue
        if not isinstance(value, str) or not value or len(value) > limit:
            # The value is never echoed: it may be a password.
            raise BadInput(f"{name} must be text of 1 to {limit} characters", name)
        fields[name] = value
    return fields
