"""Loading: every validation error names the field path and the fix; versions track meaning."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from callvault.errors import ConfigError
from callvault.policy.loader import load_policy, parse_policy

BASE: dict[str, Any] = {
    "name": "test policy",
    "effective_date": "2026-11-01",
    "controller": "The Council (example)",
    "dpo_contact": "dpo@council.example",
    "notice_version": "T1",
    "roles": [
        {"id": "manager", "name": "Manager", "can_hear_audio": True},
        {"id": "admin", "name": "Administrator", "can_hear_audio": False},
    ],
    "purposes": [
        {
            "id": "complaint",
            "name": "Complaint",
            "lawful_basis": "UK GDPR Art. 6(1)(e)",
            "dpia_ref": "DPIA-1",
            "roles": ["manager"],
            "max_grant_hours": 72,
            "case_ref_pattern": r"^CMP-\d{4}$",
        }
    ],
    "lines": [
        {
            "id": "switchboard",
            "name": "Switchboard",
            "numbers": ["020 8748 3020"],
            "retention": "12 months",
            "announcement": {"required": True, "text": "Calls are recorded."},
        },
        {
            "id": "parking",
            "name": "Parking",
            "numbers": ["020 7371 5678"],
            "retention": "12 months",
            "announcement": {"required": True, "text": "Calls are recorded."},
        },
    ],
    "exclusions": [{"id": "staff", "reason": "direct dials", "prefixes": ["020 8753"]}],
    "recipients": [
        {"id": "courts", "name": "Courts", "when": "When a court orders it."},
        {
            "id": "ombudsman",
            "name": "Ombudsman",
            "when": "Investigations.",
            "purposes": ["complaint"],
        },
    ],
}

Mutation = Callable[[dict[str, Any]], object]


def load(mutate: Mutation | None = None) -> Any:
    data = copy.deepcopy(BASE)
    if mutate is not None:
        mutate(data)
    return parse_policy(yaml.safe_dump(data, sort_keys=False), source="test.yaml")


def test_base_policy_is_valid() -> None:
    policy = load()
    assert [line.id for line in policy.lines] == ["switchboard", "parking"]


def _line(i: int) -> Callable[[dict[str, Any]], dict[str, Any]]:
    return lambda d: d["lines"][i]


# (what, mutation, field path, words the message must contain)
ERRORS: list[tuple[str, Mutation, str, list[str]]] = [
    (
        "missing retention",
        lambda d: d["lines"][1].pop("retention"),
        "lines[1].retention",
        ["law requires a retention period", "retention: 12 months"],
    ),
    (
        "zero retention",
        lambda d: d["lines"][0].update(retention="0 months"),
        "lines[0].retention",
        ["longer than zero"],
    ),
    (
        "retention not a period",
        lambda d: d["lines"][0].update(retention="forever"),
        "lines[0].retention",
        ["not a period", "12 months"],
    ),
    (
        "retention mapping with a typo",
        lambda d: d["lines"][0].update(retention={"month": 12}),
        "lines[0].retention.month",
        ["did you mean `months`"],
    ),
    (
        "typo in a line key",
        lambda d: d["lines"][0].update(retension="12 months"),
        "lines[0].retension",
        ["unknown key", "did you mean `retention`"],
    ),
    (
        "typo in a top-level key",
        lambda d: d.update(exclusion=[]),
        "exclusion",
        ["did you mean `exclusions`"],
    ),
    (
        "typo in a purpose key",
        lambda d: d["purposes"][0].update(second_aproval=True),
        "purposes[0].second_aproval",
        ["did you mean `second_approval`"],
    ),
    (
        "unknown key with no near match",
        lambda d: d["roles"][0].update(colour="blue"),
        "roles[0].colour",
        ["allowed keys", "can_hear_audio"],
    ),
    (
        "number not normalisable",
        lambda d: d["lines"][1].update(numbers=["020 7371 5678", "020 8748"]),
        "lines[1].numbers[1]",
        ["not a phone number", "020 8748 3020"],
    ),
    (
        "unquoted number read as an integer",
        lambda d: d["lines"][0].update(numbers=[2087483020]),
        "lines[0].numbers[0]",
        ["quote numbers", "leading 0"],
    ),
    (
        "extension as a line number",
        lambda d: d["lines"][0].update(numbers=["4008"]),
        "lines[0].numbers[0]",
        ["internal extension", "public numbers"],
    ),
    (
        "no numbers",
        lambda d: d["lines"][0].update(numbers=[]),
        "lines[0].numbers",
        ["at least one number"],
    ),
    (
        "same number on two lines, spelled differently",
        lambda d: d["lines"][1].update(numbers=["+44 (0)20 8748 3020"]),
        "lines[1].numbers[0]",
        ["+442087483020", "line 'switchboard'", "one line only"],
    ),
    (
        "number on a line and in an exclusion",
        lambda d: d["exclusions"][0].update(numbers=["4001", "tel:+442073715678"]),
        "exclusions[0].numbers[1]",
        ["line 'parking'", "also excluded", "remove it"],
    ),
    (
        "unknown role in a purpose",
        lambda d: d["purposes"][0].update(roles=["manager", "managre"]),
        "purposes[0].roles[1]",
        ["unknown role 'managre'", "roles:", "admin, manager"],
    ),
    (
        "no roles in a purpose",
        lambda d: d["purposes"][0].update(roles=[]),
        "purposes[0].roles",
        ["list the roles"],
    ),
    (
        "bad regex",
        lambda d: d["purposes"][0].update(case_ref_pattern="^CMP-(\\d{4}$"),
        "purposes[0].case_ref_pattern",
        ["not a valid regular expression", "single quotes"],
    ),
    (
        "zero grant hours",
        lambda d: d["purposes"][0].update(max_grant_hours=0),
        "purposes[0].max_grant_hours",
        ["above 0"],
    ),
    (
        "duplicate line id",
        lambda d: d["lines"][1].update(id="switchboard"),
        "lines[1].id",
        ["already used by lines[0]"],
    ),
    (
        "duplicate purpose id",
        lambda d: d["purposes"].append(copy.deepcopy(d["purposes"][0])),
        "purposes[1].id",
        ["already used by purposes[0]"],
    ),
    (
        "duplicate role id",
        lambda d: d["roles"][1].update(id="manager"),
        "roles[1].id",
        ["already used by roles[0]"],
    ),
    (
        "duplicate exclusion id",
        lambda d: d["exclusions"].append(copy.deepcopy(d["exclusions"][0])),
        "exclusions[1].id",
        ["already used by exclusions[0]"],
    ),
    (
        "invalid id",
        lambda d: d["lines"][0].update(id="Switch Board"),
        "lines[0].id",
        ["not a valid id", "lower-case"],
    ),
    (
        "unknown sensitivity",
        lambda d: d["lines"][0].update(sensitivity="secret"),
        "lines[0].sensitivity",
        ["`standard` or `special_category`"],
    ),
    (
        "unknown on_transfer",
        lambda d: d["lines"][0].update(on_transfer="pause"),
        "lines[0].on_transfer",
        ["`keep_recording` or `stop`"],
    ),
    (
        "unknown when_recorder_down",
        lambda d: d["lines"][0].update(when_recorder_down="panic"),
        "lines[0].when_recorder_down",
        ["`continue_unrecorded` or `reject_call`"],
    ),
    (
        "flag that is not a boolean",
        lambda d: d["lines"][0].update(takes_payments="sometimes"),
        "lines[0].takes_payments",
        ["takes_payments: true"],
    ),
    (
        "missing announcement",
        lambda d: d["lines"][0].pop("announcement"),
        "lines[0].announcement",
        ["required: true"],
    ),
    (
        "required announcement with no text",
        lambda d: d["lines"][0].update(announcement={"required": True}),
        "lines[0].announcement.text",
        ["non-empty"],
    ),
    (
        "missing controller",
        lambda d: d.pop("controller"),
        "controller",
        ["missing", "controller:"],
    ),
    (
        "empty dpo contact",
        lambda d: d.update(dpo_contact="  "),
        "dpo_contact",
        ["non-empty"],
    ),
    (
        "bad effective date",
        lambda d: d.update(effective_date="1 Nov 2026"),
        "effective_date",
        ["YYYY-MM-DD"],
    ),
    (
        "lines not a list",
        lambda d: d.update(lines={"id": "x"}),
        "lines",
        ["write a list"],
    ),
    (
        "role missing can_hear_audio",
        lambda d: d["roles"][1].pop("can_hear_audio"),
        "roles[1].can_hear_audio",
        ["can_hear_audio: false"],
    ),
    (
        "exclusion with nothing in it",
        lambda d: d["exclusions"][0].pop("prefixes"),
        "exclusions[0]",
        ["at least one of"],
    ),
    (
        "bad exclusion prefix",
        lambda d: d["exclusions"][0].update(prefixes=["020 ABC"]),
        "exclusions[0].prefixes[0]",
        ["not a number prefix"],
    ),
    (
        "missing recipients",
        lambda d: d.pop("recipients"),
        "recipients",
        ["missing", "Art. 13(1)(e)", "`when`"],
    ),
    (
        "no recipients",
        lambda d: d.update(recipients=[]),
        "recipients",
        ["at least one recipient", "Art. 13(1)(e)"],
    ),
    (
        "recipient without when",
        lambda d: d["recipients"][0].pop("when"),
        "recipients[0].when",
        ["missing", "when: When a court orders it"],
    ),
    (
        "recipient for an unknown purpose",
        lambda d: d["recipients"][1].update(purposes=["complaint", "complaints"]),
        "recipients[1].purposes[1]",
        ["unknown purpose 'complaints'", "purposes:", "complaint"],
    ),
    (
        "duplicate recipient id",
        lambda d: d["recipients"][1].update(id="courts"),
        "recipients[1].id",
        ["already used by recipients[0]"],
    ),
    (
        "typo in a recipient key",
        lambda d: d["recipients"][0].update(purpose=["complaint"]),
        "recipients[0].purpose",
        ["did you mean `purposes`"],
    ),
    (
        "range upside down",
        lambda d: d["exclusions"][0].update(
            ranges=[{"first": "020 8753 9999", "last": "020 8753 0000"}]
        ),
        "exclusions[0].ranges[0]",
        ["not a range"],
    ),
    (
        "range end not a number",
        lambda d: d["exclusions"][0].update(ranges=[{"first": "020 8753 0000", "last": "x"}]),
        "exclusions[0].ranges[0].last",
        ["not a phone number"],
    ),
]


@pytest.mark.parametrize(
    ("mutate", "field", "words"),
    [pytest.param(m, f, w, id=what) for what, m, f, w in ERRORS],
)
def test_validation_error_names_field_and_fix(
    mutate: Mutation, field: str, words: list[str]
) -> None:
    with pytest.raises(ConfigError) as caught:
        load(mutate)
    error = caught.value
    assert error.field == field
    assert error.message.startswith(f"test.yaml: {field}: ")
    for word in words:
        assert word in error.message


def test_not_yaml() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_policy("lines: [unclosed", source="broken.yaml")
    assert caught.value.field == "policy"
    assert "broken.yaml: not valid YAML" in caught.value.message


def test_not_a_mapping() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_policy("- just\n- a list\n")
    assert caught.value.field == "policy"


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_policy(tmp_path / "absent.yaml")
    assert caught.value.field == "policy"
    assert "absent.yaml" in caught.value.message


def test_recipients() -> None:
    courts, ombudsman = load().recipients
    assert (courts.id, courts.name, courts.when, courts.purposes) == (
        "courts", "Courts", "When a court orders it.", ()
    )  # fmt: skip
    assert ombudsman.purposes == ("complaint",)
    # No purposes listed: a recipient under any purpose (a processor).
    assert courts.receives_for("complaint") and courts.receives_for("anything")
    assert ombudsman.receives_for("complaint") and not ombudsman.receives_for("crime")


def test_line_defaults() -> None:
    line = load().line("switchboard")
    assert (line.sensitivity, line.on_transfer, line.when_recorder_down) == (
        "standard",
        "keep_recording",
        "continue_unrecorded",
    )
    assert (line.takes_payments, line.record_outbound) == (False, False)
    assert line.numbers == ("+442087483020",)


@pytest.mark.parametrize(
    ("written", "months", "days"),
    [
        ("12 months", 12, 0),
        ("1 month", 1, 0),
        ("1 year", 12, 0),
        ("30 days", 0, 30),
        ("6 months 15 days", 6, 15),
        ({"months": 3, "days": 1}, 3, 1),
    ],
)
def test_retention_spellings(written: object, months: int, days: int) -> None:
    policy = load(lambda d: d["lines"][0].update(retention=written))
    retention = policy.line("switchboard").retention
    assert (retention.months, retention.days) == (months, days)


def test_version_format() -> None:
    assert re.fullmatch(r"2026-11-01\+[0-9a-f]{12}", load().version)


def test_version_changes_when_content_changes() -> None:
    versions = {
        load().version,
        load(lambda d: d["lines"][0].update(retention="6 months")).version,
        load(lambda d: d["lines"][0].update(numbers=["020 8748 3021"])).version,
        load(lambda d: d["purposes"][0].update(second_approval=True)).version,
        load(lambda d: d["exclusions"][0].update(prefixes=["020 8754"])).version,
        load(lambda d: d.update(notice_version="T2")).version,
        load(lambda d: d["recipients"][0].update(when="Never.")).version,
    }
    assert len(versions) == 7


def test_effective_date_leads_the_version() -> None:
    assert load(lambda d: d.update(effective_date="2027-04-01")).version.startswith("2027-04-01+")


def test_comments_whitespace_and_spelling_keep_the_version() -> None:
    text = yaml.safe_dump(BASE, sort_keys=False)
    respelled = text.replace("020 8748 3020", "+44 (0)20-8748-3020")
    assert respelled != text
    commented = "# a comment\n\n" + respelled.replace("\n", "  \n")
    first, second = parse_policy(text), parse_policy(commented)
    assert first.version == second.version
    # The raw file hash still tells the two files apart, for the audit trail.
    assert first.source_sha256 != second.source_sha256
    assert re.fullmatch(r"[0-9a-f]{64}", first.source_sha256)


def test_load_policy_reads_a_real_file(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(BASE), encoding="utf-8")
    assert load_policy(path).version == load().version
