"""Transfers outside the UK (``transfers:``): the notice (Art. 13(1)(f)), the subject access
letter (Art. 15(2)) and the record of processing (Art. 30(1)(e)) read the same list; a bad
entry is refused naming its path and the fix."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
import yaml

from callvault.errors import ConfigError
from callvault.notice.ropa import record_of_processing
from callvault.notice.service import publish
from callvault.notice.wording import STAYS_IN_THE_UK
from callvault.policy.loader import parse_policy
from callvault.policy.model import Policy
from callvault.policy.transfers import Transfer
from callvault.rights.letter import Findings, letter_document, render_text

BACKUPS = {
    "to": "Ireland",
    "recipient": "Offsite Backup Ltd (our processor)",
    "safeguard": "UK adequacy regulations (EEA)",
}
SUPPORT = {
    "to": "India",
    "recipient": "Helpdesk Services Pvt (support contractor)",
    "safeguard": "International Data Transfer Agreement (Art. 46)",
}


def with_transfers(example_text: str, transfers: Any) -> Policy:
    data = yaml.safe_load(example_text)
    data["transfers"] = transfers
    return parse_policy(yaml.safe_dump(data, sort_keys=False), source="edited.yaml")


def letter(policy: Policy) -> str:
    findings = Findings(
        ref="SAR-2026-0001", requester="Ann Example", contact="ann@example.org",
        received_on=date(2026, 11, 2), phones=("+447700900123",), found=1, released=1,
        transcripts=1, mutes=0, withheld=(), lines=(), written_on=date(2026, 11, 20),
    )  # fmt: skip
    return " ".join(render_text(letter_document(policy, findings)).split())


def test_no_transfers_is_said_plainly_everywhere(example: Policy) -> None:
    assert example.transfers == ()
    notice = " ".join(publish(example, "public", "md").text.split())
    assert "Whether recordings leave the UK" in notice and STAYS_IN_THE_UK in notice
    assert STAYS_IN_THE_UK in letter(example)
    rows = record_of_processing(example)["rows"]
    assert {row["third_country_transfers"] for row in rows} == {"None"}


def test_declared_transfers_appear_with_their_safeguards(example_text: str) -> None:
    policy = with_transfers(example_text, [BACKUPS, SUPPORT])
    assert policy.transfers == (Transfer(**BACKUPS), Transfer(**SUPPORT))
    notice = " ".join(publish(policy, "public", "md").text.split())
    said = letter(policy)
    for entry in (BACKUPS, SUPPORT):
        for value in entry.values():
            assert value in notice.replace("\\", "")
            assert value in said
    assert STAYS_IN_THE_UK not in notice and STAYS_IN_THE_UK not in said
    (row, *_) = record_of_processing(policy)["rows"]
    assert row["third_country_transfers"] == (
        "Ireland: Offsite Backup Ltd (our processor) (UK adequacy regulations (EEA)); "
        "India: Helpdesk Services Pvt (support contractor) "
        "(International Data Transfer Agreement (Art. 46))"
    )


def test_an_empty_list_means_none(example_text: str) -> None:
    assert with_transfers(example_text, []).transfers == ()


@pytest.mark.parametrize(
    ("transfers", "field", "words"),
    [
        ("Ireland", "transfers", "transfers: []"),
        (["Ireland"], "transfers[0]", "each transfer is a mapping"),
        ([{**BACKUPS, "safeguard": " "}], "transfers[0].safeguard", "non-empty"),
        ([{"to": "Ireland", "recipient": "x"}], "transfers[0].safeguard", "missing"),
        ([{**BACKUPS, "country": "IE"}], "transfers[0].country", "unknown key"),
        ([BACKUPS, SUPPORT, BACKUPS], "transfers[2].recipient", "listed twice"),
    ],
)
def test_a_bad_transfer_is_refused_naming_its_path(
    example_text: str, transfers: Any, field: str, words: str
) -> None:
    with pytest.raises(ConfigError) as refused:
        with_transfers(example_text, transfers)
    assert refused.value.field == field
    assert words in str(refused.value)
