"""The recording policy as plain, frozen data: lines, exclusions, purposes, roles and retention.

A ``Policy`` is built once (by ``loader.parse_policy``) and then only read: decisions, the
fair processing notice and retention schedules all come from the same immutable object, so
two parts of the system can never disagree about which policy version applied.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, TypeVar

from callvault.errors import NotFound
from callvault.policy.analytics_model import OFFICE_HOURS, OpeningHours, QualitySampling, Topic
from callvault.policy.transfers import Transfer

SENSITIVITIES = ("standard", "special_category")
ON_TRANSFER = ("keep_recording", "stop")
WHEN_RECORDER_DOWN = ("continue_unrecorded", "reject_call")


@dataclass(frozen=True, slots=True)
class Retention:
    """How long a recording is kept: calendar months plus days, counted from the call start."""

    months: int
    days: int = 0

    def add_to(self, start: datetime) -> datetime:
        """The moment the period ends; 31 Jan + 1 month is 28/29 Feb (clamped to month end)."""
        month_index = start.month - 1 + self.months
        year = start.year + month_index // 12
        month = month_index % 12 + 1
        day = min(start.day, calendar.monthrange(year, month)[1])
        return start.replace(year=year, month=month, day=day) + timedelta(days=self.days)

    def describe(self) -> str:
        """The period in words, as the notice prints it ("12 months", "1 month 15 days")."""
        parts = []
        if self.months:
            parts.append(f"{self.months} month{'s' if self.months != 1 else ''}")
        if self.days or not parts:
            parts.append(f"{self.days} day{'s' if self.days != 1 else ''}")
        return " ".join(parts)

    def back_from(self, end: datetime) -> datetime:
        """The start whose period ends at ``end``: ``add_to`` the other way round (the days
        off first, then the months, clamped to the month's end)."""
        moment = end - timedelta(days=self.days)
        year, month_index = divmod(moment.year * 12 + moment.month - 1 - self.months, 12)
        day = min(moment.day, calendar.monthrange(year, month_index + 1)[1])
        return moment.replace(year=year, month=month_index + 1, day=day)


@dataclass(frozen=True, slots=True)
class Conduct:
    """How long customer conduct incidents are kept once closed (an open one is kept while
    it is open). Six years is the Limitation Act 1980 period for most civil claims."""

    keep_closed_incidents: Retention = Retention(months=72)


@dataclass(frozen=True, slots=True)
class Announcement:
    """What callers hear before recording starts (the 2018 Interception Regulations notice)."""

    required: bool
    text: str


@dataclass(frozen=True, slots=True)
class Line:
    """A service line whose inbound calls are recorded; ``numbers`` are E.164."""

    id: str
    name: str
    numbers: tuple[str, ...]
    retention: Retention
    sensitivity: str
    announcement: Announcement
    on_transfer: str
    takes_payments: bool
    when_recorder_down: str
    record_outbound: bool
    # None: the policy's own opening hours (demand analysis counts calls outside them).
    opening_hours: OpeningHours | None = None


@dataclass(frozen=True, slots=True)
class NumberRange:
    """Every number from ``first`` to ``last`` inclusive (both E.164 of the same length)."""

    first: str
    last: str

    def __contains__(self, number: object) -> bool:
        # Same-length digit strings compare in numeric order, so string comparison is exact.
        return (
            isinstance(number, str)
            and len(number) == len(self.first)
            and self.first <= number <= self.last
        )


@dataclass(frozen=True, slots=True)
class Exclusion:
    """Numbers that are never recorded: exact numbers, prefixes (``+44208753``) and ranges."""

    id: str
    reason: str
    numbers: tuple[str, ...] = ()
    prefixes: tuple[str, ...] = ()
    ranges: tuple[NumberRange, ...] = ()


@dataclass(frozen=True, slots=True)
class Purpose:
    """Why someone may retrieve a recording, under which law, by whom and with what limits."""

    id: str
    name: str
    lawful_basis: str
    dpia_ref: str
    roles: tuple[str, ...]
    second_approval: bool
    max_grant_hours: int
    export_allowed: bool
    case_ref_pattern: str
    description: str
    # Whether a grant for this purpose may hear the original audio and read the original
    # transcript; false: only the redacted rendition (personal data muted).
    original_allowed: bool = True


@dataclass(frozen=True, slots=True)
class Role:
    """A job people hold in the system; ``can_hear_audio`` false keeps them off the audio."""

    id: str
    name: str
    description: str
    can_hear_audio: bool


@dataclass(frozen=True, slots=True)
class Recipient:
    """Who may receive recordings from the council, and when (UK GDPR Art. 13(1)(e), Art. 30).

    ``purposes`` are the purpose ids under which they receive them; empty means under any
    purpose (a data processor acting on the council's instructions).
    """

    id: str
    name: str
    when: str
    purposes: tuple[str, ...] = ()

    def receives_for(self, purpose_id: str) -> bool:
        """Whether this recipient may receive recordings retrieved for ``purpose_id``."""
        return not self.purposes or purpose_id in self.purposes


@dataclass(frozen=True, slots=True)
class Decision:
    """Whether to record one call, and the rule and policy version that decided it."""

    record: bool
    line: str | None
    number: str
    rule: str
    policy_version: str
    direction: str = "inbound"

    def as_dict(self) -> dict[str, Any]:
        """The decision as stored with the call and printed by ``callvault policy check``."""
        return {
            "record": self.record,
            "line": self.line,
            "number": self.number,
            "rule": self.rule,
            "policy_version": self.policy_version,
        }


class NumberIndex:
    """Lookups built once per policy so a decision costs a dict probe, not a scan of lines."""

    __slots__ = ("exact_exclusions", "line_by_number", "prefix_lengths", "prefixes", "ranges")

    def __init__(self, lines: tuple[Line, ...], exclusions: tuple[Exclusion, ...]) -> None:
        self.line_by_number: dict[str, Line] = {n: ln for ln in lines for n in ln.numbers}
        self.exact_exclusions: dict[str, Exclusion] = {}
        self.prefixes: dict[str, Exclusion] = {}
        self.ranges: list[tuple[NumberRange, Exclusion]] = []
        for exclusion in exclusions:
            for number in exclusion.numbers:
                self.exact_exclusions.setdefault(number, exclusion)
            for prefix in exclusion.prefixes:
                self.prefixes.setdefault(prefix, exclusion)
            self.ranges.extend((r, exclusion) for r in exclusion.ranges)
        # Longest first, so the most specific exclusion names the rule.
        self.prefix_lengths = sorted({len(p) for p in self.prefixes}, reverse=True)

    def exclusion_for(self, number: str) -> Exclusion | None:
        """The first exclusion covering ``number``: exact, then longest prefix, then range."""
        found = self.exact_exclusions.get(number)
        if found is not None:
            return found
        prefixes = self.prefixes
        for length in self.prefix_lengths:
            found = prefixes.get(number[:length])
            if found is not None:
                return found
        for number_range, exclusion in self.ranges:
            if number in number_range:
                return exclusion
        return None


@dataclass(frozen=True, slots=True)
class Policy:
    """One version of the recording policy; ``version`` is stamped on every decision."""

    name: str
    effective_date: date
    controller: str
    dpo_contact: str
    notice_version: str
    lines: tuple[Line, ...]
    exclusions: tuple[Exclusion, ...]
    purposes: tuple[Purpose, ...]
    roles: tuple[Role, ...]
    recipients: tuple[Recipient, ...]
    opening_hours: OpeningHours = OFFICE_HOURS
    topics: tuple[Topic, ...] = ()
    quality: QualitySampling = field(default_factory=QualitySampling)
    conduct: Conduct = field(default_factory=Conduct)
    transfers: tuple[Transfer, ...] = ()  # outside the UK; none when empty
    version: str = ""
    source_sha256: str = ""
    index: NumberIndex = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        # Frozen, so the derived index is set the one way dataclasses allow.
        object.__setattr__(self, "index", NumberIndex(self.lines, self.exclusions))

    def line(self, line_id: str) -> Line:
        """The line with this id, or NotFound."""
        return _by_id(self.lines, line_id, "line")

    def purpose(self, purpose_id: str) -> Purpose:
        """The purpose with this id, or NotFound (a request naming it is then refused)."""
        return _by_id(self.purposes, purpose_id, "purpose")

    def role(self, role_id: str) -> Role:
        """The role with this id, or NotFound."""
        return _by_id(self.roles, role_id, "role")

    def hours_for(self, line_id: str) -> OpeningHours:
        """A line's opening hours: its own, else the policy's (a line no longer in the
        policy: the policy's)."""
        own = next((line.opening_hours for line in self.lines if line.id == line_id), None)
        return own or self.opening_hours

    def line_for_number(self, number: str) -> Line | None:
        """The line that owns a canonical (E.164) number, if any."""
        return self.index.line_by_number.get(number)


_Item = TypeVar("_Item", Line, Purpose, Role)


def _by_id(items: tuple[_Item, ...], wanted: str, kind: str) -> _Item:
    for item in items:
        if item.id == wanted:
            return item
    known = ", ".join(item.id for item in items)
    raise NotFound(f"no {kind} {wanted!r} in the policy; known {kind}s: {known}", field=kind)
