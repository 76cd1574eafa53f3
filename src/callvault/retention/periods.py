"""A policy change recomputes the delete-after dates of the lines whose period changed.

``retention_periods`` holds the period last applied to each line. Each purge run first
compares it with the loaded policy; for a line whose period changed (or that was never
applied) every live recording's ``retain_until`` is recomputed from its start and the new
period, and the change is audited (line, old and new period, how many dates moved). A legal
hold is not a date: a held recording stays whatever its date says, so recomputing can never
cut a hold short.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select, update

from callvault.audit.service import AuditAct, AuditLog
from callvault.catalog.store import recordings
from callvault.context import RequestContext
from callvault.policy.model import Line, Policy, Retention
from callvault.retention.store import retention_periods


def apply_policy_periods(
    conn: Connection, audit: AuditLog, ctx: RequestContext, policy: Policy, now: datetime
) -> list[dict[str, Any]]:
    """Bring every line's ``retain_until`` dates in line with ``policy``; return the changes."""
    applied = {row.line: row for row in conn.execute(select(retention_periods))}
    changes: list[dict[str, Any]] = []
    for line in policy.lines:
        before = applied.get(line.id)
        period = (line.retention.months, line.retention.days)
        if before is not None and (before.months, before.days) == period:
            continue
        moved = _recompute_line(conn, line)
        values = {
            "months": period[0],
            "days": period[1],
            "policy_version": policy.version,
            "applied_at": now.isoformat(),
        }
        if before is None:
            conn.execute(insert(retention_periods).values(line=line.id, **values))
        else:
            conn.execute(
                update(retention_periods).where(retention_periods.c.line == line.id).values(values)
            )
        if before is not None or moved:
            changes.append(
                {
                    "line": line.id,
                    "from": None if before is None else _describe(before.months, before.days),
                    "to": line.retention.describe(),
                    "recordings": moved,
                    "policy_version": policy.version,
                }
            )
    if changes:
        audit.append_many(
            conn,
            ctx,
            [AuditAct("retention.recomputed", "line", c["line"], c) for c in changes],
        )
    return changes


def _recompute_line(conn: Connection, line: Line) -> int:
    rows = conn.execute(
        select(recordings.c.id, recordings.c.started_at, recordings.c.retain_until).where(
            recordings.c.line == line.id, recordings.c.purged_at.is_(None)
        )
    ).all()
    moved = []
    for row in rows:
        due = line.retention.add_to(datetime.fromisoformat(row.started_at)).isoformat()
        if due != row.retain_until:
            moved.append({"rid": row.id, "due": due})
    if moved:
        conn.execute(
            update(recordings)
            .where(recordings.c.id == bindparam("rid"))
            .values(retain_until=bindparam("due")),
            moved,
        )
    return len(moved)


def _describe(months: int, days: int) -> str:
    return Retention(months, days).describe()
