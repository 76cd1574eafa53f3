"""Readers for the policy's ``opening_hours``, ``topics`` and ``quality`` sections (the
demand and quality settings); every error names the field path and the fix, as in
``sections``."""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Mapping
from typing import Any

from callvault.policy.analytics_model import (
    ALWAYS_OPEN,
    MINUTES_PER_DAY,
    OFFICE_HOURS,
    WEEKDAYS,
    Interval,
    OpeningHours,
    QualitySampling,
    Scorecard,
    ScoreItem,
    Topic,
)
from callvault.policy.keeping import KEEP_EVALUATIONS, LEAST_EVALUATION_MONTHS, keep_period
from callvault.policy.sections import (
    at,
    check_keys,
    fail,
    ident,
    mapping,
    read_list,
    strings,
    text,
)

HOURS_KEYS = frozenset({*WEEKDAYS, "weekdays", "weekend", "bank_holidays"})
TOPIC_KEYS = frozenset({"id", "name", "words"})
QUALITY_KEYS = frozenset(
    {"calls_per_advisor", "min_duration_s", "scorecards", "draw_on_day", "keep_evaluations"}
)
SCORECARD_KEYS = frozenset({"id", "name", "lines", "items"})
SCORE_ITEM_KEYS = frozenset({"id", "question", "points"})

_SPAN = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")
_HOURS_HINT = 'write "09:00-17:00", a list of such spans, or closed'


def read_opening_hours(value: object, path: str) -> OpeningHours:
    """``always``, or a mapping of days (``weekdays``, ``weekend``, ``monday`` … ``sunday``;
    a named day overrides a group) to spans, plus ``bank_holidays: closed | open``. Days not
    named are closed."""
    if value is None:
        return OFFICE_HOURS
    if value == "always":
        return ALWAYS_OPEN
    data = mapping(value, path, 'write `always`, or a mapping such as `weekdays: "09:00-17:00"`')
    check_keys(data, HOURS_KEYS, path, required=())
    days: list[tuple[Interval, ...]] = [()] * 7
    for group, members in (("weekdays", range(5)), ("weekend", range(5, 7))):
        if group in data:
            spans = _spans(data[group], at(path, group))
            for day in members:
                days[day] = spans
    for day, name in enumerate(WEEKDAYS):
        if name in data:
            days[day] = _spans(data[name], at(path, name))
    holidays = data.get("bank_holidays", "closed")
    if (
        isinstance(holidays, str)
        and holidays not in ("open", "closed")
        and not _SPAN.match(holidays)
    ):
        raise fail(
            at(path, "bank_holidays"),
            f"{holidays!r}: write `closed`, `open` (the weekday's own hours) or spans of "
            'their own, e.g. "00:00-24:00"',
        )
    own = None if holidays == "open" else _spans(holidays, at(path, "bank_holidays"))
    return OpeningHours(days=tuple(days), bank_holidays=own)


def _spans(value: object, field: str) -> tuple[Interval, ...]:
    if value == "closed":
        return ()
    items = value if isinstance(value, list) else [value]
    spans = sorted(_span(item, f"{field}[{i}]" if len(items) > 1 else field)
                   for i, item in enumerate(items))  # fmt: skip
    for (_, end), (start, _) in itertools.pairwise(spans):
        if start < end:
            raise fail(field, "the spans overlap; write each hour of the day once")
    return tuple(spans)


def _span(item: object, field: str) -> Interval:
    match = _SPAN.match(item) if isinstance(item, str) else None
    if match is None:
        raise fail(field, f"{item!r} is not a span of hours; {_HOURS_HINT}")
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    start, end = h1 * 60 + m1, h2 * 60 + m2
    if m1 > 59 or m2 > 59 or h1 > 23 or end > MINUTES_PER_DAY or start >= end:
        raise fail(
            field,
            f"{item!r}: the start must be a time of day before the end (24:00 at the latest); "
            "a span cannot cross midnight, so write two spans on the two days",
        )
    return start, end


def read_topic(item: object, path: str) -> Topic:
    """One entry of ``topics:``: an id, a name, and the words that mark it."""
    data = mapping(item, path, "each topic must be a mapping with `id`, `name` and `words`")
    check_keys(data, TOPIC_KEYS, path, required=("id", "name", "words"))
    words = tuple(" ".join(word.lower().split()) for _, word in strings(data, "words", path))
    if not words or not all(words):
        raise fail(at(path, "words"), 'list the words that mark the topic, e.g. ["missed bin"]')
    return Topic(id=ident(data, path), name=text(data, "name", path), words=words)


def read_quality(value: object, path: str, line_ids: frozenset[str]) -> QualitySampling:
    """The ``quality:`` section: the monthly sample size, the shortest call worth judging, and
    the scorecards (each naming lines defined under ``lines:``, or none for every line)."""
    if value is None:
        return QualitySampling()
    data = mapping(value, path, "write a mapping with `calls_per_advisor` and `scorecards`")
    check_keys(data, QUALITY_KEYS, path, required=())
    per_advisor = data.get("calls_per_advisor", 4)
    if isinstance(per_advisor, bool) or not isinstance(per_advisor, int) or per_advisor > 100:
        per_advisor = 0  # refused below, with the same message as a number out of range
    if not 1 <= per_advisor <= 100:
        raise fail(at(path, "calls_per_advisor"), "write a whole number from 1 to 100, e.g. 4")
    shortest = data.get("min_duration_s", 60)
    # YAML's .inf and .nan are floats too: neither is a length of call anyone can judge.
    if (
        not isinstance(shortest, int | float)
        or isinstance(shortest, bool)
        or not 0 <= shortest < math.inf
    ):
        raise fail(at(path, "min_duration_s"), "write a number of seconds, 0 or more, e.g. 60")
    cards = read_list(data, "scorecards", path, lambda i, p: _scorecard(i, p, line_ids))
    _unique([card.id for card in cards], at(path, "scorecards"))
    draw_day = _draw_on_day(data.get("draw_on_day", 5), at(path, "draw_on_day"))
    kept = keep_period(
        data, "keep_evaluations", path, KEEP_EVALUATIONS, least_months=LEAST_EVALUATION_MONTHS
    )
    return QualitySampling(
        per_advisor, float(shortest), cards, draw_on_day=draw_day, keep_evaluations=kept
    )


def _draw_on_day(value: object, field: str) -> int:
    # 28 at most: every month has a 28th, so every month has its draw day.
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 28:
        raise fail(
            field,
            "write a day of the month from 1 to 28, e.g. 5: each month is drawn on or after "
            "that day of the next (UK time), once calls uploaded late are in",
        )
    return value


def _scorecard(item: object, path: str, line_ids: frozenset[str]) -> Scorecard:
    data = mapping(item, path, "each scorecard must be a mapping with `id`, `name`, `items`")
    check_keys(data, SCORECARD_KEYS, path, required=("id", "name", "items"))
    lines = []
    for field, line in strings(data, "lines", path):
        if line not in line_ids:
            raise fail(field, f"unknown line {line!r}; name a line defined under `lines:`")
        lines.append(line)
    items = read_list(data, "items", path, _score_item)
    if not items:
        raise fail(at(path, "items"), "list at least one question to score")
    _unique([item.id for item in items], at(path, "items"))
    return Scorecard(ident(data, path), text(data, "name", path), items, tuple(lines))


def _score_item(item: object, path: str) -> ScoreItem:
    data = mapping(item, path, "each item must be a mapping with `id`, `question`, `points`")
    check_keys(data, SCORE_ITEM_KEYS, path, required=("id", "question", "points"))
    points = data["points"]
    if isinstance(points, bool) or not isinstance(points, int) or not 1 <= points <= 100:
        raise fail(at(path, "points"), "write the most points the question scores, 1 to 100")
    return ScoreItem(ident(data, path), text(data, "question", path), points)


def _unique(ids: list[str], field: str) -> None:
    for i, item_id in enumerate(ids):
        if item_id in ids[:i]:
            raise fail(f"{field}[{i}].id", f"{item_id!r} is used twice; give each an id of its own")


def read_topics(data: Mapping[str, Any]) -> tuple[Topic, ...]:
    topics = read_list(data, "topics", "", read_topic)
    _unique([topic.id for topic in topics], "topics")
    return topics


__all__ = ["read_opening_hours", "read_quality", "read_topics"]
