"""Which grants a person sees, filtered in SQL (ARCHITECTURE rule 6).

- People who may hear audio see the grants they asked for or decided, and the pending ones
  they could decide: another person's request for a purpose their role may use.
- Advisors see the requests that concern their own calls (their username is the PBX's agent
  id), so a listen to their work is never hidden from them; they see who asked, for which
  purpose and when, not the case reference or the justification, which may name a caller.
- Everyone else sees none.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Engine, and_, false, or_, select

from callvault.access.actions import Permissions
from callvault.access.grants import Grant, load_grants
from callvault.access.store import grant_recordings, grants
from callvault.catalog.store import recordings
from callvault.context import Actor
from callvault.errors import BadInput
from callvault.policy.model import Policy

STATUSES = ("pending", "approved", "denied", "revoked")
ADVISOR = "advisor"
# What an advisor is shown of a grant on their call.
_ADVISOR_FIELDS = ("id", "requester", "purpose", "status", "requested_at", "expires_at")


def visible_grants(
    engine: Engine,
    policy: Policy,
    permissions: Permissions,
    actor: Actor,
    status: str | None = None,
) -> list[dict[str, Any]]:
    """The grants ``actor`` may see (oldest first), as dicts shaped for their role."""
    if status is not None and status not in STATUSES:
        raise BadInput(f"status must be one of: {', '.join(STATUSES)}", "status")
    where = _visible(policy, permissions, actor)
    if status is not None:
        where = and_(where, grants.c.status == status)
    with engine.connect() as conn:
        found = load_grants(conn, where)
    if actor.role == ADVISOR:
        return [_for_advisor(grant, engine, actor.name) for grant in found]
    return [grant.as_dict() for grant in found]


def _visible(policy: Policy, permissions: Permissions, actor: Actor) -> ColumnElement[bool]:
    if actor.kind == "user" and actor.role in permissions.listener_roles:
        decidable = [p.id for p in policy.purposes if actor.role in p.roles]
        return or_(
            grants.c.requester == actor.name,
            grants.c.approver == actor.name,
            and_(grants.c.status == "pending", grants.c.purpose.in_(decidable)),
        )
    if actor.kind == "user" and actor.role == ADVISOR:
        return grants.c.id.in_(_grants_on_calls_of(actor.name))
    return false()


def _grants_on_calls_of(agent: str) -> Any:
    return (
        select(grant_recordings.c.grant_id)
        .join(recordings, recordings.c.id == grant_recordings.c.recording_id)
        .where(recordings.c.agent == agent)
    )


def _for_advisor(grant: Grant, engine: Engine, agent: str) -> dict[str, Any]:
    """Only the advisor's own recordings in the grant, and no case reference or reason."""
    with engine.connect() as conn:
        own = set(
            conn.scalars(
                select(recordings.c.id).where(
                    recordings.c.id.in_(grant.recording_ids), recordings.c.agent == agent
                )
            )
        )
    shown = {name: getattr(grant, name) for name in _ADVISOR_FIELDS}
    return {**shown, "recording_ids": [rid for rid in grant.recording_ids if rid in own]}
