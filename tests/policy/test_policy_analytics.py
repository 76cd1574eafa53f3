"""The policy's demand and quality sections: opening hours, topics, quality sampling.

Every bad value is a ConfigError naming its field path and the fix; good values parse; and
``OpeningHours.is_open`` draws its lines where the policy says (09:00 open, 17:00 shut).
"""

from __future__ import annotations

from datetime import datetime

import pytest
from _policy_seed import Mutation, load

from callvault.errors import ConfigError
from callvault.policy.analytics_model import ALWAYS_OPEN, OFFICE_HOURS, OpeningHours


def hours(**days: object) -> Mutation:
    return lambda d: d.update(opening_hours=days)


def quality(**changes: object) -> Mutation:
    return lambda d: d["quality"].update(changes)


def item(card: int, n: int, **changes: object) -> Mutation:
    return lambda d: d["quality"]["scorecards"][card]["items"][n].update(changes)


# (what, mutation, field path, words the message must contain)
ERRORS: list[tuple[str, Mutation, str, str]] = [
    ("a span that is not one", hours(weekdays="9 till 5"), "opening_hours.weekdays",
     "09:00-17:00"),
    ("a span ending before it starts", hours(weekdays="17:00-09:00"), "opening_hours.weekdays",
     "cannot cross midnight"),
    ("a span past midnight", hours(weekdays="09:00-24:30"), "opening_hours.weekdays",
     "24:00 at the latest"),
    ("an hour out of range", hours(monday="25:00-26:00"), "opening_hours.monday",
     "before the end"),
    ("spans that overlap", hours(weekdays=["09:00-13:00", "12:00-17:00"]),
     "opening_hours.weekdays", "overlap"),
    ("one bad span of several", hours(weekend=["09:00-12:00", 12]), "opening_hours.weekend[1]",
     "not a span"),
    ("bank holidays neither open nor closed", hours(bank_holidays="sometimes"),
     "opening_hours.bank_holidays", "`closed`, `open`"),
    ("a typo in a day", hours(mondya="09:00-17:00"), "opening_hours.mondya", "monday"),
    ("hours that are not a mapping", lambda d: d.update(opening_hours="9 to 5"), "opening_hours",
     "always"),
    ("a line's hours that are not a mapping",
     lambda d: d["lines"][0].update(opening_hours="nights"), "lines[0].opening_hours", "always"),
    ("a line's bad span", lambda d: d["lines"][1].update(opening_hours={"weekdays": "9-5"}),
     "lines[1].opening_hours.weekdays", "09:00-17:00"),
    ("a topic without words", lambda d: d["topics"][0].update(words=[]), "topics[0].words",
     "missed bin"),
    ("a topic word of spaces", lambda d: d["topics"][2].update(words=["  "]), "topics[2].words",
     "list the words"),
    ("a topic id used twice", lambda d: d["topics"][1].update(id="missed_collection"),
     "topics[1].id", "used twice"),
    ("a topic id that is not one", lambda d: d["topics"][0].update(id="Missed Bins"),
     "topics[0].id", "not a valid id"),
    ("a topic key misspelt", lambda d: d["topics"][0].update(word=["bin"]), "topics[0].word",
     "words"),
    ("topics that are not a list", lambda d: d.update(topics={"bins": ["bin"]}), "topics",
     "write a list"),
    ("no calls per advisor", quality(calls_per_advisor=0), "quality.calls_per_advisor",
     "1 to 100"),
    ("too many calls per advisor", quality(calls_per_advisor=101),
     "quality.calls_per_advisor", "1 to 100"),
    ("calls per advisor as yes", quality(calls_per_advisor=True), "quality.calls_per_advisor",
     "whole number"),
    ("a negative shortest call", quality(min_duration_s=-1), "quality.min_duration_s",
     "0 or more"),
    ("an endless shortest call", quality(min_duration_s=float("inf")),
     "quality.min_duration_s", "0 or more"),
    ("a shortest call that is not a number", quality(min_duration_s=float("nan")),
     "quality.min_duration_s", "0 or more"),
    ("no draw day", quality(draw_on_day=0), "quality.draw_on_day", "1 to 28"),
    ("a draw day not every month has", quality(draw_on_day=29), "quality.draw_on_day",
     "1 to 28"),
    ("a draw day as yes", quality(draw_on_day=True), "quality.draw_on_day", "day of the month"),
    ("a draw day in words", quality(draw_on_day="5th"), "quality.draw_on_day", "e.g. 5"),
    ("a draw day with a fraction", quality(draw_on_day=2.5), "quality.draw_on_day", "1 to 28"),
    ("a question worth nothing", item(0, 1, points=0),
     "quality.scorecards[0].items[1].points", "1 to 100"),
    ("a question worth a fraction", item(0, 1, points=2.5),
     "quality.scorecards[0].items[1].points", "1 to 100"),
    ("a question id used twice", item(0, 2, id="greeting"),
     "quality.scorecards[0].items[2].id", "used twice"),
    ("a scorecard for an unknown line",
     lambda d: d["quality"]["scorecards"][0].update(lines=["parking", "bins"]),
     "quality.scorecards[0].lines[1]", "unknown line"),
    ("a scorecard with no questions",
     lambda d: d["quality"]["scorecards"][0].update(items=[]),
     "quality.scorecards[0].items", "at least one"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("mutate", "field", "words"), [case[1:] for case in ERRORS], ids=[case[0] for case in ERRORS]
)
def test_bad_values_name_the_field(mutate: Mutation, field: str, words: str) -> None:
    with pytest.raises(ConfigError) as error:
        load(mutate)
    assert error.value.field == field
    assert field in error.value.message and words in error.value.message


def test_the_example_parses() -> None:
    policy = load(lambda d: None)
    assert policy.opening_hours == OFFICE_HOURS
    assert [topic.id for topic in policy.topics][:2] == ["missed_collection", "repairs"]
    assert policy.hours_for("careline") == ALWAYS_OPEN
    assert policy.hours_for("parking") == policy.opening_hours
    assert policy.hours_for("a_line_since_removed") == policy.opening_hours
    evenings = policy.hours_for("out_of_hours")
    assert evenings.describe_day(0) == "00:00-09:00, 17:00-24:00"
    assert evenings.describe_day(6) == "00:00-24:00"
    assert evenings.bank_holidays == ((0, 24 * 60),)  # answered all day on bank holidays
    assert (policy.quality.calls_per_advisor, policy.quality.min_duration_s) == (4, 60.0)
    assert policy.quality.scorecards[0].max_points == 18


def test_good_values_parse() -> None:
    policy = load(
        lambda d: d.update(
            opening_hours={"weekdays": ["08:00-12:30", "13:30-18:00"], "friday": "08:00-16:00",
                           "saturday": "10:00-13:00", "bank_holidays": "open"},
            topics=[{"id": "fly_tipping", "name": "Fly-tipping",
                     "words": ["Fly  Tipping", "dumped"]}],
        )
    )  # fmt: skip
    opened = policy.opening_hours
    assert opened.describe_day(0) == "08:00-12:30, 13:30-18:00"
    assert opened.describe_day(4) == "08:00-16:00"  # a named day overrides the group
    assert (opened.describe_day(5), opened.describe_day(6)) == ("10:00-13:00", "closed")
    assert opened.bank_holidays is None  # "open": the weekday's own hours
    assert policy.topics[0].words == ("fly tipping", "dumped")  # lower case, one space
    assert load(lambda d: d.update(opening_hours="always")).opening_hours == ALWAYS_OPEN
    assert load(lambda d: d.pop("opening_hours")).opening_hours == OFFICE_HOURS
    assert load(lambda d: d.pop("topics")).topics == ()
    assert load(quality(min_duration_s=0)).quality.min_duration_s == 0.0
    assert load(lambda d: None).quality.draw_on_day == 5
    assert load(lambda d: d["quality"].pop("draw_on_day")).quality.draw_on_day == 5  # default
    assert [load(quality(draw_on_day=day)).quality.draw_on_day for day in (1, 28)] == [1, 28]


def at(day: str, clock: str) -> datetime:
    return datetime.fromisoformat(f"{day}T{clock}")


@pytest.mark.parametrize(
    ("clock", "is_open"),
    [("08:59:59", False), ("09:00:00", True), ("16:59:59", True), ("17:00:00", False)],
)
def test_office_hours_boundaries(clock: str, is_open: bool) -> None:
    assert OFFICE_HOURS.is_open(at("2026-11-25", clock), bank_holiday=False) is is_open


def test_weekends_and_bank_holidays() -> None:
    assert not OFFICE_HOURS.is_open(at("2026-11-28", "10:00"), bank_holiday=False)  # Saturday
    # Monday 31 August 2026, the summer bank holiday: shut unless the hours say open.
    assert not OFFICE_HOURS.is_open(at("2026-08-31", "10:00"), bank_holiday=True)
    assert ALWAYS_OPEN.is_open(at("2026-08-31", "03:00"), bank_holiday=True)
    assert ALWAYS_OPEN.is_open(at("2026-08-31", "23:59:59"), bank_holiday=True)
    # The out_of_hours line answers all day on bank holidays (its own bank_holidays span),
    # though on an ordinary Monday it is shut from 09:00 to 17:00.
    nights = load(lambda d: None).hours_for("out_of_hours")
    assert nights.is_open(at("2026-08-31", "20:00"), bank_holiday=True)
    assert nights.is_open(at("2026-08-31", "10:00"), bank_holiday=True)
    assert not nights.is_open(at("2026-08-24", "10:00"), bank_holiday=False)
    # "open" keeps the weekday's own hours on a bank holiday.
    monday_hours = OpeningHours(days=OFFICE_HOURS.days, bank_holidays=None)
    assert monday_hours.is_open(at("2026-08-31", "10:00"), bank_holiday=True)
    assert not monday_hours.is_open(at("2026-08-31", "08:00"), bank_holiday=True)
    assert not nights.is_open(at("2026-09-01", "10:00"), bank_holiday=False)
    assert nights.is_open(at("2026-09-01", "08:59"), bank_holiday=False)
    assert nights.is_open(at("2026-09-01", "17:00"), bank_holiday=False)
    shut = OpeningHours(days=((),) * 7)
    assert not shut.is_open(at("2026-09-01", "12:00"), bank_holiday=False)
