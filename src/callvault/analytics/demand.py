"""The demand report: when people call, about what, how long, how often out of hours, how
many call again, per line and in all.

Built from ``demand_calls`` alone (one row per recorded call, ``demand_index.py``): never a
recording, a transcript, audio or a caller's number, so reading it shows nobody's personal
data. Only the count of recordings not indexed yet looks at the catalogue, and only to count.

Days, hours and weekdays are the council's (Europe/London): a call at 23:30 UTC on a summer
evening is at 00:30 the next day. Percentiles are over calls' durations: the median as
``statistics.median`` takes it, p90 by nearest rank (the duration at position ⌈0.9·n⌉ in
ascending order). A repeat caller is a caller hash with two or more calls in the window (on
any line for the totals, on that line for a line's row); purged calls, withheld numbers and
outbound calls have no hash, so they never count as repeats.
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, case, exists, func, select

from callvault.access.actions import Permissions
from callvault.access.bulk_access import refuse
from callvault.analytics.store import demand_calls
from callvault.audit.service import AuditLog
from callvault.catalog.store import recordings
from callvault.context import RequestContext
from callvault.db import transaction
from callvault.errors import BadInput
from callvault.policy.model import Policy
from callvault.uktime import UK

DEMAND = "demand:read"
DEFAULT_DAYS = 28
MAX_DAYS = 400
CSV_HEADER = ("line", "date", "hour", "calls", "out_of_hours", "total_duration_s")
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_WHEN_HINT = "use a UK day (2026-11-01) or an ISO time (2026-11-01T09:00:00+00:00)"


@dataclass(frozen=True, slots=True)
class DemandWindow:
    """Calls that started from ``start`` (inclusive) to ``end`` (exclusive), UTC instants."""

    start: datetime
    end: datetime

    @classmethod
    def parse(cls, from_: str | None, to: str | None, now: datetime | None = None) -> DemandWindow:
        """From ``--from``/``--to``: a date is midnight on the council's clocks that day (so
        ``--from 2026-07-01`` starts at 23:00 UTC on 30 June); an ISO time with an offset is
        that instant, one without is UK time. ``to`` is exclusive. By default the 28 days to
        now; at most 400 days."""
        until = uk_instant(to, "to") or (now or datetime.now(UTC)).astimezone(UTC)
        try:
            since = uk_instant(from_, "from") or until - timedelta(days=DEFAULT_DAYS)
        except OverflowError:
            raise BadInput(f"to {to!r} is too early for a window; {_WHEN_HINT}", "to") from None
        if since >= until:
            raise BadInput("from must be before to (to is exclusive)", "from")
        # An hour's grace: 400 UK days from summer time into winter time last an hour longer.
        if until - since > timedelta(days=MAX_DAYS, hours=1):
            days = (until - since).days
            raise BadInput(
                f"the window from {from_} to {to or 'now'} is {days} days; a report covers "
                f"{MAX_DAYS} days at most, so move from later (or ask for several windows)",
                "from",
            )
        return cls(since, until)

    def as_dict(self) -> dict[str, str]:
        return {"from": self.start.isoformat(), "to": self.end.isoformat()}

    @property
    def days(self) -> list[date]:
        """Every UK day the window touches, in order."""
        first = self.start.astimezone(UK).date()
        last = (self.end - timedelta(microseconds=1)).astimezone(UK).date()
        return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def uk_instant(value: str | None, name: str) -> datetime | None:
    """``--from``/``--to`` as an instant (UTC): a day is midnight on UK clocks, an ISO time
    without an offset is UK time; None for None; BadInput naming ``name`` otherwise."""
    if value is None:
        return None
    text = value.strip()
    try:
        if _DAY.fullmatch(text):
            moment = datetime.combine(date.fromisoformat(text), time(), UK)
        else:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UK)
        return moment.astimezone(UTC)
    except (ValueError, OverflowError):
        raise BadInput(f"{name} {value[:40]!r} is not a date or time; {_WHEN_HINT}", name) from None


def demand_report_as(
    engine: Engine,
    audit: AuditLog,
    permissions: Permissions,
    policy: Policy,
    ctx: RequestContext,
    window: DemandWindow,
) -> dict[str, Any]:
    """The demand report for ``window`` (``demand:read``; a refusal is audited). Reading it is
    audited too, with the window and the number of calls it counts."""
    if not permissions.allowed(ctx.actor, DEMAND):
        refuse(engine, audit, ctx, DEMAND)
    report = demand_report(engine, policy, window)
    with transaction(engine) as conn:
        audit.append(
            conn, ctx, "report.demand", object_type="report", object_id="demand",
            details={**window.as_dict(), "calls": report["calls"],
                     "policy_version": policy.version},
        )  # fmt: skip
    return report


def demand_report(engine: Engine, policy: Policy, window: DemandWindow) -> dict[str, Any]:
    """The figures for every line (the policy's, then any other the facts name) and in all;
    ``cells`` holds the calls per line, UK day and hour that the rest adds up."""
    found = _read(engine, window)
    days, topic_names = window.days, _topic_names(policy, found.total)
    known = [(ln.id, ln.name) for ln in policy.lines]
    others = [(line_id, line_id) for line_id in sorted(set(found.by_line) - {i for i, _ in known})]
    order = {line_id: n for n, (line_id, _) in enumerate(known + others)}
    return {
        **window.as_dict(),
        "timezone": "Europe/London",
        "policy_version": policy.version,
        **found.total.as_dict(days, topic_names),
        "lines": [
            {"line": line_id, "name": name, **found.line(line_id).as_dict(days, topic_names)}
            for line_id, name in known + others
        ],
        "not_indexed": found.not_indexed,
        "cells": [
            {"line": c.line, "date": c.local_date, "hour": c.hour, "calls": c.calls,
             "out_of_hours": c.out_of_hours, "total_duration_s": round(c.duration_s, 1)}
            for c in sorted(found.cells, key=lambda c: (order[c.line], c.local_date, c.hour))
        ],
    }  # fmt: skip


def demand_csv(report: dict[str, Any]) -> str:
    """One row per line, UK day and hour with calls (RFC 4180, via the csv module)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_HEADER)
    for cell in report["cells"]:
        writer.writerow([cell[name] for name in CSV_HEADER])
    return out.getvalue()


# -- what the facts table is asked ------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class _Cell:
    line: str
    local_date: str
    hour: int
    weekday: int
    calls: int
    out_of_hours: int
    duration_s: float


@dataclass
class _Found:
    """What the facts table said about a window: all lines' figures and each line's."""

    total: _Figures
    by_line: dict[str, _Figures]
    cells: list[_Cell]
    not_indexed: int = 0

    def line(self, line_id: str) -> _Figures:
        return self.by_line.setdefault(line_id, _Figures())


def _read(engine: Engine, window: DemandWindow) -> _Found:
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            # Every query below sees the same calls (SQLite's read transaction already does).
            conn.execution_options(isolation_level="REPEATABLE READ")
        found = _Found(_Figures(), {}, _cells(conn, window))
        for cell in found.cells:
            found.total.add_cell(cell)
            found.line(cell.line).add_cell(cell)
        for line_id, transcribed, topics, calls in _topic_groups(conn, window):
            found.total.add_topics(transcribed, topics, calls)
            found.line(line_id).add_topics(transcribed, topics, calls)
        for line_id, callers, calls in _repeats(conn, window, per_line=True):
            found.line(line_id).set_repeats(callers, calls)
        for _, callers, calls in _repeats(conn, window, per_line=False):
            found.total.set_repeats(callers, calls)
        _pick_durations(conn, window, found)
        found.not_indexed = _not_indexed(conn, window)
    return found


def _in(window: DemandWindow) -> tuple[Any, ...]:
    started = demand_calls.c.started_at
    return started >= window.start.isoformat(), started < window.end.isoformat()


def _cells(conn: Connection, window: DemandWindow) -> list[_Cell]:
    d = demand_calls.c
    closed = func.sum(case((d.out_of_hours.is_(True), 1), else_=0))
    query = (
        select(d.line, d.local_date, d.local_hour, d.weekday, func.count(), closed,
               func.sum(d.duration_s))
        .where(*_in(window))
        .group_by(d.line, d.local_date, d.local_hour, d.weekday)
    )  # fmt: skip
    return [
        _Cell(str(line), str(day), int(hour), int(weekday), int(calls), int(ooh or 0),
              float(seconds or 0.0))
        for line, day, hour, weekday, calls, ooh, seconds in conn.execute(query)
    ]  # fmt: skip


def _topic_groups(conn: Connection, window: DemandWindow) -> list[tuple[str, bool, str, int]]:
    d = demand_calls.c
    query = (
        select(d.line, d.transcribed, d.topics, func.count())
        .where(*_in(window))
        .group_by(d.line, d.transcribed, d.topics)
    )
    return [(str(a), bool(b), c or "", int(n)) for a, b, c, n in conn.execute(query)]


def _repeats(
    conn: Connection, window: DemandWindow, *, per_line: bool
) -> list[tuple[str, int, int]]:
    """(line or "", callers with two or more calls, their calls): counted in SQL, so no hash
    ever leaves the database."""
    d = demand_calls.c
    keys = [d.line, d.caller_key] if per_line else [d.caller_key]
    calls = func.count().label("calls")
    groups = (
        select(*keys, calls)
        .where(d.caller_key.is_not(None), *_in(window))
        .group_by(*keys)
        .having(func.count() >= 2)
        .subquery()
    )
    if per_line:
        query = select(groups.c.line, func.count(), func.sum(groups.c.calls)).group_by(
            groups.c.line
        )
        rows = conn.execute(query).all()
        return [(str(line), int(n), int(total or 0)) for line, n, total in rows]
    n, total = conn.execute(select(func.count(), func.sum(groups.c.calls))).one()
    return [("", int(n), int(total or 0))]


def _pick_durations(conn: Connection, window: DemandWindow, found: _Found) -> None:
    """Median, p90 and max, from one pass over the durations in ascending order (any line's
    durations come in ascending order too), so memory does not grow with the calls."""
    d = demand_calls.c
    query = select(d.line, d.duration_s).where(*_in(window)).order_by(d.duration_s, d.line)
    for line_id, seconds in conn.execute(query.execution_options(yield_per=5000)):
        found.total.durations.take(float(seconds))
        found.line(str(line_id)).durations.take(float(seconds))


def _not_indexed(conn: Connection, window: DemandWindow) -> int:
    r = recordings.c
    query = select(func.count()).where(
        r.started_at >= window.start.isoformat(),
        r.started_at < window.end.isoformat(),
        ~exists().where(demand_calls.c.recording_id == r.id),
    )
    return int(conn.execute(query).scalar_one())


def _topic_names(policy: Policy, figures: _Figures) -> list[tuple[str, str]]:
    """The policy's topics in its order, then any the facts name that it no longer has."""
    known = [(topic.id, topic.name) for topic in policy.topics]
    gone = sorted(set(figures.topics) - {topic.id for topic in policy.topics})
    return known + [(topic_id, topic_id) for topic_id in gone]


# -- adding up ----------------------------------------------------------------------------------
class _Durations:
    """Picks the median, p90 and max out of ``n`` durations fed in ascending order."""

    def __init__(self) -> None:
        self.n = 0
        self.total = 0.0
        self._seen = 0
        self._wanted: set[int] | None = None
        self._at: dict[int, float] = {}

    def take(self, seconds: float) -> None:
        """The next duration in ascending order (call once ``n`` is final)."""
        if self._wanted is None:
            self._wanted = {(self.n - 1) // 2, self.n // 2, _p90_index(self.n), self.n - 1}
        if self._seen in self._wanted:
            self._at[self._seen] = seconds
        self._seen += 1

    def as_dict(self) -> dict[str, float]:
        n = self.n
        if n == 0:
            return dict.fromkeys(("total", "mean", "median", "p90", "max"), 0.0)
        median = (self._at[(n - 1) // 2] + self._at[n // 2]) / 2
        return {
            "total": round(self.total, 1),
            "mean": round(self.total / n, 1),
            "median": round(median, 1),
            "p90": round(self._at[_p90_index(n)], 1),
            "max": round(self._at[n - 1], 1),
        }


def _p90_index(n: int) -> int:
    # Nearest rank: position ceil(0.9 n), counted from 1. In integers, so that 0.9's binary
    # fraction cannot lift a whole number (0.9 * 10) past itself.
    return (9 * n + 9) // 10 - 1


@dataclass
class _Figures:
    """One line's figures, or all lines'."""

    calls: int = 0
    out_of_hours: int = 0
    transcribed: int = 0
    unclassified: int = 0
    repeat_callers: int = 0
    calls_from_repeat_callers: int = 0
    durations: _Durations = field(default_factory=_Durations)
    topics: Counter[str] = field(default_factory=Counter)
    by_hour: list[int] = field(default_factory=lambda: [0] * 24)
    by_weekday: list[int] = field(default_factory=lambda: [0] * 7)
    by_day: Counter[str] = field(default_factory=Counter)

    def add_cell(self, cell: _Cell) -> None:
        self.calls += cell.calls
        self.out_of_hours += cell.out_of_hours
        self.durations.n += cell.calls
        self.durations.total += cell.duration_s
        self.by_hour[cell.hour] += cell.calls
        self.by_weekday[cell.weekday] += cell.calls
        self.by_day[cell.local_date] += cell.calls

    def set_repeats(self, callers: int, calls: int) -> None:
        self.repeat_callers, self.calls_from_repeat_callers = callers, calls

    def add_topics(self, transcribed: bool, topics: str, calls: int) -> None:
        if not transcribed:
            return
        self.transcribed += calls
        if not topics:
            self.unclassified += calls
        for topic in topics.split(",") if topics else ():
            self.topics[topic] += calls

    def as_dict(self, days: list[date], topic_names: list[tuple[str, str]]) -> dict[str, Any]:
        share = round(self.out_of_hours / self.calls, 4) if self.calls else 0.0
        return {
            "calls": self.calls,
            "out_of_hours": self.out_of_hours,
            "out_of_hours_share": share,
            "duration_s": self.durations.as_dict(),
            "repeat_callers": self.repeat_callers,
            "calls_from_repeat_callers": self.calls_from_repeat_callers,
            "transcribed": self.transcribed,
            "unclassified": self.unclassified,
            "topics": [
                {"topic": topic_id, "name": name, "calls": self.topics[topic_id]}
                for topic_id, name in topic_names
            ],
            "by_hour": list(self.by_hour),
            "by_weekday": list(self.by_weekday),
            "by_day": [{"date": day.isoformat(), "calls": self.by_day[day.isoformat()]}
                       for day in days],
            "by_week": [{"week": week, "calls": calls}
                        for week, calls in _weeks(days, self.by_day)],
        }  # fmt: skip


def _weeks(days: list[date], by_day: Counter[str]) -> Iterator[tuple[str, int]]:
    """ISO weeks (2026-W47) the days touch, in order, with their calls."""
    weeks: dict[str, int] = {}
    for day in days:
        year, week, _ = day.isocalendar()
        label = f"{year}-W{week:02d}"
        weeks[label] = weeks.get(label, 0) + by_day[day.isoformat()]
    yield from weeks.items()


__all__ = [
    "CSV_HEADER",
    "DEMAND",
    "MAX_DAYS",
    "DemandWindow",
    "demand_csv",
    "demand_report",
    "demand_report_as",
    "uk_instant",
]
