"""RTP sockets (siprec.media): a datagram's arrival is when the kernel received it, not when
a busy event loop got round to reading it, and a call's end takes what is still waiting."""

from __future__ import annotations

import asyncio
import socket
import time

from callvault.capture.siprec.media import PortRange, SessionMedia


def test_arrival_is_the_kernels_receive_time_and_drain_takes_what_waits() -> None:
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

    asyncio.run(scenario())
