"""Times and lengths as the pages show them.

Council staff read times as the clocks on their walls show them: UK time (Europe/London,
GMT in winter and BST in summer). The database keeps UTC instants as ISO text; a time
without a zone is taken as UTC. The ``tzdata`` package carries the zone, so it is there
on a system without a time zone database too.

Every page formats times and lengths here, so one instant or one call reads the same on
each of them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, time
from typing import Any

from callvault.errors import BadInput
from callvault.uktime import UK

# The years a date typed into a form may have: outside them no call was recorded, and the
# day after the last still turns into a UTC time without overflowing.
FIRST_YEAR, LAST_YEAR = 1900, 9998
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")  # what <input type="date"> sends


def uk_time(stamp: str | datetime) -> datetime:
    """An instant (ISO text or a datetime; naive means UTC) in UK time."""
    moment = datetime.fromisoformat(stamp) if isinstance(stamp, str) else stamp
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return aware.astimezone(UK)


def when_text(stamp: str | datetime | None) -> str:
    """An instant as people read it: "28 Nov 2026, 14:05" in UK time; "" for none."""
    if not stamp:
        return ""
    moment = uk_time(stamp)
    return f"{moment.day} {moment:%b %Y, %H:%M}"


def stamp_text(stamp: str | datetime | None) -> str:
    """An instant to the second, as the audit viewer lists entries: "2026-11-28 14:05:09"
    in UK time; "" for none."""
    if not stamp:
        return ""
    return uk_time(stamp).strftime("%Y-%m-%d %H:%M:%S")


def day_text(value: date | str | None) -> str:
    """A day as people read it: "28 Nov 2026". A date (or "YYYY-MM-DD") is that day; an
    instant is its day in UK time; "" for none."""
    if not value:
        return ""
    if isinstance(value, str):
        day = date.fromisoformat(value) if _DAY.fullmatch(value) else uk_time(value).date()
    else:
        day = uk_time(value).date() if isinstance(value, datetime) else value
    return f"{day.day} {day:%b %Y}"


def duration_text(seconds: float, *, up: bool = False) -> str:
    """A length or a moment in a call as an audio player's clock shows it: whole seconds,
    rounded down (``up``: rounded up, for the end of a span, so that the range shown covers
    all of it), as m:ss, or h:mm:ss from an hour."""
    whole = max(0, math.ceil(seconds) if up else math.floor(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def day_start(day: date) -> datetime:
    """00:00 UK time on ``day``, as an aware instant (``.astimezone(UTC)`` for the UTC time)."""
    return datetime.combine(day, time(), UK)


def parse_day(params: Mapping[str, Any], name: str, label: str | None = None) -> date | None:
    """The form field ``name`` as a day: YYYY-MM-DD, as ``<input type="date">`` sends it;
    None when left empty. BadInput naming the field (as ``label``, the form's name for it,
    in the message) when it is not a real date in the years calls can have."""
    value = params.get(name)
    text = value.strip() if isinstance(value, str) else ""
    if not text:
        return None
    day = None
    if _DAY.fullmatch(text):
        try:
            day = date.fromisoformat(text)
        except ValueError:
            day = None
    if day is None or not FIRST_YEAR <= day.year <= LAST_YEAR:
        raise BadInput(f"{label or name} must be a real date, like 2026-11-28", name)
    return day
