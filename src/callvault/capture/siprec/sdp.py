"""Read SDP offers (RFC 4566) from recording clients: streams, codecs, labels, SDES keys.

Lenient where vendors differ and it costs nothing: no ``t=`` (OpenSIPS), no session ``c=``
(Ribbon), unknown attributes, a malformed ``rtpmap`` or ``crypto`` line (that payload type
or key is then unusable, and the stream may be declined). Refused with a ``400`` that names
the line: no ``v=0``, a line that is not ``x=value``, an ``m=`` or ``c=`` line that cannot
be read.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal, cast

from callvault.capture.siprec.errors import SipError
from callvault.capture.siprec.grammar import has_control_characters, parse_digits
from callvault.capture.siprec.srtp import SdesCrypto, parse_crypto

Direction = Literal["sendrecv", "sendonly", "recvonly", "inactive"]
DIRECTIONS: frozenset[str] = frozenset({"sendrecv", "sendonly", "recvonly", "inactive"})

# RFC 3551 §6 static payload types, used when an offer lists one without an rtpmap.
STATIC_PAYLOADS = {
    0: ("PCMU", 8000),
    3: ("GSM", 8000),
    4: ("G723", 8000),
    8: ("PCMA", 8000),
    9: ("G722", 8000),
    13: ("CN", 8000),
    18: ("G729", 8000),
}
# G.722's RTP clock runs at 8 kHz by an error frozen into RFC 3551; its audio is 16 kHz.
_SAMPLE_RATE = {"G722": 16000}

SRTP_PROFILES = frozenset({"RTP/SAVP", "RTP/SAVPF"})  # not UDP/TLS/...: DTLS-SRTP is not SDES
MAX_MEDIA = 32  # two streams per call is normal; a conference may have a few more
FIELD = "sdp"


@dataclass(frozen=True, slots=True)
class Codec:
    """One RTP payload format from an ``m=`` line, named by ``rtpmap`` or the static table."""

    payload_type: int
    name: str  # as the offer spelled it ("PCMU", "telephone-event")
    clock_rate: int  # the RTP timestamp rate
    channels: int = 1
    fmtp: str | None = None

    @property
    def encoding(self) -> str:
        """The name upper-cased, for comparing (``TELEPHONE-EVENT``)."""
        return self.name.upper()

    @property
    def sample_rate(self) -> int:
        """Audio samples per second, which differs from ``clock_rate`` for G.722."""
        return _SAMPLE_RATE.get(self.encoding, self.clock_rate)

    def rtpmap(self) -> str:
        suffix = f"/{self.channels}" if self.channels != 1 else ""
        return f"{self.payload_type} {self.name}/{self.clock_rate}{suffix}"


@dataclass(frozen=True, slots=True)
class MediaDescription:
    """One ``m=`` section, with session-level defaults (``c=``, direction) applied."""

    index: int  # position in the offer, from 0; the answer keeps it
    media: str  # "audio", "video" ...
    port: int
    port_count: int
    proto: str  # as written ("RTP/AVP", "RTP/SAVP")
    formats: tuple[str, ...]
    codecs: tuple[Codec, ...]  # the formats callvault can name, in the offer's order
    connection: str | None  # the address the stream comes from, if the offer says
    label: str | None  # RFC 4574 label, which the metadata's <stream> refers to
    direction: Direction
    crypto: tuple[SdesCrypto, ...] = ()
    ptime: int | None = None
    maxptime: int | None = None
    # Every attribute as written; kept out of repr because a=crypto lines hold keys.
    attributes: tuple[tuple[str, str | None], ...] = field(default=(), repr=False)

    @property
    def is_srtp(self) -> bool:
        """SDES-keyed SRTP; SAVPF only adds RTCP feedback, and the recorder reads no RTCP."""
        return self.proto.upper() in SRTP_PROFILES

    def codec(self, payload_type: int) -> Codec | None:
        return next((c for c in self.codecs if c.payload_type == payload_type), None)


@dataclass(frozen=True, slots=True)
class Origin:
    """The ``o=`` line: ``username sess-id sess-version IN IP4 address``."""

    username: str
    session_id: str
    version: str
    address: str


@dataclass(frozen=True, slots=True)
class SessionDescription:
    origin: Origin | None
    session_name: str
    connection: str | None  # session-level c= address
    direction: Direction  # session-level default for every m=
    media: tuple[MediaDescription, ...]

    @property
    def labels(self) -> list[str | None]:
        return [m.label for m in self.media]


@dataclass(slots=True)
class _Section:
    """Lines of one m= section collected before the section is interpreted."""

    index: int
    m_line: str
    connection: str | None = None
    attributes: list[tuple[str, str | None]] = field(default_factory=list)


def parse_sdp(data: bytes | str) -> SessionDescription:
    """Parse one session description; raises :class:`SipError` (``400``) naming the line."""
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    lines = list(_typed_lines(text))
    if not lines or lines[0][1:] != ("v", "0"):
        raise _bad(1, "an SDP body starts with 'v=0'")
    origin: Origin | None = None
    session_name = ""
    connection: str | None = None
    session_attributes: list[tuple[str, str | None]] = []
    sections: list[_Section] = []
    for number, kind, value in lines[1:]:
        if kind == "m":
            if len(sections) == MAX_MEDIA:
                raise _bad(number, f"more than {MAX_MEDIA} m= lines")
            sections.append(_Section(len(sections), value))
        elif kind == "c":
            address = _connection_address(number, value)
            if sections:
                sections[-1].connection = address
            else:
                connection = address
        elif kind == "a":
            name, sep, attr_value = value.partition(":")
            attribute = (name.strip().lower(), attr_value.strip() if sep else None)
            (sections[-1].attributes if sections else session_attributes).append(attribute)
        elif kind == "o" and not sections:
            origin = _origin(value)
        elif kind == "s" and not sections:
            session_name = value
    direction = _direction(session_attributes, "sendrecv")
    media = tuple(_media(section, connection, direction) for section in sections)
    return SessionDescription(origin, session_name, connection, direction, media)


def _typed_lines(text: str) -> Iterator[tuple[int, str, str]]:
    for number, raw in enumerate(text.split("\n"), start=1):
        line = raw.rstrip("\r")
        if not line.strip():
            continue
        if len(line) < 2 or line[1] != "=" or not (line[0].isascii() and line[0].isalpha()):
            raise _bad(number, "every SDP line is 'x=value'")
        if has_control_characters(line):
            # Values such as a=label are echoed into the answer: no stray CR may ride along.
            raise _bad(number, "control characters are not allowed")
        yield number, line[0].lower(), line[2:].strip()


def _bad(number: int, why: str) -> SipError:
    return SipError(
        f"SDP line {number}: {why}; send an RFC 4566 session description",
        reason="Bad SDP",
        field=f"{FIELD}.line[{number}]",
    )


def _connection_address(number: int, value: str) -> str:
    parts = value.split()
    if len(parts) < 3 or parts[0].upper() != "IN":
        raise _bad(number, "c= is 'IN IP4 address'")
    return parts[2].split("/")[0]


def _origin(value: str) -> Origin | None:
    parts = value.split()
    if len(parts) < 6:
        return None  # the answer does not depend on it
    return Origin(parts[0], parts[1], parts[2], parts[5])


def _direction(attributes: list[tuple[str, str | None]], default: Direction) -> Direction:
    found = [name for name, _ in attributes if name in DIRECTIONS]
    return cast("Direction", found[-1]) if found else default


def _media(
    section: _Section, session_connection: str | None, default: Direction
) -> MediaDescription:
    parts = section.m_line.split()
    if len(parts) < 3:
        raise SipError(
            f"m= line {section.index + 1} is not 'media port proto formats': "
            f"{section.m_line[:80]!r}",
            reason="Bad SDP",
            field=f"{FIELD}.m[{section.index}]",
        )
    media, port_text, proto, *formats = parts
    port_field, _, count_field = port_text.partition("/")
    port = parse_digits(port_field, max_digits=5)
    count = parse_digits(count_field, max_digits=5) if count_field else 1
    if port is None or port > 65535 or not count:
        raise SipError(
            f"m= line {section.index + 1} has a bad port {port_text[:20]!r}",
            reason="Bad SDP",
            field=f"{FIELD}.m[{section.index}]",
        )
    attributes = section.attributes
    return MediaDescription(
        index=section.index,
        media=media.lower(),
        port=port,
        port_count=count,
        proto=proto,
        formats=tuple(formats),
        codecs=_codecs(formats, attributes),
        connection=section.connection or session_connection,
        label=next((v for n, v in attributes if n == "label" and v), None),
        direction=_direction(attributes, default),
        crypto=tuple(c for n, v in attributes if n == "crypto" and (c := parse_crypto(v or ""))),
        ptime=_first_number(attributes, "ptime"),
        maxptime=_first_number(attributes, "maxptime"),
        attributes=tuple(attributes),
    )


def _codecs(formats: list[str], attributes: list[tuple[str, str | None]]) -> tuple[Codec, ...]:
    rtpmaps: dict[int, tuple[str, int, int]] = {}
    fmtps: dict[int, str] = {}
    for name, value in attributes:
        payload_text, _, rest = (value or "").partition(" ")
        payload_type = parse_digits(payload_text, max_digits=3)
        if payload_type is None:
            continue
        if name == "rtpmap" and payload_type not in rtpmaps:
            encoding = rest.strip().split("/")
            rate = parse_digits(encoding[1], max_digits=6) if len(encoding) > 1 else None
            channels = parse_digits(encoding[2], max_digits=2) if len(encoding) > 2 else 1
            if encoding[0] and rate and channels:
                rtpmaps[payload_type] = (encoding[0], rate, channels)
        elif name == "fmtp" and payload_type not in fmtps:
            fmtps[payload_type] = rest.strip()
    codecs: list[Codec] = []
    for text in formats:
        payload_type = parse_digits(text, max_digits=3)
        if payload_type is None or payload_type > 127:
            continue
        known = rtpmaps.get(payload_type)
        if known is None and payload_type in STATIC_PAYLOADS:
            known = (*STATIC_PAYLOADS[payload_type], 1)
        if known is not None:
            codecs.append(Codec(payload_type, *known, fmtp=fmtps.get(payload_type)))
    return tuple(codecs)


def _first_number(attributes: list[tuple[str, str | None]], wanted: str) -> int | None:
    for name, value in attributes:
        if name == wanted and value is not None:
            # "20.0" and "20" both occur; a value that is neither is ignored, not refused.
            number = parse_digits(value.split(".")[0].strip(), max_digits=5)
            if number is not None:
                return number
    return None
