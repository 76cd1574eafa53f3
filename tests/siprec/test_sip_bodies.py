"""Splitting SIPREC bodies into SDP and recording metadata (siprec.body)."""

from __future__ import annotations

import pytest
from sip_offers import (
    BOUNDARY,
    INVITE_METADATA_FIRST,
    INVITE_OLD_SRC,
    INVITE_SIP_SRC,
    INVITE_SIPP,
    INVITE_WITH_GTD,
    METADATA,
    METADATA_PARTIAL,
    REINVITE_METADATA_ONLY,
    SDP_BROADWORKS_LIKE,
    SDP_MEDIA_LEVEL_C,
    SDP_TWO_STREAMS,
    SIPREC_INVITES,
    crlf,
    multipart,
)

from callvault.capture.siprec.body import recording_body, split_body, split_multipart
from callvault.capture.siprec.errors import SipError
from callvault.capture.siprec.sipmsg import parse_message

MIXED = f'multipart/mixed; boundary="{BOUNDARY}"'
SDP_PART = ("Content-Type: application/sdp", SDP_TWO_STREAMS)
XML_PART = (
    "Content-Type: application/rs-metadata+xml\nContent-Disposition: recording-session",
    METADATA,
)


def text(data: bytes | None) -> str:
    assert data is not None
    return data.decode().replace("\r\n", "\n").strip()


@pytest.mark.parametrize("name", sorted(SIPREC_INVITES))
def test_every_invite_variation_has_an_sdp(name: str) -> None:
    body = recording_body(parse_message(SIPREC_INVITES[name]))
    assert body.sdp is not None and body.sdp.startswith(b"v=0\r\n")


@pytest.mark.parametrize("invite", [INVITE_SIP_SRC, INVITE_OLD_SRC])
def test_both_metadata_content_types(invite: bytes) -> None:
    body = recording_body(parse_message(invite))
    assert text(body.sdp) == SDP_TWO_STREAMS.strip()
    assert text(body.metadata) == METADATA.strip()
    assert body.ignored_types == ()


def test_metadata_first_with_part_lengths_and_a_preamble() -> None:
    body = recording_body(parse_message(INVITE_METADATA_FIRST))
    assert text(body.metadata) == METADATA.strip()
    assert text(body.sdp) == SDP_BROADWORKS_LIKE.strip()


def test_extra_parts_are_ignored() -> None:
    body = recording_body(parse_message(INVITE_WITH_GTD))
    assert text(body.sdp) == SDP_MEDIA_LEVEL_C.strip()
    assert text(body.metadata) == METADATA.strip()
    assert body.ignored_types == ("application/gtd",)


def test_a_metadata_only_reinvite() -> None:
    body = recording_body(parse_message(REINVITE_METADATA_ONLY))
    assert body.sdp is None
    assert text(body.metadata) == METADATA_PARTIAL.strip()


def test_a_bare_sdp_and_no_body() -> None:
    assert text(recording_body(parse_message(INVITE_SIPP)).sdp) == SDP_TWO_STREAMS.strip()
    empty = split_body(None, b"")
    assert (empty.sdp, empty.metadata) == (None, None)


def test_lf_only_bodies_and_padding_after_boundaries() -> None:
    raw = multipart(SDP_PART, XML_PART).replace(b"\r\n", b"\n")
    raw = raw.replace(f"--{BOUNDARY}\n".encode(), f"--{BOUNDARY}  \n".encode(), 1)
    body = split_body(f"multipart/mixed;boundary={BOUNDARY}", b"preamble\n" + raw + b"epilogue")
    assert text(body.sdp) == SDP_TWO_STREAMS.strip()
    assert text(body.metadata) == METADATA.strip()


def test_a_mislabelled_part_with_the_recording_disposition_is_metadata() -> None:
    odd = ("Content-Type: application/xml\nContent-Disposition: recording-session", METADATA)
    body = split_body(MIXED, multipart(SDP_PART, odd))
    assert text(body.metadata) == METADATA.strip()


def test_a_part_without_headers_or_content() -> None:
    raw = crlf(
        f"--{BOUNDARY}\n\nplain\n--{BOUNDARY}\nContent-Type: application/gtd\n--{BOUNDARY}--"
    )
    parts, closed = split_multipart(raw, BOUNDARY)
    assert [(p.content_type, p.content) for p in parts] == [
        ("", b"plain"),
        ("application/gtd", b""),
    ]
    assert closed


def reason(content_type: str | None, data: bytes, encoding: str | None = None) -> tuple[int, str]:
    with pytest.raises(SipError) as caught:
        split_body(content_type, data, content_encoding=encoding)
    return caught.value.status, caught.value.reason


def test_a_body_without_its_closing_delimiter_is_read_to_its_end() -> None:
    body = split_body(MIXED, multipart(SDP_PART, XML_PART, closing=False))
    assert text(body.sdp) == SDP_TWO_STREAMS.strip()
    assert text(body.metadata) == METADATA.strip()
    assert body.closed is False
    assert split_body(MIXED, multipart(SDP_PART, XML_PART)).closed is True


def test_a_multipart_cut_anywhere_is_read_or_refused_cleanly() -> None:
    whole = multipart(SDP_PART, XML_PART)
    for cut in range(0, len(whole), 7):
        try:
            body = split_body(MIXED, whole[:cut])
        except SipError as error:
            assert error.status in {400, 415}
        else:
            assert body.closed is False or body.sdp is None
    assert reason(MIXED, whole[:10]) == (400, "Multipart Boundary Not Found")


@pytest.mark.parametrize(
    ("content_type", "expected"),
    [
        ("multipart/mixed", (400, "Bad Multipart Boundary")),
        ('multipart/mixed; boundary=""', (400, "Bad Multipart Boundary")),
        ("multipart/mixed; boundary=other", (400, "Multipart Boundary Not Found")),
        ("text/plain", (415, "Unsupported Media Type")),
        (None, (400, "Missing Content-Type")),
    ],
)
def test_bodies_that_cannot_be_read(content_type: str | None, expected: tuple[int, str]) -> None:
    assert reason(content_type, multipart(SDP_PART, XML_PART)) == expected


def test_a_415_says_what_is_accepted() -> None:
    with pytest.raises(SipError) as caught:
        split_body("application/isup", b"\x01\x02")
    assert dict(caught.value.response_headers)["Accept"].startswith("application/sdp")
    assert reason("application/sdp", b"v=0", encoding="gzip")[0] == 415


def test_missing_and_duplicate_parts() -> None:
    gtd = ("Content-Type: application/gtd", "IAM")
    assert reason(MIXED, multipart(gtd)) == (415, "Unsupported Media Type")
    assert reason(MIXED, multipart(SDP_PART, SDP_PART)) == (400, "Duplicate Body Part")
    assert reason(MIXED, multipart(XML_PART, SDP_PART, XML_PART)) == (400, "Duplicate Body Part")
    headers_only = crlf(f"--{BOUNDARY}\nContent-Type: application/sdp\nv=0\n--{BOUNDARY}--")
    assert reason(MIXED, headers_only) == (400, "Bad Body Part")


def test_too_many_parts() -> None:
    many = multipart(SDP_PART, *[("Content-Type: text/plain", "x")] * 20)
    assert reason(MIXED, many) == (400, "Too Many Body Parts")


def test_a_body_error_carries_the_request_for_its_response() -> None:
    invite = parse_message(INVITE_SIP_SRC.replace(BOUNDARY.encode() + b'"', b'nope"', 1))
    with pytest.raises(SipError) as caught:
        recording_body(invite)
    assert caught.value.partial is invite
