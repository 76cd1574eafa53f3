"""The shipped example encodes the whole seed policy and the choices the seed leaves open."""

from __future__ import annotations

import re

import pytest
from _policy_seed import SEED_NUMBERS

from callvault.policy.model import Policy, Retention

SPECIAL = {"adult_social_care", "careline", "csd_reablement", "housing_advice"}
PAYMENTS = {"parking", "rent_income"}


def test_every_seed_number_is_on_its_line(example: Policy) -> None:
    expected = {"+44" + national.replace(" ", "")[1:]: line for line, national in SEED_NUMBERS}
    actual = {number: line.id for line in example.lines for number in line.numbers}
    assert actual == expected
    assert len(example.lines) == 18
    assert example.line("careline").numbers == ("+442087412403", "+442087414008")


def test_every_line_keeps_recordings_twelve_months(example: Policy) -> None:
    assert {line.retention for line in example.lines} == {Retention(months=12, days=0)}


def test_every_retention_carries_the_comment(example_text: str) -> None:
    retention_lines = [
        ln for ln in example_text.splitlines() if ln.strip().startswith("retention:")
    ]
    assert len(retention_lines) == 18
    assert all("seed states none" in ln and "law requires" in ln for ln in retention_lines)


def test_sensitivity_and_payments(example: Policy) -> None:
    assert {ln.id for ln in example.lines if ln.sensitivity == "special_category"} == SPECIAL
    assert {ln.id for ln in example.lines if ln.takes_payments} == PAYMENTS


def test_every_line_announces_recording(example: Policy) -> None:
    assert all(ln.announcement.required and ln.announcement.text for ln in example.lines)


def test_header_fields(example: Policy) -> None:
    assert example.effective_date.isoformat() == "2026-11-01"
    assert example.controller
    assert example.dpo_contact
    assert example.notice_version


def test_staff_extension_exclusion(example: Policy) -> None:
    (exclusion,) = example.exclusions
    assert exclusion.prefixes == ("+44208753", "+44208748")
    assert "never recorded" in exclusion.reason


def test_roles_and_separation_of_duties(example: Policy) -> None:
    no_audio = {role.id for role in example.roles if not role.can_hear_audio}
    assert no_audio == {"advisor", "auditor", "administrator", "business_intelligence"}
    assert {role.id for role in example.roles} == no_audio | {
        "team_leader",
        "authorised_manager",
        "complaints_officer",
        "safety_officer",
        "dpo",
    }
    for purpose in example.purposes:
        assert not set(purpose.roles) & {"administrator", "auditor", "advisor"}


def test_purposes(example: Policy) -> None:
    ids = [purpose.id for purpose in example.purposes]
    assert ids == [
        "complaint",
        "ombudsman",
        "staff_safety",
        "crime",
        "quality",
        "subject_access",
        "legal",
        "fraud",
        "training",
    ]
    second = {p.id for p in example.purposes if p.second_approval}
    # Second approval wherever the recording may leave the council or reach the police.
    # Training clips are made by one person and checked by another.
    assert second == {"ombudsman", "crime", "legal", "fraud", "training"}
    for purpose in example.purposes:
        assert purpose.dpia_ref == "DPIA-CR-2026-01"
        assert "Art. 6(1)" in purpose.lawful_basis
        assert purpose.max_grant_hours > 0


@pytest.mark.parametrize(
    ("purpose", "good", "bad"),
    [
        ("complaint", ["CMP-2026-001", "CMP-2026-123456"], ["CMP-26-001", "LGO-2026-001"]),
        ("ombudsman", ["LGO-2026-123456"], ["CMP-2026-001", "LGO-2026-1"]),
        ("subject_access", ["SAR-2026-0042"], ["SAR-2026-42", "sar-2026-0042"]),
    ],
)
def test_case_ref_patterns(example: Policy, purpose: str, good: list[str], bad: list[str]) -> None:
    pattern = re.compile(example.purpose(purpose).case_ref_pattern)
    assert all(pattern.match(ref) for ref in good)
    assert not any(pattern.match(ref) for ref in bad)


def test_recipients_cover_every_purpose_that_leaves_the_council(example: Policy) -> None:
    """The seed names ombudsman investigations, law enforcement, courts, fraud partners and
    processors; each is tied to the purposes under which it receives recordings."""
    by_id = {recipient.id: recipient for recipient in example.recipients}
    assert set(by_id) == {
        "lgsco", "housing_ombudsman", "police", "courts", "regulators", "fraud_partners",
        "processors",
    }  # fmt: skip
    assert by_id["lgsco"].name == "Local Government and Social Care Ombudsman"
    assert by_id["processors"].purposes == ()  # under any purpose, on our instructions
    assert "crime" in by_id["police"].purposes
    # Complaints stay inside the council; subject access goes to the requester, who is the
    # data subject, not a recipient; quality and training never leave the system.
    outside = {
        purpose.id: {r.id for r in example.recipients if r.purposes and r.receives_for(purpose.id)}
        for purpose in example.purposes
    }
    assert outside == {
        "complaint": set(), "subject_access": set(), "quality": set(), "training": set(),
        "ombudsman": {"lgsco", "housing_ombudsman"}, "staff_safety": {"courts"},
        "crime": {"police"}, "legal": {"police", "courts", "regulators"},
        "fraud": {"fraud_partners"},
    }  # fmt: skip
    assert all(recipient.when for recipient in example.recipients)
