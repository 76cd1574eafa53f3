"""Every route declares its action; one dependency enforces it (deny by default).

Who is asking comes from ``current_actor``: a service account's bearer token today; the
sign-in module adds people's sessions.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

from fastapi import Depends, Request
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute

from callvault.access.actions import ACTIONS, PUBLIC
from callvault.bootstrap import Services
from callvault.context import Actor, RequestContext
from callvault.errors import Refused

ACTION_KEY = "x-callvault-action"


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


def current_actor(request: Request) -> Actor | None:
    """The signed-in actor, or None for an anonymous client."""
    return bearer_actor(request)


def declares(action: str) -> dict[str, Any]:
    """Route keyword arguments that declare ``action`` and enforce it before the handler."""
    if action not in ACTIONS:
        raise AssertionError(f"route declares unregistered action {action!r}")

    def enforce(request: Request) -> Actor | None:
        if PUBLIC in ACTIONS[action]:
            return None
        actor = current_actor(request)
        services_of(request).permissions.require(actor, action)
        request.state.actor = actor
        return actor

    dependency: Callable[..., Any] = enforce
    return {"openapi_extra": {ACTION_KEY: action}, "dependencies": [Depends(dependency)]}


def request_context(request: Request) -> RequestContext:
    """The context for a service call made by an authorised route."""
    actor: Actor = request.state.actor
    client = request.client.host if request.client else "unknown"
    return RequestContext(actor=actor, origin=f"api:{client}")


def api_routes(routes: Sequence[BaseRoute]) -> Iterator[APIRoute]:
    """Every API route under ``routes``, through included routers (FastAPI >= 0.120 keeps an
    included router as one wrapper route holding the original)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        inner = getattr(route, "original_router", None)
        if inner is not None:
            yield from api_routes(inner.routes)
