"""`callvault serve` in its own process, for end-to-end tests."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running_server(env: dict[str, str], extra: list[str] | None = None) -> Iterator[str]:
    """`callvault serve` in its own process on a free loopback port; yields its base URL."""
    port = _free_port()
    exe = Path(sys.executable).parent / "callvault"
    proc = subprocess.Popen(
        [str(exe), "serve", "--port", str(port), *(extra or [])],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):  # up to 20 s for the process to start
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        else:
            raise AssertionError("callvault serve did not answer /health")
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=20)
