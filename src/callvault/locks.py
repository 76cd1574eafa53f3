"""Cross-process locks between ingest, live recording and repair on one machine.

Ingest holds it shared from writing a blob until the catalogue row commits; ``check --repair``
holds it exclusively, so it never mistakes an in-flight blob for an orphan. The kernel drops
the lock when a process dies, so a killed ingest cannot wedge repair.

A live call (SIPREC) writes its blob for as long as the call lasts, so it holds a second lock,
``live.lock``, shared, from its first byte to its commit; repair deletes unfinished writes only
when it can take that one exclusively at once, and otherwise leaves them for a quieter moment
rather than wait for the phones to stop.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

LIVE_LOCK = "live.lock"


def live_lock_beside(ingest_lock: Path) -> Path:
    """The live-recording lock, in the same folder as the ingest lock."""
    return ingest_lock.with_name(LIVE_LOCK)


@contextmanager
def file_lock_if_free(path: Path) -> Iterator[bool]:
    """Take ``path`` exclusively if nobody holds it; yields whether it was taken."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
        else:
            yield True
    finally:
        os.close(fd)


@contextmanager
def file_lock(path: Path, *, exclusive: bool) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        yield
    finally:
        os.close(fd)  # closing releases the lock
