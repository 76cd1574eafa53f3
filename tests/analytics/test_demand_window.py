"""The demand report's window: UK days, instants as given, bounds and limits."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from callvault.analytics.demand import DemandWindow
from callvault.errors import BadInput

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def instants(window: DemandWindow) -> tuple[str, str]:
    return window.start.isoformat(), window.end.isoformat()


def test_a_summer_day_starts_at_midnight_bst() -> None:
    window = DemandWindow.parse("2026-07-01", "2026-07-02")
    assert instants(window) == ("2026-06-30T23:00:00+00:00", "2026-07-01T23:00:00+00:00")
    assert window.days == [date(2026, 7, 1)]


def test_a_winter_day_starts_at_midnight_gmt() -> None:
    window = DemandWindow.parse("2026-12-01", "2026-12-02")
    assert instants(window) == ("2026-12-01T00:00:00+00:00", "2026-12-02T00:00:00+00:00")


def test_across_the_clocks_going_back() -> None:
    """25 October 2026 has 25 hours; the window still holds three UK days."""
    window = DemandWindow.parse("2026-10-24", "2026-10-27")
    assert instants(window) == ("2026-10-23T23:00:00+00:00", "2026-10-27T00:00:00+00:00")
    assert window.days == [date(2026, 10, 24), date(2026, 10, 25), date(2026, 10, 26)]


def test_times_with_an_offset_are_taken_as_given_and_without_one_as_uk_time() -> None:
    given = DemandWindow.parse("2026-07-01T09:00:00+00:00", "2026-07-01T10:00:00Z")
    assert instants(given) == ("2026-07-01T09:00:00+00:00", "2026-07-01T10:00:00+00:00")
    local = DemandWindow.parse("2026-07-01T09:00", "2026-07-01T10:00:00+01:00")
    assert instants(local) == ("2026-07-01T08:00:00+00:00", "2026-07-01T09:00:00+00:00")
    # An end that is not midnight: its day is in the window.
    assert local.days == [date(2026, 7, 1)]


def test_default_is_the_28_days_to_now() -> None:
    assert instants(DemandWindow.parse(None, None, now=NOW)) == (
        "2026-11-01T12:00:00+00:00", "2026-11-29T12:00:00+00:00",
    )  # fmt: skip
    # Only --to: the 28 days before it.
    assert DemandWindow.parse(None, "2026-11-01").start.isoformat() == "2026-10-04T00:00:00+00:00"


def test_400_days_is_the_most() -> None:
    assert len(DemandWindow.parse("2025-08-01", "2026-09-05").days) == 400
    # From summer time into winter time, 400 UK days last 400 days and an hour.
    assert len(DemandWindow.parse("2025-10-01", "2026-11-05").days) == 400
    with pytest.raises(BadInput) as error:
        DemandWindow.parse("2025-08-01", "2026-09-06")
    assert error.value.field == "from" and "400 days at most" in error.value.message


@pytest.mark.parametrize(
    ("from_", "to", "field", "words"),
    [
        ("2026-09-07", "2026-08-24", "from", "before to"),
        ("2026-08-24", "2026-08-24", "from", "before to"),
        ("last week", "2026-08-24", "from", "not a date or time"),
        ("2026-08-24", "soon", "to", "not a date or time"),
        ("2026-02-30", None, "from", "2026-11-01"),
        (None, "0001-01-02", "to", "too early"),
        ("0001-01-01T00:00:00+01:00", "2026-01-01", "from", "not a date or time"),
    ],
)
def test_bad_windows_name_the_field(
    from_: str | None, to: str | None, field: str, words: str
) -> None:
    with pytest.raises(BadInput) as error:
        DemandWindow.parse(from_, to, now=NOW)
    assert error.value.field == field
    assert words in error.value.message
