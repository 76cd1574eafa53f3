"""Split a SIPREC request body into its SDP and its recording metadata.

An INVITE from a recording client carries ``multipart/mixed`` with an ``application/sdp``
part and an ``application/rs-metadata+xml`` (or older ``application/rs-metadata``) part,
in either order; Cisco adds an ``application/gtd`` part, which is ignored like any other
extra. A re-INVITE or UPDATE may carry metadata alone, a plain call SDP alone.

The multipart splitter is written here rather than borrowed from ``email``: it walks the
body once with a literal-boundary pattern, so its cost is linear in the body and every
malformed body (no boundary line, unreadable part headers, two SDPs) is a ``400`` that says
which, never a defect list to interpret.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from callvault.capture.siprec.errors import SipError
from callvault.capture.siprec.grammar import parse_media_type
from callvault.capture.siprec.headers import Headers, parse_header_block
from callvault.capture.siprec.sipmsg import HEADER_END, SipMessage

SDP_TYPE = "application/sdp"
# RFC 7866 registered application/rs-metadata+xml; drafts and some SRCs still send the old name.
METADATA_TYPES = frozenset({"application/rs-metadata+xml", "application/rs-metadata"})
RECORDING_DISPOSITION = "recording-session"
MULTIPART_TYPES = frozenset({"multipart/mixed", "multipart/related"})
# Sent with a 415 (RFC 3261 §21.4.13) so the client knows what to send instead.
ACCEPTED_TYPES = "application/sdp, application/rs-metadata+xml, application/rs-metadata, " + (
    "multipart/mixed"
)
MAX_PARTS = 16  # real bodies have two or three
_MAX_BOUNDARY = 200  # RFC 2046 allows 70; leave room for generous stacks
FIELD = "body"


@dataclass(frozen=True, slots=True)
class BodyPart:
    """One part of a multipart body."""

    content_type: str  # lower-cased media type without parameters; "" when absent
    disposition: str | None  # lower-cased disposition type ("session", "recording-session")
    headers: Headers
    content: bytes


@dataclass(frozen=True, slots=True)
class RecordingBody:
    """What a SIPREC request carried: either part may be absent."""

    sdp: bytes | None = None
    metadata: bytes | None = None
    ignored_types: tuple[str, ...] = ()  # content types of parts that were skipped
    closed: bool = True  # False: a multipart body without its closing delimiter (tolerated)


def recording_body(message: SipMessage) -> RecordingBody:
    """Split ``message``'s body by its ``Content-Type`` (see :func:`split_body`)."""
    try:
        return split_body(
            message.headers.get("Content-Type"),
            message.body,
            content_encoding=message.headers.get("Content-Encoding"),
        )
    except SipError as error:
        error.partial = message
        raise


def split_body(
    content_type: str | None, body: bytes, *, content_encoding: str | None = None
) -> RecordingBody:
    """The SDP and metadata in a body whose ``Content-Type`` header is ``content_type``."""
    if not body.strip():
        return RecordingBody()
    if content_encoding and content_encoding.strip().lower() != "identity":
        raise SipError(
            f"body has Content-Encoding {content_encoding!r}; send it unencoded",
            status=415,
            reason="Unsupported Media Type",
            field=FIELD,
            response_headers=[("Accept-Encoding", "identity")],
        )
    if not content_type:
        raise SipError(
            "the message has a body but no Content-Type; name the body's type",
            reason="Missing Content-Type",
            field=FIELD,
        )
    media_type, params = parse_media_type(content_type)
    if media_type == SDP_TYPE:
        return RecordingBody(sdp=body)
    if media_type in METADATA_TYPES:
        return RecordingBody(metadata=body)
    if media_type in MULTIPART_TYPES:
        parts, closed = split_multipart(body, params.get("boundary", ""))
        return _pick_parts(parts, closed=closed)
    raise _unsupported(media_type)


def split_multipart(body: bytes, boundary: str) -> tuple[list[BodyPart], bool]:
    """The parts of a MIME multipart body (RFC 2046 §5.1.1), and whether it was closed.

    Preamble and epilogue are dropped; delimiter lines may end in CRLF or bare LF and carry
    trailing spaces. A body without its closing delimiter is read to its end: the SIP layer
    has already checked it against ``Content-Length``, so it is not cut short in transit, and
    the Cisco, Ribbon and SEMS reference bodies end that way. A body with no delimiter at all
    is refused.
    """
    if not boundary or len(boundary) > _MAX_BOUNDARY or any(c in boundary for c in "\r\n"):
        raise SipError(
            "multipart body needs a boundary parameter of 1-200 characters in Content-Type",
            reason="Bad Multipart Boundary",
            field=FIELD,
        )
    # The line break before a delimiter belongs to the delimiter, not to the part.
    delimiter = re.compile(
        rb"(?:\A|\r?\n)--" + re.escape(boundary.encode()) + rb"(--)?[ \t]*(?=\r?\n|\Z)"
    )
    parts: list[BodyPart] = []
    previous: re.Match[bytes] | None = None
    for match in delimiter.finditer(body):
        if previous is not None:
            _add_part(parts, body[previous.end() : match.start()])
        if match.group(1):
            return parts, True
        previous = match
    if previous is None:
        raise SipError(
            f"multipart body has no '--{boundary[:70]}' line: its boundary does not match the "
            "one in Content-Type, or it is not multipart",
            reason="Multipart Boundary Not Found",
            field=FIELD,
        )
    _add_part(parts, body[previous.end() :].rstrip(b"\r\n"))
    return parts, False


def _add_part(parts: list[BodyPart], raw: bytes) -> None:
    if len(parts) == MAX_PARTS:
        raise SipError(
            f"multipart body has more than {MAX_PARTS} parts",
            reason="Too Many Body Parts",
            field=FIELD,
        )
    parts.append(_parse_part(raw, len(parts) + 1))


def _parse_part(raw: bytes, number: int) -> BodyPart:
    raw = raw.removeprefix(b"\r\n") if raw.startswith(b"\r\n") else raw.removeprefix(b"\n")
    if raw.startswith((b"\r\n", b"\n")):
        head, content = b"", raw.removeprefix(b"\r").removeprefix(b"\n")  # no headers
    elif end := HEADER_END.search(raw):
        head, content = raw[: end.start()], raw[end.end() :]
    else:
        head, content = raw, b""  # headers and no content: the delimiter took the blank line
    try:
        headers = parse_header_block(head.decode().split("\n"))
    except (UnicodeDecodeError, SipError) as error:
        raise SipError(
            f"body part {number} has unreadable headers: {error}",
            reason="Bad Body Part",
            field=FIELD,
        ) from None
    content_type = parse_media_type(headers.get("Content-Type") or "")[0]
    disposition_value = headers.get("Content-Disposition")
    disposition = parse_media_type(disposition_value)[0] if disposition_value else None
    return BodyPart(content_type, disposition, headers, content)


def _pick_parts(parts: list[BodyPart], *, closed: bool) -> RecordingBody:
    sdp: bytes | None = None
    metadata: bytes | None = None
    ignored: list[str] = []
    for part in parts:
        if part.content_type == SDP_TYPE:
            if sdp is not None:
                raise _duplicate("application/sdp")
            sdp = part.content
        elif part.content_type in METADATA_TYPES or part.disposition == RECORDING_DISPOSITION:
            # A recording-session disposition marks metadata even under a mislabelled type.
            if metadata is not None:
                raise _duplicate("recording metadata")
            metadata = part.content
        else:
            ignored.append(part.content_type or "(no Content-Type)")
    if sdp is None and metadata is None:
        raise _unsupported("multipart/mixed without an SDP or a metadata part")
    return RecordingBody(sdp, metadata, tuple(ignored), closed=closed)


def _duplicate(what: str) -> SipError:
    return SipError(
        f"multipart body has two {what} parts; send one", reason="Duplicate Body Part", field=FIELD
    )


def _unsupported(what: str) -> SipError:
    return SipError(
        f"body is {what}; the recorder accepts {ACCEPTED_TYPES}",
        status=415,
        reason="Unsupported Media Type",
        field=FIELD,
        response_headers=[("Accept", ACCEPTED_TYPES)],
    )
