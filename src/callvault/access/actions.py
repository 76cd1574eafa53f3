"""Every action callvault knows, and who may do it.

Each route and command declares one of these; ``allowed`` is the one decision function, and
asking about an action that was never registered is a programming error, not a denial.
The full role and purpose model comes from the policy file (issue 4); until then the
grants below are the narrow ones the core needs.
"""

from __future__ import annotations

from callvault.context import Actor
from callvault.errors import Refused

PUBLIC = "public"

# The shipped roles whose people may hear audio (policy roles[].can_hear_audio); advisors,
# auditors and administrators are never among them (separation of duties).
_LISTENERS = frozenset(
    {
        "role:team_leader",
        "role:authorised_manager",
        "role:complaints_officer",
        "role:safety_officer",
        "role:dpo",
    }
)

# action -> actor kinds/roles that may do it ("operator" = the local operator at the CLI).
ACTIONS: dict[str, frozenset[str]] = {
    "health:read": frozenset({PUBLIC}),
    # Counts only, for the monitoring system on the council network.
    "metrics:read": frozenset({PUBLIC}),
    "recordings:ingest": frozenset({"operator", "role:ingest", "system"}),
    "policy:read": frozenset({"operator", "role:administrator", "role:dpo"}),
    "audit:read": frozenset({"operator", "role:auditor", "role:dpo"}),
    "audit:verify": frozenset({"operator", "role:auditor", "role:dpo"}),
    "keys:rotate": frozenset({"operator"}),
    "db:grant": frozenset({"operator"}),
    # Jobs act as named system actors with these narrow grants.
    "recordings:verify": frozenset({"system"}),
    "store:check": frozenset({"operator"}),
    "users:manage": frozenset({"operator", "role:administrator"}),
    # Listening: people in roles that may hear audio. The service then checks the policy's
    # purposes (which roles may use which purpose), the recording and the grant.
    "recordings:request": _LISTENERS,
    "recordings:approve": _LISTENERS,
    "recordings:revoke": _LISTENERS,
    "recordings:play": _LISTENERS,
    # Metadata search: the same people; access/searching.py narrows what each role sees.
    "recordings:search": _LISTENERS,
}


def allowed(actor: Actor | None, action: str) -> bool:
    """May ``actor`` (None: not signed in) do ``action``?"""
    try:
        who = ACTIONS[action]
    except KeyError:
        raise AssertionError(f"action {action!r} is not registered in access.actions") from None
    if PUBLIC in who:
        return True
    if actor is None:
        return False
    if actor.kind == "system":
        return "system" in who
    if actor.kind == "operator":
        return "operator" in who
    return f"role:{actor.role}" in who


def require(actor: Actor | None, action: str) -> None:
    if not allowed(actor, action):
        name = actor.name if actor else "an anonymous client"
        raise Refused(f"{name} may not do {action}", "actor")
