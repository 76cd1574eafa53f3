"""Cutting a TCP stream into SIP messages, and UDP keep-alives (siprec.framing)."""

from __future__ import annotations

import pytest
from sip_offers import BYE, INVITE_COMPACT, INVITE_LARGE, INVITE_SIPP, OPTIONS_PING

from callvault.capture.siprec.framing import StreamFramer, is_keepalive
from callvault.capture.siprec.sipmsg import SipRequest, error_response, parse_message

STREAM = [INVITE_LARGE, OPTIONS_PING, INVITE_SIPP, INVITE_COMPACT, BYE]


def test_messages_back_to_back_in_one_chunk() -> None:
    framer = StreamFramer()
    assert framer.feed(b"".join(STREAM)) == STREAM
    assert framer.buffered == 0 and framer.error is None


@pytest.mark.parametrize("size", [1, 2, 3, 7, 100, 1500])
def test_messages_split_anywhere_come_out_whole(size: int) -> None:
    data = b"".join(STREAM)
    framer = StreamFramer()
    out: list[bytes] = []
    for at in range(0, len(data), size):
        out += framer.feed(data[at : at + size])
    assert out == STREAM
    for message in out:
        parse_message(message, datagram=False)


def test_keepalive_crlfs_between_messages_are_skipped() -> None:
    framer = StreamFramer()
    out = framer.feed(b"\r\n\r\n" + BYE + b"\r\n\r\n\r\n")
    out += framer.feed(b"\r\n" + OPTIONS_PING)
    assert out == [BYE, OPTIONS_PING]
    assert framer.buffered == 0
    assert framer.take_pings() == 2 and framer.take_pings() == 0  # two double-CRLF pings


def test_a_message_waits_for_its_whole_body() -> None:
    framer = StreamFramer()
    cut = len(INVITE_SIPP) - 10
    assert framer.feed(INVITE_SIPP[:cut]) == []
    assert framer.buffered == cut
    assert framer.feed(INVITE_SIPP[cut:]) == [INVITE_SIPP]


def test_compact_content_length_frames_the_body() -> None:
    assert StreamFramer().feed(INVITE_COMPACT + BYE) == [INVITE_COMPACT, BYE]


def test_endless_headers_are_an_error_not_a_wait() -> None:
    framer = StreamFramer(max_message_bytes=4096)
    assert framer.feed(b"INVITE sip:r SIP/2.0\r\n") == []
    out = framer.feed(b"X-Pad: " + b"a" * 5000)
    assert out == [] and framer.error is not None
    assert framer.error.status == 513
    assert framer.feed(BYE) == []  # the stream is done: close it


def test_a_body_over_the_limit_is_a_413_that_can_be_answered() -> None:
    framer = StreamFramer()
    big = BYE.replace(b"Content-Length: 0", b"Content-Length: 999999")
    assert framer.feed(OPTIONS_PING + big) == [OPTIONS_PING]
    error = framer.error
    assert error is not None and error.status == 413
    assert isinstance(error.partial, SipRequest)
    response = error_response(error)
    assert response is not None and response.status == 413


@pytest.mark.parametrize("value", [b"ten", b"-1", b"12 13"])
def test_an_unreadable_content_length_breaks_the_stream(value: bytes) -> None:
    framer = StreamFramer()
    assert framer.feed(BYE.replace(b"Content-Length: 0", b"Content-Length: " + value)) == []
    assert framer.error is not None and framer.error.reason == "Bad Content-Length"


def test_two_different_content_lengths_break_the_stream() -> None:
    framer = StreamFramer()
    framer.feed(BYE.replace(b"Content-Length: 0", b"Content-Length: 0\r\nl: 5"))
    assert framer.error is not None


def test_udp_keepalives() -> None:
    assert is_keepalive(b"\r\n\r\n") and is_keepalive(b"\r\n") and is_keepalive(b"\x00")
    assert not is_keepalive(BYE)
