"""From a validated ID token's claims to a callvault username and role.

The identity provider decides who someone is; callvault's settings decide what they may be
here: one configured claim gives the username, the groups claim (Entra ID sends group object
ids) gives the role through ``oidc_group_roles``, and roles that can hear audio need evidence of
multi-factor authentication in ``amr`` (RFC 8176). Every refusal says what to change.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from callvault.errors import Refused

# The same rule as local accounts (AccessService): an SSO user may be added locally too.
USERNAME_RULE = re.compile(r"[a-z][a-z0-9._-]{1,63}")


@dataclass(frozen=True, slots=True)
class IdentityRules:
    """How claims become a username and a role (the ``oidc_*`` settings plus the policy)."""

    group_roles: Mapping[str, str]
    # Policy roles with ``can_hear_audio: true``: these need multi-factor evidence.
    audio_roles: frozenset[str]
    username_claim: str = "preferred_username"
    # Set: the claim must be ``name@<domain>`` and the username is ``name``.
    username_domain: str = ""
    groups_claim: str = "groups"
    mfa_amr: frozenset[str] = field(default_factory=lambda: frozenset({"mfa"}))


@dataclass(frozen=True, slots=True)
class Identity:
    username: str
    role: str
    group: str  # the group that gave the role (kept in the audit entry)


def map_identity(claims: Mapping[str, Any], rules: IdentityRules) -> Identity:
    """The callvault user these claims describe, or Refused with the reason and the fix."""
    username = username_from(claims, rules)
    group, role = role_from(claims, rules)
    if role in rules.audio_roles:
        require_mfa(claims, role, rules)
    return Identity(username=username, role=role, group=group)


def username_from(claims: Mapping[str, Any], rules: IdentityRules) -> str:
    claim = rules.username_claim
    value = claims.get(claim)
    if not isinstance(value, str) or not value:
        raise Refused(
            f"the sign-in provider sent no {claim!r} claim; set oidc_username_claim to a claim "
            "it sends (Entra ID sends preferred_username with the profile scope)",
            field=claim,
        )
    name = value.strip().lower()
    if rules.username_domain:
        name = _strip_domain(name, rules.username_domain.lower(), claim)
    if not USERNAME_RULE.fullmatch(name):
        hint = "" if rules.username_domain or "@" not in name else "; set oidc_username_domain"
        raise Refused(
            f"the {claim!r} claim {value!r} is not a valid callvault username "
            f"(a letter, then 1-63 of a-z 0-9 . _ -){hint}",
            field=claim,
        )
    return name


def _strip_domain(name: str, domain: str, claim: str) -> str:
    # Only the configured domain: alice@council.example and alice@elsewhere.example are two
    # different people and must never both become "alice".
    local, at, rest = name.rpartition("@")
    if not at or rest != domain:
        raise Refused(
            f"the {claim!r} claim {name!r} is not an address at {domain} "
            "(oidc_username_domain); sign in with your council account",
            field=claim,
        )
    return local


def role_from(claims: Mapping[str, Any], rules: IdentityRules) -> tuple[str, str]:
    """(group, role) from the one mapped role among the user's groups."""
    groups = _groups(claims, rules.groups_claim)
    matched = {group: rules.group_roles[group] for group in groups if group in rules.group_roles}
    roles = sorted(set(matched.values()))
    if not roles:
        raise Refused(
            f"none of your {len(groups)} groups is mapped to a callvault role; ask an "
            "administrator to add you to one of the groups in oidc_group_roles",
            field=rules.groups_claim,
        )
    if len(roles) > 1:
        # Picking the "highest" would need an order of roles the policy does not define, and
        # a silent pick could grant audio to someone meant to be an advisor: refuse instead.
        pairs = ", ".join(f"{group} -> {role}" for group, role in sorted(matched.items()))
        raise Refused(
            f"your groups map to more than one callvault role ({pairs}); a person holds one "
            "role: ask an administrator to remove you from all but one of these groups",
            field=rules.groups_claim,
        )
    group = min(g for g, r in matched.items() if r == roles[0])
    return group, roles[0]


def _groups(claims: Mapping[str, Any], claim: str) -> list[str]:
    value = claims.get(claim)
    names = claims.get("_claim_names")
    if value is None and isinstance(names, Mapping) and claim in names:
        # Entra ID's "groups overage": over 200 groups, the token points at Graph instead.
        raise Refused(
            f"you are in too many groups for the {claim!r} claim to fit in the token; configure "
            "the app registration to send only groups assigned to the application",
            field=claim,
        )
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise Refused(
            f"the sign-in provider sent no {claim!r} claim (a list of group ids); configure it "
            "to send one (Entra ID: app registration, Token configuration, Add groups claim) "
            "or set oidc_groups_claim",
            field=claim,
        )
    return list(value)


def require_mfa(claims: Mapping[str, Any], role: str, rules: IdentityRules) -> None:
    amr = claims.get("amr")
    methods = [m for m in amr if isinstance(m, str)] if isinstance(amr, list) else []
    if rules.mfa_amr.intersection(methods):
        return
    shown = ", ".join(methods) or "none"
    raise Refused(
        f"role {role} can hear recordings, so it needs multi-factor sign-in, but the sign-in "
        f"provider reported the methods [{shown}] (amr) and none of "
        f"[{', '.join(sorted(rules.mfa_amr))}] (oidc_mfa_amr); fix: configure Conditional "
        "Access (or your provider's equivalent) to require MFA for callvault, then sign in again",
        field="amr",
    )
