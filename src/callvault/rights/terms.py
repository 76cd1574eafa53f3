"""A rights request as a person enters it, checked field by field before anything is written.

Each function raises ``BadInput`` naming the field and the fix, so a request that could not be
answered, or would search for the wrong person, is refused before a row or a hold exists.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date
from typing import Any

from callvault.access.disclosures import parse_day
from callvault.errors import BadInput
from callvault.policy.numbers import E164, normalise_number
from callvault.retention.hold_terms import printable
from callvault.rights.clock import PAUSE_REASONS as CLOCK_PAUSE_REASONS

# access: Art. 15 (subject access); erasure: Art. 17; objection: Art. 21.
KINDS = ("access", "erasure", "objection")
IDENTITY = ("awaiting", "verified")
# Why the clock stops (Art. 12A): the council waits on the requester for one of these.
PAUSE_REASONS = tuple(sorted(CLOCK_PAUSE_REASONS))
_MAX_NAME = 200
_MAX_TEXT = 2000
_MAX_REF = 100
_MAX_IDENTIFIERS = 20
# When the policy names no pattern for a kind's references: letters, digits, '-', '/', '_'.
_PLAIN_REF = re.compile(r"[A-Za-z0-9][A-Za-z0-9/_-]{0,99}")


def parse_kind(value: str | None) -> str:
    if value not in KINDS:
        raise BadInput(f"kind must be one of {', '.join(KINDS)}", "kind")
    return value


def parse_ref(value: str | None, pattern: str | None) -> str:
    """The council's case reference; for subject access it must match the policy's pattern for
    the subject_access purpose, because grants to find the calls carry the same reference."""
    ref = (value or "").strip()
    if pattern is not None:
        if not re.fullmatch(pattern, ref):
            raise BadInput(
                f"ref {ref[:40]!r} does not match the policy's pattern {pattern} for this "
                "kind of request; give the case reference as your case system writes it",
                "ref",
            )
        return ref
    if not _PLAIN_REF.fullmatch(ref):
        raise BadInput(
            f"ref is required: 1 to {_MAX_REF} letters, digits, '-', '/' or '_' (the case "
            "reference in your case system)",
            "ref",
        )
    return ref


def parse_text(value: str | None, field: str, *, limit: int = _MAX_NAME, required: bool) -> str:
    text = (value or "").strip()
    if required and not text:
        raise BadInput(f"{field} is required", field)
    if len(text) > limit:
        raise BadInput(f"{field} must be at most {limit} characters", field)
    return printable(text, field, multiline=limit > _MAX_NAME)


def parse_note(value: str | None, field: str = "note", *, required: bool = False) -> str:
    return parse_text(value, field, limit=_MAX_TEXT, required=required)


def parse_identity(value: str | None) -> str:
    if value not in IDENTITY:
        raise BadInput(
            f"identity must be one of {', '.join(IDENTITY)}: verified when you have checked "
            "who the requester is, awaiting when you have asked them for proof (the clock "
            "stops until it comes)",
            "identity",
        )
    return value


def parse_pause_reason(value: str | None) -> str:
    if value not in PAUSE_REASONS:
        raise BadInput(
            f"reason must be one of {', '.join(PAUSE_REASONS)} (Art. 12A stops the clock only "
            "while the council waits for identity or clarification)",
            "reason",
        )
    return value


def parse_phones(values: Iterable[str]) -> list[dict[str, Any]]:
    """The requester's phone numbers in E.164, duplicates dropped; at least one."""
    phones: list[str] = []
    for raw in values:
        number = normalise_number(raw, "phone")
        if number.kind != E164:
            raise BadInput(
                f"phone {raw[:32]!r} is an internal extension; give the number the requester "
                "called from (e.g. 020 7946 0000 or +44 7700 900123)",
                "phone",
            )
        phones.append(number.value)
    unique = list(dict.fromkeys(phones))
    if not unique:
        raise BadInput(
            "give at least one phone number the requester called from (--phone)", "phone"
        )
    if len(unique) > _MAX_IDENTIFIERS:
        raise BadInput(f"at most {_MAX_IDENTIFIERS} phone numbers per request", "phone")
    return [{"kind": "phone", "value": value} for value in unique]


def parse_on(value: str | None, field: str, *, default: date, not_after: date) -> date:
    """A day (YYYY-MM-DD), defaulting to ``default``; never after ``not_after`` (today)."""
    day = parse_day(value, field) or default
    if day > not_after:
        raise BadInput(
            f"{field} {day} is in the future; give today ({not_after}) or earlier", field
        )
    return day
