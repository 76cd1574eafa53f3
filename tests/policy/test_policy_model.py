"""The data types: retention arithmetic, lookups, ranges."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from callvault.errors import NotFound
from callvault.policy.model import NumberRange, Policy, Retention


@pytest.mark.parametrize(
    ("months", "days", "start", "end"),
    [
        (12, 0, datetime(2026, 11, 1, 9, 30), datetime(2027, 11, 1, 9, 30)),
        (1, 0, datetime(2027, 1, 31), datetime(2027, 2, 28)),  # clamped to month end
        (1, 0, datetime(2028, 1, 31), datetime(2028, 2, 29)),  # leap year
        (12, 0, datetime(2028, 2, 29), datetime(2029, 2, 28)),
        (2, 0, datetime(2026, 12, 31), datetime(2027, 2, 28)),
        (0, 30, datetime(2026, 12, 15), datetime(2027, 1, 14)),
        (1, 1, datetime(2026, 1, 31), datetime(2026, 3, 1)),  # months first, then days
        (25, 0, datetime(2026, 3, 15), datetime(2028, 4, 15)),
    ],
)
def test_retention_add_to(months: int, days: int, start: datetime, end: datetime) -> None:
    assert Retention(months, days).add_to(start) == end


def test_retention_keeps_the_time_zone() -> None:
    start = datetime(2026, 3, 31, 23, 59, tzinfo=UTC)
    assert Retention(6, 0).add_to(start) == datetime(2026, 9, 30, 23, 59, tzinfo=UTC)


@pytest.mark.parametrize(
    ("months", "days", "words"),
    [(12, 0, "12 months"), (1, 0, "1 month"), (0, 1, "1 day"), (1, 15, "1 month 15 days")],
)
def test_retention_describe(months: int, days: int, words: str) -> None:
    assert Retention(months, days).describe() == words


def test_number_range() -> None:
    block = NumberRange("+442087530000", "+442087539999")
    assert "+442087534321" in block
    assert "+442087540000" not in block
    assert "+44208753000" not in block  # shorter: not in a range of 13-character numbers


def test_lookups(example: Policy) -> None:
    assert example.line("parking").name == "Parking"
    assert example.purpose("complaint").roles
    assert example.role("administrator").can_hear_audio is False
    assert example.line_for_number("+442073715678") == example.line("parking")
    assert example.line_for_number("+442073715679") is None


@pytest.mark.parametrize(("kind", "wanted"), [("line", "nope"), ("purpose", "x"), ("role", "y")])
def test_lookup_of_unknown_id_is_not_found(example: Policy, kind: str, wanted: str) -> None:
    with pytest.raises(NotFound) as caught:
        getattr(example, kind)(wanted)
    assert caught.value.field == kind
    assert "known" in caught.value.message


def test_policy_is_hashable_and_equal_by_content(example: Policy) -> None:
    from dataclasses import replace

    assert replace(example) == example
    assert hash(replace(example)) == hash(example)
