"""Where one SIP message ends: TCP streams framed by Content-Length, UDP keep-alives.

Over UDP a datagram is one message (``parse_message(datagram)``); over TCP, messages arrive
back to back and split anywhere, so :class:`StreamFramer` buffers bytes until a whole
message (headers, blank line, ``Content-Length`` bytes of body) is there.
"""

from __future__ import annotations

import re

from callvault.capture.siprec.errors import SipError
from callvault.capture.siprec.grammar import parse_digits
from callvault.capture.siprec.sipmsg import (
    HEADER_END,
    MAX_MESSAGE_BYTES,
    SipMessage,
    parse_head,
)

# The largest UDP payload; parse_message refuses anything over MAX_MESSAGE_BYTES anyway.
MAX_DATAGRAM_BYTES = 65_535

# Content-Length in the long or compact form, at the start of a header line.
_CONTENT_LENGTH = re.compile(rb"^(?:content-length|l)[ \t]*:[ \t]*([^\r\n]*)", re.I | re.M)
_KEEPALIVE_BYTES = frozenset(b"\r\n\t \x00")


def is_keepalive(datagram: bytes) -> bool:
    """CRLF pings (RFC 5626 §4.4.1) and the NUL or space pings some SBCs send."""
    return all(byte in _KEEPALIVE_BYTES for byte in datagram)


class StreamFramer:
    """Cut one connection's byte stream into whole SIP messages.

    :meth:`feed` returns the messages completed so far and never raises. When the stream
    cannot be framed any further (headers over the size limit, a body that would be, a
    ``Content-Length`` that is not a number) :attr:`error` is set: answer it if it has a
    ``partial`` request (``error_response``), then close the connection, since where the next
    message starts is unknowable. Blank lines between messages (keep-alives) are skipped.
    """

    def __init__(self, max_message_bytes: int = MAX_MESSAGE_BYTES) -> None:
        self.max_message_bytes = max_message_bytes
        self.error: SipError | None = None
        self._buffer = bytearray()
        self._scan_from = 0
        self._expected: int | None = None  # the whole size of the message being received
        self.pings = 0  # keep-alive pings seen and not yet answered (``take_pings``)

    def take_pings(self) -> int:
        """How many CRLF pings arrived since the last call: answer each with one CRLF."""
        pings, self.pings = self.pings, 0
        return pings

    @property
    def buffered(self) -> int:
        """Bytes held for a message not yet complete."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[bytes]:
        if self.error is not None:
            return []
        self._buffer += data
        messages: list[bytes] = []
        try:
            while (message := self._next_message()) is not None:
                messages.append(message)
        except SipError as error:
            self.error = error
            self._buffer.clear()
            self._expected = None
        return messages

    def _next_message(self) -> bytes | None:
        if self._expected is None:
            self._expected = self._measure()
            if self._expected is None:
                return None
        if len(self._buffer) < self._expected:
            return None
        message = bytes(self._buffer[: self._expected])
        del self._buffer[: self._expected]
        self._expected = None
        self._scan_from = 0
        return message

    def _measure(self) -> int | None:
        """The size of the message at the buffer's start, once its headers are all in."""
        if self._buffer.startswith((b"\r", b"\n")):
            skip = len(self._buffer) - len(self._buffer.lstrip(b"\r\n"))
            # RFC 5626 §4.4.1: a double CRLF is a ping the client expects a CRLF pong to.
            self.pings += bytes(self._buffer[:skip]).count(b"\r\n\r\n")
            del self._buffer[:skip]
            self._scan_from = 0
        if not self._buffer:
            return None
        # Resume a few bytes back: the blank line may straddle the previous chunk's end.
        end = HEADER_END.search(self._buffer, max(0, self._scan_from - 3))
        if end is None:
            if len(self._buffer) > self.max_message_bytes:
                raise SipError(
                    f"header section longer than {self.max_message_bytes} bytes",
                    status=513,
                    reason="Message Too Large",
                )
            self._scan_from = len(self._buffer)
            return None
        head = bytes(self._buffer[: end.start()])
        total = end.end() + self._content_length(head)
        if total > self.max_message_bytes:
            raise SipError(
                f"message of {total} bytes is over the limit of {self.max_message_bytes}",
                status=413,
                reason="Request Entity Too Large",
                partial=_headers_only(head),
            )
        return total

    @staticmethod
    def _content_length(head: bytes) -> int:
        # RFC 3261 §18.3: over a stream Content-Length is mandatory; a bodiless message
        # without one (an ACK from a careless stack) is read as having none.
        values = {match.group(1).strip() for match in _CONTENT_LENGTH.finditer(head)}
        if not values:
            return 0
        text = values.pop().decode("ascii", "replace") if len(values) == 1 else ""
        length = parse_digits(text)
        if length is None:
            raise SipError(
                "Content-Length is missing a number or given twice with different values; "
                "send one Content-Length with the body's size in bytes",
                reason="Bad Content-Length",
                partial=_headers_only(head),
            )
        return length


def _headers_only(head: bytes) -> SipMessage | None:
    """The headers parsed on their own, so a 413 can still be addressed; ``None`` if not."""
    try:
        return parse_head(head.lstrip(b"\r\n"))
    except SipError:
        return None
