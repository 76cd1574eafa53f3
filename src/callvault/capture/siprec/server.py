"""The SIPREC recorder: a SIP endpoint on UDP and TCP, its sessions, their RTP ports.

``callvault siprec HOST:PORT`` runs it alone; ``callvault serve --siprec HOST:PORT`` beside the
web server, in a thread of its own with its own event loop. Stopping it finishes every
session in progress with the audio received so far.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import resource
import signal
import threading
from collections.abc import Coroutine
from typing import Any

from callvault.bootstrap import Services
from callvault.capture.siprec.media import PortRange
from callvault.capture.siprec.session import DTMF_QUIET_S, SiprecHandler
from callvault.capture.siprec.transactions import T1
from callvault.capture.siprec.transport import SipEndpoint
from callvault.context import RequestContext
from callvault.errors import BadInput

DEFAULT_RTP_PORTS = (30000, 39998)


def parse_listen(value: str) -> tuple[str, int]:
    """``HOST:PORT`` (IPv4) for ``--siprec``; BadInput naming the option otherwise."""
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise BadInput(f"--siprec {value!r}: give HOST:PORT, e.g. 0.0.0.0:5060", "siprec")
    return host, int(port)


def parse_port_range(value: str) -> tuple[int, int]:
    first, _, last = value.partition("-")
    if not (first.isdigit() and last.isdigit()) or int(first) >= int(last):
        raise BadInput(f"--rtp-ports {value!r}: give FIRST-LAST, e.g. 30000-39998", "rtp_ports")
    return int(first), int(last)


def raise_open_files_limit() -> int:
    """Lift the soft limit on open files to the hard one and return it. Each call holds two
    RTP sockets and its spool; the usual soft limit of 1,024 would refuse calls near 340."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 65536)
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


class SiprecServer:
    """The endpoint and its handler, started and stopped together."""

    def __init__(
        self,
        services: Services,
        *,
        host: str,
        port: int,
        media_host: str | None = None,
        rtp_ports: tuple[int, int] = DEFAULT_RTP_PORTS,
        dtmf_quiet_s: float = DTMF_QUIET_S,
        t1: float = T1,
    ) -> None:
        media = media_host or (
            host if not ipaddress.ip_address(host).is_unspecified else "127.0.0.1"
        )
        self.ports = PortRange(media, *rtp_ports)
        self._host, self._port = host, port
        self.handler = SiprecHandler(
            services,
            self.ports,
            contact_uri=f"sip:callvault@{media}:{port}",
            dtmf_quiet_s=dtmf_quiet_s,
        )
        self.endpoint = SipEndpoint(self.handler, host=host, port=port, t1=t1)
        self._warming: asyncio.Future[None] | None = None

    async def start(self) -> None:
        raise_open_files_limit()
        try:
            await self.endpoint.start()
        except OSError as error:
            why = error.strerror or str(error)
            raise BadInput(
                f"--siprec {self._host}:{self._port}: cannot listen there ({why}); "
                "choose a free port, or stop the program that holds it",
                "siprec",
            ) from error
        self.handler.bound(udp_port=self.endpoint.udp_port, tcp_port=self.endpoint.tcp_port)
        # In the background: calls may arrive at once, and the first encode waits for it.
        self._warming = asyncio.get_running_loop().run_in_executor(None, self.handler.warm_encoders)

    async def close(self) -> None:
        await self.endpoint.close()
        if self._warming is not None:
            with contextlib.suppress(Exception):
                await self._warming
        await self.handler.close()

    async def run_until_stopped(self) -> None:
        """Serve until SIGINT or SIGTERM, then finish the sessions in progress."""
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, stop.set)
        try:
            await self.start()  # a port that cannot be bound still stops the encoders
            await stop.wait()
        finally:
            await self.close()


class RecorderThread:
    """The recorder beside the web server (``serve --siprec``): its own thread and loop."""

    def __init__(
        self, services: Services, *, host: str, port: int, dtmf_quiet_s: float = DTMF_QUIET_S
    ) -> None:
        self._server = SiprecServer(services, host=host, port=port, dtmf_quiet_s=dtmf_quiet_s)
        self._loop = asyncio.new_event_loop()
        self._stop = asyncio.Event()
        self._started = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="callvault-siprec", daemon=True)

    def start(self) -> None:
        """Start and wait until the ports are bound (or raise why they could not be)."""
        self._thread.start()
        self._started.wait(timeout=30)
        if self._error is not None:
            raise self._error

    @property
    def udp_port(self) -> int:
        return self._server.endpoint.udp_port

    def pause(self, ctx: RequestContext, call_ref: str) -> dict[str, object]:
        """Pause a live call's recording (from another thread: the web server's)."""
        return self._call(self._server.handler.pause(ctx, call_ref))

    def resume(self, ctx: RequestContext, call_ref: str) -> dict[str, object]:
        return self._call(self._server.handler.resume(ctx, call_ref))

    def _call(self, work: Coroutine[Any, Any, dict[str, object]]) -> dict[str, object]:
        return asyncio.run_coroutine_threadsafe(work, self._loop).result(timeout=10)

    def stop(self) -> None:
        """Stop taking calls and finish those in progress."""
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop.set)
            self._thread.join(timeout=60)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._serve())
        finally:
            self._loop.close()

    async def _serve(self) -> None:
        try:
            await self._server.start()
        except BaseException as error:
            self._error = error
            self._started.set()
            return
        self._started.set()
        try:
            await self._stop.wait()
        finally:
            await self._server.close()
