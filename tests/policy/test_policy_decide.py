"""Decisions on the shipped example policy: every seed number recorded, nothing else."""

from __future__ import annotations

import pytest
from _policy_seed import SEED_NUMBERS, spellings

from callvault.errors import BadInput
from callvault.policy.decide import decide
from callvault.policy.loader import parse_policy
from callvault.policy.model import Policy

COVERED = [(line, raw) for line, national in SEED_NUMBERS for raw in spellings(national)]


@pytest.mark.parametrize(("line", "raw"), COVERED)
def test_every_seed_number_in_every_spelling_is_recorded(
    example: Policy, line: str, raw: str
) -> None:
    decision = decide(example, raw)
    assert decision.record is True
    assert decision.line == line
    assert decision.rule == f"line:{line}"
    assert decision.number.startswith("+44")
    assert decision.policy_version == example.version


@pytest.mark.parametrize("raw", ["12", "99", "4008", "2140", "21403", "123456", "sip:6681@pbx"])
def test_extensions_are_not_recorded(example: Policy, raw: str) -> None:
    decision = decide(example, raw)
    assert (decision.record, decision.line, decision.rule) == (False, None, "internal-extension")


@pytest.mark.parametrize(
    "raw",
    [
        "020 8753 9999",
        "020 8753 0000",
        "020 8753 1101",  # next to Cleaner Greener's number
        "+44 20 8753 6682",
        "020 8748 1234",
        "0044 20 8748 8589",
        "tel:+442087480001",
        "sip:+442087530042@sbc.example;user=phone",
    ],
)
def test_staff_direct_dials_are_excluded(example: Policy, raw: str) -> None:
    decision = decide(example, raw)
    assert (decision.record, decision.line) == (False, None)
    assert decision.rule == "exclusion:staff_extensions"


@pytest.mark.parametrize(
    "raw", ["020 7946 0000", "+33 1 23 45 67 89", "07700 900123", "020 8741 2404", "0800 145 6096"]
)
def test_unlisted_numbers_are_not_recorded(example: Policy, raw: str) -> None:
    decision = decide(example, raw)
    assert (decision.record, decision.line, decision.rule) == (False, None, "not-listed")


def test_decision_as_dict_has_the_contract_keys(example: Policy) -> None:
    assert decide(example, "020 8748 3020").as_dict() == {
        "record": True,
        "line": "switchboard",
        "number": "+442087483020",
        "rule": "line:switchboard",
        "policy_version": example.version,
    }


@pytest.mark.parametrize("raw", ["", "withheld", "call me", "+44 12"])
def test_bad_dialled_number_names_the_field(example: Policy, raw: str) -> None:
    with pytest.raises(BadInput) as caught:
        decide(example, raw)
    assert caught.value.field == "dialled"


def test_unknown_direction_is_bad_input(example: Policy) -> None:
    with pytest.raises(BadInput) as caught:
        decide(example, "020 8748 3020", direction="sideways")
    assert caught.value.field == "direction"
    assert "inbound" in caught.value.message


OUTBOUND_POLICY = """
name: outbound test
effective_date: 2026-11-01
controller: The Council (example)
dpo_contact: dpo@council.example
notice_version: T1
recipients:
  - {id: courts, name: Courts, when: When a court orders it.}
lines:
  - id: rent
    name: Rent
    numbers: ["020 8753 6032"]
    retention: 12 months
    announcement: {required: true, text: Calls are recorded.}
    record_outbound: true
  - id: parking
    name: Parking
    numbers: ["020 7371 5678"]
    retention: 12 months
    announcement: {required: true, text: Calls are recorded.}
"""


@pytest.fixture(scope="module")
def outbound_policy() -> Policy:
    return parse_policy(OUTBOUND_POLICY)


@pytest.mark.parametrize("caller", ["020 8753 6032", "+442087536032", "sip:+442087536032@sbc"])
def test_outbound_from_a_line_that_records_outbound(outbound_policy: Policy, caller: str) -> None:
    decision = decide(outbound_policy, "07700 900123", direction="outbound", caller=caller)
    assert decision.record is True
    assert decision.line == "rent"
    assert decision.rule == "line:rent:outbound"
    assert decision.number == "+447700900123"


@pytest.mark.parametrize("caller", [None, "withheld", "Anonymous", "", "020 7371 5678", "4008"])
def test_outbound_not_covered(outbound_policy: Policy, caller: str | None) -> None:
    decision = decide(outbound_policy, "07700 900123", direction="outbound", caller=caller)
    assert (decision.record, decision.line) == (False, None)
    assert decision.rule == "outbound-not-covered"


def test_outbound_from_the_example_is_not_recorded(example: Policy) -> None:
    # The seed covers calls *to* the service numbers only.
    decision = decide(example, "07700 900123", direction="outbound", caller="020 8753 6032")
    assert decision.rule == "outbound-not-covered"


def test_outbound_bad_caller_names_the_field(outbound_policy: Policy) -> None:
    with pytest.raises(BadInput) as caught:
        decide(outbound_policy, "07700 900123", direction="outbound", caller="call centre")
    assert caught.value.field == "caller"


def test_inbound_ignores_the_caller(example: Policy) -> None:
    with_caller = decide(example, "020 8748 3020", caller="not a number at all")
    assert with_caller == decide(example, "020 8748 3020")


def test_decide_is_deterministic_and_leaves_the_policy_unchanged(example: Policy) -> None:
    numbers = ["020 8748 3020", "4008", "020 8753 9999", "+33 1 23 45 67 89"]
    before = (example, dict(example.index.line_by_number), example.version)
    first = [decide(example, n) for n in numbers]
    for _ in range(3):
        assert [decide(example, n) for n in reversed(numbers)] == list(reversed(first))
    assert (example, dict(example.index.line_by_number), example.version) == before
