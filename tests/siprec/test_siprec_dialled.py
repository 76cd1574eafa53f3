"""The dialled-number rule against one fixture per SRC variation (fixtures/metadata/)."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import pytest

from callvault.capture.siprec.dialled import (
    CALLED,
    CALLER,
    UNDECIDED,
    CallParties,
    number_from_uri,
    work_out_parties,
)
from callvault.capture.siprec.headers import Headers
from callvault.capture.siprec.metadata import RecordingMetadata, merge_metadata, parse_metadata
from callvault.policy.numbers import normalise_number

FIXTURES = Path(__file__).parent / "fixtures" / "metadata"
CASES: dict[str, dict[str, Any]] = json.loads((FIXTURES / "expected.json").read_text())["cases"]


def load_metadata(names: list[str]) -> RecordingMetadata | None:
    """Each document parsed, then merged in arrival order, as the server keeps a session's."""
    documents = [parse_metadata((FIXTURES / name).read_bytes()) for name in names]
    return functools.reduce(merge_metadata, documents) if documents else None


def load_headers(name: str | None) -> list[tuple[str, str]]:
    if name is None:
        return []
    lines = (FIXTURES / name).read_text().splitlines()
    return [(n.strip(), v.strip()) for n, _, v in (line.partition(":") for line in lines) if v]


def parties_for(case: dict[str, Any]) -> CallParties:
    return work_out_parties(
        load_metadata(case["metadata"]),
        load_headers(case.get("headers")),
        own_numbers=frozenset(case.get("own_numbers", ())),
    )


@pytest.mark.parametrize("name", sorted(CASES))
def test_each_variation_gives_the_expected_parties(name: str) -> None:
    expected = CASES[name]["expected"]
    parties = parties_for(CASES[name])
    assert parties.rule == expected["rule"]
    assert parties.dialled == expected["dialled"]
    assert parties.caller == expected["caller"]
    assert parties.direction == expected["direction"]
    assert dict(parties.label_roles) == expected["label_roles"]
    media_roles = {str(index): role for index, role in parties.media_index_roles}
    assert media_roles == expected.get("media_index_roles", {})


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_reason_names_the_evidence_or_the_refusal(name: str) -> None:
    parties = parties_for(CASES[name])
    if parties.dialled is None:
        assert "asked with no number and declines" in parties.reason
    else:
        assert parties.dialled in parties.reason


def test_every_fixture_file_is_used_by_a_case() -> None:
    used = {name for case in CASES.values() for name in case["metadata"]}
    used |= {case["headers"] for case in CASES.values() if "headers" in case}
    on_disk = {p.name for p in FIXTURES.iterdir() if p.name != "expected.json"}
    assert on_disk == used


def test_vendor_data_wins_over_participant_order() -> None:
    # broadworks.xml and acme-extension.xml list the called party first.
    for name in ("broadworks", "acme-extension"):
        metadata = load_metadata(CASES[name]["metadata"])
        assert metadata is not None
        first = number_from_uri(metadata.participants[0].aor)
        assert first is not None
        assert parties_for(CASES[name]).dialled == normalise_number(first).value


def test_contradictory_acme_flags_decide_nothing() -> None:
    body = (FIXTURES / "acme-extension.xml").read_text().replace(">false<", ">true<")
    parties = work_out_parties(parse_metadata(body))
    assert parties.rule == "acme-calling-party"
    assert parties.dialled is None
    assert "declines" in parties.reason


def test_only_the_caller_flagged_makes_the_other_of_two_the_dialled_party() -> None:
    body = (
        (FIXTURES / "acme-extension.xml")
        .read_text()
        .replace("<apkt:callingParty>false</apkt:callingParty>", "")
    )
    parties = work_out_parties(parse_metadata(body))
    assert (parties.rule, parties.dialled) == ("acme-calling-party", "+442079460500")


def test_broadworks_caller_only_makes_the_other_participant_dialled() -> None:
    body = (FIXTURES / "broadworks.xml").read_text()
    start = body.index("<calledPartyNumber>")
    end = body.index("</calledPartyNumber>") + len("</calledPartyNumber>")
    parties = work_out_parties(parse_metadata(body[:start] + body[end:]))
    assert (parties.rule, parties.dialled) == ("broadworks", "+442079460400")


def test_a_participant_that_left_does_not_count_in_participant_order() -> None:
    third = '<nameID aor="sip:4010@pbx.council.example"/>'
    left = third + "<disassociate-time>2026-11-02T09:20:00Z</disassociate-time>"
    body = (FIXTURES / "three-participants.xml").read_text().replace(third, left)
    parties = work_out_parties(parse_metadata(body))
    assert (parties.rule, parties.dialled) == ("participant-order", "+442079460900")


def test_order_based_answers_never_turn_a_call_outbound() -> None:
    # Guessing the caller from order must not make a call outbound: only vendor data can.
    case = CASES["rfc7865-full"]
    parties = work_out_parties(
        load_metadata(case["metadata"]), own_numbers=frozenset({"+447700900456"})
    )
    assert parties.direction == "inbound"


def test_a_call_between_two_council_numbers_stays_inbound() -> None:
    case = CASES["acme-extension"]
    own = frozenset({"+447700900654", "+442079460500"})
    parties = work_out_parties(load_metadata(case["metadata"]), own_numbers=own)
    assert parties.direction == "inbound"


def test_cisco_headers_from_the_sip_layer_a_mapping_or_comma_joined() -> None:
    pairs = load_headers("cisco-network-recording.headers")
    values = [v for n, v in pairs if n.lower() == "x-cisco-recording-participant"]
    forms: list[Any] = [
        Headers(pairs),
        {"X-Cisco-Recording-Participant": values},
        {"x-cisco-recording-participant": ", ".join(values)},
    ]
    for headers in forms:
        parties = work_out_parties(None, headers)
        assert (parties.dialled, parties.caller) == ("+442079460123", "+447700900555")
        assert parties.role_of_media_index(0) == CALLED
        assert parties.role_of_media_index(1) == CALLER


def test_cisco_video_call_indexes_follow_their_party() -> None:
    headers = {
        "X-Cisco-Recording-Participant": [
            '<sip:02079460123@192.0.2.40>;media-index="0 2"',
            '<sip:07700900555@192.0.2.41>;media-index="1 3"',
        ]
    }
    parties = work_out_parties(None, headers)
    assert dict(parties.media_index_roles) == {0: CALLED, 1: CALLER, 2: CALLED, 3: CALLER}


def test_one_cisco_participant_decides_nothing() -> None:
    headers = {"X-Cisco-Recording-Participant": '<sip:02079460123@192.0.2.40>;media-index="0"'}
    parties = work_out_parties(None, headers)
    assert (parties.rule, parties.dialled) == ("cisco-recording-participant", None)


def test_metadata_vendor_data_comes_before_cisco_headers() -> None:
    metadata = load_metadata(CASES["ribbon-calldata"]["metadata"])
    parties = work_out_parties(metadata, load_headers("cisco-network-recording.headers"))
    assert parties.rule == "ribbon-calldata"


def test_no_metadata_no_headers_is_undecided() -> None:
    parties = work_out_parties(None)
    assert (parties.rule, parties.dialled, parties.direction) == (UNDECIDED, None, "inbound")


def test_role_of_label() -> None:
    parties = parties_for(CASES["ribbon-calldata"])
    assert parties.role_of_label("1") == CALLED
    assert parties.role_of_label("2") == CALLER
    assert parties.role_of_label("3") is None


@pytest.mark.parametrize(
    ("address", "number"),
    [
        ("sip:+442079460123@sbc.example", "+442079460123"),
        ("sips:02079460123@sbc.example:5061;transport=tls", "02079460123"),
        ("sip:+44-20-7946-0123;isub=1@sbc.example", "+442079460123"),
        ("sip:+44%2020%207946%200123@sbc.example", "+442079460123"),
        ("tel:+44-20-7946-0123;phone-context=+44", "+442079460123"),
        ("TEL:(020) 7946.0123", "02079460123"),
        ('"Ext 8500" <sip:+44 20-7946.0123@sbc;user=phone>;tag=x', "+442079460123"),
        ("<sip:4008@pbx.example>", "4008"),
        ("2249888500@172.16.198.55", "2249888500"),
        ("+442079460123", "+442079460123"),
        ("sip:+442079460123@sbc?subject=x", "+442079460123"),
        ("sip:10.42.30.10", None),
        ("<sip:192.0.2.1:5060>", None),
        ("", None),
        ("   ", None),
        (None, None),
        ("sip:anonymous@anonymous.invalid", "anonymous"),
    ],
)
def test_number_from_uri(address: str | None, number: str | None) -> None:
    assert number_from_uri(address) == number


def test_a_withheld_caller_is_none_and_the_call_still_has_a_dialled_number() -> None:
    body = (FIXTURES / "rfc7865-full.xml").read_text()
    body = body.replace("sip:+447700900456@carrier.example.net", "sip:anonymous@anonymous.invalid")
    parties = work_out_parties(parse_metadata(body))
    assert (parties.dialled, parties.caller) == ("+442079460123", None)
    assert parties.caller_uri == "sip:anonymous@anonymous.invalid"
