"""Time to first byte of an authorised HTTP playback, against decrypting the first chunk alone.

Run: .venv/bin/python bench/bench_playback.py [--minutes 5] [--repeat 200]

On a real home (SQLite and files, as `callvault init` makes it) with a 5-minute call, a real
uvicorn server on 127.0.0.1 serves ``GET /api/v1/recordings/{id}/audio?grant=G`` to a person
signed in with a session cookie. Measured side by side, alternating, in one run:

  (a) decrypting the first chunk alone: ``Vault.read_range(blob, key, 0)`` to its first
      chunk, the data key already unwrapped (open, header, one AES-GCM chunk);
  (b) an HTTP playback, from sending ``Range: bytes=0-`` to the first body byte: session,
      grant checks, the audit entry committed (fsync), key unwrap, first chunk;
  (c) its parts, called directly: the checks (``Player.clear``), the audit append with its
      commit, the key unwrap, and an HTTP round trip that touches nothing (``/health``).

Prints medians in milliseconds and the ratio (b)/(a); the target is <= 2.

The engine is callvault's own (``db.make_engine``): SQLite connections come from a pool, so
a playback no longer opens connections (with their PRAGMAs) or makes SQLite checkpoint the
WAL on closing the last one.
"""

from __future__ import annotations

import argparse
import socket
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "tests")]

import uvicorn  # noqa: E402

from audiofixtures import make_call_audio  # noqa: E402
from callvault.access.sessions import ANONYMOUS  # noqa: E402
from callvault.access.signin import SignInService  # noqa: E402
from callvault.bootstrap import Services  # noqa: E402
from callvault.capture.ingest import AudioInput  # noqa: E402
from callvault.context import Actor, RequestContext, system_context  # noqa: E402
from callvault.db import transaction  # noqa: E402
from callvault.maintenance.service import init_home  # noqa: E402
from callvault.web.app import create_app  # noqa: E402
from homes import meta_for  # noqa: E402


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _serve(services: Services) -> tuple[uvicorn.Server, str]:
    port = _free_port()
    config = uvicorn.Config(
        create_app(services), host="127.0.0.1", port=port, log_level="warning", lifespan="off"
    )
    server = uvicorn.Server(config)
    threading.Thread(target=server.run, daemon=True).start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise SystemExit("uvicorn did not start within 10 s")
        time.sleep(0.01)
    return server, f"http://127.0.0.1:{port}"


def _home(work: Path, minutes: float) -> tuple[Services, str, str]:
    """A home with one person (cora), one recorded call and her approved complaint grant."""
    ctx = system_context("bench")
    services = init_home(ctx, work / "home")
    services.access.add_person(ctx, "cora", "complaints_officer", "correct horse battery")
    audio = make_call_audio(work / "call.wav", seconds=minutes * 60)
    meta = meta_for(call_id="bench-1")
    meta["ended_at"] = meta["started_at"]  # the duration comes from the audio
    result = services.ingest.ingest(ctx, AudioInput(path=audio), orjson.dumps(meta))
    assert result.recording_id is not None
    cora = RequestContext(actor=services.access.person("cora"), origin="api:bench")
    grant = services.grants.request(cora, result.recording_id, "complaint", "CMP-2026-0001")
    return services, result.recording_id, grant.id


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        services, rec_id, grant_id = _home(Path(tmp), args.minutes)
        server, base = _serve(services)
        try:
            _measure(services, base, rec_id, grant_id, args.repeat)
        finally:
            server.should_exit = True


def _measure(services: Services, base: str, rec_id: str, grant_id: str, repeat: int) -> None:
    signin = SignInService.for_services(services)
    session = signin.open_session(RequestContext(ANONYMOUS, "api:bench"), "cora", True)
    cookies = {signin.sessions.rules.cookie_name: session.session_id}
    rec = services.catalog.get(rec_id)
    key = services.player.data_key(rec_id)
    size = services.vault.plaintext_size(rec.blob_name)
    url = f"{base}/api/v1/recordings/{rec_id}/audio?grant={grant_id}"
    cora = RequestContext(actor=Actor("cora", "user", "complaints_officer"), origin="api:bench")

    def first_chunk() -> None:
        chunks = services.vault.read_range(rec.blob_name, key, 0)
        next(chunks)
        chunks.close()

    def first_byte(client: httpx.Client) -> None:
        with client.stream("GET", url, headers={"Range": "bytes=0-"}) as response:
            assert response.status_code == 206, response.status_code
            next(response.iter_raw())

    def audit_commit() -> None:
        with transaction(services.engine) as conn:
            services.audit.append(conn, cora, "bench.noop", object_type="recording")

    parts: dict[str, Callable[[httpx.Client], object]] = {
        "(a) first chunk decrypted": lambda _c: first_chunk(),
        "(b) HTTP time to first byte": first_byte,
        "    checks (Player.clear)": lambda _c: services.player.clear(cora, rec_id, grant_id),
        "    audit append + commit": lambda _c: audit_commit(),
        "    key unwrap": lambda _c: services.player.data_key(rec_id),
        "    HTTP round trip (/health)": lambda c: c.get(f"{base}/health"),
    }
    times: dict[str, list[float]] = {name: [] for name in parts}
    with httpx.Client(cookies=cookies, timeout=30) as client:
        for part in parts.values():  # warm every path once
            part(client)
        for _ in range(repeat):
            for name, part in parts.items():
                started = time.perf_counter()
                part(client)
                times[name].append(time.perf_counter() - started)
    medians = {name: statistics.median(values) * 1000 for name, values in times.items()}
    print(f"{size / 1024:.0f} KiB of Ogg Opus ({size // (64 * 1024) + 1} chunks), {repeat} runs")
    for name, median in medians.items():
        print(f"  {name:<32} median {median:8.3f} ms")
    ratio = medians["(b) HTTP time to first byte"] / medians["(a) first chunk decrypted"]
    print(f"ratio (b)/(a) = {ratio:.1f}  (target <= 2)")


if __name__ == "__main__":
    main()
