"""Encoding finished calls in worker processes, away from the recorder's RTP loop.

Opus costs about three times the CPU of taking a call's packets in, and PyAV holds the
GIL between codec calls: in the recorder's own process an encode would both stall and be
stalled by the loop that must read every socket fifty times a second. Worker processes
(``spawn``: nothing of the recorder's threads or sockets is inherited) take closed spools
and hand back Ogg Opus bytes; the recorder stores and commits them. The spool's key crosses
to the worker over the pool's pipe, never through a file.

The workers run at a lower priority: on a busy core the RTP loop must win, since a packet
not read in time is audio lost for good, while an encode that waits only commits later.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from callvault.capture.spool import SpooledAudio, encode_spooled
from callvault.media.model import EncodedAudio

log = logging.getLogger(__name__)


# The workers' niceness above the recorder's (0-19): background work, yields to the RTP loop.
ENCODER_NICENESS = 10


def _start_worker(recorder: int) -> None:
    os.nice(ENCODER_NICENESS)
    threading.Thread(target=_exit_with, args=(recorder,), daemon=True).start()


def _exit_with(recorder: int) -> None:
    """Leave once orphaned. A worker normally ends when its queue closes with the recorder,
    but workers whose recorder had died were seen still running minutes later (a death
    during start-up, it seems); this makes sure none sits in memory for good."""
    while os.getppid() == recorder:
        time.sleep(1.0)
    os._exit(0)


def default_workers() -> int:
    """All cores but one: that one is the RTP loop's."""
    return max(1, (os.cpu_count() or 2) - 1)


def _ready() -> int:
    return os.getpid()


class SpoolEncoders:
    """A pool of encoder processes; ``encode`` blocks its (worker) thread.

    ``warm`` starts the workers ahead of the first call's end: starting one imports the
    codec and crypto libraries for a second or two of CPU, at full priority until its
    initializer runs, which mid-traffic would stall the RTP loop past the jitter window.
    """

    def __init__(self, workers: int | None = None) -> None:
        self._workers = workers or default_workers()
        self._pool: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()

    def encode(self, spooled: SpooledAudio) -> tuple[bytes, EncodedAudio]:
        try:
            return self._started().submit(encode_spooled, spooled).result()
        except BrokenProcessPool:
            # A worker died (killed, out of memory): the call is still in its spool, so
            # encode it here rather than lose it, and start a fresh pool for the next.
            log.exception("an encoder process died; encoding %s in the recorder", spooled.path)
            self.close(wait=False)
            return encode_spooled(spooled)

    def warm(self) -> None:
        """Start every worker now (the recorder is starting, no call is in progress)."""
        pool = self._started()
        for started in [pool.submit(_ready) for _ in range(self._workers)]:
            started.result()

    def close(self, *, wait: bool = True) -> None:
        """Stop the workers, waiting for the encodes under way unless ``wait`` is false (a
        broken pool: the next encode starts a fresh one)."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=wait)

    def _started(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ProcessPoolExecutor(
                    self._workers,
                    mp_context=multiprocessing.get_context("spawn"),
                    initializer=_start_worker,
                    initargs=(os.getpid(),),
                )
            return self._pool
