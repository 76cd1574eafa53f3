"""Mark a request's top Via with where it really came from (RFC 3261 §18.2.1, RFC 3581).

Responses copy the request's Via headers, so what is written here reaches the client: the
``received`` address and the ``rport`` port it was seen from, which lets a client behind NAT
learn its public address. The responses themselves go back to that source address and port
whatever the Via says (see :mod:`callvault.capture.siprec.transport`).
"""

from __future__ import annotations

from callvault.capture.siprec.sipmsg import SipRequest, Via


def with_source(request: SipRequest, host: str, port: int) -> None:
    """Add ``received`` (the Via host is not the source address) and fill an empty ``rport``."""
    via = request.top_via
    params = dict(via.params)
    wants_rport = "rport" in params and not params["rport"]
    if via.host.strip("[]").lower() != host.lower() or wants_rport:
        params["received"] = host
    if wants_rport:
        params["rport"] = str(port)
    if params == via.params:
        return
    values = request.headers.values("Via")
    # One comma-joined Via header is the same as several lines (RFC 3261 §7.3.1).
    request.headers.replace("Via", ", ".join([_format(via, params), *values[1:]]))


def _format(via: Via, params: dict[str, str | None]) -> str:
    sent_by = via.host if via.port is None else f"{via.host}:{via.port}"
    text = f"SIP/2.0/{via.transport} {sent_by}"
    for name, value in params.items():
        text += f";{name}" if value is None else f";{name}={value}"
    return text
