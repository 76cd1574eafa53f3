"""SIP messages (RFC 3261): parse requests and responses from bytes, and write them back.

Tolerant where tolerance is harmless: compact header names, any case, folded lines, bare LF
line ends, CRLFs before the start line, ``Content-Length:  N`` with extra spaces. Anything
else that is wrong raises :class:`SipError` with the status to answer (``400`` naming the
problem, ``413``/``513`` when too large, ``505`` for another SIP version).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from callvault.capture.siprec.errors import SipError
from callvault.capture.siprec.grammar import (
    NameAddr,
    has_control_characters,
    is_token,
    parse_digits,
    parse_media_type,
    parse_name_addr,
    parse_params,
)
from callvault.capture.siprec.headers import Headers, parse_header_block
from callvault.capture.siprec.vendor import CISCO_PARTICIPANT_HEADER

# 64 KiB for headers and body together: the largest UDP payload, and 15x the largest INVITE
# seen from a recording client (3.7 KB). Bigger is a mistake or an attack, not a call.
MAX_MESSAGE_BYTES = 64 * 1024

# The blank line ending the header section, CRLF or bare LF on either line.
HEADER_END = re.compile(rb"\r?\n\r?\n")

_SIP_VERSION = "SIP/2.0"
_MAX_CSEQ = 2**31 - 1  # RFC 3261 §8.1.1.5: the sequence number is below 2**31
_MANDATORY = ("Via", "From", "To", "Call-ID", "CSeq")
_VIA = re.compile(r"SIP\s*/\s*2\.0\s*/\s*([A-Za-z0-9.!%*_+`'~-]+)\s+([^\s;]+)\s*", re.IGNORECASE)


class CSeq(NamedTuple):
    number: int
    method: str


class Via(NamedTuple):
    """One Via value: ``SIP/2.0/UDP host:port;branch=...``."""

    transport: str  # upper-case: UDP, TCP, TLS, WS ...
    host: str  # an IPv6 host keeps its brackets
    port: int | None
    params: dict[str, str | None]

    @property
    def branch(self) -> str | None:
        return self.params.get("branch")


@dataclass(slots=True, kw_only=True)
class SipMessage:
    """What requests and responses share: headers, body and the accessors the server needs."""

    headers: Headers = field(default_factory=Headers)
    body: bytes = b""

    def start_line(self) -> str:
        raise NotImplementedError

    def to_bytes(self) -> bytes:
        """The message on the wire, with a ``Content-Length`` that matches the body."""
        lines = [self.start_line()]
        lines += [f"{name}: {value}" for name, value in self.headers if name != "Content-Length"]
        lines.append(f"Content-Length: {len(self.body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + self.body

    @property
    def call_id(self) -> str:
        return self._required("Call-ID")

    @property
    def cseq(self) -> CSeq:
        return parse_cseq(self._required("CSeq"))

    @property
    def from_addr(self) -> NameAddr:
        return parse_name_addr(self._required("From"), header="From")

    @property
    def to_addr(self) -> NameAddr:
        return parse_name_addr(self._required("To"), header="To")

    @property
    def from_tag(self) -> str | None:
        return self.from_addr.params.get("tag")

    @property
    def to_tag(self) -> str | None:
        return self.to_addr.params.get("tag")

    @property
    def top_via(self) -> Via:
        """The first Via value, whether Via lines are repeated or comma-joined."""
        self._required("Via")
        values = self.headers.values("Via")
        if not values:
            raise SipError("the Via header is empty", reason="Bad Via")
        return parse_via(values[0])

    @property
    def contacts(self) -> list[NameAddr]:
        """Contact values, ``*`` left out (a recorder never sees REGISTER)."""
        return [
            parse_name_addr(value, header="Contact")
            for value in self.headers.values("Contact")
            if value != "*"
        ]

    @property
    def content_type(self) -> str | None:
        """The body's media type, lower-cased, without parameters (``multipart/mixed``)."""
        value = self.headers.get("Content-Type")
        return parse_media_type(value)[0] if value else None

    def _required(self, name: str) -> str:
        value = self.headers.get(name)
        if value is None:
            raise SipError(f"the message has no {name} header", reason=f"Missing {name} Header")
        return value


@dataclass(slots=True, kw_only=True)
class SipRequest(SipMessage):
    method: str
    uri: str

    def start_line(self) -> str:
        return f"{self.method} {self.uri} {_SIP_VERSION}"


@dataclass(slots=True, kw_only=True)
class SipResponse(SipMessage):
    status: int
    reason: str

    def start_line(self) -> str:
        return f"{_SIP_VERSION} {self.status} {self.reason}"


def parse_cseq(value: str) -> CSeq:
    number, _, method = value.strip().partition(" ")
    method = method.strip()
    sequence = parse_digits(number)
    if sequence is None or sequence > _MAX_CSEQ or not is_token(method):
        raise SipError(f"CSeq must be 'number METHOD', got {value!r}", reason="Bad CSeq Header")
    return CSeq(sequence, method.upper())


def parse_via(value: str) -> Via:
    match = _VIA.match(value.strip())
    if match is None:
        raise SipError(f"Via must be 'SIP/2.0/TRANSPORT host', got {value!r}", reason="Bad Via")
    rest = value.strip()[match.end() :]
    if rest and not rest.startswith(";"):
        raise SipError(f"Via has junk after its host: {value!r}", reason="Bad Via")
    host, port = _split_host_port(match.group(2), value)
    return Via(match.group(1).upper(), host, port, parse_params(rest))


def _split_host_port(sent_by: str, value: str) -> tuple[str, int | None]:
    if sent_by.startswith("["):
        host, _, after = sent_by.partition("]")
        host, port_text = host + "]", after.removeprefix(":") if after else ""
        if after and not after.startswith(":"):
            raise SipError(f"Via has a bad IPv6 host: {value!r}", reason="Bad Via")
    else:
        host, _, port_text = sent_by.partition(":")
    if not port_text:
        return host, None
    port = parse_digits(port_text)
    if port is None or not 0 < port < 65536:
        raise SipError(f"Via has a bad port: {value!r}", reason="Bad Via")
    return host, port


def parse_message(data: bytes, *, datagram: bool = True) -> SipRequest | SipResponse:
    """Parse one SIP message.

    ``datagram`` (UDP): ``Content-Length`` may be absent (the body is the rest of the
    datagram) and bytes past it are dropped (RFC 3261 §18.3). From a stream the framer has
    already cut the message at its ``Content-Length``. A body shorter than ``Content-Length``
    is an error either way: over UDP that is a truncated datagram, which the server should
    drop rather than answer.
    """
    if len(data) > MAX_MESSAGE_BYTES:
        raise SipError(
            f"message is {len(data)} bytes; the limit is {MAX_MESSAGE_BYTES}",
            status=513,
            reason="Message Too Large",
        )
    data = data.lstrip(b"\r\n")  # RFC 3261 §7.5: ignore CRLFs before the start line
    if not data.strip():
        raise SipError("empty message", reason="Empty Message")
    end = HEADER_END.search(data)
    head, body = (data[: end.start()], data[end.end() :]) if end else (data, b"")
    message = parse_head(head)
    message.body = _cut_body(message, body, datagram=datagram)
    return message


def parse_head(head: bytes) -> SipRequest | SipResponse:
    """The start line and headers of a message (no body), checked as :func:`parse_message`
    checks them."""
    try:
        text = head.decode()
    except UnicodeDecodeError as error:
        raise SipError(f"headers are not UTF-8: {error}", reason="Headers Not UTF-8") from None
    first, *rest = text.split("\n")
    message = _parse_start_line(first.rstrip("\r"))
    message.headers = parse_header_block(rest)
    _check_mandatory(message)
    return message


def _parse_start_line(line: str) -> SipRequest | SipResponse:
    if has_control_characters(line):
        raise SipError(f"start line {line[:40]!r} has control characters", reason="Bad Start Line")
    if line[:8].upper() == "SIP/2.0 ":
        code, _, reason = line[8:].partition(" ")
        status = parse_digits(code) if len(code) == 3 else None
        if status is None or not 100 <= status <= 699:
            raise SipError(f"bad status line {line[:80]!r}", reason="Bad Status Line")
        return SipResponse(status=status, reason=reason.strip())
    parts = line.split(" ")
    if len(parts) != 3 or not parts[1]:
        raise SipError(f"bad request line {line[:80]!r}", reason="Bad Request Line")
    method, uri, version = parts
    if version.upper() != _SIP_VERSION:
        if version.upper().startswith("SIP/"):
            raise SipError(
                f"SIP version {version[:20]!r}", status=505, reason="Version Not Supported"
            )
        raise SipError(f"bad request line {line[:80]!r}", reason="Bad Request Line")
    if not is_token(method):
        raise SipError(f"bad method {method[:40]!r}", reason="Bad Request Line")
    return SipRequest(method=method.upper(), uri=uri)


def _check_mandatory(message: SipRequest | SipResponse) -> None:
    headers = message.headers
    try:
        for name in _MANDATORY:
            if not headers.get(name):
                raise SipError(
                    f"the message has no {name} header; every SIP message carries Via, From, "
                    "To, Call-ID and CSeq",
                    reason=f"Missing {name} Header",
                )
        cseq = parse_cseq(headers.get("CSeq") or "")
        message.top_via  # noqa: B018 - read for the errors it raises
        parse_name_addr(headers.get("From") or "", header="From")
        parse_name_addr(headers.get("To") or "", header="To")
    except SipError as error:
        error.partial = message
        raise
    if isinstance(message, SipRequest) and cseq.method != message.method:
        raise SipError(
            f"CSeq method {cseq.method} does not match the request method {message.method}",
            reason="CSeq Method Mismatch",
            partial=message,
        )


def _cut_body(message: SipRequest | SipResponse, body: bytes, *, datagram: bool) -> bytes:
    declared = message.headers.get("Content-Length")
    if declared is None:
        return body if datagram else b""
    length = parse_digits(declared)
    if length is None:
        raise SipError(
            f"Content-Length must be a number, got {declared[:20]!r}",
            reason="Bad Content-Length",
            partial=message,
        )
    if length > MAX_MESSAGE_BYTES:
        raise SipError(
            f"Content-Length {length} is over the limit of {MAX_MESSAGE_BYTES} bytes",
            status=413,
            reason="Request Entity Too Large",
            partial=message,
        )
    if len(body) < length:
        raise SipError(
            f"body is {len(body)} bytes but Content-Length says {length}",
            reason="Truncated Body",
            partial=message,
        )
    return body[:length]


# --- SIPREC signals (RFC 7866 §6.1.1) --------------------------------------------------------


def requires_siprec(message: SipMessage) -> bool:
    """``Require: siprec`` (or ``Supported``-only requests, which answer ``False``)."""
    return "siprec" in message.headers.option_tags("Require")


def has_src_contact(message: SipMessage) -> bool:
    """A Contact marks its sender as a recording client: ``+sip.src``, or the older ``src``.

    AudioCodes and BroadWorks send the draft-era ``;src``; some stacks put the tag inside the
    URI. Any of those counts: refusing them is the most common interop failure.
    """
    try:
        contacts = message.contacts
    except SipError:
        return False
    for contact in contacts:
        params = contact.params | contact.uri_params
        if "+sip.src" in params or "src" in params:
            return True
    return False


def is_siprec_request(message: SipMessage) -> bool:
    """Both signals a recording client sends with a recording session's INVITE, or Cisco's
    network-based recording headers (``X-Cisco-Recording-Participant``), which CUBE sends in
    place of both and only on a recording fork."""
    return (requires_siprec(message) and has_src_contact(message)) or (
        CISCO_PARTICIPANT_HEADER in message.headers
    )


# --- Responses -------------------------------------------------------------------------------

# What the recorder answers to (RFC 3261 §20.5; UPDATE is RFC 3311).
ALLOWED_METHODS = ("INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "UPDATE")
SUPPORTED_OPTIONS = ("siprec", "timer")

REASON_PHRASES = {
    100: "Trying",
    180: "Ringing",
    200: "OK",
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    413: "Request Entity Too Large",
    415: "Unsupported Media Type",
    420: "Bad Extension",
    481: "Call/Transaction Does Not Exist",
    486: "Busy Here",
    487: "Request Terminated",
    488: "Not Acceptable Here",
    491: "Request Pending",
    500: "Server Internal Error",
    503: "Service Unavailable",
    505: "Version Not Supported",
    513: "Message Too Large",
}


def new_tag() -> str:
    """A From/To tag with 64 random bits (RFC 3261 §19.3 asks for at least 32)."""
    return secrets.token_hex(8)


def srs_contact(uri: str) -> str:
    """The recorder's Contact value: its URI with the ``+sip.srs`` feature tag."""
    return f"<{uri}>;+sip.srs"


def make_response(
    request: SipRequest,
    status: int,
    reason: str | None = None,
    *,
    to_tag: str | None = None,
    contact_uri: str | None = None,
    headers: Sequence[tuple[str, str]] = (),
    body: bytes = b"",
    content_type: str | None = None,
) -> SipResponse:
    """A response to ``request`` as RFC 3261 §8.2.6 builds it.

    Via (every one, in order), From, To, Call-ID and CSeq are copied, whichever the request
    has (a response to a malformed request is best effort). To gets ``to_tag`` unless it has a
    tag already or this is a ``100``; with no ``to_tag`` a fresh one is made, which suits a
    one-off error answer; a dialog's responses must all pass the dialog's tag. ``contact_uri``
    adds ``Contact: <uri>;+sip.srs``. Every response but ``100`` names what the recorder
    allows and supports, which RFC 3261 asks of ``405`` and OPTIONS answers and harms none.
    """
    source = request.headers
    response = SipResponse(status=status, reason=reason or REASON_PHRASES.get(status, "Unknown"))
    out = response.headers
    for via in source.fields("Via"):
        out.add("Via", via)
    for name in ("From", "To", "Call-ID", "CSeq"):
        copied = source.get(name)
        if copied is not None:
            out.add(name, _with_to_tag(copied, status, to_tag) if name == "To" else copied)
    if 100 < status < 300:
        # RFC 3261 §12.1.1: responses that set up a dialog carry its route set back.
        for route in source.fields("Record-Route"):
            out.add("Record-Route", route)
    if status == 100 and "Timestamp" in source:
        out.add("Timestamp", source.get("Timestamp") or "")  # RFC 3261 §8.2.6.1
    if contact_uri is not None:
        out.add("Contact", srs_contact(contact_uri))
    if status != 100:
        out.add("Allow", ", ".join(ALLOWED_METHODS))
        out.add("Supported", ", ".join(SUPPORTED_OPTIONS))
    for name, value in headers:
        out.add(name, value)
    if body:
        out.add("Content-Type", content_type or "application/sdp")
    response.body = body
    return response


def _with_to_tag(value: str, status: int, to_tag: str | None) -> str:
    if status == 100:
        return value
    try:
        if "tag" in parse_name_addr(value, header="To").params:
            return value
    except SipError:
        return value
    return f"{value};tag={to_tag or new_tag()}"


def error_response(error: SipError) -> SipResponse | None:
    """The response to send for a parse error, or ``None`` when there is no one to answer.

    Nothing is answered to an unparsed message, to one without a readable top Via and CSeq,
    to a response, or to an ACK (RFC 3261 §17.2.1: ACKs are never answered). The answer
    copies what the request had: one missing From, To or Call-ID gets an answer without it.
    """
    partial = error.partial
    if not isinstance(partial, SipRequest) or partial.method == "ACK":
        return None
    try:
        # The client matches a response to its transaction by top Via branch and CSeq
        # (RFC 3261 §17.1.3): without both, an answer could never be matched.
        partial.top_via  # noqa: B018 - read for the errors it raises
        partial.cseq  # noqa: B018
    except SipError:
        return None
    return make_response(partial, error.status, error.reason, headers=error.response_headers)
