"""The few requests the recorder sends: a BYE to end a session (RFC 3261 §17.1.2).

The recorder is a server almost always; it becomes a client only to hang up a session the
other side can no longer be trusted to end: its ACK never came (§13.3.1.4: the session
SHOULD be ended with a BYE), it stopped refreshing its session timer (RFC 4028 §10), or the
vault stopped taking the recording. The SRC then knows the call is no longer recorded and
can fail over, instead of believing it is.

Non-INVITE client transactions only. Over UDP Timer E retransmits from T1, doubling to T2;
Timer F gives up at 64*T1; over TCP the request is sent once. A response is matched by its
top Via's branch and its CSeq method (§17.1.3).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable

from callvault.capture.siprec.headers import Headers
from callvault.capture.siprec.sipmsg import SipRequest, SipResponse

log = logging.getLogger(__name__)

Sender = Callable[[bytes], None]


class ClientTransactions:
    """Requests the recorder sent and is waiting on, by (branch, method)."""

    def __init__(self, *, t1: float, t2: float) -> None:
        self.t1, self.t2 = t1, t2
        self._waiting: dict[tuple[str, str], asyncio.Future[SipResponse]] = {}

    async def send(
        self, request: SipRequest, sender: Sender, *, reliable: bool
    ) -> SipResponse | None:
        """Send ``request`` until a final response comes (returned) or Timer F (``None``)."""
        loop = asyncio.get_running_loop()
        key = (request.top_via.branch or "", request.cseq.method)
        answered: asyncio.Future[SipResponse] = loop.create_future()
        self._waiting[key] = answered
        data, interval = request.to_bytes(), self.t1
        give_up = loop.time() + 64 * self.t1
        try:
            while (left := give_up - loop.time()) > 0:
                try:
                    sender(data)
                except OSError as error:
                    log.info(
                        "%s for Call-ID %s not sent: %s", request.method, request.call_id, error
                    )
                wait = left if reliable else min(interval, left)
                try:
                    return await asyncio.wait_for(asyncio.shield(answered), wait)
                except TimeoutError:
                    interval = min(2 * interval, self.t2)
            log.info("%s for Call-ID %s: no answer", request.method, request.call_id)
            return None
        finally:
            del self._waiting[key]

    def receive(self, response: SipResponse) -> bool:
        """Hand a response to the request waiting for it; ``False`` if none is."""
        key = (response.top_via.branch or "", response.cseq.method)
        waiting = self._waiting.get(key)
        if waiting is None:
            return False
        if response.status >= 200 and not waiting.done():
            waiting.set_result(response)
        return True


def bye_for(
    invite: SipRequest, *, local_tag: str, via: str, transport: str, cseq: int
) -> SipRequest:
    """The BYE that ends the dialog ``invite`` opened, sent by the recorder (the UAS).

    To the client's Contact (its remote target), through the INVITE's Record-Route set in
    order (RFC 3261 §12.1.1), From our side of the dialog, To theirs. ``via`` is our
    ``host:port``."""
    headers = Headers()
    headers.add("Via", f"SIP/2.0/{transport.upper()} {via};branch=z9hG4bK{uuid.uuid4().hex}")
    headers.add("Max-Forwards", "70")
    for route in invite.headers.fields("Record-Route"):
        headers.add("Route", route)
    ours = invite.headers.get("To") or ""
    headers.add("From", ours if ";tag=" in ours else f"{ours};tag={local_tag}")
    headers.add("To", invite.headers.get("From") or "")
    headers.add("Call-ID", invite.call_id)
    headers.add("CSeq", f"{cseq} BYE")
    contacts = invite.contacts
    target = contacts[0].uri if contacts else invite.from_addr.uri
    return SipRequest(method="BYE", uri=target, headers=headers)
