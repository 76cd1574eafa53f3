"""Times and lengths as every page shows them (``web.pages.when``): UK time whatever the
season, a day as its UK day, lengths as an audio player's clock, form days checked."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from callvault.errors import BadInput
from callvault.uktime import UK
from callvault.web.pages.when import (
    day_start,
    day_text,
    duration_text,
    parse_day,
    stamp_text,
    when_text,
)


def test_times_are_uk_time_in_winter_and_summer() -> None:
    assert UK.key == "Europe/London"
    assert when_text("2026-11-28T16:05:00+00:00") == "28 Nov 2026, 16:05"  # GMT
    assert when_text("2026-07-01T08:30:00.123456+00:00") == "1 Jul 2026, 09:30"  # BST
    assert when_text(datetime(2026, 7, 1, 8, 30, tzinfo=UTC)) == "1 Jul 2026, 09:30"
    # A time written without a zone is UTC, as the database keeps them.
    assert when_text("2026-07-01T08:30:00") == "1 Jul 2026, 09:30"
    assert when_text(None) == "" and when_text("") == ""


def test_stamps_are_to_the_second() -> None:
    assert stamp_text("2026-06-30T23:30:05.900000+00:00") == "2026-07-01 00:30:05"
    assert stamp_text("2026-01-15T09:05:00") == "2026-01-15 09:05:00"
    assert stamp_text(None) == ""


def test_a_day_is_the_date_or_the_uk_day_of_an_instant() -> None:
    assert day_text(date(2026, 11, 28)) == "28 Nov 2026"
    assert day_text("2026-11-28") == "28 Nov 2026"
    # 23:30 UTC on 30 June is already 1 July in the UK.
    assert day_text("2026-06-30T23:30:00+00:00") == "1 Jul 2026"
    assert day_text(datetime(2026, 6, 30, 23, 30, tzinfo=UTC)) == "1 Jul 2026"
    assert day_text(None) == ""


def test_lengths_read_as_an_audio_players_clock() -> None:
    # Whole seconds rounded down, as an <audio> element's clock shows them: a call of 8.9 s
    # is 0:08 there, so it is 0:08 on every page.
    assert duration_text(0) == "0:00" and duration_text(8.9) == "0:08"
    assert duration_text(42.9) == "0:42" and duration_text(60) == "1:00"
    # The end of a span rounds up, so that the range shown covers all of it.
    assert duration_text(57.2, up=True) == "0:58" and duration_text(57, up=True) == "0:57"
    assert duration_text(3725) == "1:02:05"
    assert duration_text(-0.5) == "0:00"


def test_a_day_starts_at_uk_midnight() -> None:
    summer = day_start(date(2026, 7, 1))
    assert summer.astimezone(UTC) == datetime(2026, 6, 30, 23, 0, tzinfo=UTC)
    winter = day_start(date(2026, 1, 15))
    assert winter.astimezone(UTC) == datetime(2026, 1, 15, 0, 0, tzinfo=UTC)


def test_a_form_day_is_read_or_refused_naming_its_field() -> None:
    assert parse_day({"from": " 2026-11-28 "}, "from") == date(2026, 11, 28)
    assert parse_day({"from": ""}, "from") is None and parse_day({}, "from") is None
    for typed in ("2026-13-45", "yesterday", "28/11/2026", "20261128", "2026-W48-6",
                  "9999-12-31", "0001-01-01", "2026-11-28" * 20):  # fmt: skip
        with pytest.raises(BadInput) as refused:
            parse_day({"to": typed}, "to", "To date")
        assert refused.value.field == "to", typed
        assert refused.value.message == "To date must be a real date, like 2026-11-28", typed
