"""Accounts made by single sign-on: created on first sign-in, role refreshed on each.

The account is bound to the provider's (issuer, subject), the identity the provider vouches
for; the username claim alone is not proof, so a local account, or one bound to another
subject, that has the same username is refused rather than taken over.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import Connection, insert, select, update

from callvault.access.store import users
from callvault.audit.service import AuditLog
from callvault.context import RequestContext
from callvault.errors import Refused

if TYPE_CHECKING:
    from callvault.access.oidc import OidcLogin


def provision(
    conn: Connection, audit: AuditLog, ctx: RequestContext, login: OidcLogin, now: str
) -> tuple[str, Refused] | None:
    """Create or update ``login``'s account inside ``conn`` (audited); (reason code,
    refusal) when it may not be used."""
    issuer, subject = str(login.audit.get("issuer")), str(login.audit.get("subject"))
    row = conn.execute(
        select(users).where(users.c.username == login.username).with_for_update()
    ).first()
    bound = conn.execute(
        select(users.c.username).where(
            users.c.oidc_issuer == issuer, users.c.oidc_subject == subject
        )
    ).scalar_one_or_none()
    if row is None and bound is not None:
        return "identity_bound_elsewhere", Refused(
            f"your sign-in is already linked to callvault user {bound!r}, not "
            f"{login.username!r} (was your sign-in name changed?); ask an administrator",
            "user",
        )
    if row is None:
        _add_person(conn, audit, ctx, login, now)
        return None
    if (row.oidc_issuer, row.oidc_subject) != (issuer, subject):
        return "username_taken", Refused(
            f"a callvault account named {login.username!r} already exists and is not linked "
            "to your single sign-on identity; ask an administrator to resolve it",
            "user",
        )
    if row.role != login.role and not row.disabled:
        # The provider's groups are the truth for SSO accounts: a move between groups there
        # changes the role here at the next sign-in.
        conn.execute(update(users).where(users.c.username == row.username).values(role=login.role))
        audit.append(
            conn,
            ctx,
            "user.role_changed",
            object_type="user",
            object_id=row.username,
            details={"from": row.role, "to": login.role, "group": login.audit.get("group"),
                     "source": "oidc"},
        )  # fmt: skip
    return None


def _add_person(
    conn: Connection, audit: AuditLog, ctx: RequestContext, login: OidcLogin, now: str
) -> None:
    issuer, subject = str(login.audit.get("issuer")), str(login.audit.get("subject"))
    conn.execute(
        insert(users).values(
            username=login.username,
            role=login.role,
            kind="person",
            disabled=False,
            created_at=now,
            auth_source="oidc",
            oidc_issuer=issuer,
            oidc_subject=subject,
        )
    )
    audit.append(
        conn,
        ctx,
        "user.added",
        object_type="user",
        object_id=login.username,
        details={"role": login.role, "kind": "person", "source": "oidc", "issuer": issuer,
                 "subject": subject, "group": login.audit.get("group")},
    )  # fmt: skip
