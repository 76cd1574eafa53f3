"""SIP server transactions (RFC 3261 §17.2): absorb retransmissions, resend answers, time out.

:class:`TransactionLayer` sits between the transport (which hands it raw messages and a way
to send bytes back) and a :class:`SipHandler` (the recording sessions). The handler sees each
request once, with a :class:`Responder` for that request's transaction; this layer answers
retransmitted requests with the last response sent, retransmits final responses over UDP
until they are acknowledged, sends ``100 Trying`` to every INVITE, answers CANCEL, and
retransmits an INVITE's ``2xx`` until its ACK (RFC 3261 §13.3.1.4, kept here rather than in
the dialog layer so every session gets it right).

Timers follow RFC 3261 Table 4, with T1, T2 and T4 configurable (tests shrink them):
G/H/I for INVITE final responses, J for non-INVITE ones, and 64*T1 for an unanswered ``2xx``.
Every timer is an asyncio task tracked here, so :meth:`TransactionLayer.close` stops them all.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections import OrderedDict
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, Protocol

from callvault.capture.siprec.client import ClientTransactions
from callvault.capture.siprec.errors import SipError
from callvault.capture.siprec.sipmsg import (
    SipRequest,
    SipResponse,
    error_response,
    make_response,
    parse_message,
)
from callvault.capture.siprec.via import with_source

if TYPE_CHECKING:
    from callvault.capture.siprec.transport import Peer

log = logging.getLogger(__name__)

T1 = 0.5  # RFC 3261 Table 4: round-trip estimate
T2 = 4.0  # the longest interval between retransmissions of a response
T4 = 5.0  # how long a message may linger in the network
MAX_TRANSACTIONS = 10_000
# A transaction the handler never answers is dropped after this many T1 (the client gives up
# on a non-INVITE after 64*T1; an INVITE that got 100 waits longer, like a proxy's Timer C).
_UNANSWERED_NON_INVITE = 64
_UNANSWERED_INVITE = 360
_MAGIC_COOKIE = "z9hG4bK"  # RFC 3261 §8.1.1.7: branches that are unique per transaction

Sender = Callable[[bytes], None]
TransactionKey = tuple[str | int | None, ...]


class Responder(Protocol):
    def send(self, response: SipResponse) -> None:
        """Send a provisional or final response in this request's transaction."""

    async def send_request(self, request: SipRequest) -> SipResponse | None:
        """Send a request of our own to where this one came from (a BYE in its dialog);
        its final response, or ``None`` when none came in time."""


class SipHandler(Protocol):
    async def on_request(self, request: SipRequest, respond: Responder, peer: Peer) -> None:
        """A new request (once per transaction), or the ACK of a ``2xx`` (``respond``: no-op)."""

    async def on_cancel(self, invite: SipRequest) -> None:
        """A CANCEL matched this pending INVITE; the CANCEL is answered already. Answer the
        INVITE ``487`` through the responder given with it."""


class _NoResponse:
    """The responder handed over with an ACK: nothing ever answers an ACK (RFC 3261 §17)."""

    def send(self, response: SipResponse) -> None:
        log.debug("response %d to an ACK dropped: ACKs are never answered", response.status)

    async def send_request(self, request: SipRequest) -> SipResponse | None:
        log.debug("%s not sent: an ACK carries no way back", request.method)
        return None


def transaction_key(request: SipRequest) -> TransactionKey:
    """The key matching a request to its server transaction (RFC 3261 §17.2.3).

    An ACK for a non-2xx final response is part of the INVITE's transaction, so it is keyed as
    an INVITE; a CANCEL has a transaction of its own with the INVITE's branch. Without the
    RFC 3261 magic cookie (RFC 2543 clients), Call-ID, CSeq number and From tag stand in.
    """
    via = request.top_via
    method = "INVITE" if request.method == "ACK" else request.method
    branch = via.branch or ""
    if branch.startswith(_MAGIC_COOKIE):
        return (branch, via.host.lower(), via.port, method)
    cseq = request.cseq
    return ("2543", request.call_id, cseq.number, request.from_tag, via.host.lower(), method)


class ServerTransaction:
    """One request's transaction; it is also the :class:`Responder` the handler holds."""

    def __init__(
        self, layer: TransactionLayer, request: SipRequest, peer: Peer, sender: Sender
    ) -> None:
        self.layer = layer
        self.request = request
        self.peer = peer
        self.key = transaction_key(request)
        self.is_invite = request.method == "INVITE"
        self.last: bytes | None = None
        self.last_response: SipResponse | None = None
        self.final: SipResponse | None = None
        self.acked = False
        self.timer: asyncio.Task[None] | None = None
        self._sender = sender

    @property
    def reliable(self) -> bool:
        return self.peer.transport != "udp"

    def transmit(self, data: bytes) -> None:
        try:
            self._sender(data)
        except OSError as error:  # an unreachable peer must not stop the timers or the caller
            log.info("could not send to %s:%d: %s", self.peer.host, self.peer.port, error)

    def send(self, response: SipResponse) -> None:
        if self.final is not None:
            log.warning(
                "%d for %s Call-ID %s dropped: a final response was sent already",
                response.status,
                self.request.method,
                self.request.call_id,
            )
            return
        self.last_response = response
        self.last = response.to_bytes()
        self.transmit(self.last)
        if response.status >= 200:
            self.final = response
            self.layer.finished(self)

    def resend_last(self) -> None:
        if self.last is not None:
            self.transmit(self.last)

    async def send_request(self, request: SipRequest) -> SipResponse | None:
        return await self.layer.client.send(request, self._sender, reliable=self.reliable)


class TransactionLayer:
    """The server transactions of one endpoint; the transport feeds it with :meth:`receive`."""

    def __init__(
        self,
        handler: SipHandler,
        *,
        t1: float = T1,
        t2: float = T2,
        t4: float = T4,
        max_transactions: int = MAX_TRANSACTIONS,
    ) -> None:
        self.handler = handler
        self.t1, self.t2, self.t4 = t1, t2, t4
        self.max_transactions = max_transactions
        self._transactions: OrderedDict[TransactionKey, ServerTransaction] = OrderedDict()
        # INVITEs answered 2xx and still in their 64*T1 window, by (Call-ID, CSeq number):
        # their ACK comes in a transaction of its own (RFC 3261 §17.1.1.3).
        self._accepted: dict[tuple[str, int], ServerTransaction] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False
        self.client = ClientTransactions(t1=t1, t2=t2)  # the BYEs the recorder sends

    @property
    def live_transactions(self) -> int:
        return len(self._transactions)

    def receive(self, data: bytes, peer: Peer, sender: Sender) -> None:
        """One whole message from ``peer``; ``sender`` writes bytes back to where it came from."""
        if self._closed:
            return
        try:
            message = parse_message(data, datagram=peer.transport == "udp")
        except SipError as error:
            self._refuse(error, peer, sender)
            return
        if isinstance(message, SipResponse):
            if not self.client.receive(message):
                log.debug("response %d from %s matches no request of ours", message.status, peer)
            return
        with_source(message, peer.host, peer.port)
        existing = self._transactions.get(transaction_key(message))
        if message.method == "ACK":
            self._on_ack(message, existing, peer)
        elif existing is not None:
            log.debug("%s retransmitted, Call-ID %s", message.method, message.call_id)
            existing.resend_last()
        elif message.method == "CANCEL":
            self._on_cancel(ServerTransaction(self, message, peer, sender))
        else:
            self._start(ServerTransaction(self, message, peer, sender))

    def _refuse(self, error: SipError, peer: Peer, sender: Sender) -> None:
        response = error_response(error)
        # The reason phrase, not the error text: that quotes header lines, numbers and all.
        log.info(
            "unreadable message from %s:%d (%d %s): %s",
            peer.host,
            peer.port,
            error.status,
            error.reason,
            "answered" if response else "dropped",
        )
        if response is not None:
            try:
                sender(response.to_bytes())
            except OSError as send_error:
                log.info("could not send to %s:%d: %s", peer.host, peer.port, send_error)

    def _start(self, transaction: ServerTransaction) -> None:
        request = transaction.request
        log.debug("new %s transaction, Call-ID %s", request.method, request.call_id)
        self._add(transaction)
        if transaction.is_invite:
            # RFC 3261 §17.2.1: at once, so the client stops retransmitting while we work.
            transaction.send(make_response(request, 100))
        lifetime = _UNANSWERED_INVITE if transaction.is_invite else _UNANSWERED_NON_INVITE
        self._set_timer(transaction, self._expire_unanswered(transaction, lifetime * self.t1))
        self._spawn(self._call_handler(transaction))

    def _on_cancel(self, cancel: ServerTransaction) -> None:
        self._add(cancel)
        request = cancel.request
        invite = self._transactions.get(transaction_key(_as_invite(request)))
        pending = (
            invite is not None
            and invite.final is None
            and invite.request.call_id == request.call_id
        )
        if invite is None or not pending:
            cancel.send(make_response(request, 481, "Call/Transaction Does Not Exist"))
            return
        # The CANCEL's 200 carries the To tag the INVITE's provisional answers gave, if any.
        last = invite.last_response
        cancel.send(make_response(request, 200, to_tag=last.to_tag if last else None))
        log.info("INVITE cancelled, Call-ID %s", request.call_id)
        self._spawn(self._call_on_cancel(invite))

    def _on_ack(self, ack: SipRequest, existing: ServerTransaction | None, peer: Peer) -> None:
        if existing is not None and existing.final is not None and existing.final.status >= 300:
            # The ACK of a non-2xx answer belongs to the INVITE's transaction: absorb it.
            if not existing.acked:
                existing.acked = True
                wait = 0.0 if existing.reliable else self.t4  # Timer I
                self._set_timer(existing, self._expire(existing, wait))
            return
        accepted = self._accepted.get((ack.call_id, ack.cseq.number))
        if accepted is not None:
            if accepted.acked:
                log.debug("ACK retransmitted, Call-ID %s", ack.call_id)
                return
            accepted.acked = True
        self._spawn(self._call_handler_for_ack(ack, peer))

    def finished(self, transaction: ServerTransaction) -> None:
        """A final response went out: start retransmitting it or counting down its removal."""
        if self._transactions.get(transaction.key) is not transaction or self._closed:
            return  # evicted or closing: it was sent once, which is all that can be done
        final = transaction.final
        assert final is not None
        if not transaction.is_invite:
            wait = 0.0 if transaction.reliable else 64 * self.t1  # Timer J
            self._set_timer(transaction, self._expire(transaction, wait))
        elif final.status < 300:
            self._accepted[(transaction.request.call_id, transaction.request.cseq.number)] = (
                transaction
            )
            self._set_timer(transaction, self._retransmit_2xx(transaction))
        else:
            self._set_timer(transaction, self._retransmit_until_ack(transaction))

    async def _retransmit_2xx(self, transaction: ServerTransaction) -> None:
        """RFC 3261 §13.3.1.4: resend the 2xx until its ACK, for at most 64*T1."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 64 * self.t1
        interval = self.t1
        while not transaction.acked and (left := deadline - loop.time()) > 0:
            await asyncio.sleep(min(interval, left))
            if not transaction.acked and not transaction.reliable and loop.time() < deadline:
                transaction.resend_last()
            interval = min(2 * interval, self.t2)
        if not transaction.acked:
            self._spawn(self._ack_timed_out(transaction.request))
        # Stay to absorb retransmitted INVITEs (RFC 6026 "Accepted") for the whole 64*T1.
        await asyncio.sleep(max(0.0, deadline - loop.time()))
        self._remove(transaction)

    async def _retransmit_until_ack(self, transaction: ServerTransaction) -> None:
        """Timers G and H: resend a non-2xx final response until the ACK, for at most 64*T1."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 64 * self.t1
        interval = self.t1
        while (left := deadline - loop.time()) > 0:
            await asyncio.sleep(min(interval, left))
            if not transaction.reliable and loop.time() < deadline:
                transaction.resend_last()
            interval = min(2 * interval, self.t2)
        log.info("no ACK for %s, Call-ID %s", _status(transaction), transaction.request.call_id)
        self._remove(transaction)

    async def _expire(self, transaction: ServerTransaction, wait: float) -> None:
        await asyncio.sleep(wait)
        self._remove(transaction)

    async def _expire_unanswered(self, transaction: ServerTransaction, wait: float) -> None:
        await asyncio.sleep(wait)
        request = transaction.request
        log.warning("%s unanswered, Call-ID %s: forgotten", request.method, request.call_id)
        self._remove(transaction)

    async def _ack_timed_out(self, invite: SipRequest) -> None:
        log.warning("no ACK for the 2xx to INVITE, Call-ID %s", invite.call_id)
        callback = getattr(self.handler, "on_ack_timeout", None)
        if callback is None:
            return
        try:
            result = callback(invite)
            if inspect.isawaitable(result):
                await result
        except Exception:
            log.exception("on_ack_timeout failed, Call-ID %s", invite.call_id)

    async def _call_handler(self, transaction: ServerTransaction) -> None:
        request = transaction.request
        try:
            await self.handler.on_request(request, transaction, transaction.peer)
        except Exception:
            log.exception("handler failed on %s, Call-ID %s", request.method, request.call_id)
            if transaction.final is None:
                transaction.send(make_response(request, 500, "Server Internal Error"))

    async def _call_handler_for_ack(self, ack: SipRequest, peer: Peer) -> None:
        try:
            await self.handler.on_request(ack, _NoResponse(), peer)
        except Exception:
            log.exception("handler failed on ACK, Call-ID %s", ack.call_id)

    async def _call_on_cancel(self, invite: ServerTransaction) -> None:
        try:
            await self.handler.on_cancel(invite.request)
        except Exception:
            log.exception("handler failed on CANCEL, Call-ID %s", invite.request.call_id)
            # The client asked to stop: 487 is the answer it waits for, whatever went wrong.
            if invite.final is None:
                invite.send(make_response(invite.request, 487))

    def _add(self, transaction: ServerTransaction) -> None:
        while len(self._transactions) >= self.max_transactions:
            _, oldest = self._transactions.popitem(last=False)
            log.warning("transaction table full: %s forgotten", oldest.request.method)
            self._forget(oldest)
        self._transactions[transaction.key] = transaction

    def _remove(self, transaction: ServerTransaction) -> None:
        if self._transactions.get(transaction.key) is transaction:
            del self._transactions[transaction.key]
        self._forget(transaction)

    def _forget(self, transaction: ServerTransaction) -> None:
        request = transaction.request
        accepted_key = (request.call_id, request.cseq.number)
        if self._accepted.get(accepted_key) is transaction:
            del self._accepted[accepted_key]
        timer, transaction.timer = transaction.timer, None
        if timer is not None and timer is not asyncio.current_task():
            timer.cancel()

    def _set_timer(self, transaction: ServerTransaction, timer: Coroutine[Any, Any, None]) -> None:
        if transaction.timer is not None and transaction.timer is not asyncio.current_task():
            transaction.timer.cancel()
        transaction.timer = self._spawn(timer)

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def close(self) -> None:
        """Cancel every timer and handler call still running, and wait for them to end."""
        self._closed = True
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._transactions.clear()
        self._accepted.clear()


def _as_invite(cancel: SipRequest) -> SipRequest:
    """The INVITE a CANCEL names: same Via, Call-ID, From and CSeq number (RFC 3261 §9.1)."""
    headers = cancel.headers.copy()
    headers.replace("CSeq", f"{cancel.cseq.number} INVITE")
    return SipRequest(method="INVITE", uri=cancel.uri, headers=headers)


def _status(transaction: ServerTransaction) -> str:
    return str(transaction.final.status) if transaction.final else "no answer"
