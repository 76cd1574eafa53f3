"""Real crashes for the crash harnesses: SIGKILL before or after a named function.

No finally blocks, no atexit: exactly what a power cut or an OOM kill does to the process.
The harnesses run as scripts, so their test passes this folder on PYTHONPATH.
"""

from __future__ import annotations

import os
import signal
from typing import Any


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def kill_before(owner: Any, name: str) -> None:
    """Die instead of calling ``owner.name``."""

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        die()

    setattr(owner, name, wrapper)


def kill_after(owner: Any, name: str) -> None:
    """Die as soon as ``owner.name`` returns."""
    original = getattr(owner, name)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        original(*args, **kwargs)
        die()

    setattr(owner, name, wrapper)
