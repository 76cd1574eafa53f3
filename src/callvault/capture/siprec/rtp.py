"""RTP packets (RFC 3550) and the payloads a recorder must tell apart from audio.

The parser checks every length before it reads, so a truncated or hostile datagram is refused
with ``RtpRejected`` and never reads past the end or raises anything else. It runs for every
packet of every call, so it unpacks the fixed header with one precompiled ``struct`` and returns
a ``NamedTuple`` (cheaper to build than a dataclass).

Payload types: PCMU (0), PCMA (8), G.722 (9) and comfort noise (13) are static (RFC 3551);
telephone-event (RFC 4733) is always dynamic, so its number comes from the SDP's ``a=rtpmap``.
"""

from __future__ import annotations

import enum
import struct
from collections.abc import Mapping
from typing import NamedTuple

from callvault.errors import BadInput

RTP_VERSION = 2
RTP_CLOCK = 8000  # every codec here clocks RTP at 8 kHz, G.722 included (RFC 3551 §4.5.2)
_FIXED = struct.Struct("!BBHII")  # V/P/X/CC, M/PT, sequence, timestamp, SSRC
_WORD = struct.Struct("!I")
_EXTENSION = struct.Struct("!HH")  # profile-defined id, length in 32-bit words
_EVENT = struct.Struct("!BBH")  # event, E/R/volume, duration
# RFC 5761 §4: with rtcp-mux, a second byte of 192-223 (RTCP SR, RR, SDES, BYE, APP ...) reads as
# marker + payload type 64-95, which RTP never assigns.
_RTCP_TYPES = range(64, 96)


class RtpRejected(BadInput):
    """A datagram that is not an RTP packet we can use; ``reason`` says why in a word or two.

    The receiver counts these and drops the datagram: an RTP peer gets no answer to a bad packet.
    """

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"RTP datagram rejected ({reason}): {detail}", field="rtp")
        self.reason = reason


class RtpPacket(NamedTuple):
    """One parsed RTP packet. ``payload`` excludes CSRCs, header extension and padding."""

    payload_type: int
    marker: bool
    sequence: int
    timestamp: int
    ssrc: int
    payload: bytes
    csrcs: tuple[int, ...] = ()
    extension_profile: int | None = None
    extension: bytes = b""


def parse_rtp(datagram: bytes) -> RtpPacket:
    """Parse one UDP payload as RTP; raise ``RtpRejected`` for anything else."""
    size = len(datagram)
    if size < _FIXED.size:
        raise RtpRejected("short", f"{size} bytes, fewer than the 12 of an RTP header")
    first, second, sequence, timestamp, ssrc = _FIXED.unpack_from(datagram)
    if first >> 6 != RTP_VERSION:
        # STUN (RFC 7983: first byte 0-3) and DTLS (20-63) land here too.
        raise RtpRejected("version", f"version {first >> 6}, not 2")
    payload_type = second & 0x7F
    if payload_type in _RTCP_TYPES:
        raise RtpRejected("rtcp", f"RTCP packet type {second} multiplexed on the RTP port")
    offset = _FIXED.size + 4 * (first & 0x0F)
    if offset > size:
        raise RtpRejected("truncated", f"{first & 0x0F} CSRCs need {offset} bytes, got {size}")
    csrcs: tuple[int, ...] = ()
    if first & 0x0F:  # mixers only: most packets have none, and skip the tuple building
        csrcs = tuple(_WORD.unpack_from(datagram, at)[0] for at in range(_FIXED.size, offset, 4))
    profile: int | None = None
    extension = b""
    if first & 0x10:
        if offset + _EXTENSION.size > size:
            raise RtpRejected("truncated", "header extension flagged but missing")
        profile, words = _EXTENSION.unpack_from(datagram, offset)
        start = offset + _EXTENSION.size
        offset = start + 4 * words
        if offset > size:
            raise RtpRejected("truncated", f"header extension of {words} words overruns")
        extension = bytes(datagram[start:offset])
    end = size
    if first & 0x20:
        padding = datagram[-1]
        if padding == 0 or offset + padding > size:
            raise RtpRejected("padding", f"padding count {padding} does not fit the packet")
        end -= padding
    return RtpPacket(
        payload_type,
        bool(second & 0x80),
        sequence,
        timestamp,
        ssrc,
        bytes(datagram[offset:end]),
        csrcs,
        profile,
        extension,
    )


class TelephoneEvent(NamedTuple):
    """An RFC 4733 event payload: a DTMF key (0-15) or another named event.

    Every packet of one event carries the event's start timestamp; ``duration`` (in RTP clock
    ticks) grows with each update, and the final packet, with ``end`` set, is sent three times.
    """

    event: int
    end: bool
    volume: int  # attenuation in dBm0, 0-63: 0 is loudest
    duration: int


DTMF_DIGITS = "0123456789*#ABCD"  # RFC 4733 §3.2: events 0-15 are the DTMF keys


def parse_telephone_event(payload: bytes) -> TelephoneEvent:
    """The event in a telephone-event payload; raise ``RtpRejected`` if it is not one.

    A payload may hold several 4-byte blocks (RFC 4733 §2.5.1.5 packs consecutive short events);
    the first describes the event this packet's timestamp belongs to, and is the one returned.
    """
    if len(payload) < _EVENT.size or len(payload) % _EVENT.size:
        raise RtpRejected("event", f"telephone-event payload of {len(payload)} bytes")
    event, flags, duration = _EVENT.unpack_from(payload)
    return TelephoneEvent(event, bool(flags & 0x80), flags & 0x3F, duration)


class PayloadKind(enum.Enum):
    """What a payload type carries, as far as the recorder cares: audio, events or comfort noise."""

    PCMU = "PCMU"
    PCMA = "PCMA"
    G722 = "G722"
    TELEPHONE_EVENT = "telephone-event"
    COMFORT_NOISE = "CN"

    # Members are singletons, so identity hashing is exact; Enum's own __hash__ runs Python
    # code, and every packet looks up its decoder by kind.
    __hash__ = object.__hash__

    @property
    def is_audio(self) -> bool:
        """Whether packets of this type hold speech to decode (events and CN do not)."""
        return self in _AUDIO


_AUDIO = frozenset({PayloadKind.PCMU, PayloadKind.PCMA, PayloadKind.G722})
STATIC_PAYLOAD_TYPES: Mapping[int, PayloadKind] = {
    0: PayloadKind.PCMU,
    8: PayloadKind.PCMA,
    9: PayloadKind.G722,
    13: PayloadKind.COMFORT_NOISE,
}
_BY_NAME = {kind.value.lower(): kind for kind in PayloadKind}


def payload_types(rtpmap: Mapping[int, tuple[str, int]]) -> dict[int, PayloadKind]:
    """Payload type → kind for one ``m=`` line, from its ``a=rtpmap`` (name, clock rate) pairs.

    Static types count even without an rtpmap line (RFC 3551 lets an offer omit them). Names are
    matched ignoring case; an encoding we do not record, or one clocked at other than 8000 Hz
    (``telephone-event/16000``), is left out, so its packets are counted and dropped rather than
    misplaced in time.
    """
    found = dict(STATIC_PAYLOAD_TYPES)
    for number, (name, clock) in rtpmap.items():
        kind = _BY_NAME.get(name.lower())
        if kind is not None and clock == RTP_CLOCK:
            found[number] = kind
        else:
            found.pop(number, None)
    return found
