"""Every route declares its action; one dependency enforces it (deny by default).

Who is asking comes from ``current_actor``: a service account's bearer token, or a person's
session cookie (``access.sessions``). A cookie is sent by the browser on its own, so an unsafe
request it authenticates must also carry the session's CSRF token; a bearer token is never
sent on its own, so it needs none.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

from fastapi import Depends, Request
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute

from callvault.access.actions import ACTIONS, PUBLIC
from callvault.access.refusals import record_refusal
from callvault.access.sessions import ANONYMOUS, CSRF_HEADER
from callvault.access.signin import SignInService
from callvault.bootstrap import Services
from callvault.context import Actor, RequestContext
from callvault.errors import NotSignedIn, Refused

ACTION_KEY = "x-callvault-action"
# Methods that must not change anything, so a cross-site request gains nothing by them.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def services_of(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def bearer_actor(request: Request) -> Actor | None:
    header = request.headers.get("authorization", "")
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Refused("send the API token as `Authorization: Bearer <token>`", "authorization")
    return services_of(request).access.actor_for_token(token.strip())


def signin_of(request: Request) -> SignInService:
    """The app's sign-in service, built on first use (tests set ``app.state.signin`` to one
    with their own clock)."""
    signin: SignInService | None = getattr(request.app.state, "signin", None)
    if signin is None:
        signin = SignInService.for_services(services_of(request))
        request.app.state.signin = signin
    return signin


def session_actor(request: Request) -> Actor | None:
    """The person whose session cookie came with the request; CSRF checked when unsafe."""
    sessions = signin_of(request).sessions
    cookie = request.cookies.get(sessions.rules.cookie_name)
    if cookie is None:
        return None
    live = sessions.resolve(RequestContext(actor=ANONYMOUS, origin=origin_of(request)), cookie)
    # Kept before the CSRF check: an error page for a refused post then knows who asked
    # without checking (and auditing) the token a second time.
    request.state.session = live
    if request.method not in SAFE_METHODS:
        ctx = RequestContext(actor=live.actor, origin=origin_of(request))
        # A script sends the header; a page's form posts the field (``web.pages.render``).
        sent = request.headers.get(CSRF_HEADER) or getattr(request.state, "form_csrf", None)
        sessions.check_csrf(ctx, live, sent, request.method, request.url.path)
    return live.actor


def current_actor(request: Request) -> Actor | None:
    """The signed-in actor, or None for an anonymous client. A bearer token wins over a
    cookie: a script that names its token means that account."""
    return bearer_actor(request) or session_actor(request)


def declares(action: str) -> dict[str, Any]:
    """Route keyword arguments that declare ``action`` and enforce it before the handler."""
    if action not in ACTIONS:
        raise AssertionError(f"route declares unregistered action {action!r}")

    def enforce(request: Request) -> Actor | None:
        if PUBLIC in ACTIONS[action]:
            return None
        actor = current_actor(request)
        services = services_of(request)
        if actor is not None and not services.permissions.allowed(actor, action):
            audit_refusal(services, RequestContext(actor, origin_of(request)), action, request)
        if actor is None and not services.permissions.allowed(None, action):
            # 401, not 403: the answer may change once the client signs in.
            raise NotSignedIn(f"sign in to do {action}", "session")
        services.permissions.require(actor, action)
        request.state.actor = actor
        return actor

    dependency: Callable[..., Any] = enforce
    return {"openapi_extra": {ACTION_KEY: action}, "dependencies": [Depends(dependency)]}


def audit_refusal(services: Services, ctx: RequestContext, action: str, request: Request) -> None:
    """A known actor refused an action: audited (committed) before the 403 goes out.
    Anonymous refusals are not: a scanner would fill the trail with nothing to review."""
    record_refusal(
        services.engine, services.audit, ctx,
        Refused(f"{ctx.actor.name} may not do {action}", "actor"),
        object_type="action", object_id=action,
        method=request.method, path=request.url.path[:200],
    )  # fmt: skip


def request_context(request: Request) -> RequestContext:
    """The context for a service call made by an authorised route."""
    actor: Actor = request.state.actor
    return RequestContext(actor=actor, origin=origin_of(request))


def origin_of(request: Request) -> str:
    client = request.client.host if request.client else "unknown"
    return f"api:{client}"


def api_routes(routes: Sequence[BaseRoute]) -> Iterator[APIRoute]:
    """Every API route under ``routes``, through included routers (FastAPI >= 0.120 keeps an
    included router as one wrapper route holding the original)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        inner = getattr(route, "original_router", None)
        if inner is not None:
            yield from api_routes(inner.routes)
