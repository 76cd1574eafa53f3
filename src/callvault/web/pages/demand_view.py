"""The demand report (``analytics.demand``) as the ``/demand`` page shows it: headline
figures in words, the charts with their tables, and a row per line.

Pure functions of the report's dict, so the page's arithmetic (shares, the days and weeks a
window covers, which series to draw) is tested without a server. The report's keys are the
API's (``GET /api/v1/reports/demand``); a line's entry has the same figures as the whole.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from callvault.web.pages.charts import Chart, chart_summary, column_chart, row_chart
from callvault.web.pages.when import duration_text, uk_time

# A window longer than this is drawn by ISO week, not by day: 62 days is two months of
# daily bars, about as many as fit across the page and still read one by one.
LONG_WINDOW_DAYS = 62
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_DURATION_KEYS = ("total", "mean", "median", "p90", "max")


@dataclass(frozen=True, slots=True)
class Figure:
    """One headline figure: what it is, the number in words, and what it is out of."""

    name: str
    value: str
    detail: str = ""


@dataclass(frozen=True, slots=True)
class ChartView:
    """One chart with its table: ``rows`` are (what, count) in the order drawn."""

    id: str
    title: str
    heading: str  # the table's first column
    summary: str  # the chart's accessible name, one sentence
    chart: Chart
    rows: tuple[tuple[str, int], ...]


@dataclass(frozen=True, slots=True)
class LineRow:
    """A row of the per-line table."""

    id: str
    name: str
    calls: int
    out_of_hours: int
    out_of_hours_share: str
    median: str
    p90: str
    repeat_callers: int
    top_topic: str
    in_policy: bool  # a line no longer in the policy cannot be chosen in the filter


def percent(share: float) -> str:
    """A share (0..1) as people read it: "33%"; "under 1%" rather than a misleading "0%"."""
    if 0 < share < 0.005:
        return "under 1%"
    return f"{round(share * 100)}%"


def share_of(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def empty_figures() -> dict[str, Any]:
    """A line's figures when it had no calls in the window (the report may leave it out)."""
    return {
        "calls": 0, "out_of_hours": 0, "out_of_hours_share": 0.0,
        "duration_s": dict.fromkeys(_DURATION_KEYS, 0.0),
        "repeat_callers": 0, "calls_from_repeat_callers": 0, "transcribed": 0,
        "unclassified": 0, "topics": [], "by_hour": [0] * 24, "by_weekday": [0] * 7,
        "by_day": [], "by_week": [],
    }  # fmt: skip


def figures_for(report: Mapping[str, Any], line: str) -> Mapping[str, Any]:
    """The figures the page shows: every line's (the report itself), or one line's."""
    if not line:
        return report
    found = next((entry for entry in report["lines"] if entry["line"] == line), None)
    return found if found is not None else {**empty_figures(), "line": line}


def headline(figures: Mapping[str, Any]) -> list[Figure]:
    """The headline figures, in words."""
    calls = int(figures["calls"])
    durations = figures["duration_s"]
    repeat = int(figures["repeat_callers"])
    transcribed = int(figures["transcribed"])
    return [
        Figure("Calls", f"{calls:,}"),
        Figure(
            "Out of hours",
            percent(float(figures["out_of_hours_share"])),
            f"{int(figures['out_of_hours']):,} of {calls:,} calls",
        ),
        Figure("Median length", duration_text(float(durations["median"])), "minutes:seconds"),
        Figure(
            "90% of calls lasted at most",
            duration_text(float(durations["p90"]), up=True),
            "minutes:seconds",
        ),
        Figure(
            "Repeat callers",
            f"{repeat:,}",
            f"who made {int(figures['calls_from_repeat_callers']):,} calls",
        ),
        Figure(
            "Transcribed",
            percent(share_of(transcribed, calls)),
            f"{transcribed:,} of {calls:,} calls",
        ),
        Figure(
            "No topic found",
            f"{int(figures['unclassified']):,}",
            f"of {transcribed:,} transcribed calls",
        ),
    ]


# -- the days and weeks a window covers ------------------------------------------------------
def window_days(report: Mapping[str, Any]) -> tuple[date, date]:
    """The first and last UK days the window touches (its end is not included)."""
    start = uk_time(str(report["from"]))
    end = uk_time(str(report["to"])) - timedelta(microseconds=1)
    return start.date(), max(end.date(), start.date())


def is_long(first: date, last: date) -> bool:
    return (last - first).days + 1 > LONG_WINDOW_DAYS


def day_series(
    first: date, last: date, by_day: Sequence[Mapping[str, Any]]
) -> list[tuple[date, int]]:
    """Every day from ``first`` to ``last`` with its calls (nought where the report has
    none), so a quiet day shows as a gap and not as a missing bar."""
    counts = {str(entry["date"]): int(entry["calls"]) for entry in by_day}
    days = (first + timedelta(days=n) for n in range((last - first).days + 1))
    return [(day, counts.get(day.isoformat(), 0)) for day in days]


def week_name(day: date) -> str:
    """The ISO week a day falls in, as the report names it: "2026-W47"."""
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def week_series(
    first: date, last: date, by_week: Sequence[Mapping[str, Any]]
) -> list[tuple[str, int]]:
    """Every ISO week the window touches, in order, with its calls."""
    counts = {str(entry["week"]): int(entry["calls"]) for entry in by_week}
    weeks: list[str] = []
    day = first
    while day <= last:
        if not weeks or weeks[-1] != week_name(day):
            weeks.append(week_name(day))
        day += timedelta(days=1)
    return [(week, counts.get(week, 0)) for week in weeks]


def week_words(week: str) -> str:
    """ "2026-W47" as people read it: "Week 47 of 2026 (from Mon 16 Nov)"."""
    year, number = week.split("-W")
    monday = date.fromisocalendar(int(year), int(number), 1)
    return f"Week {int(number)} of {year} (from Mon {monday.day} {monday:%b})"


# -- the charts ------------------------------------------------------------------------------
def _chart(
    id_: str, title: str, heading: str, rows: list[tuple[str, int]], short: list[str]
) -> ChartView:
    return ChartView(
        id_, title, heading, chart_summary(title, rows), column_chart(rows, short), tuple(rows)
    )


def hour_chart(figures: Mapping[str, Any]) -> ChartView:
    rows = [(f"{hour:02d}:00 to {(hour + 1) % 24:02d}:00", int(n))
            for hour, n in enumerate(figures["by_hour"])]  # fmt: skip
    short = [f"{hour:02d}" for hour in range(len(rows))]
    return _chart("hour", "Calls by hour of day (UK time)", "Hour (UK time)", rows, short)


def weekday_chart(figures: Mapping[str, Any]) -> ChartView:
    rows = [(WEEKDAYS[n], int(count)) for n, count in enumerate(figures["by_weekday"])]
    return _chart("weekday", "Calls by day of the week", "Day", rows, [n[:3] for n, _ in rows])


def period_chart(figures: Mapping[str, Any], first: date, last: date) -> ChartView:
    """Calls by day, or by ISO week when the window is long."""
    if is_long(first, last):
        weeks = week_series(first, last, figures["by_week"])
        rows = [(week_words(week), n) for week, n in weeks]
        short = [f"W{week.split('-W')[1]}" for week, _ in weeks]
        return _chart("week", "Calls by week", "Week", rows, short)
    days = day_series(first, last, figures["by_day"])
    rows = [(f"{day:%a} {day.day} {day:%b %Y}", n) for day, n in days]
    short = [f"{day.day} {day:%b}" for day, _ in days]
    return _chart("day", "Calls by day", "Day", rows, short)


def topic_chart(figures: Mapping[str, Any]) -> ChartView | None:
    """The topics found, most calls first; None when no topic was found at all."""
    topics = sorted(figures["topics"], key=lambda topic: -int(topic["calls"]))
    rows = [(str(topic["name"]), int(topic["calls"])) for topic in topics if topic["calls"]]
    if not rows:
        return None
    title = "Calls by topic"
    return ChartView("topic", title, "Topic", chart_summary(title, rows), row_chart(rows),
                     tuple(rows))  # fmt: skip


def charts_for(figures: Mapping[str, Any], report: Mapping[str, Any]) -> list[ChartView]:
    """The page's charts, in the order shown."""
    first, last = window_days(report)
    found = [hour_chart(figures), weekday_chart(figures), period_chart(figures, first, last)]
    topics = topic_chart(figures)
    return [*found, topics] if topics is not None else found


# -- the lines -------------------------------------------------------------------------------
def top_topic(topics: Sequence[Mapping[str, Any]]) -> str:
    """The topic with the most calls (the first, on a tie), by name; "None found" if none."""
    best: Mapping[str, Any] | None = None
    for topic in topics:
        if int(topic["calls"]) > 0 and (best is None or int(topic["calls"]) > int(best["calls"])):
            best = topic
    return str(best["name"]) if best is not None else "None found"


def quiet_lines(report: Mapping[str, Any]) -> list[str]:
    """The names of the lines with no calls in the window, in the policy's order (said in
    a sentence: a table row of noughts per line would bury the lines that had calls)."""
    return [str(entry["name"] or entry["line"]) for entry in report["lines"] if not entry["calls"]]


def line_rows(report: Mapping[str, Any], policy_lines: Mapping[str, str]) -> list[LineRow]:
    """A row per line with calls in the window, busiest first."""
    rows = []
    busy = [entry for entry in report["lines"] if int(entry["calls"])]
    for entry in sorted(busy, key=lambda entry: -int(entry["calls"])):
        durations = entry["duration_s"]
        # No topic can be found in calls not transcribed yet: that is not "none found".
        topic = top_topic(entry["topics"]) if entry["transcribed"] else "Not transcribed yet"
        rows.append(
            LineRow(
                id=str(entry["line"]),
                name=str(entry.get("name") or policy_lines.get(entry["line"], entry["line"])),
                calls=int(entry["calls"]),
                out_of_hours=int(entry["out_of_hours"]),
                out_of_hours_share=percent(float(entry["out_of_hours_share"])),
                median=duration_text(float(durations["median"])),
                p90=duration_text(float(durations["p90"]), up=True),
                repeat_callers=int(entry["repeat_callers"]),
                top_topic=topic,
                in_policy=entry["line"] in policy_lines,
            )
        )
    return rows
