"""200 concurrent searches on a SQLite home of 100,000 recordings: latency, and where it goes.

Run: .venv/bin/python bench/bench_search_load.py [--recordings 100000] [--searches 200]
     [--rounds 3]

A fresh home (SQLite, the default) gets catalogue rows inserted straight into its tables in
one transaction (search reads metadata only, so no audio): 18 lines from the shipped policy
(5 special category), a year of calls, 5,000 callers, 300 advisors. Thirty people in five
listening roles sign in for real (password + TOTP code, session cookie). Then each round
sends 200 searches at once (a caller's calls, a line over a week or a month, an advisor's
month; team leaders among the askers, so their special-category filter and caller masking
apply) to:

1. the REAL HTTP server (uvicorn in a subprocess on 127.0.0.1, httpx.AsyncClient, 200 at
   once, then the same searches at most 8 at a time): end-to-end latency as a browser's
   script would see it;
2. ``search_as`` in 200 threads in-process: the same service call without HTTP, and, under
   the same load, the SQL search alone (a read transaction on a pooled connection) and the
   audit append alone (``services.audit_batch.append``, the group commit): the split.

What is measured is callvault as shipped, nothing patched: SQLite connections come from a
pool (``db.py``); ``search_as`` reads in its own read transaction, outside the write lock,
then hands its audit entry to the group commit (``audit.group_commit``: one write
transaction and one fsync, ``synchronous=FULL``, for every entry waiting at that moment) and
returns only once that entry is committed, so no result leaves unaudited. The audit chain is
verified after the run.

Each line prints p50/p95/p99 latency, throughput and the CPU the serving process spent per
search; on a shared machine the CPU figure is the steadier one.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import httpx  # noqa: E402
from sqlalchemy import insert  # noqa: E402

from callvault.access import totp  # noqa: E402
from callvault.access.searching import SearchTerms, search_as, visibility  # noqa: E402
from callvault.access.signin import SignInService  # noqa: E402
from callvault.bootstrap import Services, build  # noqa: E402
from callvault.catalog.search import RecordingQuery, search  # noqa: E402
from callvault.catalog.store import call_decisions, recordings  # noqa: E402
from callvault.context import RequestContext, system_context  # noqa: E402
from callvault.db import transaction  # noqa: E402
from callvault.maintenance.service import init_home  # noqa: E402

START = datetime(2025, 12, 1, tzinfo=UTC)
DAYS = 365
PASSWORD = "correct horse battery"
STAFF = {"authorised_manager": 8, "complaints_officer": 8, "team_leader": 8,
         "safety_officer": 4, "dpo": 2}  # fmt: skip
TARGET_P95_MS = 100.0
# Requests in flight in the paced pass: a busy office, not a burst.
PACED = 8


# -- the home ---------------------------------------------------------------------------------
def fill(services: Services, count: int) -> None:
    """``count`` recordings straight into the catalogue tables, one transaction."""
    rng = random.Random(7)
    lines = [(line.id, line.sensitivity) for line in services.policy.policy.lines]
    decisions, rows = [], []
    for n in range(count):
        line, sensitivity = rng.choice(lines)
        started = START + timedelta(seconds=rng.randrange(DAYS * 86400))
        duration = rng.expovariate(1 / 300)
        rec_id, dec_id, call_id = uuid.UUID(int=rng.getrandbits(128)).hex, f"d{n:031d}", f"c{n}"
        decisions.append({"id": dec_id, "call_id": call_id, "direction": "inbound",
                          "dialled": "+442073715678", "record": True, "line": line,
                          "rule": "line", "policy_version": "bench",
                          "decided_at": started.isoformat(), "origin": "bench"})  # fmt: skip
        rows.append({
            "id": rec_id, "call_id": call_id, "decision_id": dec_id, "line": line,
            "sensitivity": sensitivity, "direction": "inbound", "dialled": "+442073715678",
            "caller": caller(rng.randrange(5000)), "agent": f"agent-{rng.randrange(300)}",
            "started_at": started.isoformat(),
            "ended_at": (started + timedelta(seconds=duration)).isoformat(),
            "duration_s": round(duration, 1), "announcement_played": True,
            "notice_version": "v1", "channel_map": '{"caller":0,"agent":1}', "flags": "[]",
            "source_sha256": "0" * 64, "source_bytes": 1, "source_format": "bench",
            "blob_name": f"r/{rec_id}.opus", "codec": "opus", "sample_rate": 8000,
            "channels": 2, "retain_until": (started + timedelta(days=365)).isoformat(),
            "created_at": started.isoformat(),
        })  # fmt: skip
    with transaction(services.engine) as conn:
        conn.execute(insert(call_decisions), decisions)
        conn.execute(insert(recordings), rows)
    with services.engine.connect() as conn:
        conn.exec_driver_sql("ANALYZE")


def caller(n: int) -> str:
    return f"+447700{900000 + n}"


# name -> (role, TOTP secret)
Staff = dict[str, tuple[str, bytes]]
# name -> session cookie, shared by both servers (the sessions live in the home's database)
cookies: dict[str, str] = {}


def add_staff(services: Services) -> Staff:
    """name -> (role, TOTP secret) for people in every listening role."""
    ctx = system_context("bench")
    signin = SignInService.for_services(services)
    staff = {}
    for role, count in STAFF.items():
        for n in range(count):
            name = f"{role.replace('_', '')[:10]}{n}"
            services.access.add_person(ctx, name, role, PASSWORD)
            secret = base64.b32decode(signin.enrol_totp(ctx, name).secret)
            staff[name] = (role, secret)
    return staff


# (person, query parameters as the API takes them)
Mix = list[tuple[str, dict[str, str]]]


def search_mix(rng: random.Random, names: list[str], count: int) -> Mix:
    """(person, query parameters as the API takes them) for ``count`` searches."""

    def day() -> datetime:
        return START + timedelta(days=rng.randrange(DAYS - 31))

    def span(days: int) -> dict[str, str]:
        first = day()
        return {"from": first.date().isoformat(),
                "to": (first + timedelta(days=days)).date().isoformat()}  # fmt: skip

    makers: list[Callable[[], dict[str, str]]] = [
        lambda: {"caller": caller(rng.randrange(5000))},
        lambda: {"line": rng.choice(LINE_IDS), **span(7)},
        lambda: {"line": rng.choice(LINE_IDS), **span(31)},
        lambda: {"agent": f"agent-{rng.randrange(300)}", **span(31)},
    ]
    return [(rng.choice(names), rng.choice(makers)()) for _ in range(count)]


LINE_IDS: list[str] = []


def terms(params: dict[str, str]) -> RecordingQuery:
    return SearchTerms(line=params.get("line"), caller=params.get("caller"),
                       agent=params.get("agent"), started_from=params.get("from"),
                       started_to=params.get("to")).query()  # fmt: skip


# -- measuring --------------------------------------------------------------------------------
@dataclass
class Figures:
    what: str
    samples: list[float]  # ms
    wall_s: float
    cpu_s: float  # CPU seconds the serving process spent on them

    def line(self) -> str:
        ordered = sorted(self.samples)

        def pct(p: float) -> float:
            return ordered[min(len(ordered) - 1, int(len(ordered) * p))]

        verdict = "ok" if pct(0.95) < TARGET_P95_MS else "OVER"
        rate = len(ordered) / self.wall_s
        cpu_ms = self.cpu_s * 1000 / len(ordered)
        return (
            f"{self.what:<52} p50 {pct(0.50):7.1f}  p95 {pct(0.95):7.1f}  "
            f"p99 {pct(0.99):7.1f} ms  {rate:5.0f}/s  CPU {cpu_ms:5.1f} ms/search  {verdict}"
        )


def in_threads(what: str, calls: list[Callable[[], object]], rounds: int) -> Figures:
    """Each round: every call in its own thread, released together; latency per call."""
    samples: list[float] = []
    wall, cpu = 0.0, time.process_time()
    for _ in range(rounds):
        gate = threading.Barrier(len(calls))

        def timed(call: Callable[[], object], gate: threading.Barrier = gate) -> float:
            gate.wait()
            start = time.perf_counter()
            call()
            return (time.perf_counter() - start) * 1000

        started = time.perf_counter()
        with ThreadPoolExecutor(len(calls)) as pool:
            samples += list(pool.map(timed, calls))
        wall += time.perf_counter() - started
    return Figures(what, samples, wall, time.process_time() - cpu)


def thread_figures(services: Services, mix: Mix, rounds: int) -> list[Figures]:
    contexts = {name: RequestContext(actor=services.access.person(name), origin="bench")
                for name in {name for name, _ in mix}}  # fmt: skip
    jobs = [(contexts[name], terms(params)) for name, params in mix]
    engine, batch, permissions = services.engine, services.audit_batch, services.permissions

    def sql_only(ctx: RequestContext, query: RecordingQuery) -> None:
        with engine.connect() as conn, conn.begin():
            search(conn, query, visibility(ctx.actor.role))

    def append_only(ctx: RequestContext, _query: RecordingQuery) -> None:
        batch.append(ctx, "recordings.searched", object_type="search")

    variants: list[tuple[str, Callable[[RequestContext, RecordingQuery], object]]] = [
        ("threads: search_as (read, then group commit)",
         lambda c, q: search_as(engine, batch, permissions, c, q)),
        ("threads: the SQL search alone (read transaction)", sql_only),
        ("threads: the audit append alone (group commit)", append_only),
    ]  # fmt: skip
    found = []
    for what, func in variants:
        calls = [bind(func, ctx, query) for ctx, query in jobs]
        in_threads(what, calls[:20], 1)  # warm up
        found.append(in_threads(what, calls, rounds))
    return found


def bind(
    func: Callable[[RequestContext, RecordingQuery], object],
    ctx: RequestContext,
    query: RecordingQuery,
) -> Callable[[], object]:
    return lambda: func(ctx, query)


def service_times(services: Services, mix: Mix) -> tuple[float, float, float]:
    """Median ms, one at a time, of: one SQL search (read transaction, pooled connection),
    one audit append through the group commit (alone, so a commit of one), one ``search_as``
    (both)."""
    ctx = RequestContext(actor=services.access.person(mix[0][0]), origin="bench")
    engine, batch = services.engine, services.audit_batch
    sql, append, whole = [], [], []
    for _name, params in mix:
        query = terms(params)
        start = time.perf_counter()
        with engine.connect() as conn, conn.begin():
            search(conn, query)
        sql.append((time.perf_counter() - start) * 1000)
        start = time.perf_counter()
        batch.append(ctx, "recordings.searched", object_type="search")
        append.append((time.perf_counter() - start) * 1000)
        start = time.perf_counter()
        search_as(engine, batch, services.permissions, ctx, query)
        whole.append((time.perf_counter() - start) * 1000)
    return statistics.median(sql), statistics.median(append), statistics.median(whole)


# -- over HTTP --------------------------------------------------------------------------------
def serve(home: Path, port: int) -> None:
    """The server process: ``callvault serve --no-worker``'s app, as shipped."""
    import uvicorn

    from callvault.web import app as web_app

    # Keep-alive longer than a round, so no connection is closed under a request in flight.
    uvicorn.run(web_app.create_app(build(home)), host="127.0.0.1", port=port,
                log_level="warning", timeout_keep_alive=300)  # fmt: skip


async def http_rounds(
    base: str, staff: Staff, mix: Mix, rounds: int, server_pid: int
) -> list[tuple[list[float], float, float]]:
    """Sign everyone in (once: ``cookies``), warm up, then ``rounds`` of all ``mix`` at once
    and one pass of ``mix`` at most ``PACED`` at a time: for each, (latencies in ms, wall
    seconds, the server's CPU seconds)."""
    limits = httpx.Limits(max_connections=len(mix), max_keepalive_connections=len(mix))
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=120) as client:
        # Once per bench: a TOTP code is good for one sign-in, and sessions live in the home.
        for name, (_role, secret) in staff.items():
            if name in cookies:
                continue
            code = totp.code_for(secret, totp.time_step(time.time()))
            body = {"username": name, "password": PASSWORD, "totp": code}
            answer = await client.post("/api/v1/session", json=body)
            answer.raise_for_status()
            cookies[name] = answer.cookies["callvault_session"]
            client.cookies.clear()

        paced = asyncio.Semaphore(PACED)

        async def one(name: str, params: dict[str, str], gate: bool = False) -> float:
            if gate:
                async with paced:
                    return await one(name, params)
            start = time.perf_counter()
            cookie = {"Cookie": f"callvault_session={cookies[name]}"}
            answer = await client.get("/api/v1/recordings", params=params, headers=cookie)
            answer.raise_for_status()
            return (time.perf_counter() - start) * 1000

        await asyncio.gather(*(one(n, p) for n, p in mix[:20]))  # warm up
        found = []
        for repeat, gate in ((rounds, False), (1, True)):
            samples: list[float] = []
            wall, cpu = 0.0, cpu_seconds(server_pid)
            for _ in range(repeat):
                started = time.perf_counter()
                samples += await asyncio.gather(*(one(n, p, gate) for n, p in mix))
                wall += time.perf_counter() - started
            found.append((samples, wall, cpu_seconds(server_pid) - cpu))
    return found


def http_figures(home: Path, staff: Staff, mix: Mix, rounds: int) -> list[Figures]:
    port = 18000 + random.randrange(1000)
    env = {**os.environ, "CALLVAULT_HOME": str(home), "CALLVAULT_SESSION_COOKIE_SECURE": "false"}
    server = subprocess.Popen(
        [sys.executable, __file__, "--serve", str(port), "--home", str(home)], env=env
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise SystemExit("the server did not start")
            time.sleep(0.2)
        (burst, paced) = asyncio.run(http_rounds(base, staff, mix, rounds, server.pid))
    finally:
        server.terminate()
        server.wait(timeout=30)
    return [
        Figures("HTTP (uvicorn, sessions): search_as as shipped", *burst),
        Figures(f"  the same, {PACED} at a time (not all at once)", *paced),
    ]


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--recordings", type=int, default=100_000)
    parser.add_argument("--searches", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--home", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.home, args.serve)
        return
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        os.environ.pop("CALLVAULT_DB_URL", None)
        services = init_home(system_context("bench"), home)
        LINE_IDS.extend(line.id for line in services.policy.policy.lines)
        started = time.perf_counter()
        fill(services, args.recordings)
        print(f"{args.recordings:,} recordings inserted in {time.perf_counter() - started:.1f} s")
        staff = add_staff(services)
        mix = search_mix(random.Random(11), sorted(staff), args.searches)
        sql_ms, append_ms, whole_ms = service_times(services, mix[:50])
        print(
            f"one at a time (median): SQL search {sql_ms:.2f} ms, audit append + commit "
            f"{append_ms:.2f} ms, search_as {whole_ms:.2f} ms"
        )
        print(f"{args.searches} concurrent searches x {args.rounds} rounds; target p95 < "
              f"{TARGET_P95_MS:.0f} ms")  # fmt: skip
        runs: list[Callable[[], list[Figures]]] = [
            lambda: http_figures(home, staff, mix, args.rounds),
            lambda: thread_figures(services, mix, args.rounds),
        ]
        for run in runs:
            for figures in run():
                print(figures.line(), flush=True)
        verified = services.audit.verify()
        print(f"audit trail after the run: {'intact' if verified.ok else 'BROKEN'}, "
              f"{verified.entries:,} entries")  # fmt: skip


if __name__ == "__main__":
    main()
