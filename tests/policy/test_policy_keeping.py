"""How long the records built on recordings are kept: ``quality.keep_evaluations`` and
``conduct.keep_closed_incidents``. Periods are written as a line's ``retention`` is; every bad
value is a ConfigError naming its field path, and nothing is kept for ever."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from _policy_seed import Mutation, load

from callvault.errors import ConfigError
from callvault.policy.analytics_model import QualitySampling
from callvault.policy.model import Conduct, Retention


def evaluations(value: object) -> Mutation:
    return lambda d: d["quality"].update(keep_evaluations=value)


def incidents(value: object) -> Mutation:
    return lambda d: d.update(conduct={"keep_closed_incidents": value})


def test_the_defaults_are_two_and_six_years_written_or_not() -> None:
    shipped = load(lambda d: None)
    assert shipped.quality.keep_evaluations == Retention(months=24)
    assert shipped.conduct.keep_closed_incidents == Retention(months=72)

    def drop(d: dict[str, Any]) -> None:
        d["quality"].pop("keep_evaluations", None)
        d.pop("conduct", None)

    unwritten = load(drop)
    assert unwritten.quality.keep_evaluations == QualitySampling().keep_evaluations
    assert unwritten.conduct == Conduct() == shipped.conduct
    assert load(lambda d: d.update(conduct={})).conduct == Conduct()


@pytest.mark.parametrize(
    ("mutation", "kept"),
    [
        (evaluations("18 months"), ("quality", Retention(18))),
        (evaluations({"months": 6, "days": 10}), ("quality", Retention(6, 10))),
        (incidents("7 years"), ("conduct", Retention(84))),
        (incidents("1 year 30 days"), ("conduct", Retention(12, 30))),
    ],
)
def test_periods_parse_as_a_lines_retention_does(
    mutation: Mutation, kept: tuple[str, Retention]
) -> None:
    policy = load(mutation)
    section, period = kept
    found = (
        policy.quality.keep_evaluations
        if section == "quality"
        else policy.conduct.keep_closed_incidents
    )
    assert found == period


# (mutation, field path, words the message must contain)
ERRORS: list[tuple[Mutation, str, str]] = [
    (evaluations("for ever"), "quality.keep_evaluations", "keep_evaluations: 2 years"),
    (evaluations(24), "quality.keep_evaluations", "not a period"),
    (evaluations("0 days"), "quality.keep_evaluations", "longer than zero"),
    (evaluations({"months": "six"}), "quality.keep_evaluations", "whole numbers"),
    (evaluations({"weeks": 2}), "quality.keep_evaluations.weeks", "unknown key"),
    (evaluations("101 years"), "quality.keep_evaluations", "more than 100 years"),
    (evaluations("2 months"), "quality.keep_evaluations", "at least 3 months"),
    (evaluations("80 days"), "quality.keep_evaluations", "at least 3 months"),
    (evaluations("40000 days"), "quality.keep_evaluations", "more than 100 years"),
    (incidents("6 months"), "conduct.keep_closed_incidents", "at least 1 year"),
    (incidents("365 days"), "conduct.keep_closed_incidents", "at least 1 year"),
    (incidents("nope"), "conduct.keep_closed_incidents", "keep_closed_incidents: 6 years"),
    (incidents("999999999999 years"), "conduct.keep_closed_incidents", "more than 100 years"),
    (lambda d: d.update(conduct={"keep_incidents": "6 years"}), "conduct.keep_incidents",
     "did you mean `keep_closed_incidents`"),
    (lambda d: d.update(conduct="6 years"), "conduct", "keep_closed_incidents: 6 years"),
]  # fmt: skip


@pytest.mark.parametrize(("mutation", "field", "words"), ERRORS)
def test_a_bad_period_names_its_path_and_the_fix(
    mutation: Mutation, field: str, words: str
) -> None:
    with pytest.raises(ConfigError) as refused:
        load(mutation)
    assert refused.value.field == field
    assert field in refused.value.message and words in refused.value.message


@pytest.mark.parametrize(
    ("period", "end", "start"),
    [
        (Retention(24), datetime(2028, 4, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC)),
        (Retention(1), datetime(2026, 3, 31, tzinfo=UTC), datetime(2026, 2, 28, tzinfo=UTC)),
        (Retention(0, 10), datetime(2026, 1, 5, tzinfo=UTC), datetime(2025, 12, 26, tzinfo=UTC)),
        (Retention(13, 1), datetime(2027, 2, 1, tzinfo=UTC), datetime(2025, 12, 31, tzinfo=UTC)),
    ],
)
def test_back_from_is_add_to_the_other_way_round(
    period: Retention, end: datetime, start: datetime
) -> None:
    assert period.back_from(end) == start
    assert period.add_to(start) <= end
