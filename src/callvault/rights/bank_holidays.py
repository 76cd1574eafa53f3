"""England and Wales bank holidays, computed by rule for 1995 to 2100, and the working-day test.

The statutory clocks in this package end on a working day, so they need the bank holidays of
any year a request can fall in, without a network call: gov.uk publishes only a few years
ahead. The rules follow the Banking and Financial Dealings Act 1971 and the proclamations that
moved or added days since 1995; a holiday proclaimed after this code was written is added by
setting, through ``HolidayCalendar.extra``.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache

FIRST_YEAR = 1995
LAST_YEAR = 2100

_MONDAY, _FRIDAY, _SATURDAY, _SUNDAY = 0, 4, 5, 6
_ONE_DAY = timedelta(days=1)

# Early May bank holiday moved by proclamation to mark VE Day: 1995 (50th anniversary, Monday
# 8 May) and 2020 (75th, Friday 8 May). The usual first Monday was then a working day.
_EARLY_MAY_MOVED = {1995: date(1995, 5, 8), 2020: date(2020, 5, 8)}
# Spring bank holiday moved next to a jubilee: 2002 (Tuesday 4 June, golden jubilee Monday
# 3 June), 2012 (Monday 4 June, diamond jubilee Tuesday 5 June) and 2022 (Thursday 2 June,
# platinum jubilee Friday 3 June). The last Monday of May was then a working day.
_SPRING_MOVED = {2002: date(2002, 6, 4), 2012: date(2012, 6, 4), 2022: date(2022, 6, 2)}
# Days added once, each by proclamation. gov.uk's published list starts in 2018 and agrees
# with the 2022 and 2023 days; the earlier ones are as proclaimed at the time.
_ONE_OFF = frozenset(
    {
        date(1999, 12, 31),  # millennium
        date(2002, 6, 3),  # golden jubilee
        date(2011, 4, 29),  # wedding of Prince William and Catherine Middleton
        date(2012, 6, 5),  # diamond jubilee
        date(2022, 6, 3),  # platinum jubilee
        date(2022, 9, 19),  # state funeral of Queen Elizabeth II
        date(2023, 5, 8),  # coronation of King Charles III
    }
)


def easter_sunday(year: int) -> date:
    """Easter Day in the Gregorian calendar (the anonymous algorithm, Meeus/Jones/Butcher)."""
    golden = year % 19
    century, year_of_century = divmod(year, 100)
    leap_centuries, century_rest = divmod(century, 4)
    correction = (century + 8) // 25
    moon_correction = (century - correction + 1) // 3
    epact = (19 * golden + century - leap_centuries - moon_correction + 15) % 30
    leap_years, year_rest = divmod(year_of_century, 4)
    weekday_offset = (32 + 2 * century_rest + 2 * leap_years - epact - year_rest) % 7
    shift = (golden + 11 * epact + 22 * weekday_offset) // 451
    month, day = divmod(epact + weekday_offset - 7 * shift + 114, 31)
    return date(year, month, day + 1)


def _first_monday(year: int, month: int) -> date:
    first = date(year, month, 1)
    return first + timedelta(days=(_MONDAY - first.weekday()) % 7)


def _last_monday(year: int, month: int) -> date:
    last = date(year, month, calendar.monthrange(year, month)[1])
    return last - timedelta(days=(last.weekday() - _MONDAY) % 7)


def _new_year(year: int) -> date:
    # On a weekend the holiday is the Monday after (3 January from Saturday, 2 from Sunday).
    new_year = date(year, 1, 1)
    if new_year.weekday() >= _SATURDAY:
        return new_year + timedelta(days=7 - new_year.weekday())
    return new_year


def _christmas(year: int) -> tuple[date, date]:
    """Christmas Day and Boxing Day, or their substitutes when they fall on a weekend."""
    christmas = date(year, 12, 25)
    weekday = christmas.weekday()
    if weekday == _FRIDAY:  # Boxing Day on Saturday moves to Monday 28
        return christmas, date(year, 12, 28)
    if weekday == _SATURDAY:  # Christmas to Monday 27, Boxing Day (Sunday) to Tuesday 28
        return date(year, 12, 27), date(year, 12, 28)
    if weekday == _SUNDAY:  # Boxing Day keeps Monday 26; Christmas takes Tuesday 27
        return date(year, 12, 27), date(year, 12, 26)
    return christmas, date(year, 12, 26)


@cache
def england_and_wales(year: int) -> frozenset[date]:
    """The bank holidays of ``year`` in England and Wales, substitute days included."""
    if not FIRST_YEAR <= year <= LAST_YEAR:
        msg = (
            f"bank holidays for {year} are not known: this calendar covers "
            f"{FIRST_YEAR} to {LAST_YEAR}"
        )
        raise ValueError(msg)
    easter = easter_sunday(year)
    days = {
        _new_year(year),
        easter - timedelta(days=2),  # Good Friday
        easter + _ONE_DAY,  # Easter Monday
        _EARLY_MAY_MOVED.get(year, _first_monday(year, 5)),
        _SPRING_MOVED.get(year, _last_monday(year, 5)),
        _last_monday(year, 8),  # summer bank holiday
        *_christmas(year),
    }
    days.update(day for day in _ONE_OFF if day.year == year)
    return frozenset(days)


def is_bank_holiday(day: date) -> bool:
    """Whether ``day`` is a bank holiday in England and Wales (False outside the years the
    calendar covers: no call was recorded before them, and none is yet after)."""
    try:
        return day in england_and_wales(day.year)
    except ValueError:
        return False


@dataclass(frozen=True, slots=True)
class HolidayCalendar:
    """Working days: Monday to Friday, less the bank holidays and the council's ``extra`` days.

    ``extra`` holds days the council adds by setting, such as a bank holiday proclaimed after
    this code was written.
    """

    extra: frozenset[date] = frozenset()

    def holidays(self, year: int) -> frozenset[date]:
        """Every non-working weekday of ``year``: bank holidays and the extra days."""
        return england_and_wales(year) | {day for day in self.extra if day.year == year}

    def is_working_day(self, day: date) -> bool:
        """Whether ``day`` is a weekday that is neither a bank holiday nor an extra day."""
        if day.weekday() >= _SATURDAY:
            return False
        return day not in england_and_wales(day.year) and day not in self.extra

    def next_working_day_on_or_after(self, day: date) -> date:
        """``day`` itself when it is a working day, else the first working day after it."""
        while not self.is_working_day(day):
            day += _ONE_DAY
        return day
