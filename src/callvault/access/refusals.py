"""Recording a refusal: the one way an ``access.refused`` entry is written.

A refusal is committed on its own (the refused act wrote nothing) before the error goes back,
so who tried what is in the trail even though nothing happened.
"""

from __future__ import annotations

from typing import Any, NoReturn

from sqlalchemy import Engine

from callvault.audit.service import AuditLog
from callvault.context import RequestContext
from callvault.db import transaction
from callvault.errors import CallvaultError


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
