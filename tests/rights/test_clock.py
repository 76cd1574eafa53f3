"""The subject access clock and the bank holidays it stands on, with dates worked by hand.

Each expected date is worked out in the comment beside it, from a calendar, not from the code.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, timedelta

import pytest

from callvault.errors import BadInput
from callvault.rights.bank_holidays import HolidayCalendar, easter_sunday, england_and_wales
from callvault.rights.clock import (
    ClockState,
    Extension,
    Pause,
    check_extension,
    corresponding_date,
    statutory_clock,
)

CALENDAR = HolidayCalendar()
D = date.fromisoformat


def deadline_of(
    received: str, *, pauses: Sequence[Pause] = (), extension: Extension | None = None
) -> date | None:
    state = statutory_clock(D(received), pauses=pauses, extension=extension, calendar=CALENDAR)
    return state.deadline


# --- bank holidays ------------------------------------------------------------------------

# gov.uk's England and Wales list, written out by hand.
GOV_UK = {
    2019: "01-01 04-19 04-22 05-06 05-27 08-26 12-25 12-26",
    # VE Day 75: early May moved to Friday 8 May; Boxing Day Saturday → Monday 28.
    2020: "01-01 04-10 04-13 05-08 05-25 08-31 12-25 12-28",
    # Christmas Saturday → Monday 27; Boxing Day Sunday → Tuesday 28.
    2021: "01-01 04-02 04-05 05-03 05-31 08-30 12-27 12-28",
    # New Year Saturday → Monday 3 January; spring moved to Thursday 2 June, jubilee Friday 3;
    # state funeral Monday 19 September; Christmas Sunday → Boxing Monday 26, Tuesday 27.
    2022: "01-03 04-15 04-18 05-02 06-02 06-03 08-29 09-19 12-26 12-27",
    # New Year Sunday → Monday 2 January; coronation Monday 8 May.
    2023: "01-02 04-07 04-10 05-01 05-08 05-29 08-28 12-25 12-26",
    2024: "01-01 03-29 04-01 05-06 05-27 08-26 12-25 12-26",
    2025: "01-01 04-18 04-21 05-05 05-26 08-25 12-25 12-26",
    # Christmas Friday; Boxing Day Saturday → Monday 28.
    2026: "01-01 04-03 04-06 05-04 05-25 08-31 12-25 12-28",
    # Christmas Saturday → Monday 27, Boxing Day → Tuesday 28.
    2027: "01-01 03-26 03-29 05-03 05-31 08-30 12-27 12-28",
}


@pytest.mark.parametrize("year", sorted(GOV_UK))
def test_bank_holidays_match_gov_uk(year: int) -> None:
    expected = {D(f"{year}-{month_day}") for month_day in GOV_UK[year].split()}
    assert england_and_wales(year) == expected


@pytest.mark.parametrize(
    ("year", "easter"),
    [
        (1995, "1995-04-16"),
        (2000, "2000-04-23"),
        (2008, "2008-03-23"),  # early: 23 March
        (2011, "2011-04-24"),  # late: 24 April, then the royal wedding Friday 29th
        (2038, "2038-04-25"),  # the latest date Easter can fall on
        (2100, "2100-03-28"),
    ],
)
def test_easter_sunday(year: int, easter: str) -> None:
    assert easter_sunday(year) == D(easter)


def test_one_off_and_moved_days_before_gov_uk_list() -> None:
    # 1995: VE Day 50 moved early May from Monday 1 to Monday 8 May.
    assert D("1995-05-08") in england_and_wales(1995)
    assert D("1995-05-01") not in england_and_wales(1995)
    # 1999: millennium Friday 31 December; 2000: New Year Saturday → Monday 3 January.
    assert D("1999-12-31") in england_and_wales(1999)
    assert D("2000-01-03") in england_and_wales(2000)
    # 2002: spring moved from Monday 27 May to Tuesday 4 June; golden jubilee Monday 3 June.
    assert {D("2002-06-03"), D("2002-06-04")} <= england_and_wales(2002)
    assert D("2002-05-27") not in england_and_wales(2002)
    # 2011: royal wedding Friday 29 April.
    assert D("2011-04-29") in england_and_wales(2011)
    # 2012: spring moved from Monday 28 May to Monday 4 June; diamond jubilee Tuesday 5 June.
    assert {D("2012-06-04"), D("2012-06-05")} <= england_and_wales(2012)
    assert D("2012-05-28") not in england_and_wales(2012)
    # 2020: early May was Friday 8 May, so Monday 4 May was a working day.
    assert D("2020-05-04") not in england_and_wales(2020)


def test_holiday_count_per_year() -> None:
    # Eight every year, plus one for each day added (a moved day replaces its usual one).
    extra = {1999: 1, 2002: 1, 2011: 1, 2012: 1, 2022: 2, 2023: 1}
    for year in range(1995, 2101):
        assert len(england_and_wales(year)) == 8 + extra.get(year, 0), year


def test_every_holiday_is_a_weekday_in_its_year() -> None:
    for year in range(1995, 2101):
        for day in england_and_wales(year):
            assert day.year == year
            assert day.weekday() < 5, day


@pytest.mark.parametrize("year", [1994, 2101])
def test_years_outside_the_calendar_are_refused(year: int) -> None:
    with pytest.raises(ValueError, match=str(year)):
        england_and_wales(year)


def test_working_days() -> None:
    assert CALENDAR.is_working_day(D("2026-12-24"))  # Thursday
    assert not CALENDAR.is_working_day(D("2026-12-25"))  # Friday, Christmas
    assert not CALENDAR.is_working_day(D("2026-12-26"))  # Saturday
    assert not CALENDAR.is_working_day(D("2026-12-28"))  # Monday, Boxing Day substitute
    assert CALENDAR.next_working_day_on_or_after(D("2026-12-25")) == D("2026-12-29")
    assert CALENDAR.next_working_day_on_or_after(D("2026-12-29")) == D("2026-12-29")


def test_extra_days_set_by_the_council() -> None:
    # Say a day is proclaimed for Monday 7 June 2027: then Tuesday 8 June is next working day.
    council = HolidayCalendar(extra=frozenset({D("2027-06-07")}))
    assert not council.is_working_day(D("2027-06-07"))
    assert CALENDAR.is_working_day(D("2027-06-07"))
    assert council.next_working_day_on_or_after(D("2027-06-05")) == D("2027-06-08")
    assert D("2027-06-07") in council.holidays(2027)
    assert D("2027-06-07") not in council.holidays(2026)


# --- corresponding date -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        ("2025-01-15", 1, "2025-02-15"),  # the same day number
        ("2025-01-31", 1, "2025-02-28"),  # no 31 February: last day, 2025 not a leap year
        ("2024-01-31", 1, "2024-02-29"),  # 2024 is a leap year
        ("2025-01-30", 1, "2025-02-28"),  # no 30 February either
        ("2025-01-29", 1, "2025-02-28"),  # nor 29 February in 2025
        ("2025-03-31", 1, "2025-04-30"),  # April has 30 days
        ("2028-01-29", 1, "2028-02-29"),  # 2028 is a leap year: 29 exists
        ("2028-01-30", 1, "2028-02-29"),
        ("2028-01-31", 1, "2028-02-29"),
        ("2100-01-29", 1, "2100-02-28"),  # 2100 divisible by 100, not 400: no 29 February
        ("2025-12-31", 1, "2026-01-31"),  # across the year end
        ("2025-11-30", 3, "2026-02-28"),  # three months, into February
        ("2025-05-31", 3, "2025-08-31"),
        ("2025-06-30", 0, "2025-06-30"),
    ],
)
def test_corresponding_date(start: str, months: int, expected: str) -> None:
    assert corresponding_date(D(start), months) == D(expected)


def test_corresponding_date_refuses_negative_months() -> None:
    with pytest.raises(ValueError, match="months"):
        corresponding_date(D("2025-01-01"), -1)


# --- one month, weekends and bank holidays ------------------------------------------------


@pytest.mark.parametrize(
    ("received", "expected"),
    [
        # 31 Jan 2025 → 28 Feb 2025, a Friday.
        ("2025-01-31", "2025-02-28"),
        # 31 Jan 2024 → 29 Feb 2024, a Thursday.
        ("2024-01-31", "2024-02-29"),
        # 31 Mar 2025 → 30 Apr 2025, a Wednesday.
        ("2025-03-31", "2025-04-30"),
        # 30 Jan 2025 → no 30 Feb → 28 Feb 2025, a Friday.
        ("2025-01-30", "2025-02-28"),
        # 29, 30, 31 Jan 2028 → 29 Feb 2028, a Tuesday (1 Jan 2028 is a Saturday; +59 days).
        ("2028-01-29", "2028-02-29"),
        ("2028-01-30", "2028-02-29"),
        ("2028-01-31", "2028-02-29"),
        # 31 Jan 2100 → 28 Feb 2100 (not a leap year), a Sunday → Monday 1 March 2100.
        ("2100-01-31", "2100-03-01"),
        # 14 May 2025 → Saturday 14 June → Monday 16 June.
        ("2025-05-14", "2025-06-16"),
        # 15 May 2025 → Sunday 15 June → Monday 16 June.
        ("2025-05-15", "2025-06-16"),
        # Received on a Saturday still starts the clock: Sat 10 May 2025 → Tue 10 June.
        ("2025-05-10", "2025-06-10"),
        # 25 Nov 2026 → Fri 25 Dec (Christmas) → Sat 26, Sun 27 → Mon 28 (Boxing Day
        # substitute) → Tuesday 29 December 2026.
        ("2026-11-25", "2026-12-29"),
        # 26 Nov 2026 → Sat 26 Dec → same run of closed days → Tuesday 29 December.
        ("2026-11-26", "2026-12-29"),
        # 25 Nov 2027 → Sat 25 Dec → Sun 26, Mon 27 and Tue 28 (substitutes) → Wed 29 Dec.
        ("2027-11-25", "2027-12-29"),
        # 3 Mar 2026 → Good Friday 3 Apr → Sat, Sun, Easter Monday 6 Apr → Tuesday 7 April.
        ("2026-03-03", "2026-04-07"),
        # 6 Mar 2026 → Easter Monday 6 April → Tuesday 7 April.
        ("2026-03-06", "2026-04-07"),
        # 2 May 2022 → Thu 2 June (spring, moved) → Fri 3 (platinum jubilee) → Sat, Sun →
        # Monday 6 June 2022.
        ("2022-05-02", "2022-06-06"),
        # 30 Apr 2022 → Mon 30 May: the usual spring holiday moved away, so a working day.
        ("2022-04-30", "2022-05-30"),
        # 19 Aug 2022 → Mon 19 Sep, the state funeral → Tuesday 20 September.
        ("2022-08-19", "2022-09-20"),
        # 8 Apr 2023 → Mon 8 May, the coronation → Tuesday 9 May.
        ("2023-04-08", "2023-05-09"),
        # 31 Jul 2026 → Mon 31 Aug, summer bank holiday → Tuesday 1 September.
        ("2026-07-31", "2026-09-01"),
        # 1 Dec 2026 → Fri 1 Jan 2027, New Year → Sat, Sun → Monday 4 January 2027.
        ("2026-12-01", "2027-01-04"),
    ],
)
def test_one_month_deadline(received: str, expected: str) -> None:
    state = statutory_clock(D(received), calendar=CALENDAR)
    assert state == ClockState(
        received=D(received),
        deadline=D(expected),
        paused_days=0,
        stopped=False,
        extended_months=0,
    )


def test_council_extra_day_moves_the_deadline() -> None:
    # 7 May 2027 → Mon 7 June 2027; a council-set holiday that day → Tuesday 8 June.
    council = HolidayCalendar(extra=frozenset({D("2027-06-07")}))
    assert statutory_clock(D("2027-05-07"), calendar=council).deadline == D("2027-06-08")
    assert statutory_clock(D("2027-05-07"), calendar=CALENDAR).deadline == D("2027-06-07")


def test_deadline_is_a_working_day_close_after_the_corresponding_date() -> None:
    day = D("2024-01-01")
    while day <= D("2030-12-31"):
        deadline = statutory_clock(day, calendar=CALENDAR).deadline
        corresponding = corresponding_date(day, 1)
        assert deadline is not None
        assert CALENDAR.is_working_day(deadline), day
        # The longest closed run is four days (Christmas on a Saturday: Sat, Sun, Mon, Tue).
        assert 0 <= (deadline - corresponding).days < 6, day
        day += timedelta(days=1)


# --- pauses (Art. 12A) --------------------------------------------------------------------

# Received Monday 1 June 2026 → Wednesday 1 July 2026 without pauses.
RECEIVED = "2026-06-01"


def test_no_pause() -> None:
    assert deadline_of(RECEIVED) == D("2026-07-01")


def test_closed_pause_adds_its_days() -> None:
    # Asked 3 June, answer 10 June: 7 days → 1 July + 7 = Wednesday 8 July.
    state = statutory_clock(
        D(RECEIVED), pauses=[Pause(D("2026-06-03"), D("2026-06-10"), "identity")], calendar=CALENDAR
    )
    assert state.deadline == D("2026-07-08")
    assert state.paused_days == 7
    assert not state.stopped


def test_several_pauses_add_up_then_the_weekend_rule_applies() -> None:
    # 7 days (3→10 June) + 3 days (15→18 June) = 10 → 1 July + 10 = Saturday 11 July →
    # Monday 13 July 2026. Given out of order: the clock sorts them.
    pauses = [
        Pause(D("2026-06-15"), D("2026-06-18"), "clarification"),
        Pause(D("2026-06-03"), D("2026-06-10"), "identity"),
    ]
    state = statutory_clock(D(RECEIVED), pauses=pauses, calendar=CALENDAR)
    assert state.deadline == D("2026-07-13")
    assert state.paused_days == 10


def test_pause_days_push_the_date_before_the_working_day_rule() -> None:
    # 14 Nov 2026 → Mon 14 Dec. Paused 16→27 Nov: 11 days → Fri 25 Dec (Christmas) → Sat,
    # Sun, Mon 28 (Boxing Day substitute) → Tuesday 29 December 2026.
    pause = Pause(D("2026-11-16"), D("2026-11-27"), "identity")
    assert deadline_of("2026-11-14", pauses=[pause]) == D("2026-12-29")


def test_same_day_answer_and_touching_pauses() -> None:
    # Asked and answered on 3 June: 0 days. Then 3→5 June and 5→8 June: 2 + 3 = 5 days →
    # 1 July + 5 = Monday 6 July.
    pauses = [
        Pause(D("2026-06-03"), D("2026-06-03"), "identity"),
        Pause(D("2026-06-03"), D("2026-06-05"), "identity"),
        Pause(D("2026-06-05"), D("2026-06-08"), "clarification"),
    ]
    assert deadline_of(RECEIVED, pauses=pauses) == D("2026-07-06")


def test_pause_may_start_on_the_day_of_receipt() -> None:
    # 1→4 June: 3 days → Saturday 4 July → Monday 6 July.
    pause = Pause(D(RECEIVED), D("2026-06-04"), "identity")
    assert deadline_of(RECEIVED, pauses=[pause]) == D("2026-07-06")


def test_open_pause_stops_the_clock() -> None:
    pauses = [
        Pause(D("2026-06-03"), D("2026-06-10"), "identity"),
        Pause(D("2026-06-20"), None, "clarification"),
    ]
    state = statutory_clock(D(RECEIVED), pauses=pauses, calendar=CALENDAR)
    assert state.deadline is None
    assert state.stopped
    assert state.paused_days == 7  # the closed pause only
    assert state.days_left(D("2026-08-01")) is None
    assert state.working_days_left(D("2026-08-01"), CALENDAR) is None
    assert not state.is_overdue(D("2026-12-31"))


def test_pause_may_start_on_the_deadline_but_not_after() -> None:
    # The deadline is Wednesday 1 July: a pause that day stops a clock still running.
    on_time = Pause(D("2026-07-01"), D("2026-07-03"), "identity")
    assert deadline_of(RECEIVED, pauses=[on_time]) == D("2026-07-03")  # 1 July + 2 = Fri 3
    late = Pause(D("2026-07-02"), None, "identity")
    with pytest.raises(BadInput, match="already run out") as caught:
        deadline_of(RECEIVED, pauses=[late])
    assert caught.value.field == "pauses[0].start"


def test_a_second_pause_is_measured_against_the_pushed_deadline() -> None:
    # 7 days paused in June push the deadline to 8 July; a pause on 8 July is in time.
    pauses = [
        Pause(D("2026-06-03"), D("2026-06-10"), "identity"),
        Pause(D("2026-07-08"), D("2026-07-09"), "clarification"),
    ]
    assert deadline_of(RECEIVED, pauses=pauses) == D("2026-07-09")  # 1 July + 8 = Thu 9


@pytest.mark.parametrize(
    ("pauses", "field", "words"),
    [
        # Overlapping: 3→10 June and 9→12 June.
        (
            [
                Pause(D("2026-06-03"), D("2026-06-10"), "identity"),
                Pause(D("2026-06-09"), D("2026-06-12"), "identity"),
            ],
            "pauses[1].start",
            "falls inside pauses[0]",
        ),
        # A pause after one still open.
        (
            [
                Pause(D("2026-06-15"), D("2026-06-16"), "identity"),
                Pause(D("2026-06-03"), None, "identity"),
            ],
            "pauses[0].start",
            "still open",
        ),
        ([Pause(D("2026-05-31"), None, "identity")], "pauses[0].start", "before the request"),
        (
            [Pause(D("2026-06-10"), D("2026-06-09"), "identity")],
            "pauses[0].end",
            "before its start",
        ),
        ([Pause(D("2026-06-03"), None, "holiday")], "pauses[0].reason", "'identity'"),
    ],
)
def test_bad_pauses_are_refused(pauses: list[Pause], field: str, words: str) -> None:
    with pytest.raises(BadInput, match=re.escape(words)) as caught:
        deadline_of(RECEIVED, pauses=pauses)
    assert caught.value.field == field


def test_no_pause_before_art_12a_came_into_force() -> None:
    # Received Monday 2 Feb 2026; asked on Wednesday 4 Feb, a day before 5 Feb 2026.
    early = Pause(D("2026-02-04"), D("2026-02-06"), "identity")
    with pytest.raises(BadInput, match="2026-02-05") as caught:
        deadline_of("2026-02-02", pauses=[early])
    assert caught.value.field == "pauses[0].start"
    # From 5 Feb it may: 2 Feb → Mon 2 Mar, + 2 days (5→7 Feb) = Wednesday 4 March.
    in_force = Pause(D("2026-02-05"), D("2026-02-07"), "identity")
    assert deadline_of("2026-02-02", pauses=[in_force]) == D("2026-03-04")


# --- extensions -----------------------------------------------------------------------------


def test_two_month_extension() -> None:
    # 1 June 2026 + 3 months = Tuesday 1 September 2026 (31 Aug, the holiday, is the day before).
    extension = Extension(
        months=2, reason="many recordings across services", told_on=D("2026-06-20")
    )
    state = statutory_clock(D(RECEIVED), extension=extension, calendar=CALENDAR)
    assert state.deadline == D("2026-09-01")
    assert state.extended_months == 2


def test_one_month_extension_lands_on_a_weekend() -> None:
    # 1 June 2026 + 2 months = Saturday 1 August → Monday 3 August 2026.
    extension = Extension(months=1, reason="complex", told_on=D("2026-06-20"))
    assert deadline_of(RECEIVED, extension=extension) == D("2026-08-03")


def test_extension_with_a_pause() -> None:
    # 1 Sep 2026 (three months) + 7 paused days = Tuesday 8 September 2026.
    extension = Extension(months=2, reason="complex", told_on=D("2026-06-20"))
    pause = Pause(D("2026-06-03"), D("2026-06-10"), "identity")
    assert deadline_of(RECEIVED, extension=extension, pauses=[pause]) == D("2026-09-08")


def test_extended_deadline_allows_a_pause_in_the_second_month() -> None:
    # One-month deadline 1 July has passed, but the extended one (1 Sep) has not: a pause
    # 10→13 July adds 3 days → Friday 4 September 2026.
    extension = Extension(months=2, reason="complex", told_on=D("2026-06-20"))
    pause = Pause(D("2026-07-10"), D("2026-07-13"), "clarification")
    assert deadline_of(RECEIVED, extension=extension, pauses=[pause]) == D("2026-09-04")


def test_extension_told_on_the_last_day_of_the_first_month() -> None:
    # One-month deadline Wednesday 1 July 2026: telling that day is in time.
    extension = Extension(months=1, reason="complex", told_on=D("2026-07-01"))
    check_extension(D(RECEIVED), extension, (), CALENDAR)
    # 14 May 2025 → Saturday 14 June → Monday 16 June: the working-day rule gives until Monday.
    monday = Extension(months=1, reason="complex", told_on=D("2025-06-16"))
    check_extension(D("2025-05-14"), monday, (), CALENDAR)


def test_extension_told_late_is_refused() -> None:
    extension = Extension(months=2, reason="complex", told_on=D("2026-07-02"))
    with pytest.raises(BadInput, match="one-month deadline 2026-07-01") as caught:
        deadline_of(RECEIVED, extension=extension)
    assert caught.value.field == "told_on"


def test_pauses_before_telling_give_more_time_to_tell() -> None:
    # Paused 7 days (3→10 June): the first month runs to 8 July, so 8 July is in time.
    pause = Pause(D("2026-06-03"), D("2026-06-10"), "identity")
    extension = Extension(months=1, reason="complex", told_on=D("2026-07-08"))
    check_extension(D(RECEIVED), extension, [pause], CALENDAR)
    # 1 Jul + 1 month = 1 Aug, + 7 = Saturday 8 August → Monday 10 August 2026.
    assert deadline_of(RECEIVED, extension=extension, pauses=[pause]) == D("2026-08-10")


def test_told_during_an_open_pause_counts_the_pause_so_far() -> None:
    # Asked 25 June (6 days before the 1 July deadline), still waiting; told 20 July: by then
    # 25 days paused → the first month runs to 26 July (Sunday) → Monday 27 July: in time.
    pause = Pause(D("2026-06-25"), None, "identity")
    extension = Extension(months=2, reason="complex", told_on=D("2026-07-20"))
    check_extension(D(RECEIVED), extension, [pause], CALENDAR)
    state = statutory_clock(D(RECEIVED), pauses=[pause], extension=extension, calendar=CALENDAR)
    assert state.stopped
    assert state.extended_months == 2


def test_a_pause_after_the_telling_does_not_make_it_timely() -> None:
    # Told 2 July, a day after the 1 July deadline. A pause 3→20 July (17 days) would push the
    # first month to 18 July if counted, but it began after the telling, so it counts 0 days.
    pause = Pause(D("2026-07-03"), D("2026-07-20"), "identity")
    extension = Extension(months=2, reason="complex", told_on=D("2026-07-02"))
    with pytest.raises(BadInput, match="one-month deadline 2026-07-01") as caught:
        check_extension(D(RECEIVED), extension, [pause], CALENDAR)
    assert caught.value.field == "told_on"


def test_a_closed_pause_before_the_telling_counts_in_full() -> None:
    # Paused 22→29 June (7 days): the first month runs to 8 July; told 9 July is a day late.
    pause = Pause(D("2026-06-22"), D("2026-06-29"), "clarification")
    late = Extension(months=1, reason="complex", told_on=D("2026-07-09"))
    with pytest.raises(BadInput, match="one-month deadline 2026-07-08"):
        check_extension(D(RECEIVED), late, [pause], CALENDAR)


@pytest.mark.parametrize(
    ("extension", "field", "words"),
    [
        (Extension(months=3, reason="complex", told_on=D("2026-06-20")), "months", "1 or 2"),
        (Extension(months=0, reason="complex", told_on=D("2026-06-20")), "months", "1 or 2"),
        (Extension(months=2, reason="  ", told_on=D("2026-06-20")), "reason", "why"),
        (
            Extension(months=2, reason="complex", told_on=D("2026-05-31")),
            "told_on",
            "before the request",
        ),
        (
            Extension(months=2, reason="complex", told_on=D("2026-07-02")),
            "told_on",
            "within the first month",
        ),
    ],
)
def test_bad_extensions_are_refused(extension: Extension, field: str, words: str) -> None:
    with pytest.raises(BadInput, match=words) as caught:
        check_extension(D(RECEIVED), extension, (), CALENDAR)
    assert caught.value.field == field
    with pytest.raises(BadInput):
        deadline_of(RECEIVED, extension=extension)


# --- days left ----------------------------------------------------------------------------


def test_days_left() -> None:
    state = statutory_clock(D(RECEIVED), calendar=CALENDAR)  # deadline Wednesday 1 July 2026
    assert state.days_left(D(RECEIVED)) == 30  # June has 30 days
    assert state.days_left(D("2026-07-01")) == 0
    assert state.days_left(D("2026-07-04")) == -3
    assert not state.is_overdue(D("2026-07-01"))
    assert state.is_overdue(D("2026-07-02"))


def test_working_days_left() -> None:
    state = statutory_clock(D(RECEIVED), calendar=CALENDAR)  # deadline Wednesday 1 July 2026
    assert state.working_days_left(D("2026-07-01"), CALENDAR) == 0
    # From Friday 26 June: Mon 29, Tue 30, Wed 1 → 3.
    assert state.working_days_left(D("2026-06-26"), CALENDAR) == 3
    # On Friday 3 July: Thu 2 and Fri 3 past the deadline → -2.
    assert state.working_days_left(D("2026-07-03"), CALENDAR) == -2
    # Christmas 2026: from Thursday 24 Dec to the 29 Dec deadline only Tue 29 is working → 1.
    christmas = statutory_clock(D("2026-11-25"), calendar=CALENDAR)
    assert christmas.working_days_left(D("2026-12-24"), CALENDAR) == 1
    assert christmas.days_left(D("2026-12-24")) == 5
