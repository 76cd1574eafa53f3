"""Bulk-access alerts: one person listening to far more recordings than they usually do.

The rule (docs/oversight.md says the same for the DPO):

- A person's *listening* on a day is the number of distinct recordings named by their
  ``recording.played``, ``recording.exported`` and ``recording.streamed`` audit entries on
  that UTC calendar day (playing one call ten times is one recording).
- Their *baseline* is the median of their listening over the previous 30 days, counting only
  the days they listened at all (days off and leave do not drag it to zero); 0 when they did
  not listen in those 30 days (a new starter, or someone back from a long absence).
- The day raises an alert when listening is at least 20 recordings AND at least 3 times the
  baseline. The floor keeps a new starter's first days (3 calls, then 8) quiet; the factor
  lets a complaints officer who hears 25 calls every day do so without an alert.

The median is used, not the mean, so one earlier heavy day does not raise the bar for the
next. Counting per day is done in SQL (one grouped query on either database); the median
over at most 30 numbers a person is done here. ``record_new_alerts`` writes each alert once
into the audit trail (``access.bulk_alert``, object: the person) so it cannot be lost; the
periodic job in ``jobs/oversight_tasks.py`` calls it every hour for yesterday and today.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, NoReturn

import orjson
from sqlalchemy import Connection, Engine, func, select, text

from callvault.access.actions import Permissions
from callvault.access.refusals import record_refusal
from callvault.access.store import users
from callvault.audit.service import AuditLog
from callvault.audit.store import audit_log
from callvault.context import RequestContext
from callvault.db import transaction
from callvault.errors import BadInput, Refused

READ = "alerts:read"
ALERT_ACTION = "access.bulk_alert"
# Every way audio reaches a person; "exported" and "streamed" arrive with later work.
LISTENING_ACTIONS = ("recording.played", "recording.exported", "recording.streamed")
# Longest span of days one request may look at (each day reads 30 days before it).
MAX_DAYS = 92
# PostgreSQL advisory lock key serialising alert recorders ("cvbulk" as an integer).
_RECORD_LOCK = 0x637662756C6B


@dataclass(frozen=True, slots=True)
class AlertRule:
    """The thresholds above; a council may tune them, the docs say what they mean."""

    baseline_days: int = 30
    min_recordings: int = 20
    factor: float = 3.0

    def threshold(self, baseline: float) -> float:
        return max(float(self.min_recordings), self.factor * baseline)


RULE = AlertRule()


@dataclass(frozen=True, slots=True)
class BulkAlert:
    user: str
    day: str  # YYYY-MM-DD, UTC
    recordings: int
    baseline: float
    threshold: float
    active_days: int  # days with any listening among the baseline days

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def day_start(day: date) -> str:
    """The audit trail's timestamp text for 00:00 UTC on ``day`` (entries compare as text)."""
    return datetime.combine(day, time(), UTC).isoformat(timespec="microseconds")


def daily_listening(conn: Connection, first: date, last: date) -> dict[str, dict[date, int]]:
    """person -> UTC day -> distinct recordings they listened to, for days first..last."""
    day = func.substr(audit_log.c.at, 1, 10)
    rows = conn.execute(
        select(audit_log.c.actor, day.label("day"), func.count(audit_log.c.object_id.distinct()))
        .where(
            audit_log.c.action.in_(LISTENING_ACTIONS),
            audit_log.c.at >= day_start(first),
            audit_log.c.at < day_start(last + timedelta(days=1)),
        )
        .group_by(audit_log.c.actor, day)
    ).all()
    found: dict[str, dict[date, int]] = {}
    for actor, on, count in rows:
        found.setdefault(actor, {})[date.fromisoformat(on)] = int(count)
    return found


def detect(
    listening: Mapping[str, Mapping[date, int]], days: Iterable[date], rule: AlertRule = RULE
) -> list[BulkAlert]:
    """The alerts ``rule`` raises on ``days``, given each person's daily listening (which
    must cover the ``rule.baseline_days`` before the first day)."""
    alerts = []
    for day in sorted(days):
        earliest = day - timedelta(days=rule.baseline_days)
        for user, by_day in sorted(listening.items()):
            count = by_day.get(day, 0)
            if count < rule.min_recordings:
                continue
            before = [n for d, n in by_day.items() if earliest <= d < day and n > 0]
            baseline = float(statistics.median(before)) if before else 0.0
            threshold = rule.threshold(baseline)
            if count >= threshold:
                alerts.append(
                    BulkAlert(user, day.isoformat(), count, baseline, threshold, len(before))
                )
    return alerts


def alert_days(first: str | None, last: str | None, today: date) -> list[date]:
    """The days asked about (YYYY-MM-DD, inclusive); the last 7 days by default."""
    end = _day(last, "to") if last else today
    start = _day(first, "from") if first else end - timedelta(days=6)
    if start > end:
        raise BadInput("from must not be after to", "from")
    if (end - start).days >= MAX_DAYS:
        raise BadInput(f"ask about at most {MAX_DAYS} days at a time", "from")
    return [start + timedelta(days=n) for n in range((end - start).days + 1)]


def bulk_access_alerts(engine: Engine, days: list[date], rule: AlertRule = RULE) -> list[BulkAlert]:
    """The alerts on ``days``, computed now from the audit trail."""
    first = min(days) - timedelta(days=rule.baseline_days)
    with engine.connect() as conn:
        listening = daily_listening(conn, first, max(days))
    return detect(listening, days, rule)


def bulk_alerts_as(
    engine: Engine,
    audit: AuditLog,
    permissions: Permissions,
    ctx: RequestContext,
    days: list[date],
) -> dict[str, Any]:
    """The alerts on ``days`` for the DPO (``alerts:read``; a refusal is audited), each
    saying whether the trail already holds it; the reading is audited."""
    if not permissions.allowed(ctx.actor, READ):
        refuse(engine, audit, ctx, READ)
    alerts = bulk_access_alerts(engine, days)
    with engine.connect() as conn:
        recorded = recorded_alerts(conn, {a.user for a in alerts})
        roles = roles_of(conn, (a.user for a in alerts))
    span = {"from": min(days).isoformat(), "to": max(days).isoformat()}
    with transaction(engine) as conn:
        audit.append(conn, ctx, "alerts.read", object_type="alerts", details=span)
    return {
        **span,
        "rule": asdict(RULE),
        "alerts": [
            {**a.as_dict(), "role": roles.get(a.user), "recorded": (a.user, a.day) in recorded}
            for a in alerts
        ],
    }


def recorded_alerts(conn: Connection, people: set[str]) -> set[tuple[str, str]]:
    """(person, day) of the bulk-access alerts already in the audit trail for ``people``
    (through the object id index: the entries name the person)."""
    if not people:
        return set()
    rows = conn.execute(
        select(audit_log.c.object_id, audit_log.c.entry).where(
            audit_log.c.object_id.in_(sorted(people)), audit_log.c.action == ALERT_ACTION
        )
    ).all()
    return {(person, orjson.loads(entry)["details"]["day"]) for person, entry in rows}


def record_new_alerts(
    conn: Connection, audit: AuditLog, ctx: RequestContext, alerts: list[BulkAlert]
) -> list[BulkAlert]:
    """Append ``access.bulk_alert`` for each alert the trail does not hold yet, inside
    ``conn``'s (write) transaction; returns those appended. Run twice, it appends nothing."""
    if conn.dialect.name == "postgresql":
        # Two recorders must not both find an alert missing (SQLite's BEGIN IMMEDIATE already
        # lets one writer in at a time).
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _RECORD_LOCK})
    recorded = recorded_alerts(conn, {a.user for a in alerts})
    new = [a for a in alerts if (a.user, a.day) not in recorded]
    for alert in new:
        audit.append(
            conn, ctx, ALERT_ACTION, object_type="user", object_id=alert.user,
            details={**alert.as_dict(), "rule": asdict(RULE)},
        )  # fmt: skip
    return new


def refuse(engine: Engine, audit: AuditLog, ctx: RequestContext, action: str) -> NoReturn:
    """Audit that ``ctx.actor`` was refused ``action`` (committed on its own), then raise.
    For a report, which has no object: the entry's object is the action itself, and the
    message names the role; ``refusals.require_permission`` is for an act on an object."""
    record_refusal(
        engine, audit, ctx,
        Refused(f"{ctx.actor.name} ({ctx.actor.role or 'no role'}) may not do {action}", "actor"),
        object_type="action", object_id=action,
    )  # fmt: skip


def roles_of(conn: Connection, people: Iterable[str]) -> dict[str, str]:
    wanted = sorted(set(people))
    if not wanted:
        return {}
    rows = conn.execute(select(users.c.username, users.c.role).where(users.c.username.in_(wanted)))
    return {str(name): str(role) for name, role in rows}


def _day(value: str, field: str) -> date:
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        raise BadInput(
            f"{field} {value[:40]!r} is not a date; use e.g. 2026-11-01", field
        ) from None
