"""Metadata search as a person: only what their role may see, filtered in SQL, and audited.

Who sees what (ARCHITECTURE rule 6: rows a person may not see are never fetched):
- roles that may hear audio search every line, except that team leaders (quality monitoring)
  do not see special-category lines, as they may not request them either;
- team leaders see caller numbers masked: quality work needs the call, not the caller;
- everyone else (advisor, auditor, administrator) is refused: they have no recording access.
Search terms are personal data (a caller's number), so every search is audited with them.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Engine

from callvault.access.actions import Permissions
from callvault.audit.service import AuditLog
from callvault.catalog.search import RecordingQuery, search
from callvault.catalog.store import recordings
from callvault.context import RequestContext
from callvault.db import transaction
from callvault.errors import Refused

SEARCH = "recordings:search"
# Roles that see the recording but not who called.
MASKED_CALLER_ROLES = frozenset({"team_leader"})
# Roles kept off special-category lines (adult social care, careline, ...).
STANDARD_LINES_ONLY = frozenset({"team_leader"})


def mask_number(number: str) -> str:
    """``+447700900123`` → ``+4477009•••••``: the area stays, the person goes."""
    if not number.startswith("+") or len(number) < 8:
        return number  # "withheld" stays as it is
    return number[:-5] + "•" * 5


def visibility(role: str | None) -> list[ColumnElement[bool]]:
    """The WHERE terms a role adds to every search."""
    if role in STANDARD_LINES_ONLY:
        return [recordings.c.sensitivity != "special_category"]
    return []


def search_as(
    engine: Engine,
    audit: AuditLog,
    permissions: Permissions,
    ctx: RequestContext,
    query: RecordingQuery,
) -> list[dict[str, Any]]:
    """One page of recordings ``ctx.actor`` may see, newest first; the search is audited."""
    role = ctx.actor.role
    filters = {k: v for k, v in _describe(query).items() if v is not None}
    if not permissions.allowed(ctx.actor, SEARCH):
        with transaction(engine) as conn:
            audit.append(
                conn,
                ctx,
                "access.refused",
                object_type="action",
                object_id=SEARCH,
                details={"filters": filters},
            )
        raise Refused(f"{ctx.actor.name} ({role}) may not search recordings", "actor")
    with transaction(engine) as conn:
        rows = search(conn, query, visibility(role))
        audit.append(
            conn,
            ctx,
            "recordings.searched",
            object_type="search",
            details={"filters": filters, "results": len(rows)},
        )
    if role in MASKED_CALLER_ROLES:
        for row in rows:
            row["caller"] = mask_number(row["caller"])
    return [{"recording_id": row.pop("id"), **row} for row in rows]


def _describe(query: RecordingQuery) -> dict[str, Any]:
    return {
        "line": query.line,
        "caller": query.caller,
        "agent": query.agent,
        "from": query.started_from.isoformat() if query.started_from else None,
        "to": query.started_to.isoformat() if query.started_to else None,
        "min_duration_s": query.min_duration_s,
        "max_duration_s": query.max_duration_s,
    }
