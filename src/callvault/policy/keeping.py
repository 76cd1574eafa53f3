"""Readers for how long the records built on recordings are kept: ``quality.keep_evaluations``
and the ``conduct:`` section. A period is written as a line's ``retention`` is (``2 years``,
``6 months 15 days``, ``{months:, days:}``); every error names the field path and the fix,
as in ``sections``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from callvault.policy.model import Conduct, Retention
from callvault.policy.sections import at, check_keys, fail, mapping, period

CONDUCT_KEYS = frozenset({"keep_closed_incidents"})
KEEP_EVALUATIONS, KEEP_CLOSED_INCIDENTS = "2 years", "6 years"
# A century: a longer period means "for ever", which storage limitation rules out (and its
# dates would run off the calendar).
MOST_MONTHS = 1200
# Incident references number on from the year's highest (conduct/service.py): the highest,
# deleted in the year it was opened, would let the next incident take a reference used.
LEAST_INCIDENT_MONTHS = 12
# A month is drawn days after it ends, then evaluated, answered and calibrated over weeks: a
# shorter period would delete a sample before that is done (and the draw refuses a month
# already past its period, so the daily draw would fail).
LEAST_EVALUATION_MONTHS = 3


def keep_period(
    data: Mapping[str, Any], key: str, path: str, default: str, *, least_months: int = 0
) -> Retention:
    """The period under ``key`` (``default`` when absent), from ``least_months`` to a
    century."""
    field, example = at(path, key), f"{key}: {default}"
    value = data.get(key)
    kept = period(default if value is None else value, field, example, f"write e.g. `{example}`")
    if kept.months + kept.days // 28 > MOST_MONTHS:
        raise fail(
            field,
            f"{kept.describe()} is more than 100 years; keep personal data no longer than "
            f"needed (UK GDPR Art. 5(1)(e)): write e.g. `{example}`",
        )
    if kept.months < least_months:
        least = f"{least_months // 12} year" if least_months % 12 == 0 else f"{least_months} months"
        raise fail(field, f"write at least {least} in months or years, e.g. `{example}`")
    return kept


def read_conduct(value: object, path: str) -> Conduct:
    """The ``conduct:`` section: how long a closed customer conduct incident is kept."""
    if value is None:
        return Conduct()
    data = mapping(value, path, "write a mapping such as `keep_closed_incidents: 6 years`")
    check_keys(data, CONDUCT_KEYS, path, required=())
    return Conduct(
        keep_period(
            data,
            "keep_closed_incidents",
            path,
            KEEP_CLOSED_INCIDENTS,
            least_months=LEAST_INCIDENT_MONTHS,
        )
    )


__all__ = ["CONDUCT_KEYS", "LEAST_EVALUATION_MONTHS", "keep_period", "read_conduct"]
