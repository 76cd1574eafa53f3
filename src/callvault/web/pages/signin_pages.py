"""``/signin`` and ``/signout``: the sign-in form (password and one-time code; the single
sign-on button where configured) and signing out.

Nobody is signed in yet, so the form cannot carry a session's CSRF token. It carries a
sign-in token instead, also set as a SameSite=Strict cookie: another site's form can post
the field but never makes the browser send the cookie, so it cannot sign a victim in to
the attacker's account (login CSRF).
"""

from __future__ import annotations

import hmac
import secrets

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response

from callvault.access.sessions import ANONYMOUS, LiveSession
from callvault.context import RequestContext
from callvault.errors import BadInput, CallvaultError
from callvault.web.pages.render import CSRF_FIELD, form_text, local_path, page, redirect, render
from callvault.web.routes.session import set_session_cookie
from callvault.web.security import origin_of, services_of, signin_of

router = APIRouter()

SIGNIN_COOKIE = "callvault_signin"
_SIGNIN_PATH = "/signin"
_SIGNIN_TOKEN_S = 3600


def _form(request: Request, next_path: str, username: str = "",
          error: CallvaultError | None = None) -> HTMLResponse:  # fmt: skip
    token = secrets.token_urlsafe(32)
    response = render(
        request,
        "signin.html",
        status_code=error.http_status if error else 200,
        signin_token=token,
        next_path=next_path,
        username=username,
        error=error,
        sso=bool(services_of(request).settings.oidc_issuer),
    )
    response.set_cookie(
        SIGNIN_COOKIE, token, max_age=_SIGNIN_TOKEN_S, path=_SIGNIN_PATH, httponly=True,
        samesite="strict", secure=signin_of(request).sessions.rules.cookie_secure,
    )  # fmt: skip
    return response


@router.get("/signin", **page("session:open"))
def signin_form(
    request: Request, next_path: str | None = Query(default=None, alias="next", max_length=2000)
) -> HTMLResponse:
    return _form(request, local_path(next_path))


@router.post("/signin", **page("session:open"))
async def signin_submit(request: Request) -> Response:
    form = await request.form()
    wanted = form.get("next")
    next_path = local_path(wanted if isinstance(wanted, str) else None)
    username = ""
    try:
        sent = form.get(CSRF_FIELD)
        kept = request.cookies.get(SIGNIN_COOKIE)
        if not (isinstance(sent, str) and kept and hmac.compare_digest(sent, kept)):
            raise BadInput("the sign-in form has expired; sign in again", CSRF_FIELD)
        username = form_text(form, "username", 64)
        password = form_text(form, "password", 1024)
        code = form_text(form, "code", 16, required=False) or None
        ctx = RequestContext(actor=ANONYMOUS, origin=origin_of(request))
        signin = signin_of(request)
        # argon2 takes tens of milliseconds of CPU: off the event loop.
        new = await run_in_threadpool(signin.sign_in, ctx, username, password, code)
    except CallvaultError as error:
        return _form(request, next_path, username, error)
    response = redirect(request, next_path)
    set_session_cookie(response, signin.sessions.rules, new)
    response.delete_cookie(SIGNIN_COOKIE, path=_SIGNIN_PATH, httponly=True, samesite="strict")
    return response


@router.post("/signout", **page("session:close"))
def signout(request: Request) -> Response:
    live: LiveSession | None = getattr(request.state, "session", None)
    signin = signin_of(request)
    if live is not None:
        signin.sessions.close(RequestContext(actor=live.actor, origin=origin_of(request)), live)
    response = redirect(request, "/signin", "You are signed out.")
    rules = signin.sessions.rules
    response.delete_cookie(
        rules.cookie_name, path="/", secure=rules.cookie_secure, httponly=True, samesite="strict"
    )
    return response
