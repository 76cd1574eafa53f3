"""Fuzzing the SIP, multipart and SDP parsers: a result or a SipError, nothing else, quickly.

Inputs are random bytes and valid requests mutated (bytes cut, inserted, flipped,
duplicated, truncated). Everything parsed goes on down the pipeline a real INVITE takes
(body split, SDP, answer, response) and what callvault writes back must parse again.
"""

from __future__ import annotations

import os
import re
import time

import pytest
from sip_offers import (
    BOUNDARY,
    BYE,
    OPTIONS_PING,
    REINVITE_METADATA_ONLY,
    SDP_HOLD,
    SDP_SRTP,
    SDP_TWO_STREAMS,
    SIPREC_INVITES,
)

from callvault.capture.siprec.body import recording_body, split_body
from callvault.capture.siprec.errors import SipError
from callvault.capture.siprec.framing import StreamFramer
from callvault.capture.siprec.grammar import (
    has_control_characters,
    parse_media_type,
    parse_name_addr,
    split_commas,
)
from callvault.capture.siprec.sdp import parse_sdp
from callvault.capture.siprec.sdp_answer import AnswerOrigin, answer_offer, new_srtp_master_key
from callvault.capture.siprec.sipmsg import (
    MAX_MESSAGE_BYTES,
    SipRequest,
    error_response,
    has_src_contact,
    is_siprec_request,
    make_response,
    parse_message,
)

pytest.importorskip("hypothesis")

# Imported after the skip (so a missing hypothesis skips) and by name (so mypy sees its types).
import hypothesis
from hypothesis import strategies as st

MESSAGES = [*SIPREC_INVITES.values(), BYE, OPTIONS_PING, REINVITE_METADATA_ONLY]
SDPS = [SDP_TWO_STREAMS, SDP_HOLD, SDP_SRTP]
ORIGIN = AnswerOrigin(session_id=1, version=1, address="192.0.2.99")
# Bytes that matter to the grammars: line ends, separators, quotes, brackets, boundaries.
INTERESTING = [
    b"\r\n",
    b"\n",
    b"\r",
    b"\r\n\r\n",
    b":",
    b";",
    b",",
    b'"',
    b"\\",
    b"<",
    b">",
    b"=",
    b" ",
    b"\t",
    b"\x00",
    b"--",
    b"--" + BOUNDARY.encode(),
    b"--" + BOUNDARY.encode() + b"--",
    b"0",
    b"99999999999",
    b"\xff",
]
# No deadline: a slow CI machine must not fail a test; the pathological cases below bound time.
# CALLVAULT_FUZZ_EXAMPLES runs a longer fuzz (say 20000) without editing the tests.
FUZZ = hypothesis.settings(
    max_examples=int(os.environ.get("CALLVAULT_FUZZ_EXAMPLES", "300")), deadline=None
)


@st.composite
def mutated(draw: st.DrawFn, originals: list[bytes]) -> bytes:
    data = bytearray(draw(st.sampled_from(originals)))
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(data)))
        kind = draw(st.sampled_from(["cut", "insert", "flip", "truncate", "repeat"]))
        if kind == "cut":
            del data[at : at + draw(st.integers(1, 64))]
        elif kind == "insert":
            data[at:at] = draw(st.sampled_from(INTERESTING) | st.binary(max_size=8))
        elif kind == "flip" and at < len(data):
            data[at] = draw(st.integers(0, 255))
        elif kind == "truncate":
            del data[at:]
        elif kind == "repeat":
            data[at:at] = data[max(0, at - 40) : at]
    return bytes(data)


def check_error(error: SipError) -> None:
    assert 400 <= error.status <= 599
    assert error.reason and not has_control_characters(error.reason)
    response = error_response(error)
    if response is None:
        return
    try:
        parse_message(response.to_bytes())
    except SipError as reply_error:
        # The answer copies the request's headers, so it can only lack what the request did.
        assert reply_error.reason == error.reason


def ports(key: str) -> int:
    return 40000 + 2 * (sum(key.encode()) % 1000)


def through_the_pipeline(data: bytes) -> None:
    """What the server will do with a datagram, asserting it only ever fails by SipError."""
    try:
        message = parse_message(data)
        has_src_contact(message)
        is_siprec_request(message)
        if not isinstance(message, SipRequest):
            return
        reply = make_response(message, 200, to_tag="t1", contact_uri="sip:r@192.0.2.99")
        parsed_reply = parse_message(reply.to_bytes())
        assert parsed_reply.call_id == message.call_id
        body = recording_body(message)
        if body.sdp is not None:
            answer_and_reparse(body.sdp)
    except SipError as error:
        check_error(error)


def answer_and_reparse(sdp: bytes | str) -> None:
    offer = parse_sdp(sdp)
    answer = answer_offer(
        offer,
        origin=ORIGIN,
        allocate_port=ports,
        srtp_key=lambda key, suite: new_srtp_master_key(suite),
    )
    again = parse_sdp(answer.to_bytes())
    assert len(again.media) == len(offer.media)
    assert [m.port == 0 for m in again.media] == [not s.accepted for s in answer.streams]


@FUZZ
@hypothesis.given(data=st.binary(max_size=2048))
def test_random_bytes(data: bytes) -> None:
    through_the_pipeline(data)


def with_true_length(data: bytes) -> bytes:
    """The message with its Content-Length set to what its body now is, so that mutations
    inside the body reach the multipart and SDP parsers instead of stopping at the length."""
    head, blank, body = data.partition(b"\r\n\r\n")
    if not blank:
        return data
    head = _CONTENT_LENGTH.sub(b"Content-Length: %d" % len(body), head)
    return head + blank + body


_CONTENT_LENGTH = re.compile(rb"^(?:content-length|l)[ \t]*:[^\r\n]*", re.I | re.M)


@FUZZ
@hypothesis.given(data=mutated(MESSAGES), true_length=st.booleans())
def test_mutated_requests(data: bytes, true_length: bool) -> None:
    through_the_pipeline(with_true_length(data) if true_length else data)


@FUZZ
@hypothesis.given(data=mutated([m.replace(b"\r\n", b"\n") for m in MESSAGES]))
def test_mutated_requests_with_bare_lf(data: bytes) -> None:
    through_the_pipeline(data)


@FUZZ
@hypothesis.given(
    body=mutated([m.split(b"\r\n\r\n", 1)[1] for m in SIPREC_INVITES.values()]),
    content_type=st.sampled_from(
        [
            f'multipart/mixed; boundary="{BOUNDARY}"',
            f"multipart/mixed;boundary={BOUNDARY}",
            "multipart/mixed;boundary=BW1",
            "application/sdp",
            "application/rs-metadata+xml",
            'multipart/mixed; boundary="',
            "multipart/mixed; boundary=;",
        ]
    ),
)
def test_mutated_bodies(body: bytes, content_type: str) -> None:
    try:
        result = split_body(content_type, body)
    except SipError as error:
        check_error(error)
        return
    if result.sdp is not None:
        try:
            answer_and_reparse(result.sdp)
        except SipError as error:
            check_error(error)


@FUZZ
@hypothesis.given(data=mutated([s.encode() for s in SDPS]) | st.binary(max_size=1024))
def test_mutated_sdp(data: bytes) -> None:
    try:
        answer_and_reparse(data)
    except SipError as error:
        check_error(error)


@FUZZ
@hypothesis.given(
    messages=st.lists(st.sampled_from(MESSAGES), max_size=6),
    sizes=st.lists(st.integers(1, 700), min_size=1, max_size=30),
    pings=st.sampled_from([b"", b"\r\n", b"\r\n\r\n"]),
)
def test_framer_cuts_any_split_correctly(
    messages: list[bytes], sizes: list[int], pings: bytes
) -> None:
    stream = b"".join(pings + m for m in messages)
    framer = StreamFramer()
    out: list[bytes] = []
    at = index = 0
    while at < len(stream):
        size = sizes[index % len(sizes)]
        out += framer.feed(stream[at : at + size])
        at, index = at + size, index + 1
    assert out == messages
    assert framer.error is None and framer.buffered == 0


@FUZZ
@hypothesis.given(
    chunks=st.lists(mutated(MESSAGES) | st.binary(max_size=600), min_size=1, max_size=6)
)
def test_framer_never_raises_and_stays_bounded(chunks: list[bytes]) -> None:
    framer = StreamFramer(max_message_bytes=3000)
    for chunk in chunks:
        for message in framer.feed(chunk):
            assert len(message) <= 3000
            try:
                parse_message(message, datagram=False)
            except SipError as error:
                check_error(error)
        assert framer.buffered <= 3000
    if framer.error is not None:
        check_error(framer.error)


@FUZZ
@hypothesis.given(text=st.text(max_size=300))
def test_header_grammar(text: str) -> None:
    assert all(isinstance(item, str) for item in split_commas(text))
    media_type, params = parse_media_type(text)
    assert media_type == media_type.lower()
    assert all(name == name.lower() for name in params)
    try:
        address = parse_name_addr(text)
    except SipError as error:
        check_error(error)
    else:
        assert address.uri
        assert isinstance(address.uri_params, dict)


PATHOLOGICAL = {
    "quotes": BYE.replace(b"Max-Forwards: 70", b"Contact: " + b'"\\' * 30000),
    "angles": BYE.replace(b"Max-Forwards: 70", b"Via: " + b"<" * 60000),
    "commas": BYE.replace(b"Max-Forwards: 70", b"Supported: " + b"," * 60000),
    "params": BYE.replace(b"Max-Forwards: 70", b"Contact: <sip:a>" + b";a" * 30000),
    "lines": BYE.replace(b"Max-Forwards: 70", b"X: y\r\n" * 10000),
    "folds": BYE.replace(b"Max-Forwards: 70", b"X: y" + b"\r\n z" * 15000),
    "newlines": b"INVITE sip:a SIP/2.0" + b"\n" * 60000,
}


@pytest.mark.parametrize("name", sorted(PATHOLOGICAL))
def test_pathological_messages_take_linear_time(name: str) -> None:
    data = PATHOLOGICAL[name]
    assert len(data) <= MAX_MESSAGE_BYTES
    started = time.perf_counter()
    through_the_pipeline(data)
    StreamFramer().feed(data)
    assert time.perf_counter() - started < 2.0


def test_pathological_bodies_take_linear_time() -> None:
    delimiter = f"--{BOUNDARY}\r\n".encode()
    bodies = [
        delimiter * 3000,
        (b"\r\n" + delimiter[:-3]) * 3000,
        delimiter + b"Content-Type: application/sdp\r\n\r\n" + b"v=0\r\na=x\r\n" * 6000,
        b"v=0\r\n" + b"m=audio 1 RTP/AVP " + b"0 " * 30000,
    ]
    started = time.perf_counter()
    for body in bodies:
        for content_type in (f"multipart/mixed;boundary={BOUNDARY}", "application/sdp"):
            try:
                result = split_body(content_type, body)
                if result.sdp is not None:
                    answer_and_reparse(result.sdp)
            except SipError as error:
                check_error(error)
    assert time.perf_counter() - started < 4.0
