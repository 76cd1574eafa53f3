"""docs/policy-format.md documents every key the loader accepts and every model field."""

from __future__ import annotations

import dataclasses
import re

import pytest
from _policy_seed import REPO

from callvault.policy import analytics_sections, keeping, loader, sections
from callvault.policy.analytics_model import (
    OpeningHours,
    QualitySampling,
    Scorecard,
    ScoreItem,
    Topic,
)
from callvault.policy.model import (
    Announcement,
    Conduct,
    Exclusion,
    Line,
    NumberRange,
    Policy,
    Purpose,
    Recipient,
    Retention,
    Role,
)

DOC = REPO / "docs" / "policy-format.md"

KEY_SETS = {
    "top level": loader.POLICY_KEYS,
    "lines": sections.LINE_KEYS,
    "announcement": sections.ANNOUNCEMENT_KEYS,
    "retention": sections.RETENTION_KEYS,
    "exclusions": sections.EXCLUSION_KEYS,
    "ranges": sections.RANGE_KEYS,
    "purposes": sections.PURPOSE_KEYS,
    "roles": sections.ROLE_KEYS,
    "recipients": sections.RECIPIENT_KEYS,
    "opening_hours": analytics_sections.HOURS_KEYS,
    "topics": analytics_sections.TOPIC_KEYS,
    "quality": analytics_sections.QUALITY_KEYS,
    "scorecards": analytics_sections.SCORECARD_KEYS,
    "items": analytics_sections.SCORE_ITEM_KEYS,
    "conduct": keeping.CONDUCT_KEYS,
}
MODELS = [
    Policy, Line, Announcement, Retention, Exclusion, NumberRange, Purpose, Role, Recipient,
    OpeningHours, Topic, QualitySampling, Scorecard, ScoreItem, Conduct,
]  # fmt: skip


def documented() -> set[str]:
    """Every `backticked` word that starts a table row or a bullet in the doc."""
    text = DOC.read_text(encoding="utf-8")
    return set(re.findall(r"^(?:\| |- )`([a-z0-9_]+)`", text, flags=re.MULTILINE))


@pytest.mark.parametrize(
    ("section", "key"),
    [(section, key) for section, keys in KEY_SETS.items() for key in sorted(keys)],
)
def test_every_key_is_documented(section: str, key: str) -> None:
    assert key in documented(), f"{section} key `{key}` is missing from {DOC.name}"


@pytest.mark.parametrize(
    ("model", "name"),
    [
        (model.__name__, f.name)
        for model in MODELS
        for f in dataclasses.fields(model)
        if f.init  # derived fields (the number index) are not part of the format
    ],
)
def test_every_model_field_is_documented(model: str, name: str) -> None:
    assert name in documented(), f"{model}.{name} is missing from {DOC.name}"
