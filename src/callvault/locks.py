"""A cross-process lock between ingest and repair on one machine.

Ingest holds it shared from writing a blob until the catalogue row commits; ``check --repair``
holds it exclusively, so it never mistakes an in-flight blob for an orphan. The kernel drops
the lock when a process dies, so a killed ingest cannot wedge repair.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def file_lock(path: Path, *, exclusive: bool) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        yield
    finally:
        os.close(fd)  # closing releases the lock
