"""A legal hold as a person asks for it, checked field by field before anything is written.

Each function raises ``BadInput`` naming the field and the fix, so a hold that would cover
nothing, or the wrong thing, is refused before a row or an audit entry exists.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from callvault.access.disclosures import parse_day
from callvault.access.grants import check_id
from callvault.access.searching import SearchTerms
from callvault.catalog.search import RecordingQuery
from callvault.errors import BadInput

# Why a recording must outlive its retention period. Each names a proceeding that may need
# the call as evidence: destroying it then would be destroying evidence.
REASONS = ("complaint", "ombudsman", "subject_access", "injunction", "litigation",
           "police_request")  # fmt: skip
# A hold stops retention for as long as it stands, so each is looked at again: by default a
# quarter after it is placed, the usual pace of a complaint or ombudsman stage. A hold whose
# case has ended is then released instead of keeping personal data indefinitely.
DEFAULT_REVIEW_DAYS = 90
# More calls than this are a saved search (caller, line, times), not a list of ids.
MAX_RECORDINGS = 1000
_MAX_CASE_REF = 100  # the holds.case_ref column
_MAX_NOTE = 2000
_MAX_REASON = 2000
_MAX_LINE = 64


@dataclass(frozen=True, slots=True)
class SavedSearch:
    """Recordings matching every criterion set: the caller (E.164 or ``withheld``), the line,
    and calls started at or after ``started_from`` and before ``started_to`` (UTC ISO)."""

    caller: str | None = None
    line: str | None = None
    started_from: str | None = None
    started_to: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"caller": self.caller, "line": self.line, "from": self.started_from,
                "to": self.started_to}  # fmt: skip

    def query(self) -> RecordingQuery:
        """The same criteria as a catalogue search (``catalog.search.conditions``)."""
        return RecordingQuery(
            caller=self.caller,
            line=self.line,
            started_from=datetime.fromisoformat(self.started_from) if self.started_from else None,
            started_to=datetime.fromisoformat(self.started_to) if self.started_to else None,
        )


def printable(value: str, field: str, *, multiline: bool = False) -> str:
    """``value`` unless it holds control characters (PostgreSQL refuses NUL in text; the
    others only hide what a reader of the register would see)."""
    allowed = "\n\t" if multiline else ""
    if any((ch < " " and ch not in allowed) or ch == "\x7f" for ch in value):
        raise BadInput(f"{field} must not contain control characters", field)
    return value


def parse_reason(value: str | None) -> str:
    if not value:
        raise BadInput(f"reason is required; one of: {', '.join(REASONS)}", "reason")
    if value not in REASONS:
        raise BadInput(f"unknown reason {value[:40]!r}; one of: {', '.join(REASONS)}", "reason")
    return value


def parse_case_ref(value: str | None) -> str:
    value = (value or "").strip()
    if not value or len(value) > _MAX_CASE_REF:
        raise BadInput(
            f"case_ref is required (1 to {_MAX_CASE_REF} characters): the complaint, "
            "ombudsman, court or police reference the hold is for",
            "case_ref",
        )
    return printable(value, "case_ref")


def parse_note(value: str | None) -> str:
    value = (value or "").strip()
    if len(value) > _MAX_NOTE:
        raise BadInput(f"note must be at most {_MAX_NOTE} characters", "note")
    return printable(value, "note", multiline=True)


def parse_release_reason(value: str | None) -> str:
    value = (value or "").strip()
    if not value or len(value) > _MAX_REASON:
        raise BadInput(
            f"reason is required (1 to {_MAX_REASON} characters): why the recordings need "
            "not be kept any longer (e.g. the case closed, and when)",
            "reason",
        )
    return printable(value, "reason", multiline=True)


def parse_review_on(value: str | None, today: date, *, required: bool = False) -> date:
    """The review date: today or later; ``DEFAULT_REVIEW_DAYS`` from today when not given."""
    day = parse_day(value, "review_on")
    if day is None:
        if required:
            raise BadInput("a review date (YYYY-MM-DD, today or later) is required", "review_on")
        return today + timedelta(days=DEFAULT_REVIEW_DAYS)
    if day < today:
        raise BadInput(
            f"review_on {day} is in the past; give today ({today}) or a later day", "review_on"
        )
    return day


def parse_recording_ids(values: Iterable[str]) -> list[str]:
    """The ids, each checked, duplicates dropped, in the order given."""
    ids = [check_id(value, "recording_ids") for value in values]
    unique = list(dict.fromkeys(ids))
    if len(unique) > MAX_RECORDINGS:
        raise BadInput(
            f"at most {MAX_RECORDINGS} recordings by id; hold more with a saved search "
            "(caller, line, from, to)",
            "recording_ids",
        )
    return unique


def parse_search(
    caller: str | None, line: str | None, started_from: str | None, started_to: str | None
) -> SavedSearch | None:
    """The saved search, normalised as search and the catalogue store them; None if no
    criterion is given."""
    caller, line = (caller or "").strip() or None, (line or "").strip() or None
    started_from, started_to = started_from or None, started_to or None
    if caller is None and line is None and started_from is None and started_to is None:
        return None
    if line is not None and (len(line) > _MAX_LINE or not line.isprintable()):
        raise BadInput("line must be a line id from the policy (e.g. parking)", "line")
    # The same parsing as `callvault search`: E.164 numbers, times in UTC.
    query = SearchTerms(caller=caller, started_from=started_from, started_to=started_to).query()
    first, last = query.started_from, query.started_to
    if first is not None and last is not None and first >= last:
        raise BadInput(
            f"from ({_utc(first)}) must be before to ({_utc(last)}): the search holds calls "
            "started at or after from and before to",
            "from",
        )
    return SavedSearch(
        caller=query.caller,
        line=line,
        started_from=_utc(first) if first else None,
        started_to=_utc(last) if last else None,
    )


def _utc(at: datetime) -> str:
    # Stored as the catalogue stores started_at (UTC ISO), so comparing the text compares times.
    return at.astimezone(UTC).isoformat()
