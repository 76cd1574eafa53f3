"""Who is acting, for what purpose, from where: passed explicitly to every service call."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Actor:
    """A person, a service account or a named system actor (``system:ingest``)."""

    name: str
    kind: str = "user"  # "user" | "service" | "system"
    role: str | None = None
    # The local operator who ran a CLI command ``--as`` this actor (recorded in the audit entry).
    operator: str | None = None


@dataclass(frozen=True, slots=True)
class RequestContext:
    actor: Actor
    origin: str  # "cli" | "api:<client address>" | "siprec" | "job"
    purpose: str | None = None
    case_ref: str | None = None
    request_id: str = field(default_factory=lambda: uuid.uuid4().hex)


def system_context(name: str, origin: str = "cli") -> RequestContext:
    """A context for a named system actor (capture, jobs, maintenance commands)."""
    return RequestContext(actor=Actor(name=f"system:{name}", kind="system"), origin=origin)
