"""SIP over UDP and TCP (RFC 3261 §18): listen, cut messages out, send responses back.

UDP: one datagram is one message. Responses go back to the datagram's source address and
port, not to the top Via's sent-by: that is what RFC 3581 ``rport`` asks for, and recording
clients behind NAT or an SBC's media/signalling split reach us from an address their Via
does not name; the request's Via gets ``received``/``rport`` so the client can see it.
Keep-alive datagrams (CRLF, NUL, space) are ignored.

TCP: a :class:`StreamFramer` per connection; responses go back on the connection the
request came in on. A stream that cannot be framed is answered if possible and closed, since
where the next message starts is unknowable. Idle connections stay open: clients reuse them
for every call.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from typing import Any, cast

from callvault.capture.siprec.errors import SipError
from callvault.capture.siprec.framing import StreamFramer, is_keepalive
from callvault.capture.siprec.sipmsg import error_response
from callvault.capture.siprec.transactions import (
    MAX_TRANSACTIONS,
    T1,
    T2,
    T4,
    Sender,
    SipHandler,
    TransactionLayer,
)

log = logging.getLogger(__name__)

MAX_CONNECTIONS = 1_000  # recording clients keep a few connections each; more is a flood
_READ_SIZE = 65_536
_CLOSE_WAIT = 1.0  # seconds close() waits for connections to finish before cancelling them


@dataclass(frozen=True, slots=True)
class Peer:
    """Where a request came from, and so where its responses go."""

    transport: str  # "udp" | "tcp"
    host: str
    port: int


class _UdpProtocol(asyncio.DatagramProtocol):
    def __init__(self, layer: TransactionLayer) -> None:
        self.layer = layer
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # The selector loop's UDP transport does not subclass DatagramTransport in 3.11.
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        if is_keepalive(data):
            return
        host, port = str(addr[0]), int(addr[1])
        self.layer.receive(data, Peer("udp", host, port), self._sender(addr))

    def _sender(self, addr: tuple[str | Any, int]) -> Sender:
        def send(data: bytes) -> None:
            if self.transport is not None and not self.transport.is_closing():
                self.transport.sendto(data, addr)

        return send

    def error_received(self, exc: Exception) -> None:
        # ICMP port unreachable from a client that went away: nothing to do but note it.
        log.debug("UDP error: %s", exc)


class SipEndpoint:
    """Listens for SIP on UDP and TCP at host:port and hands each new transaction to handler."""

    def __init__(
        self,
        handler: SipHandler,
        *,
        host: str,
        port: int,
        t1: float = T1,
        t2: float = T2,
        t4: float = T4,
        max_transactions: int = MAX_TRANSACTIONS,
        max_connections: int = MAX_CONNECTIONS,
    ) -> None:
        self.host = host
        self.port = port
        self.max_connections = max_connections
        self.layer = TransactionLayer(
            handler, t1=t1, t2=t2, t4=t4, max_transactions=max_transactions
        )
        self._udp: asyncio.DatagramTransport | None = None
        self._server: asyncio.Server | None = None
        self._connections: dict[asyncio.Task[Any], asyncio.StreamWriter] = {}

    async def start(self) -> None:
        """Bind UDP and TCP; with port 0 each gets its own ephemeral port."""
        loop = asyncio.get_running_loop()
        self._server = await asyncio.start_server(self._serve_connection, self.host, self.port)
        try:
            transport, _ = await loop.create_datagram_endpoint(
                lambda: _UdpProtocol(self.layer), local_addr=(self.host, self.port)
            )
        except OSError:
            self._server.close()
            raise
        self._udp = transport
        log.info("SIP listening on %s: UDP %d, TCP %d", self.host, self.udp_port, self.tcp_port)

    @property
    def udp_port(self) -> int:
        if self._udp is None:
            raise RuntimeError("SipEndpoint.start() has not been called")
        return int(self._udp.get_extra_info("sockname")[1])

    @property
    def tcp_port(self) -> int:
        if self._server is None or not self._server.sockets:
            raise RuntimeError("SipEndpoint.start() has not been called")
        return int(self._server.sockets[0].getsockname()[1])

    async def close(self) -> None:
        """Stop listening, close every TCP connection and cancel every timer."""
        if self._server is not None:
            self._server.close()
        if self._udp is not None:
            self._udp.close()
        # Closing a connection ends its reader with EOF, so its task returns by itself;
        # cancelling it instead makes Python 3.11's streams log a spurious error.
        tasks = list(self._connections)
        for writer in self._connections.values():
            writer.close()
        if tasks:
            _, stuck = await asyncio.wait(tasks, timeout=_CLOSE_WAIT)
            for task in stuck:
                task.cancel()
            await asyncio.gather(*stuck, return_exceptions=True)
        await self.layer.close()
        if self._server is not None:
            await self._server.wait_closed()

    async def _serve_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        task = asyncio.current_task()
        assert task is not None
        peername = writer.get_extra_info("peername")
        peer = Peer("tcp", str(peername[0]), int(peername[1]))
        if len(self._connections) >= self.max_connections:
            log.warning("TCP connection from %s:%d refused: too many", peer.host, peer.port)
            writer.close()
            return
        self._connections[task] = writer
        try:
            await self._read_messages(reader, writer, peer)
        except (ConnectionError, asyncio.IncompleteReadError) as error:
            log.debug("TCP connection from %s:%d lost: %s", peer.host, peer.port, error)
        finally:
            del self._connections[task]
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _read_messages(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, peer: Peer
    ) -> None:
        def send(data: bytes) -> None:
            if not writer.is_closing():
                writer.write(data)

        framer = StreamFramer()
        while data := await reader.read(_READ_SIZE):
            for message in framer.feed(data):
                self.layer.receive(message, peer, send)
            send(b"\r\n" * framer.take_pings())  # the pong: the SBC sees the link is alive
            if framer.error is not None:
                self._refuse_stream(framer.error, peer, send)
                await writer.drain()
                return
            # Backpressure: a client that never reads its responses must not grow our buffer.
            await writer.drain()

    @staticmethod
    def _refuse_stream(error: SipError, peer: Peer, send: Sender) -> None:
        log.info(
            "TCP stream from %s:%d cannot be framed (%d %s): closing it",
            peer.host,
            peer.port,
            error.status,
            error.reason,
        )
        response = error_response(error)
        if response is not None:
            send(response.to_bytes())
