"""``/auth/oidc/login`` and ``/auth/oidc/callback``: single sign-on in the browser.

Both answer 404 when SSO is off (``oidc_issuer`` empty). The login route sends the browser to
the provider with the sealed sign-in state in a short-lived cookie; the callback checks the
provider's answer (``access.oidc.oidc_callback``), creates or updates the account
(``SignInService.sign_in_oidc``), opens a session and sends the browser back where it began.
Every failed callback is audited with the reason.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse

from callvault.access.oidc import (
    KEPT_COOKIE,
    KEPT_MAX_AGE_S,
    OidcClient,
    oidc_callback,
    oidc_client,
)
from callvault.access.sessions import ANONYMOUS
from callvault.context import RequestContext
from callvault.errors import BadInput, CallvaultError, NotFound
from callvault.web.routes.session import set_session_cookie
from callvault.web.security import declares, origin_of, services_of, signin_of

router = APIRouter(prefix="/auth/oidc", tags=["session"])

# Only the callback needs the kept cookie, so no other request carries it.
_KEPT_PATH = "/auth/oidc"
_MAX_HINT = 256


def client_of(request: Request) -> OidcClient:
    """The app's SSO client, built on first use; NotFound when SSO is off."""
    state = request.app.state
    if not hasattr(state, "oidc_client"):
        services = services_of(request)
        state.oidc_client = oidc_client(services.settings, services.policy.policy)
    client: OidcClient | None = state.oidc_client
    if client is None:
        raise NotFound("single sign-on is not configured here (oidc_issuer is empty)", "oidc")
    return client


@router.get("/login", **declares("session:open"))
def login(
    request: Request, return_to: str = "/", login_hint: str | None = None
) -> RedirectResponse:
    """Start a single sign-on: redirect to the provider. `return_to`: a path on this site to
    come back to; `login_hint`: the account to suggest to the provider."""
    client = client_of(request)
    if login_hint is not None and len(login_hint) > _MAX_HINT:
        raise BadInput(f"login_hint is longer than {_MAX_HINT} characters", "login_hint")
    start = client.begin(return_to, login_hint=login_hint or None)
    response = RedirectResponse(start.url, status_code=302)
    # SameSite=Lax, not Strict: the provider's top-level redirect back must carry it.
    response.set_cookie(
        KEPT_COOKIE,
        start.kept,
        max_age=KEPT_MAX_AGE_S,
        path=_KEPT_PATH,
        secure=signin_of(request).sessions.rules.cookie_secure,
        httponly=True,
        samesite="lax",
    )
    return response


@router.get("/callback", **declares("session:open"))
def callback(request: Request) -> RedirectResponse:
    """The provider's redirect back: sign the person in and return them to where they were."""
    client = client_of(request)
    signin = signin_of(request)
    ctx = RequestContext(actor=ANONYMOUS, origin=origin_of(request))
    query = dict(request.query_params)
    try:
        login = oidc_callback(client, query, request.cookies.get(KEPT_COOKIE))
    except CallvaultError as error:
        signin.record_failure(ctx, "oidc_refused", error)
    amr = login.audit.get("amr") or []
    second_factor = not client.config.identity.mfa_amr.isdisjoint(amr)
    new = signin.sign_in_oidc(ctx, login, second_factor)
    response = RedirectResponse(login.return_to, status_code=302)
    rules = signin.sessions.rules
    response.delete_cookie(
        KEPT_COOKIE, path=_KEPT_PATH, secure=rules.cookie_secure, httponly=True, samesite="lax"
    )
    set_session_cookie(response, rules, new)
    return response
