"""The one entry point for the notices and the record of processing (CLI and web call these).

A notice is a pure function of the loaded policy: nothing from the database goes in, so what
is published can only say what the policy says. Reading a notice is public and not audited
(a crawler would fill the trail); reading the record of processing needs ``ropa:read`` and a
refusal is audited like any other.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine

from callvault.access.actions import Permissions
from callvault.access.bulk_access import refuse
from callvault.audit.service import AuditLog
from callvault.context import RequestContext
from callvault.notice.document import Document
from callvault.notice.public import public_notice
from callvault.notice.render import markdown, render
from callvault.notice.ropa import record_of_processing, ropa_csv, ropa_document
from callvault.notice.staff import staff_notice
from callvault.policy.model import Policy

NOTICE = "notice:read"
ROPA = "ropa:read"
AUDIENCES = ("public", "staff")


@dataclass(frozen=True, slots=True)
class Published:
    """A notice rendered for publication, with the versions and hash it carries."""

    document: Document
    fmt: str
    text: str

    def as_dict(self) -> dict[str, Any]:
        """For ``--json``: the rendered text beside the same content as data."""
        return {
            "audience": self.document.kind,
            "format": self.fmt,
            "notice_version": dict(self.document.versions)["Notice version"],
            "policy_version": dict(self.document.versions)["Policy version"],
            "sha256": self.document.sha256,
            "text": self.text,
            "content": self.document.as_data(),
        }


def notice(policy: Policy, audience: str = "public") -> Document:
    """The notice for ``audience`` (``public`` or ``staff``); ``NoticeIncomplete`` (naming
    every empty field it needs) instead of a notice with a gap."""
    if audience == "staff":
        return staff_notice(policy)
    if audience == "public":
        return public_notice(policy)
    raise AssertionError(f"unknown notice audience {audience!r}; one of {AUDIENCES}")


def publish(policy: Policy, audience: str, fmt: str) -> Published:
    """The notice for ``audience`` rendered as ``fmt`` (``md`` or ``html``)."""
    document = notice(policy, audience)
    return Published(document, fmt, render(document, fmt))


def ropa_as(
    engine: Engine, audit: AuditLog, permissions: Permissions, ctx: RequestContext, policy: Policy
) -> dict[str, Any]:
    """The Art. 30 record for ``ctx.actor`` (``ropa:read``; a refusal is audited). Not audited
    when read: it is configuration, with no personal data in it."""
    if not permissions.allowed(ctx.actor, ROPA):
        refuse(engine, audit, ctx, ROPA)
    return record_of_processing(policy)


def ropa_text(record: dict[str, Any], fmt: str) -> str:
    """The record as ``csv`` or ``md`` text."""
    if fmt == "csv":
        return ropa_csv(record)
    if fmt == "md":
        return markdown(ropa_document(record))
    raise AssertionError(f"unknown record format {fmt!r}; csv or md")
