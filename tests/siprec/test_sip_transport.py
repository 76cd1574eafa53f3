"""SIP transport and server transactions over real sockets on 127.0.0.1 (siprec.transport)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any, cast

import pytest

from callvault.capture.siprec.errors import SipError
from callvault.capture.siprec.framing import StreamFramer
from callvault.capture.siprec.sipmsg import SipRequest, SipResponse, make_response, parse_message
from callvault.capture.siprec.transactions import Responder
from callvault.capture.siprec.transport import Peer, SipEndpoint

WAIT = 2.0  # every wait is bounded: a hung test fails instead of hanging the suite
T1 = 0.05


def run(test: Callable[[], Coroutine[Any, Any, None]]) -> None:
    asyncio.run(asyncio.wait_for(test(), timeout=15))


class Recorder:
    """A tiny handler: records what it sees and answers as the test tells it."""

    def __init__(self) -> None:
        self.requests: list[tuple[SipRequest, Peer]] = []
        self.cancelled: list[SipRequest] = []
        self.ack_timeouts: list[SipRequest] = []
        self.responders: dict[str, Responder] = {}
        self.answer_invites = True
        self.fail_methods: set[str] = set()
        self.seen = asyncio.Event()

    async def on_request(self, request: SipRequest, respond: Responder, peer: Peer) -> None:
        self.requests.append((request, peer))
        self.seen.set()
        if request.method in self.fail_methods:
            raise RuntimeError("handler bug")
        if request.method == "ACK":
            return
        if request.method == "INVITE":
            self.responders[request.call_id] = respond
            if not self.answer_invites:
                return
        respond.send(make_response(request, 200, to_tag="srs1"))

    async def on_cancel(self, invite: SipRequest) -> None:
        self.cancelled.append(invite)
        self.responders[invite.call_id].send(make_response(invite, 487, to_tag="srs1"))

    async def on_ack_timeout(self, invite: SipRequest) -> None:
        self.ack_timeouts.append(invite)

    def methods(self) -> list[str]:
        return [request.method for request, _ in self.requests]


def sip(
    method: str,
    *,
    branch: str = "z9hG4bK-1",
    call_id: str = "call-1",
    cseq: int = 1,
    cseq_method: str | None = None,
    transport: str = "UDP",
    to_tag: str = "",
    body: bytes = b"",
) -> bytes:
    to = "<sip:srs@192.0.2.10>" + (f";tag={to_tag}" if to_tag else "")
    lines = [
        f"{method} sip:srs@192.0.2.10 SIP/2.0",
        f"Via: SIP/2.0/{transport} 192.0.2.1:5060;branch={branch};rport",
        "From: <sip:src@192.0.2.1>;tag=src1",
        f"To: {to}",
        f"Call-ID: {call_id}",
        f"CSeq: {cseq} {cseq_method or method}",
        "Max-Forwards: 70",
        f"Content-Length: {len(body)}",
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


class UdpClient(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.inbox: asyncio.Queue[SipResponse] = asyncio.Queue()
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        try:
            message = parse_message(data)
        except SipError as error:  # a 400 to a request without Call-ID has none either
            message = error.partial  # type: ignore[assignment]
        assert isinstance(message, SipResponse)
        self.inbox.put_nowait(message)

    def send(self, data: bytes) -> None:
        assert self.transport is not None
        self.transport.sendto(data)

    async def next(self, wait: float = WAIT) -> SipResponse:
        return await asyncio.wait_for(self.inbox.get(), wait)

    async def nothing_for(self, wait: float) -> None:
        with pytest.raises(TimeoutError):
            got = await asyncio.wait_for(self.inbox.get(), wait)
            pytest.fail(f"unexpected {got.status}")


class TcpClient:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.framer = StreamFramer()
        self.pending: list[bytes] = []

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def next(self) -> SipResponse:
        while not self.pending:
            data = await asyncio.wait_for(self.reader.read(65536), WAIT)
            assert data, "connection closed"
            self.pending += self.framer.feed(data)
        message = parse_message(self.pending.pop(0), datagram=False)
        assert isinstance(message, SipResponse)
        return message


@contextlib.asynccontextmanager
async def endpoint(recorder: Recorder) -> AsyncIterator[SipEndpoint]:
    server = SipEndpoint(recorder, host="127.0.0.1", port=0, t1=T1, t2=0.2, t4=0.2)
    await server.start()
    try:
        yield server
    finally:
        await server.close()


@contextlib.asynccontextmanager
async def udp_client(server: SipEndpoint) -> AsyncIterator[UdpClient]:
    loop = asyncio.get_running_loop()
    transport, client = await loop.create_datagram_endpoint(
        UdpClient, remote_addr=("127.0.0.1", server.udp_port)
    )
    try:
        yield client
    finally:
        transport.close()


@contextlib.asynccontextmanager
async def tcp_client(server: SipEndpoint) -> AsyncIterator[TcpClient]:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.tcp_port)
    try:
        yield TcpClient(reader, writer)
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


def test_options_over_udp_is_answered_from_the_source_address() -> None:
    async def scenario() -> None:
        recorder = Recorder()
        async with endpoint(recorder) as server, udp_client(server) as client:
            client.send(sip("OPTIONS"))
            response = await client.next()
            assert response.status == 200
            assert response.cseq.method == "OPTIONS"
            via = response.top_via
            assert via.params["received"] == "127.0.0.1"
            assert via.params["rport"] not in {None, ""}
            ((_, peer),) = recorder.requests
            assert peer.transport == "udp" and peer.host == "127.0.0.1"

    run(scenario)


def test_options_over_tcp_is_answered_on_the_connection() -> None:
    async def scenario() -> None:
        recorder = Recorder()
        async with endpoint(recorder) as server, tcp_client(server) as client:
            await client.send(sip("OPTIONS", transport="TCP"))
            response = await client.next()
            assert response.status == 200
            assert recorder.requests[0][1].transport == "tcp"

    run(scenario)


def test_invite_gets_100_then_the_handlers_200_and_retransmissions_are_absorbed() -> None:
    async def scenario() -> None:
        recorder = Recorder()
        recorder.answer_invites = False
        async with endpoint(recorder) as server, udp_client(server) as client:
            client.send(sip("INVITE"))
            assert (await client.next()).status == 100
            client.send(sip("INVITE"))  # retransmitted before the answer: 100 again
            assert (await client.next()).status == 100
            await asyncio.sleep(0.05)
            invite = recorder.requests[0][0]
            recorder.responders["call-1"].send(make_response(invite, 180, to_tag="srs1"))
            assert (await client.next()).status == 180
            client.send(sip("INVITE"))
            assert (await client.next()).status == 180
            recorder.responders["call-1"].send(make_response(invite, 200, to_tag="srs1"))
            assert (await client.next()).status == 200
            client.send(sip("INVITE"))  # after the 2xx: the 2xx again
            assert (await client.next()).status == 200
            assert recorder.methods() == ["INVITE"]

    run(scenario)


def test_2xx_is_retransmitted_over_udp_until_the_ack() -> None:
    async def scenario() -> None:
        recorder = Recorder()
        async with endpoint(recorder) as server, udp_client(server) as client:
            client.send(sip("INVITE"))
            assert (await client.next()).status == 100
            assert (await client.next()).status == 200
            assert (await client.next()).status == 200  # T1 later
            assert (await client.next()).status == 200  # 2*T1 later
            ack = sip("ACK", branch="z9hG4bK-ack", to_tag="srs1")
            client.send(ack)
            client.send(ack)  # a retransmitted ACK reaches the handler once
            await asyncio.wait_for(recorder.seen.wait(), WAIT)
            await asyncio.sleep(0.02)
            while not client.inbox.empty():  # one may have crossed the ACK in flight
                client.inbox.get_nowait()
            await client.nothing_for(0.5)
            assert recorder.methods() == ["INVITE", "ACK"]
            assert recorder.ack_timeouts == []

    run(scenario)


def test_2xx_without_ack_gives_up_after_64_t1() -> None:
    async def scenario() -> None:
        recorder = Recorder()
        async with endpoint(recorder) as server, udp_client(server) as client:
            client.send(sip("INVITE"))
            await asyncio.sleep(64 * T1 + 0.3)
            assert [r.call_id for r in recorder.ack_timeouts] == ["call-1"]
            count = client.inbox.qsize()
            # 100, the 200, then resent after 0.05, 0.1 and every 0.2 s (T2) up to 64*T1
            assert 6 <= count <= 21  # fewer only if the loop is starved
            assert server.layer.live_transactions == 0

    run(scenario)


def test_2xx_over_tcp_is_not_retransmitted() -> None:
    async def scenario() -> None:
        recorder = Recorder()
        async with endpoint(recorder) as server, tcp_client(server) as client:
            await client.send(sip("INVITE", transport="TCP"))
            assert (await client.next()).status == 100
            assert (await client.next()).status == 200
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(client.reader.read(65536), 6 * T1)

    run(scenario)


def test_non_2xx_is_retransmitted_until_its_ack_which_the_handler_never_sees() -> None:
    async def scenario() -> None:
        recorder = Recorder()
        recorder.answer_invites = False
        async with endpoint(recorder) as server, udp_client(server) as client:
            client.send(sip("INVITE"))
            assert (await client.next()).status == 100
            await asyncio.wait_for(recorder.seen.wait(), WAIT)
            invite = recorder.requests[0][0]
            recorder.responders["call-1"].send(make_response(invite, 486, to_tag="srs1"))
            assert (await client.next()).status == 486
            assert (await client.next()).status == 486
            client.send(sip("ACK", to_tag="srs1"))  # same branch: the INVITE's transaction
            await asyncio.sleep(0.02)
            while not client.inbox.empty():
                client.inbox.get_nowait()
            await client.nothing_for(0.4)
            assert recorder.methods() == ["INVITE"]

    run(scenario)


def test_cancel_answers_200_and_the_handlers_487_reaches_the_client() -> None:
    async def scenario() -> None:
        recorder = Recorder()
        recorder.answer_invites = False
        async with endpoint(recorder) as server, udp_client(server) as client:
            client.send(sip("INVITE"))
            assert (await client.next()).status == 100
            await asyncio.wait_for(recorder.seen.wait(), WAIT)
            client.send(sip("CANCEL"))
            answers = {(await client.next()).cseq.method for _ in range(2)}
            assert answers == {"CANCEL", "INVITE"}
            assert [r.call_id for r in recorder.cancelled] == ["call-1"]
            client.send(sip("CANCEL"))  # retransmitted CANCEL: its 200 again
            response = await client.next()
            assert (response.status, response.cseq.method) == (200, "CANCEL")

    run(scenario)


def test_cancel_for_nothing_or_for_an_answered_invite_is_481() -> None:
    async def scenario() -> None:
        recorder = Recorder()
        async with endpoint(recorder) as server, udp_client(server) as client:
            client.send(sip("CANCEL", branch="z9hG4bK-none", call_id="nothing"))
            assert (await client.next()).status == 481
            client.send(sip("INVITE"))
            assert (await client.next()).status == 100
            assert (await client.next()).status == 200
            client.send(sip("CANCEL"))
            response = await client.next()
            while response.cseq.method == "INVITE":  # a 2xx retransmission
                response = await client.next()
            assert response.status == 481
            assert recorder.cancelled == []

    run(scenario)


def test_rfc_2543_retransmission_is_matched_without_a_magic_cookie() -> None:
    async def scenario() -> None:
        recorder = Recorder()
        async with endpoint(recorder) as server, udp_client(server) as client:
            client.send(sip("OPTIONS", branch="old-style"))
            assert (await client.next()).status == 200
            client.send(sip("OPTIONS", branch="old-style"))
            assert (await client.next()).status == 200
            assert recorder.methods() == ["OPTIONS"]

    run(scenario)


def test_garbage_is_answered_400_or_dropped_and_the_endpoint_keeps_working() -> None:
    async def scenario() -> None:
        recorder = Recorder()
        async with endpoint(recorder) as server, udp_client(server) as client:
            client.send(b"\x00\xffnot sip at all")
            client.send(b"\r\n\r\n")  # a keep-alive: ignored
            no_call_id = sip("OPTIONS").replace(b"Call-ID: call-1\r\n", b"")
            client.send(no_call_id)
            response = await client.next()
            assert (response.status, response.reason) == (400, "Missing Call-ID Header")
            client.send(sip("ACK").replace(b"Call-ID: call-1\r\n", b""))  # never answered
            client.send(sip("OPTIONS", branch="z9hG4bK-2"))
            assert (await client.next()).status == 200
            assert recorder.methods() == ["OPTIONS"]

    run(scenario)


def test_a_double_crlf_ping_over_tcp_gets_a_crlf_pong() -> None:
    async def scenario() -> None:
        recorder = Recorder()
        async with endpoint(recorder) as server, tcp_client(server) as client:
            await client.send(b"\r\n\r\n")  # RFC 5626 §4.4.1
            assert await asyncio.wait_for(client.reader.readexactly(2), WAIT) == b"\r\n"
            await client.send(sip("OPTIONS", transport="TCP"))
            assert (await client.next()).status == 200  # the connection carries on
            assert recorder.methods() == ["OPTIONS"]

    run(scenario)


def test_tcp_split_writes_and_two_messages_in_one_write() -> None:
    async def scenario() -> None:
        recorder = Recorder()
        async with endpoint(recorder) as server, tcp_client(server) as client:
            first = sip("OPTIONS", transport="TCP", body=b"x" * 300)
            for at in range(0, len(first), 37):
                await client.send(first[at : at + 37])
                await asyncio.sleep(0)
            assert (await client.next()).status == 200
            both = sip("OPTIONS", transport="TCP", branch="z9hG4bK-2", cseq=2) + sip(
                "BYE", transport="TCP", branch="z9hG4bK-3", cseq=3
            )
            await client.send(both)
            methods = {(await client.next()).cseq.method for _ in range(2)}
            assert methods == {"OPTIONS", "BYE"}
            assert recorder.methods() == ["OPTIONS", "OPTIONS", "BYE"]

    run(scenario)


def test_tcp_framing_error_is_answered_and_the_connection_closed() -> None:
    async def scenario() -> None:
        recorder = Recorder()
        async with endpoint(recorder) as server, tcp_client(server) as client:
            bad = sip("OPTIONS", transport="TCP").replace(
                b"Content-Length: 0", b"Content-Length: lots"
            )
            await client.send(bad)
            response = await client.next()
            assert (response.status, response.reason) == (400, "Bad Content-Length")
            assert await asyncio.wait_for(client.reader.read(65536), WAIT) == b""
            assert recorder.requests == []
            async with tcp_client(server) as again:  # the listener itself carries on
                await again.send(sip("OPTIONS", transport="TCP"))
                assert (await again.next()).status == 200

    run(scenario)


def test_a_handler_that_raises_gets_500_and_the_endpoint_keeps_serving() -> None:
    async def scenario() -> None:
        recorder = Recorder()
        recorder.fail_methods = {"INFO"}
        async with endpoint(recorder) as server, udp_client(server) as client:
            client.send(sip("INFO"))
            response = await client.next()
            assert (response.status, response.reason) == (500, "Server Internal Error")
            client.send(sip("OPTIONS", branch="z9hG4bK-2"))
            assert (await client.next()).status == 200

    run(scenario)


def test_close_leaves_no_task_running() -> None:
    async def scenario() -> None:
        recorder = Recorder()
        recorder.answer_invites = False
        before = asyncio.all_tasks()
        server = SipEndpoint(recorder, host="127.0.0.1", port=0, t1=T1)
        await server.start()
        assert server.udp_port > 0 and server.tcp_port > 0
        async with udp_client(server) as client, tcp_client(server) as stream:
            client.send(sip("INVITE"))
            client.send(sip("OPTIONS", branch="z9hG4bK-2"))
            await stream.send(sip("OPTIONS", transport="TCP", branch="z9hG4bK-3"))
            assert (await stream.next()).status == 200
            await client.next()
            await server.close()
            assert await asyncio.wait_for(stream.reader.read(65536), WAIT) == b""
        assert asyncio.all_tasks() == before

    run(scenario)


def test_the_transaction_table_is_bounded() -> None:
    async def scenario() -> None:
        recorder = Recorder()
        server = SipEndpoint(recorder, host="127.0.0.1", port=0, t1=T1, max_transactions=3)
        await server.start()
        try:
            async with udp_client(server) as client:
                for number in range(6):
                    client.send(sip("OPTIONS", branch=f"z9hG4bK-{number}"))
                    await client.next()
                assert server.layer.live_transactions == 3
        finally:
            await server.close()

    run(scenario)
