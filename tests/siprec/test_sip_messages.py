"""SIP message parsing, writing and responses (callvault.capture.siprec.sipmsg)."""

from __future__ import annotations

import pytest
from sip_offers import (
    BYE,
    CALL_ID,
    COMMON_HEADERS,
    INVITE_COMPACT,
    INVITE_LARGE,
    INVITE_OLD_SRC,
    INVITE_SIP_SRC,
    INVITE_SIPP,
    INVITE_URI,
    OPTIONS_PING,
    REINVITE_METADATA_ONLY,
    SDP_TWO_STREAMS,
    SIPREC_INVITES,
    sip,
)

from callvault.capture.siprec.errors import SipError
from callvault.capture.siprec.headers import Headers, canonical_name
from callvault.capture.siprec.sipmsg import (
    MAX_MESSAGE_BYTES,
    CSeq,
    SipRequest,
    SipResponse,
    error_response,
    has_src_contact,
    is_siprec_request,
    make_response,
    parse_message,
    requires_siprec,
)
from callvault.errors import BadInput


def request(data: bytes) -> SipRequest:
    message = parse_message(data)
    assert isinstance(message, SipRequest)
    return message


@pytest.mark.parametrize("name", sorted(SIPREC_INVITES))
def test_every_variation_parses_as_a_siprec_invite(name: str) -> None:
    invite = request(SIPREC_INVITES[name])
    assert invite.method == "INVITE"
    assert invite.cseq.method == "INVITE"
    assert invite.from_tag
    assert is_siprec_request(invite)
    assert len(invite.body) == int(invite.headers.get("Content-Length") or -1)


def test_accessors_read_the_dialog_identifiers() -> None:
    invite = request(INVITE_SIP_SRC)
    assert invite.uri == "sip:recorder@192.0.2.99:5060;transport=tcp"
    assert invite.call_id == CALL_ID
    assert invite.cseq == CSeq(314159, "INVITE")
    assert invite.from_tag == "1928301774"
    assert invite.to_tag is None
    assert invite.from_addr.display_name == "Contact Centre SRC"
    assert invite.top_via.transport == "TCP"
    assert invite.top_via.branch == "z9hG4bK776asdhds"
    assert (invite.top_via.host, invite.top_via.port) == ("192.0.2.10", 5060)
    assert invite.content_type == "multipart/mixed"
    assert invite.headers.option_tags("Supported") == {"timer", "replaces"}


def test_both_contact_feature_tags_mark_a_recording_client() -> None:
    assert has_src_contact(request(INVITE_SIP_SRC))
    assert has_src_contact(request(INVITE_OLD_SRC))
    plain = request(INVITE_SIP_SRC.replace(b";+sip.src", b""))
    assert requires_siprec(plain) and not has_src_contact(plain)
    assert not is_siprec_request(plain)
    in_uri = request(INVITE_SIP_SRC.replace(b"transport=tcp>;+sip.src", b"transport=tcp;src>"))
    assert has_src_contact(in_uri)


def test_cisco_network_based_recording_is_a_recording_session_without_either_signal() -> None:
    bare = INVITE_SIP_SRC.replace(b";+sip.src", b"").replace(b"Require: siprec\r\n", b"")
    assert not is_siprec_request(request(bare))
    forked = bare.replace(
        b"Call-ID:",
        b'X-Cisco-Recording-Participant: <sip:+442073715678@192.0.2.1>;media-index="0"\r\nCall-ID:',
        1,
    )
    assert is_siprec_request(request(forked))


def test_require_without_siprec_is_not_siprec() -> None:
    invite = request(INVITE_SIP_SRC.replace(b"Require: siprec", b"Require: timer"))
    assert not requires_siprec(invite)


def test_compact_forms_and_any_case_are_expanded() -> None:
    invite = request(INVITE_COMPACT)
    assert invite.call_id == "compact-call-1@192.0.2.10"
    assert invite.cseq == CSeq(1, "INVITE")
    assert invite.from_tag == "compact-1"
    assert invite.top_via.params["rport"] is None
    assert invite.content_type == "multipart/mixed"
    assert requires_siprec(invite) and has_src_contact(invite)
    names = [name for name, _ in invite.headers]
    assert names[:5] == ["Via", "Max-Forwards", "To", "From", "Call-ID"]
    assert "CSeq" in names and "Content-Length" in names


def test_two_spaces_before_the_content_length_are_fine() -> None:
    invite = request(INVITE_SIPP)
    assert b"Content-Length:  409" in INVITE_SIPP
    assert invite.body.startswith(b"v=0\r\n") and len(invite.body) == 409


def test_bare_lf_line_ends_and_leading_crlf_are_tolerated() -> None:
    body = SDP_TWO_STREAMS.encode()
    lf = b"\r\n\r\n" + sip(
        INVITE_URI,
        COMMON_HEADERS + "\nContent-Type: application/sdp",
        body,
        line_end="\n",
    )
    invite = request(lf)
    assert invite.call_id == CALL_ID
    assert invite.body == body


def test_folded_header_lines_are_joined() -> None:
    folded = INVITE_SIP_SRC.replace(
        b"Supported: timer, replaces", b"Supported: timer,\r\n   replaces\r\n\t, 100rel"
    )
    assert request(folded).headers.option_tags("Supported") == {"timer", "replaces", "100rel"}


def test_repeated_and_comma_joined_list_headers_read_the_same() -> None:
    invite = request(INVITE_LARGE)
    assert len(invite.headers.fields("Via")) == 4
    assert invite.top_via.host == "198.51.100.1"
    assert invite.headers.values("Record-Route") == [
        "<sip:198.51.100.1;lr;transport=tcp>",
        "<sip:198.51.100.2;lr>",
        "<sip:198.51.100.3;lr>",
    ]
    # A comma inside a quoted display name is not a separator.
    assert invite.headers.values("P-Asserted-Identity") == [
        '"Contact Centre, Housing" <sip:+442079460999@192.0.2.10>'
    ]


def test_comma_joined_vias_have_the_first_on_top() -> None:
    joined = BYE.replace(
        b"Via: SIP/2.0/TCP 192.0.2.10:5060;branch=z9hG4bKbye1",
        b"Via: SIP/2.0/TCP 192.0.2.10:5060;branch=z9hG4bKbye1 , SIP/2.0/UDP [2001:db8::1]",
    )
    message = request(joined)
    assert message.top_via.branch == "z9hG4bKbye1"
    assert message.top_via.port == 5060
    response = make_response(message, 200)
    assert response.headers.fields("Via") == message.headers.fields("Via")


def test_commas_in_quotes_and_angles_and_non_list_headers() -> None:
    headers = Headers(
        [
            ("Contact", '"Smith, J" <sip:a@x>, <sip:b,c@y>;q=0.5'),
            ("Date", "Sat, 13 Nov 2010 23:29:00 GMT"),
            ("Allow", "INVITE,ACK"),
            ("allow", " BYE "),
        ]
    )
    assert headers.values("m") == ['"Smith, J" <sip:a@x>', "<sip:b,c@y>;q=0.5"]
    assert headers.values("Date") == ["Sat, 13 Nov 2010 23:29:00 GMT"]
    assert headers.values("ALLOW") == ["INVITE", "ACK", "BYE"]
    headers.replace("Allow", "OPTIONS")
    assert headers.fields("Allow") == ["OPTIONS"]
    assert [name for name, _ in headers] == ["Contact", "Date", "Allow"]


@pytest.mark.parametrize(
    ("written", "canonical"),
    [("i", "Call-ID"), ("CALL-ID", "Call-ID"), ("cseq", "CSeq"), ("X-Custom", "X-Custom")],
)
def test_header_names_are_canonical(written: str, canonical: str) -> None:
    assert canonical_name(written) == canonical


def test_a_message_survives_a_round_trip() -> None:
    invite = request(INVITE_COMPACT)
    again = request(invite.to_bytes())
    assert list(again.headers) == list(invite.headers)
    assert again.body == invite.body
    assert b"\r\nContact: <sip:src@192.0.2.10:5060>;+sip.src\r\n" in invite.to_bytes()


def test_a_response_parses() -> None:
    response = parse_message(
        b"SIP/2.0 180 Ringing\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nTo: <sip:a@b>;tag=9\r\n"
        b"From: <sip:c@d>;tag=1\r\nCall-ID: x\r\nCSeq: 2 INVITE\r\n\r\n"
    )
    assert isinstance(response, SipResponse)
    assert (response.status, response.reason, response.to_tag) == (180, "Ringing", "9")


def test_datagram_bytes_past_the_content_length_are_dropped() -> None:
    assert request(BYE + b"junk").body == b""
    no_length = BYE.replace(b"Content-Length: 0\r\n", b"")
    assert request(no_length + b"body").body == b"body"  # UDP: the rest of the datagram


def error_of(data: bytes) -> SipError:
    with pytest.raises(SipError) as caught:
        parse_message(data)
    assert isinstance(caught.value, BadInput)
    return caught.value


@pytest.mark.parametrize("header", [b"Call-ID", b"CSeq", b"From", b"To", b"Via"])
def test_a_missing_mandatory_header_is_a_400_that_names_it(header: bytes) -> None:
    lines = [line for line in BYE.split(b"\r\n") if not line.startswith(header + b":")]
    error = error_of(b"\r\n".join(lines))
    assert error.status == 400
    assert header.decode() in error.reason
    assert isinstance(error.partial, SipRequest)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ((b"CSeq: 314161 BYE", b"CSeq: 314161 INVITE"), "CSeq Method Mismatch"),
        ((b"CSeq: 314161 BYE", b"CSeq: many BYE"), "Bad CSeq Header"),
        ((b"CSeq: 314161 BYE", b"CSeq: 99999999999 BYE"), "Bad CSeq Header"),
        ((b"Content-Length: 0", b"Content-Length: 12"), "Truncated Body"),
        ((b"Content-Length: 0", b"Content-Length: -1"), "Bad Content-Length"),
        ((b"Content-Length: 0", b"Content-Length: \xc2\xb2"), "Bad Content-Length"),
        ((b"To: <sip:recorder@192.0.2.99>", b"To: <sip:recorder@192.0.2.99"), "Bad To Header"),
        ((b"SIP/2.0/TCP 192.0.2.10:5060", b"SIP/2.0/TCP 192.0.2.10:99999"), "Bad Via"),
        ((b"Max-Forwards: 70", b"Max-Forwards 70"), "Bad Header Line"),
        ((b"Max-Forwards: 70", b"Max-Forwards: 70\rX: y"), "Bad Header Line"),
        ((b"BYE sip:recorder@192.0.2.99 SIP/2.0", b"BYE  SIP/2.0"), "Bad Request Line"),
        ((b"BYE sip:recorder@192.0.2.99 SIP/2.0", b"B(E sip:r SIP/2.0"), "Bad Request Line"),
        ((b"Max-Forwards", b"\xff\xfe"), "Headers Not UTF-8"),
    ],
)
def test_malformed_messages_are_400_with_a_reason(change: tuple[bytes, bytes], reason: str) -> None:
    old, new = change
    assert old in BYE
    error = error_of(BYE.replace(old, new))
    assert (error.status, error.reason) == (400, reason)


def test_another_sip_version_is_505() -> None:
    error = error_of(BYE.replace(b"SIP/2.0\r\n", b"SIP/3.0\r\n", 1))
    assert (error.status, error.reason) == (505, "Version Not Supported")


def test_sizes_over_the_limit_are_513_and_413() -> None:
    huge = BYE.replace(b"Max-Forwards: 70", b"X-Pad: " + b"a" * MAX_MESSAGE_BYTES)
    assert error_of(huge).status == 513
    declared = BYE.replace(b"Content-Length: 0", b"Content-Length: 70000")
    error = error_of(declared)
    assert error.status == 413 and isinstance(error.partial, SipRequest)


@pytest.mark.parametrize("data", [b"", b"\r\n\r\n", b"   ", b"hello", b"SIP/2.0 99 Low\r\n\r\n"])
def test_rubbish_is_a_400_without_a_partial_message(data: bytes) -> None:
    error = error_of(data)
    assert error.status == 400 and error.partial is None
    assert error_response(error) is None


def test_a_200_to_an_invite_copies_what_rfc_3261_asks() -> None:
    invite = request(INVITE_LARGE)
    response = make_response(
        invite,
        200,
        to_tag="srs-1",
        contact_uri="sip:recorder@192.0.2.99:5060;transport=tcp",
        body=b"v=0\r\n",
    )
    parsed = parse_message(response.to_bytes())
    assert isinstance(parsed, SipResponse)
    assert (parsed.status, parsed.reason) == (200, "OK")
    assert parsed.headers.fields("Via") == invite.headers.fields("Via")
    assert parsed.headers.fields("Record-Route") == invite.headers.fields("Record-Route")
    assert (parsed.call_id, parsed.cseq, parsed.from_tag) == (
        invite.call_id,
        invite.cseq,
        invite.from_tag,
    )
    assert parsed.to_tag == "srs-1"
    assert parsed.headers.get("Contact") == (
        "<sip:recorder@192.0.2.99:5060;transport=tcp>;+sip.srs"
    )
    assert "siprec" in parsed.headers.option_tags("Supported")
    assert "OPTIONS" in parsed.headers.values("Allow")
    assert (parsed.content_type, parsed.body) == ("application/sdp", b"v=0\r\n")


def test_100_trying_has_no_to_tag_and_in_dialog_tags_are_kept() -> None:
    trying = make_response(request(INVITE_SIP_SRC), 100)
    assert trying.to_tag is None and "Allow" not in trying.headers
    ok = make_response(request(REINVITE_METADATA_ONLY), 200, to_tag="other")
    assert ok.to_tag == "srs-1"
    ping = make_response(request(OPTIONS_PING), 200)
    assert ping.to_tag and len(ping.to_tag) == 16


def test_a_parse_error_becomes_its_response() -> None:
    error = error_of(BYE.replace(b"CSeq: 314161 BYE", b"CSeq: 314161 INVITE"))
    response = error_response(error)
    assert response is not None
    assert (response.status, response.reason) == (400, "CSeq Method Mismatch")
    assert response.call_id == CALL_ID
    ack = error_of(
        BYE.replace(b"BYE sip:", b"ACK sip:").replace(b"CSeq: 314161 BYE", b"CSeq: x ACK")
    )
    assert error_response(ack) is None  # ACKs are never answered
