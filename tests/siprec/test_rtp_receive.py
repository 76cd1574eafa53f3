"""RTP sockets (siprec.media): a datagram's arrival is when the kernel received it, not when
a busy event loop got round to reading it, and a call's end takes what is still waiting."""

from __future__ import annotations

import asyncio
import socket
import time

from callvault.capture.siprec.media import PortRange, SessionMedia


def _kernel_stamping_on() -> socket.socket:
    """A socket that asks for receive stamps, held for the test. Linux turns stamping on
    for the whole stack lazily, by deferred work after the first socket asks; a datagram that
    arrives before then is stamped when it is read. A recorder has RTP sockets open while it
    takes calls, so only the first packets after it was idle can be; this test, in a process
    of its own, would otherwise race that work with its first datagram."""
    keeper = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    keeper.setsockopt(socket.SOL_SOCKET, getattr(socket, "SO_TIMESTAMPNS", 35), 1)
    time.sleep(0.1)
    return keeper


def test_arrival_is_the_kernels_receive_time_and_drain_takes_what_waits() -> None:
    keeper = _kernel_stamping_on()

    async def scenario() -> list[tuple[int, float, bytes]]:
        media = SessionMedia(PortRange("127.0.0.1", 43000, 43998))
        media.reserve(["caller"])
        fed: list[tuple[int, float, bytes]] = []
        await media.listen({"caller": 0}, lambda ch, at, data: fed.append((ch, at, data)))
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
            sent_at = time.monotonic()
            sender.sendto(b"first", ("127.0.0.1", media.port_of("caller")))
            time.sleep(0.3)  # the loop is busy elsewhere: nothing reads the socket
            sender.sendto(b"second", ("127.0.0.1", media.port_of("caller")))
            time.sleep(0.05)
            media.drain()  # as at a BYE: both are taken, each with its own arrival
        media.close()
        assert [data for _, _, data in fed] == [b"first", b"second"]
        assert abs(fed[0][1] - sent_at) < 0.05, "the arrival is the read time, not the kernel's"
        assert 0.25 < fed[1][1] - fed[0][1] < 0.35
        return fed

    with keeper:
        asyncio.run(scenario())
