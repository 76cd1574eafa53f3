"""Recording a refusal: the one way an ``access.refused`` entry is written.

A refusal is committed on its own (the refused act wrote nothing) before the error goes back,
so who tried what is in the trail even though nothing happened.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NoReturn

from sqlalchemy import Engine

from callvault.audit.service import AuditLog
from callvault.context import RequestContext
from callvault.db import transaction
from callvault.errors import CallvaultError, Refused

if TYPE_CHECKING:
    from callvault.access.actions import Permissions


def record_refusal(
    engine: Engine,
    audit: AuditLog,
    ctx: RequestContext,
    error: CallvaultError,
    *,
    object_type: str,
    object_id: str | None,
    **details: Any,
) -> NoReturn:
    """Audit that ``ctx.actor`` was refused (why, and the field at fault), then raise ``error``."""
    with transaction(engine) as conn:
        audit.append(
            conn,
            ctx,
            "access.refused",
            object_type=object_type,
            object_id=object_id,
            details={"why": error.message, "field": error.field, **details},
        )
    raise error


def require_permission(
    engine: Engine,
    audit: AuditLog,
    permissions: Permissions,
    ctx: RequestContext,
    action: str,
    *,
    object_type: str,
    object_id: str | None,
) -> None:
    """Refuse ``ctx.actor`` (audited, then ``Refused``) unless they may do ``action``."""
    if not permissions.allowed(ctx.actor, action):
        refusal = Refused(f"{ctx.actor.name} may not do {action}", "actor")
        record_refusal(engine, audit, ctx, refusal, object_type=object_type,
                       object_id=object_id, action=action)  # fmt: skip
