"""RTP sockets for a recording session: ports for the SDP answer, datagrams into the timeline.

Ports are bound when the answer is built (the answer must name them), in even pairs from the
configured range: N for a session's first stream, N+2 for the next, as SIPp and many SRCs
expect. A label keeps its port for the whole dialog, so a re-INVITE (hold, resume) is answered
with the same ports and no audio is lost in between. RTP is taken from whatever address sends
it (NOTES: an SBC may send from another port than its SDP says); each socket belongs to one
stream of one call, so a packet's socket says which channel it is.

An SRTP stream's packets are decrypted here, with the key its latest answer agreed
(``srtp.SrtpStream``), before the timeline sees them; one that fails authentication or the
replay check is dropped and counted. The recorder's own SDES keys are kept per stream for the
dialog, so a re-INVITE is answered with the same key. Keys are held in memory only.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import socket
import struct
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable

from callvault.capture.siprec.sdp_answer import StreamAnswer
from callvault.capture.siprec.srtp import SrtpStream, new_master_key
from callvault.errors import ConfigError

log = logging.getLogger(__name__)

# Feeds one datagram to a call: (channel, arrival time on the monotonic clock, bytes).
Feed = Callable[[int, float, bytes], None]


class PortRange:
    """Even RTP ports from ``first`` to ``last``, handed out round-robin across sessions."""

    def __init__(self, host: str, first: int, last: int) -> None:
        if not (1024 <= first < last <= 65534):
            raise ConfigError(
                f"RTP ports {first}-{last}: use a range inside 1024-65534", "siprec_rtp_ports"
            )
        self.host = host
        self._first, self._last = first + first % 2, last
        self._cursor = itertools.cycle(range(self._first, self._last - 1, 2))

    def bind_block(self, count: int, *, near: int | None = None) -> list[socket.socket]:
        """``count`` bound UDP sockets on consecutive even ports (N, N+2, …)."""
        span = (self._last - self._first) // 2
        starts = ([near] if near else []) + [next(self._cursor) for _ in range(span)]
        for start in starts:
            bound = self._try_block(start, count)
            if bound is not None:
                return bound
        raise ConfigError(
            f"no {count} free RTP ports left in {self._first}-{self._last}; widen the range",
            "siprec_rtp_ports",
        )

    def _try_block(self, start: int, count: int) -> list[socket.socket] | None:
        sockets: list[socket.socket] = []
        for port in range(start, start + 2 * count, 2):
            if port > self._last:
                break
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                sock.bind((self.host, port))
            except OSError:
                sock.close()
                break
            sock.setblocking(False)
            sockets.append(sock)
        if len(sockets) == count:
            return sockets
        for sock in sockets:
            sock.close()
        return None


# Linux (asm-generic): stamp each datagram with the time the kernel received it. Python 3.11
# names neither this option nor its control message.
_SO_TIMESTAMPNS = 35
_TIMESPEC = struct.Struct("@qq")
_ANCILLARY = socket.CMSG_SPACE(_TIMESPEC.size)
_MAX_DATAGRAM = 65535
# Datagrams read per wake-up: takes what a burst left waiting, but lets one flooded socket
# hold the loop no longer than the others.
_READ_AT_ONCE = 64


def _stamp_arrivals(sock: socket.socket) -> None:
    if sys.platform == "linux":
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, _SO_TIMESTAMPNS, 1)


def _arrival(ancdata: list[tuple[int, int, bytes]], monotonic_less_real: float) -> float:
    """When the kernel received the datagram, on the monotonic clock; now, if unstamped."""
    for level, kind, value in ancdata:
        if level == socket.SOL_SOCKET and kind == _SO_TIMESTAMPNS and len(value) >= 16:
            seconds, nanoseconds = _TIMESPEC.unpack_from(value)
            return float(seconds + nanoseconds / 1e9 + monotonic_less_real)
    return time.monotonic()


class _Receiver:
    """Reads one stream's socket for the event loop.

    Each datagram's arrival is the kernel's receive time, not the moment the loop got round
    to it: on a busy recorder the loop can lag by tens of milliseconds, and the timeline
    places audio by arrival (a source's anchor, drift, the jitter window). It also lets the
    datagrams still waiting when a call ends (``drain``) go where they belong.
    """

    def __init__(self, sock: socket.socket, channel: int, feed: Feed, srtp: SrtpStream) -> None:
        self._sock, self._channel, self._feed, self._srtp = sock, channel, feed, srtp
        _stamp_arrivals(sock)

    def read(self) -> None:
        monotonic_less_real = time.monotonic() - time.time()
        for _ in range(_READ_AT_ONCE):
            try:
                data, ancdata, _flags, _addr = self._sock.recvmsg(_MAX_DATAGRAM, _ANCILLARY)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as error:  # e.g. an ICMP error queued on the socket
                log.debug("RTP socket: %s", error)
                return
            arrival = _arrival(ancdata, monotonic_less_real)
            packet = self._srtp.open(data, arrival)
            if packet is not None:
                self._feed(self._channel, arrival, packet)


class SessionMedia:
    """The RTP sockets of one recording session, by stream key (its label or ``#index``)."""

    def __init__(self, ports: PortRange) -> None:
        self._ports = ports
        self._sockets: dict[str, socket.socket] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._receivers: dict[str, _Receiver] = {}
        self._srtp: dict[str, SrtpStream] = {}
        self._local_keys: dict[tuple[str, str], bytes] = {}  # (stream, suite) -> key and salt

    def reserve(self, keys: list[str]) -> None:
        """Bind ports for the streams ``keys`` not bound yet (a block of even ports)."""
        new = [key for key in keys if key not in self._sockets]
        if not new:
            return
        near = max((s.getsockname()[1] for s in self._sockets.values()), default=None)
        for key, sock in zip(
            new, self._ports.bind_block(len(new), near=near and near + 2), strict=True
        ):
            self._sockets[key] = sock

    def port_of(self, key: str) -> int:
        """The port answered for stream ``key`` (bound by ``reserve``)."""
        return int(self._sockets[key].getsockname()[1])

    def local_key(self, key: str, suite: str) -> bytes:
        """The recorder's SDES key for stream ``key`` (the answer's ``SrtpKeySource``): one per
        stream and suite for the dialog, so answers to re-INVITEs do not change it."""
        if (key, suite) not in self._local_keys:
            self._local_keys[key, suite] = new_master_key(suite)
        return self._local_keys[key, suite]

    def use_keys(self, streams: Iterable[StreamAnswer]) -> None:
        """Decrypt each stream as the latest answer agreed: the offer's key (a new one on a
        rekey), plain RTP, or, for an SRTP stream declined, nothing at all."""
        now = time.monotonic()
        for stream in streams:
            srtp = self._srtp.setdefault(stream.key, SrtpStream())
            if stream.accepted:
                srtp.use(stream.remote_crypto, now)
            elif stream.offered.is_srtp:
                srtp.decline()

    def srtp_dropped(self) -> dict[str, Counter[str]]:
        """SRTP packets dropped so far, by stream key and reason (never the keys)."""
        return {key: srtp.dropped for key, srtp in self._srtp.items() if srtp.dropped}

    async def listen(self, channels: dict[str, int], feed: Feed) -> None:
        """Start receiving on the streams in ``channels`` (key -> channel); idempotent."""
        self._loop = asyncio.get_running_loop()
        for key, channel in channels.items():
            if key in self._receivers:
                continue
            sock = self._sockets[key]
            receiver = _Receiver(sock, channel, feed, self._srtp.setdefault(key, SrtpStream()))
            self._loop.add_reader(sock.fileno(), receiver.read)
            self._receivers[key] = receiver

    def drain(self) -> None:
        """Take the datagrams still waiting in the sockets (the call is ending: they arrived
        before its BYE was handled)."""
        for receiver in self._receivers.values():
            receiver.read()

    def close(self) -> None:
        """Close every socket of the session (also those reserved but never listened on), and
        forget its keys."""
        for key, dropped in self.srtp_dropped().items():
            log.info("SRTP stream %s: packets dropped %s", key, dict(dropped))
        for srtp in self._srtp.values():
            srtp.close()
        self._srtp.clear()
        self._local_keys.clear()
        for key, sock in self._sockets.items():
            if key in self._receivers and self._loop is not None:
                self._loop.remove_reader(sock.fileno())
            sock.close()
        self._receivers.clear()
        self._sockets.clear()
