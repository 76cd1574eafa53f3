"""Recording metadata (RFC 7865) in every layout the fixtures carry, and partial updates."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from callvault.capture.siprec.metadata import (
    MetadataError,
    Participant,
    RecordingMetadata,
    StreamAssociation,
    merge_metadata,
    parse_metadata,
)
from callvault.capture.siprec.vendor import VendorHints
from callvault.errors import BadInput

FIXTURES = Path(__file__).parent / "fixtures" / "metadata"


def parsed(name: str) -> RecordingMetadata:
    return parse_metadata((FIXTURES / name).read_bytes())


def test_rfc7865_layout() -> None:
    metadata = parsed("rfc7865-full.xml")
    assert metadata.partial is False
    assert metadata.namespace == "urn:ietf:params:xml:ns:recording:1"
    assert [p.participant_id for p in metadata.participants] == ["cGFydC1jYWxsZXI=", "cGFydC1saW5l"]
    assert metadata.participants[1] == Participant(
        "cGFydC1saW5l", "sip:+442079460123@sbc.council.example;user=phone", "Council Tax enquiries"
    )
    assert [(s.stream_id, s.label) for s in metadata.streams] == [
        ("c3RyZWFtLWE=", "1"),
        ("c3RyZWFtLWI=", "2"),
    ]
    assert metadata.associations == (
        StreamAssociation("cGFydC1jYWxsZXI=", ("c3RyZWFtLWE=",), ("c3RyZWFtLWI=",)),
        StreamAssociation("cGFydC1saW5l", ("c3RyZWFtLWI=",), ("c3RyZWFtLWE=",)),
    )
    assert metadata.senders() == {
        "c3RyZWFtLWE=": "cGFydC1jYWxsZXI=",
        "c3RyZWFtLWI=": "cGFydC1saW5l",
    }
    (session,) = metadata.sessions
    assert session.session_id == "c2Vzc2lvbi1jb3VuY2lsLTAx"
    assert session.group_id == "Z3JvdXAtY291bmNpbC0wMDE="
    assert session.sip_session_ids[0].startswith("a1b2c3d4")
    assert session.start_time == datetime(2026, 11, 2, 9, 14, 5, 250000, tzinfo=UTC)
    assert session.stop_time is None
    assert metadata.vendor == VendorHints()


def test_draft_layout_ids_and_sends_inside_participants() -> None:
    metadata = parsed("draft-layout.xml")
    assert metadata.namespace == "urn:ietf:params:xml:ns:recording"
    assert metadata.labels_sent_by("ZHJhZnQtY2FsbGVy") == ("301",)
    assert metadata.labels_sent_by("ZHJhZnQtbGluZQ==") == ("302",)
    assert {s.mode for s in metadata.streams} == {"separate"}
    assert {s.session_id for s in metadata.streams} == {"ZHJhZnQtc2Vzc2lvbg=="}
    # A time without a zone is read as UTC rather than mixed with aware times.
    assert metadata.participants[0].associated_at == datetime(2026, 11, 2, 10, 1, tzinfo=UTC)


def test_prefixed_elements_and_attributes() -> None:
    metadata = parsed("prefixed.xml")
    assert metadata.sessions[0].session_id == "cHJlZml4LXNlc3Npb24="
    assert metadata.participants[0].aor == "01134960555@gw.carrier.example"
    assert metadata.participants[1].name == "Adult social care"
    assert metadata.labels_sent_by("cHJlZml4LWI=") == ("leg2",)


def test_broadworks_bare_aor_mixed_stream_and_party_numbers() -> None:
    metadata = parsed("broadworks.xml")
    assert metadata.namespace == "urn:ietf:params:xml:ns:siprec"
    assert [p.aor for p in metadata.participants] == [
        "sip:+442079460400@sbc.council.example;user=phone",
        "sip:+447700900321@sbc.council.example;user=phone",
    ]
    assert metadata.streams[0].mode == "mixed"
    assert metadata.vendor == VendorHints(
        called="sip:+442079460400@sbc.council.example",
        calling="sip:+447700900321@sbc.council.example",
        source="broadworks",
    )


def test_acme_calling_party_flags() -> None:
    metadata = parsed("acme-extension.xml")
    assert [p.calling_party for p in metadata.participants] == [False, True]


def test_ribbon_call_data() -> None:
    hints = parsed("ribbon-calldata.xml").vendor
    assert hints.source == "ribbon-calldata"
    assert hints.called == "<sip:+442079460600@sbc.council.example;user=phone>;tag=ef34gh"
    assert hints.calling is not None
    assert hints.calling.startswith('"Mrs Example" <sip:+447700900987@')
    assert hints.original_call_id == "7b1f2e3d-4c5a-6b7c-8d9e-0f1a2b3c4d5e"


def test_no_stream_association_leaves_labels_unattributed() -> None:
    metadata = parsed("no-stream-association.xml")
    assert metadata.associations == ()
    assert metadata.senders() == {}
    assert [s.label for s in metadata.streams] == ["1", "2"]


def test_bytes_and_text_give_the_same_metadata() -> None:
    raw = (FIXTURES / "rfc7865-full.xml").read_bytes()
    # The SIP layer may hand over the part as bytes or as text (with its XML declaration).
    assert parse_metadata(raw) == parse_metadata(raw.decode())


def test_a_partial_update_alone_is_marked_partial() -> None:
    update = parsed("partial-update.xml")
    assert update.partial is True
    assert update.streams == ()


def test_merging_a_partial_update_keeps_order_and_adds_what_changed() -> None:
    merged = merge_metadata(parsed("partial-update-initial.xml"), parsed("partial-update.xml"))
    assert merged.partial is False
    assert [p.participant_id for p in merged.participants] == ["cGFydGlhbC1h", "cGFydGlhbC1i"]
    assert merged.participants[1].name == "Registrars"
    assert merged.participants[0].aor == "tel:+447700900222"  # untouched by the update
    assert [s.label for s in merged.streams] == ["10", "20"]
    assert merged.labels_sent_by("cGFydGlhbC1h") == ("20",)
    assert merged.sessions == parsed("partial-update-initial.xml").sessions


def test_an_association_in_an_update_replaces_that_participants_earlier_one() -> None:
    earlier = parsed("rfc7865-full.xml")
    update = RecordingMetadata(
        partial=True, associations=(StreamAssociation("cGFydC1saW5l", ("c3RyZWFtLWE=",)),)
    )
    merged = merge_metadata(earlier, update)
    assert merged.associations[0] == earlier.associations[0]
    assert merged.associations[1] == StreamAssociation("cGFydC1saW5l", ("c3RyZWFtLWE=",))


def test_a_complete_update_replaces_everything() -> None:
    earlier = parsed("rfc7865-full.xml")
    update = parsed("draft-layout.xml")
    assert merge_metadata(earlier, update) == update


def test_a_stop_time_in_an_update_is_kept() -> None:
    earlier = parsed("rfc7865-full.xml")
    body = (
        '<recording xmlns="urn:ietf:params:xml:ns:recording:1"><datamode>partial</datamode>'
        '<session session_id="c2Vzc2lvbi1jb3VuY2lsLTAx"><stop-time>2026-11-02T09:30:00Z'
        "</stop-time></session></recording>"
    )
    (session,) = merge_metadata(earlier, parse_metadata(body)).sessions
    assert session.start_time == datetime(2026, 11, 2, 9, 14, 5, 250000, tzinfo=UTC)
    assert session.stop_time == datetime(2026, 11, 2, 9, 30, tzinfo=UTC)


def test_vendor_hints_in_an_update() -> None:
    earlier = VendorHints("sip:1@a", "sip:2@a", "broadworks")
    assert earlier.updated_by(VendorHints()) == earlier
    assert earlier.updated_by(VendorHints(calling="sip:3@a", source="broadworks")) == (
        VendorHints("sip:1@a", "sip:3@a", "broadworks")
    )
    other = VendorHints("<sip:4@b>", None, "ribbon-calldata")
    assert earlier.updated_by(other) == other


def test_unknown_elements_are_ignored_and_missing_ids_get_positions() -> None:
    body = (
        "<recording><datamode>complete</datamode><vendorThing><x/></vendorThing>"
        '<participant><nameID aor="sip:4008@pbx"/></participant><stream><label>7</label></stream>'
        "</recording>"
    )
    metadata = parse_metadata(body)
    assert metadata.namespace is None
    assert metadata.participants[0].participant_id == "participant-1"
    assert metadata.streams[0].stream_id == "stream-1"


def test_unreadable_times_are_none() -> None:
    body = (
        '<recording><session session_id="s"><start-time>yesterday</start-time></session>'
        "</recording>"
    )
    assert parse_metadata(body).sessions[0].start_time is None


def test_a_document_that_is_not_recording_metadata_is_refused() -> None:
    with pytest.raises(MetadataError) as caught:
        parse_metadata("<html><body>hello</body></html>")
    assert caught.value.status == 400
    assert caught.value.field == "metadata"
    assert "<recording>" in caught.value.message
    assert isinstance(caught.value, BadInput)  # one hierarchy: callvault.errors
