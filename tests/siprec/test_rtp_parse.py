"""RTP (RFC 3550) and telephone-event (RFC 4733) parsing: every field, every refusal."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rtp_packets import event_payload, rtp

from callvault.capture.siprec.rtp import (
    PayloadKind,
    RtpPacket,
    RtpRejected,
    parse_rtp,
    parse_telephone_event,
    payload_types,
)


def test_plain_packet() -> None:
    packet = parse_rtp(rtp(4321, 0xDEADBEEF, 0x01020304, b"\xff" * 160, marker=True))
    assert packet == RtpPacket(0, True, 4321, 0xDEADBEEF, 0x01020304, b"\xff" * 160)


def test_csrcs_extension_and_padding_are_stripped_from_the_payload() -> None:
    datagram = rtp(
        7,
        8,
        9,
        b"audio",
        payload_type=8,
        csrcs=[11, 22],
        extension=(0xBEDE, b"\x10\xaa\x00\x00"),
        padding=3,
    )
    packet = parse_rtp(datagram)
    assert packet.payload == b"audio"
    assert packet.csrcs == (11, 22)
    assert packet.extension_profile == 0xBEDE
    assert packet.extension == b"\x10\xaa\x00\x00"
    assert packet.payload_type == 8
    assert not packet.marker


def test_padding_may_take_the_whole_payload() -> None:
    assert parse_rtp(rtp(1, 2, 3, b"", padding=4)).payload == b""


STUN_BINDING = struct.pack("!HHI12s", 0x0001, 0, 0x2112A442, bytes(12))
RTCP_SENDER_REPORT = struct.pack("!BBHIIIIII", 0x80, 200, 6, 1, 2, 3, 4, 5, 6)


@pytest.mark.parametrize(
    ("datagram", "reason"),
    [
        (b"", "short"),
        (b"\x80\x00\x00", "short"),
        (bytes(20), "version"),
        (STUN_BINDING, "version"),
        (b"\x40" + bytes(15), "version"),
        (RTCP_SENDER_REPORT, "rtcp"),
        (b"\x8f" + bytes(11), "truncated"),  # 15 CSRCs announced, none there
        (b"\x90" + bytes(11), "truncated"),  # extension flagged, no extension header
        (b"\x90" + bytes(11) + b"\xbe\xde\x00\x05", "truncated"),  # 5 words promised, 0 sent
        (b"\xa0" + bytes(11) + b"\x00", "padding"),  # padding count 0
        (b"\xa0" + bytes(11) + b"\x09", "padding"),  # more padding than packet
    ],
)
def test_garbage_is_rejected_with_a_reason(datagram: bytes, reason: str) -> None:
    with pytest.raises(RtpRejected) as caught:
        parse_rtp(datagram)
    assert caught.value.reason == reason
    assert caught.value.field == "rtp"


@given(st.binary(max_size=200))
def test_random_bytes_parse_or_are_rejected(data: bytes) -> None:
    try:
        packet = parse_rtp(data)
    except RtpRejected:
        return
    assert len(packet.payload) <= len(data) - 12


@given(
    st.integers(0, 0xFFFF),
    st.integers(0, 0xFFFFFFFF),
    st.integers(0, 0xFFFFFFFF),
    st.binary(max_size=64),
    st.sampled_from([0, 8, 9, 13, 96, 101, 127]),
    st.lists(st.integers(0, 0xFFFFFFFF), max_size=15),
    st.integers(0, 255),
)
def test_what_we_build_parses_back(
    sequence: int,
    timestamp: int,
    ssrc: int,
    payload: bytes,
    payload_type: int,
    csrcs: list[int],
    padding: int,
) -> None:
    packet = parse_rtp(
        rtp(
            sequence,
            timestamp,
            ssrc,
            payload,
            payload_type=payload_type,
            csrcs=csrcs,
            padding=padding,
        )
    )
    assert (packet.sequence, packet.timestamp, packet.ssrc) == (sequence, timestamp, ssrc)
    assert (packet.payload, packet.payload_type, packet.csrcs) == (
        payload,
        payload_type,
        tuple(csrcs),
    )


def test_telephone_event_fields() -> None:
    event = parse_telephone_event(event_payload(11, end=True, volume=7, duration=1600))
    assert (event.event, event.end, event.volume, event.duration) == (11, True, 7, 1600)
    assert not parse_telephone_event(event_payload(3)).end


@pytest.mark.parametrize("payload", [b"", b"\x01\x02\x03", b"\x01\x02\x03\x04\x05"])
def test_telephone_event_of_the_wrong_size_is_rejected(payload: bytes) -> None:
    with pytest.raises(RtpRejected):
        parse_telephone_event(payload)


def test_payload_types_from_the_sdp() -> None:
    mapped = payload_types({101: ("telephone-event", 8000), 96: ("opus", 48000), 9: ("G722", 8000)})
    assert mapped[0] is PayloadKind.PCMU
    assert mapped[8] is PayloadKind.PCMA
    assert mapped[9] is PayloadKind.G722
    assert mapped[13] is PayloadKind.COMFORT_NOISE
    assert mapped[101] is PayloadKind.TELEPHONE_EVENT
    assert 96 not in mapped


def test_an_event_clock_we_cannot_place_is_left_out() -> None:
    assert 101 not in payload_types({101: ("telephone-event", 16000)})
    assert payload_types({100: ("TELEPHONE-EVENT", 8000)})[100] is PayloadKind.TELEPHONE_EVENT


def test_only_audio_kinds_are_audio() -> None:
    assert {k for k in PayloadKind if k.is_audio} == {
        PayloadKind.PCMU,
        PayloadKind.PCMA,
        PayloadKind.G722,
    }
