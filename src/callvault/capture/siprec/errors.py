"""The one error the SIPREC parsers raise: it carries the SIP response to answer with."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from callvault.errors import BadInput

if TYPE_CHECKING:
    from callvault.capture.siprec.sipmsg import SipMessage


class SipError(BadInput):
    """A SIP message, body or SDP that callvault will not accept.

    ``status`` and ``reason`` are the SIP response to send (``400`` with a reason phrase that
    names the problem, ``413``, ``415``, ``505`` ...); ``response_headers`` are extra headers that
    response needs (``Accept`` with a ``415``). ``partial`` is the message as far as it parsed,
    when its headers did, so the server can still address a response; it is ``None`` when
    nothing usable was read (then, over UDP, the datagram is simply dropped).
    """

    def __init__(
        self,
        message: str,
        *,
        status: int = 400,
        reason: str = "Bad Request",
        field: str | None = None,
        response_headers: Sequence[tuple[str, str]] = (),
        partial: SipMessage | None = None,
    ) -> None:
        super().__init__(message, field=field)
        self.status = status
        self.reason = reason
        self.response_headers = tuple(response_headers)
        self.partial = partial
