"""The policy's settings for demand analysis and quality monitoring, as frozen data.

Opening hours say which calls count as out of hours (in UK local time, the time on the
council's clocks, with bank holidays closed unless the policy says otherwise). Topics are the
council's own list of what callers ask about, matched as words in redacted transcripts.
Scorecards and the sampling rule define quality evaluations: what an evaluator scores and how
many calls the system draws for each advisor each month.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from callvault.policy.model import Retention

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
MINUTES_PER_DAY = 24 * 60

# (start, end) minutes after local midnight, end exclusive; "00:00-24:00" is (0, 1440).
Interval = tuple[int, int]


@dataclass(frozen=True, slots=True)
class OpeningHours:
    """When a line is open, per weekday (Monday first), in UK local time."""

    days: tuple[tuple[Interval, ...], ...]
    # Bank holidays' own hours: () closed, None the weekday's own hours.
    bank_holidays: tuple[Interval, ...] | None = ()

    def is_open(self, local: datetime, bank_holiday: bool) -> bool:
        """Whether a call starting at ``local`` (UK wall-clock time) is within the hours."""
        spans = self.days[local.weekday()]
        if bank_holiday and self.bank_holidays is not None:
            spans = self.bank_holidays
        minute = local.hour * 60 + local.minute
        return any(start <= minute < end for start, end in spans)

    def describe_day(self, weekday: int) -> str:
        """One day's hours as the policy writes them ("09:00-17:00", "closed")."""
        spans = self.days[weekday]
        if not spans:
            return "closed"
        return ", ".join(f"{_clock(start)}-{_clock(end)}" for start, end in spans)


def _two_years() -> Retention:
    # Here, not at the top: policy.model imports this module.
    from callvault.policy.model import Retention

    return Retention(months=24)


def _clock(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


OFFICE_HOURS = OpeningHours(days=(((9 * 60, 17 * 60),),) * 5 + ((), ()))
ALWAYS_OPEN = OpeningHours(days=(((0, MINUTES_PER_DAY),),) * 7, bank_holidays=None)


@dataclass(frozen=True, slots=True)
class Topic:
    """Something callers ask about; a call is about it when its redacted transcript has one
    of ``words`` (whole words or phrases, any case)."""

    id: str
    name: str
    words: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ScoreItem:
    """One question of a scorecard, scored from 0 to ``points``."""

    id: str
    question: str
    points: int


@dataclass(frozen=True, slots=True)
class Scorecard:
    """What an evaluator scores on a sampled call; ``lines`` empty means every line."""

    id: str
    name: str
    items: tuple[ScoreItem, ...]
    lines: tuple[str, ...] = ()

    @property
    def max_points(self) -> int:
        return sum(item.points for item in self.items)


@dataclass(frozen=True, slots=True)
class QualitySampling:
    """How many calls the system draws for each advisor each month, which calls qualify
    (long enough to judge), and from which day of the next month (UK) a month is drawn."""

    calls_per_advisor: int = 4
    min_duration_s: float = 60.0
    scorecards: tuple[Scorecard, ...] = field(default=())
    # A month is drawn on or after this day of the next (1-28): PBXs upload calls days late.
    draw_on_day: int = 5
    # How long evaluations, responses, calibrations and the draw's samples are kept after
    # the month drawn ends (UK GDPR Art. 5(1)(e)); the retention run deletes them then.
    keep_evaluations: Retention = field(default_factory=_two_years)

    def scorecard_for(self, line: str) -> Scorecard | None:
        """The first scorecard naming ``line``, else the first that covers every line."""
        named = (card for card in self.scorecards if line in card.lines)
        general = (card for card in self.scorecards if not card.lines)
        return next(named, None) or next(general, None)


__all__ = [
    "ALWAYS_OPEN",
    "OFFICE_HOURS",
    "WEEKDAYS",
    "OpeningHours",
    "QualitySampling",
    "ScoreItem",
    "Scorecard",
    "Topic",
]
