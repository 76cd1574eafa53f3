"""Every route declares its action; one dependency enforces it (deny by default)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import Depends, Request

from callvault.access.actions import ACTIONS, PUBLIC, require
from callvault.context import Actor
from callvault.errors import Refused

ACTION_KEY = "x-callvault-action"


def bearer_actor(request: Request) -> Actor | None:
    header = request.headers.get("authorization", "")
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Refused("send the API token as `Authorization: Bearer <token>`", "authorization")
    services = request.app.state.services
    return services.access.actor_for_token(token.strip())  # type: ignore[no-any-return]


def declares(action: str) -> dict[str, Any]:
    """Route keyword arguments that declare ``action`` and enforce it before the handler."""
    if action not in ACTIONS:
        raise AssertionError(f"route declares unregistered action {action!r}")

    def enforce(request: Request) -> Actor | None:
        if PUBLIC in ACTIONS[action]:
            return None
        actor = bearer_actor(request)
        require(actor, action)
        request.state.actor = actor
        return actor

    dependency: Callable[..., Any] = enforce
    return {"openapi_extra": {ACTION_KEY: action}, "dependencies": [Depends(dependency)]}
