"""The recorder's SDP answer (RFC 3264): receive each offered stream, or decline it.

One ``m=`` per offered ``m=``, in the same order (RFC 3264 §6). A stream the recorder takes
is answered ``a=recvonly`` with its ``a=label`` echoed, ONE audio codec (the first of
``codec_preference`` that the offer has) and ``telephone-event/8000`` under the offer's own
payload type when offered, on a port the caller's allocator gives for that label, so a
re-INVITE keeps the port. An ``RTP/SAVP`` (or ``RTP/SAVPF``) offer is answered in kind with
ONE ``a=crypto`` line: the first offered line the recorder can honour (``srtp.pick_crypto``),
its tag and suite, and the recorder's own key, fresh or from the caller's key source.

Declined (port 0, offered formats echoed): port 0 offered, not audio, a profile other than
RTP/AVP, RTP/SAVP or RTP/SAVPF, no supported codec, SRTP without a usable key (never taken in
the clear instead). An offer marked ``inactive`` (hold) or ``recvonly`` is NOT declined: RFC
3264 §6.1 wants it answered ``inactive``, and keeping its port and label means the stream
resumes where it was after the hold. :func:`decline_offer` answers every stream with port 0,
for calls not recorded.
"""

from __future__ import annotations

import ipaddress
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Literal

from callvault.capture.siprec.sdp import SRTP_PROFILES, Codec, MediaDescription, SessionDescription
from callvault.capture.siprec.srtp import SdesCrypto, answer_crypto, new_master_key, pick_crypto

DEFAULT_CODEC_PREFERENCE = ("PCMU", "PCMA", "G722")
SUPPORTED_PROFILES = frozenset({"RTP/AVP"}) | SRTP_PROFILES
TELEPHONE_EVENT = "TELEPHONE-EVENT"

PortAllocator = Callable[[str], int]
"""Given a stream key (its label, or ``#<index>`` without one), the local RTP port."""

SrtpKeySource = Callable[[str, str], bytes]
"""Given a stream key and an SDES suite, the recorder's master key and salt for it.

Without one, every answer gets fresh keys; the server's keeps a stream's key for the dialog.
"""


@dataclass(frozen=True, slots=True)
class AnswerOrigin:
    """The answer's ``o=`` line; a dialog keeps one and bumps ``version`` on each new answer."""

    session_id: int
    version: int
    address: str
    username: str = "callvault"

    def next_version(self) -> AnswerOrigin:
        return replace(self, version=self.version + 1)


def new_origin(address: str) -> AnswerOrigin:
    """A fresh origin for a new dialog (RFC 4566 §5.2: a session id unique to this host)."""
    return AnswerOrigin(session_id=secrets.randbelow(2**62) + 1, version=1, address=address)


def new_srtp_master_key(suite: str) -> bytes:
    """Random master key and salt of the length ``suite`` needs (KeyError if unsupported)."""
    return new_master_key(suite)


def _fresh_key(_stream: str, suite: str) -> bytes:
    return new_master_key(suite)


@dataclass(frozen=True, slots=True)
class StreamAnswer:
    """What the answer says about one offered stream, and what the RTP receiver needs."""

    offered: MediaDescription
    key: str  # what the port allocator and key source were asked with
    port: int  # 0 when declined
    direction: Literal["recvonly", "inactive"] | None  # None when declined
    declined_because: str | None = None
    codec: Codec | None = None
    telephone_event: Codec | None = None
    # Keys, held in memory for the dialog only (SdesCrypto keeps them out of repr).
    remote_crypto: SdesCrypto | None = None  # the offer's key: decrypts what arrives
    local_crypto: SdesCrypto | None = None  # the recorder's, as answered (it never sends)

    @property
    def accepted(self) -> bool:
        return self.port != 0

    @property
    def label(self) -> str | None:
        return self.offered.label


@dataclass(frozen=True, slots=True)
class SdpAnswer:
    origin: AnswerOrigin
    streams: tuple[StreamAnswer, ...]

    def to_sdp(self) -> str:
        family = "IP6" if _is_ipv6(self.origin.address) else "IP4"
        lines = [
            "v=0",
            f"o={self.origin.username} {self.origin.session_id} {self.origin.version} IN "
            f"{family} {self.origin.address}",
            "s=-",
            f"c=IN {family} {self.origin.address}",
            "t=0 0",
        ]
        for stream in self.streams:
            lines += _media_lines(stream)
        return "\r\n".join(lines) + "\r\n"

    def to_bytes(self) -> bytes:
        return self.to_sdp().encode()


def answer_offer(
    offer: SessionDescription,
    *,
    origin: AnswerOrigin,
    allocate_port: PortAllocator,
    srtp_key: SrtpKeySource | None = None,
    codec_preference: Sequence[str] = DEFAULT_CODEC_PREFERENCE,
) -> SdpAnswer:
    """Answer every offered stream: receive the ones the recorder can, decline the rest."""
    keys = stream_keys(offer)
    streams = tuple(
        _answer_stream(media, key, allocate_port, srtp_key, codec_preference)
        for media, key in zip(offer.media, keys, strict=True)
    )
    return SdpAnswer(origin, streams)


def decline_offer(offer: SessionDescription, *, origin: AnswerOrigin) -> SdpAnswer:
    """An answer that takes no media at all: every ``m=`` with port 0."""
    keys = stream_keys(offer)
    streams = tuple(
        _declined(media, key, "the call is not recorded")
        for media, key in zip(offer.media, keys, strict=True)
    )
    return SdpAnswer(origin, streams)


def stream_keys(offer: SessionDescription) -> list[str]:
    """Each stream's key: its label, or ``#<index>`` when it has none or shares it."""
    labels = [m.label for m in offer.media]
    return [
        label if label and labels.count(label) == 1 else f"#{index}"
        for index, label in enumerate(labels)
    ]


def _answer_stream(
    media: MediaDescription,
    key: str,
    allocate_port: PortAllocator,
    srtp_key: SrtpKeySource | None,
    codec_preference: Sequence[str],
) -> StreamAnswer:
    why = _cannot_take(media)
    if why:
        return _declined(media, key, why)
    codec = _pick_codec(media, codec_preference)
    if codec is None:
        offered = ", ".join(c.name for c in media.codecs) or "none callvault knows"
        return _declined(media, key, f"no supported codec (offered: {offered})")
    remote_crypto = local_crypto = None
    if media.is_srtp:
        remote_crypto, why = pick_crypto(media.crypto)
        if remote_crypto is None:
            return _declined(media, key, why)
        local_crypto = answer_crypto(
            remote_crypto, (srtp_key or _fresh_key)(key, remote_crypto.suite)
        )
    port = allocate_port(key)
    if not 0 < port < 65536:
        raise ValueError(f"port allocator gave {port} for stream {key!r}")
    return StreamAnswer(
        offered=media,
        key=key,
        port=port,
        direction="recvonly" if media.direction in {"sendonly", "sendrecv"} else "inactive",
        codec=codec,
        telephone_event=next((c for c in media.codecs if _is_telephone_event(c)), None),
        remote_crypto=remote_crypto,
        local_crypto=local_crypto,
    )


def _cannot_take(media: MediaDescription) -> str | None:
    if media.port == 0:
        return "offered with port 0"
    if media.media != "audio":
        return f"{media.media} is not audio"
    if media.proto.upper() not in SUPPORTED_PROFILES:
        return f"profile {media.proto} is not RTP/AVP, RTP/SAVP or RTP/SAVPF"
    return None


def _pick_codec(media: MediaDescription, preference: Sequence[str]) -> Codec | None:
    for name in preference:
        for codec in media.codecs:
            if codec.encoding == name.upper() and codec.clock_rate == 8000:
                return codec
    return None


def _is_telephone_event(codec: Codec) -> bool:
    return codec.encoding == TELEPHONE_EVENT and codec.clock_rate == 8000


def _declined(media: MediaDescription, key: str, why: str) -> StreamAnswer:
    return StreamAnswer(offered=media, key=key, port=0, direction=None, declined_because=why)


def _media_lines(stream: StreamAnswer) -> list[str]:
    offered = stream.offered
    if not stream.accepted or stream.codec is None or stream.direction is None:
        # RFC 3264 §6: a rejected stream keeps its m= line, port 0, and a format list.
        formats = " ".join(offered.formats) or "0"
        return [f"m={offered.media} 0 {offered.proto} {formats}"]
    codecs = [stream.codec] + ([stream.telephone_event] if stream.telephone_event else [])
    payloads = " ".join(str(c.payload_type) for c in codecs)
    lines = [f"m=audio {stream.port} {offered.proto} {payloads}"]
    lines += [f"a=rtpmap:{c.rtpmap()}" for c in codecs]
    if stream.telephone_event:
        events = stream.telephone_event.fmtp or "0-15"
        lines.append(f"a=fmtp:{stream.telephone_event.payload_type} {events}")
    if offered.label:
        lines.append(f"a=label:{offered.label}")
    lines.append(f"a={stream.direction}")
    if stream.local_crypto:
        lines.append(f"a=crypto:{stream.local_crypto.line()}")
    return lines


def _is_ipv6(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).version == 6
    except ValueError:
        return False  # a host name; IP4 is what every SRC expects then
