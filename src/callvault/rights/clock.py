"""The statutory clock for a subject access request: UK GDPR Art. 12(3) and Art. 12A.

As the ICO states it, the time limit runs from the day the request is received (day 0) to the
corresponding calendar date in the next month; where that month has no such date, to its last
day; where the date is a weekend or bank holiday, to the next working day. A complex request
may be extended by up to two further months (three from receipt, by the same rule) if the
requester is told, with the reason, within the first month.

Since 5 February 2026 (Art. 12A) the clock stops while the council waits for the requester to
prove their identity or clarify the request. A pause from day A (the day the council asked) to
day B (the day the answer came) adds B - A days; while a pause is open the deadline is not
known and the clock is stopped.

How these combine::

    deadline = next working day on or after
               corresponding_date(received, 1 + extension months) + days paused

Why this order: a pause stops the clock, so each paused day pushes the date the clock reaches
by one calendar day; the pause days are added to the calendar date. The working-day rule says
when an answer that falls due on a closed day is due instead, so it is applied last, once, to
the final date. Applied first, the pause days added after it could land the deadline on a
weekend or bank holiday again.

Pure code: dates in, dates out; nothing here reads the clock or the database.
"""

from __future__ import annotations

import calendar as gregorian
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from itertools import pairwise

from callvault.errors import BadInput
from callvault.rights.bank_holidays import HolidayCalendar

# Why the clock may stop (Art. 12A): waiting to confirm who is asking, or what they ask for.
PAUSE_REASONS = frozenset({"identity", "clarification"})
# Art. 12A came into force on this day; before it a subject access clock could not stop.
STOP_THE_CLOCK_FROM = date(2026, 2, 5)
# Art. 12(3): "extended by two further months where necessary", three months from receipt.
MAX_EXTENSION_MONTHS = 2
_MONTHS_TO_ANSWER = 1


@dataclass(frozen=True, slots=True)
class Pause:
    """The clock stopped from ``start`` (the day the council asked) to ``end`` (the day the
    answer came); ``end`` is None while the council is still waiting."""

    start: date
    end: date | None
    reason: str  # one of PAUSE_REASONS


@dataclass(frozen=True, slots=True)
class Extension:
    """Further ``months`` (1 or 2) for a complex request, the requester told on ``told_on``."""

    months: int
    reason: str
    told_on: date


@dataclass(frozen=True, slots=True)
class ClockState:
    """Where a request's clock stands.

    ``deadline`` is None while a pause is open (``stopped``); ``paused_days`` then counts only
    the pauses that have ended.
    """

    received: date
    deadline: date | None
    paused_days: int
    stopped: bool
    extended_months: int

    def days_left(self, today: date) -> int | None:
        """Calendar days from ``today`` to the deadline: 0 on the day, negative when overdue,
        None while the clock is stopped."""
        if self.deadline is None:
            return None
        return (self.deadline - today).days

    def working_days_left(self, today: date, calendar: HolidayCalendar) -> int | None:
        """Working days after ``today`` up to and including the deadline; when overdue, minus
        the working days after the deadline up to and including ``today``. None while stopped.
        """
        if self.deadline is None:
            return None
        if today <= self.deadline:
            return _working_days_after(today, self.deadline, calendar)
        return -_working_days_after(self.deadline, today, calendar)

    def is_overdue(self, today: date) -> bool:
        """Whether the deadline has passed; a stopped clock is never overdue (a pause cannot
        start after the deadline)."""
        return self.deadline is not None and today > self.deadline


def corresponding_date(start: date, months: int) -> date:
    """The same day of the month ``months`` later, or that month's last day where it has none
    (31 January + 1 month is 28 or 29 February)."""
    if months < 0:
        msg = f"months must be 0 or more, got {months}"
        raise ValueError(msg)
    year, month_index = divmod(start.month - 1 + months, 12)
    year += start.year
    month = month_index + 1
    return date(year, month, min(start.day, gregorian.monthrange(year, month)[1]))


def statutory_clock(
    received: date,
    *,
    pauses: Sequence[Pause] = (),
    extension: Extension | None = None,
    calendar: HolidayCalendar,
) -> ClockState:
    """The clock of a request received on ``received``, with its pauses and any extension.

    Raises ``BadInput`` naming the pause or extension field at fault and the fix.
    """
    ordered = _ordered_pauses(received, pauses)
    if extension is not None:
        _check_extension_against(received, extension, ordered, calendar)
    months = _MONTHS_TO_ANSWER + (extension.months if extension is not None else 0)
    _check_pauses_start_in_time(received, ordered, months, calendar)
    paused_days = sum(_days_paused_by(pause, None) for _, pause in ordered)
    stopped = any(pause.end is None for _, pause in ordered)
    deadline = None
    if not stopped:
        deadline = _due(received, months, paused_days, calendar)
    return ClockState(
        received=received,
        deadline=deadline,
        paused_days=paused_days,
        stopped=stopped,
        extended_months=months - _MONTHS_TO_ANSWER,
    )


def check_extension(
    received: date, extension: Extension, pauses: Sequence[Pause], calendar: HolidayCalendar
) -> None:
    """Raise ``BadInput`` unless ``extension`` is lawful: 1 or 2 months, with a reason, the
    requester told on or after receipt and within the first month (pauses counted)."""
    _check_extension_against(received, extension, _ordered_pauses(received, pauses), calendar)


def _check_extension_against(
    received: date,
    extension: Extension,
    ordered: Sequence[tuple[int, Pause]],
    calendar: HolidayCalendar,
) -> None:
    if not 1 <= extension.months <= MAX_EXTENSION_MONTHS:
        msg = (
            f"months must be 1 or 2, got {extension.months}: a complex request may be extended "
            f"by up to two further months, three months from receipt in all"
        )
        raise BadInput(msg, "months")
    if not extension.reason.strip():
        msg = "reason is empty: say why the request is complex; the requester must be told why"
        raise BadInput(msg, "reason")
    if extension.told_on < received:
        msg = (
            f"told_on {extension.told_on} is before the request was received on {received}: "
            f"give the day the requester was told of the extension"
        )
        raise BadInput(msg, "told_on")
    # Only the time the clock had stopped by the day the requester was told counts: a later
    # pause cannot make a late notice timely.
    paused = sum(_days_paused_by(pause, extension.told_on) for _, pause in ordered)
    first_month_due = _due(received, _MONTHS_TO_ANSWER, paused, calendar)
    if extension.told_on > first_month_due:
        msg = (
            f"told_on {extension.told_on} is after the one-month deadline {first_month_due}: "
            f"an extension stands only if the requester is told within the first month; "
            f"answer the request without one"
        )
        raise BadInput(msg, "told_on")


def _due(received: date, months: int, paused_days: int, calendar: HolidayCalendar) -> date:
    # Pause days push the calendar date first; the working-day rule applies last (see above).
    pushed = corresponding_date(received, months) + timedelta(days=paused_days)
    return calendar.next_working_day_on_or_after(pushed)


def _days_paused_by(pause: Pause, day: date | None) -> int:
    """Days ``pause`` had stopped the clock by ``day`` (None: all of a closed pause)."""
    if day is None:
        return 0 if pause.end is None else (pause.end - pause.start).days
    if pause.start > day:
        return 0
    end = day if pause.end is None else min(pause.end, day)
    return (end - pause.start).days


def _ordered_pauses(received: date, pauses: Iterable[Pause]) -> list[tuple[int, Pause]]:
    """The pauses by start day, each with its index in ``pauses`` for error messages."""
    ordered = sorted(enumerate(pauses), key=lambda item: item[1].start)
    for index, pause in ordered:
        _check_pause(received, index, pause)
    for (earlier_index, earlier), (index, pause) in pairwise(ordered):
        # Touching pauses (one ends the day the next starts) count no day twice.
        if earlier.end is None or pause.start < earlier.end:
            until = "still open" if earlier.end is None else f"to {earlier.end}"
            msg = (
                f"pauses[{index}].start {pause.start} falls inside pauses[{earlier_index}] "
                f"({earlier.start} {until}): the clock stops only once at a time; end the "
                f"earlier pause before starting another, or record them as one"
            )
            raise BadInput(msg, f"pauses[{index}].start")
    return ordered


def _check_pause(received: date, index: int, pause: Pause) -> None:
    field = f"pauses[{index}]"
    if pause.reason not in PAUSE_REASONS:
        msg = (
            f"{field}.reason must be 'identity' or 'clarification', got {pause.reason!r}: the "
            f"clock stops only while waiting for proof of identity or for clarification"
        )
        raise BadInput(msg, f"{field}.reason")
    if pause.start < received:
        msg = (
            f"{field}.start {pause.start} is before the request was received on {received}: "
            f"a pause starts on the day the requester was asked, on or after receipt"
        )
        raise BadInput(msg, f"{field}.start")
    if pause.start < STOP_THE_CLOCK_FROM:
        msg = (
            f"{field}.start {pause.start} is before {STOP_THE_CLOCK_FROM}, when Art. 12A "
            f"came into force: the clock could not stop before then; remove the pause"
        )
        raise BadInput(msg, f"{field}.start")
    if pause.end is not None and pause.end < pause.start:
        msg = (
            f"{field}.end {pause.end} is before its start {pause.start}: the end is the day "
            f"the answer came, on or after the day the requester was asked"
        )
        raise BadInput(msg, f"{field}.end")


def _check_pauses_start_in_time(
    received: date,
    ordered: Sequence[tuple[int, Pause]],
    months: int,
    calendar: HolidayCalendar,
) -> None:
    """A clock that has run out cannot stop: each pause must start by the deadline as it
    stood then, so recording a pause never turns an overdue request into one on time."""
    paused = 0
    for index, pause in ordered:
        due = _due(received, months, paused, calendar)
        if pause.start > due:
            msg = (
                f"pauses[{index}].start {pause.start} is after the deadline {due}: the clock "
                f"had already run out and cannot stop; answer the request now"
            )
            raise BadInput(msg, f"pauses[{index}].start")
        paused += _days_paused_by(pause, None)


def _working_days_after(after: date, through: date, calendar: HolidayCalendar) -> int:
    days = (through - after).days
    return sum(
        calendar.is_working_day(after + timedelta(days=offset)) for offset in range(1, days + 1)
    )
