"""Metadata search p95 over many synthetic calls, SQLite and PostgreSQL, side by side.

Run: .venv/bin/python bench/bench_search.py [--calls 1000000] [--queries 400]
     [--pg postgresql+psycopg://postgres@127.0.0.1/test]

Rows are inserted straight into the catalogue tables of a fresh home (the search reads only
metadata, so no audio is needed); then a mix of the searches managers run (a line over a
week, a caller's calls, an advisor's month, a day of everything, long calls on a line), 50
results a page, is timed one query at a time. Target: p95 under 50 ms on both.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from sqlalchemy import Engine, create_engine, insert  # noqa: E402

from callvault.catalog.search import RecordingQuery, search  # noqa: E402
from callvault.catalog.store import call_decisions, recordings  # noqa: E402
from callvault.context import system_context  # noqa: E402
from callvault.maintenance.service import init_home  # noqa: E402

LINES = [
    "parking",
    "housing_repairs",
    "rent_income",
    "switchboard",
    "adult_social_care",
    "careline",
    "registrars",
    "leaseholders",
]
START = datetime(2025, 12, 1, tzinfo=UTC)
DAYS = 365
BATCH = 20_000


def _row(rng: random.Random, n: int) -> tuple[dict[str, object], dict[str, object]]:
    rec_id, dec_id = uuid.UUID(int=rng.getrandbits(128)).hex, f"d{n:031d}"
    started = START + timedelta(seconds=rng.randrange(DAYS * 86400))
    duration = rng.expovariate(1 / 300)
    decision = {
        "id": dec_id,
        "call_id": f"c{n}",
        "direction": "inbound",
        "dialled": "+442073715678",
        "record": True,
        "line": rng.choice(LINES),
        "rule": "line:x",
        "policy_version": "bench",
        "decided_at": started.isoformat(),
        "origin": "bench",
    }
    recording = {
        "id": rec_id,
        "call_id": f"c{n}",
        "decision_id": dec_id,
        "line": decision["line"],
        "sensitivity": "standard",
        "direction": "inbound",
        "dialled": "+442073715678",
        "caller": f"+4477009{rng.randrange(100_000):05d}",
        "agent": f"agent-{rng.randrange(2000)}",
        "started_at": started.isoformat(),
        "ended_at": (started + timedelta(seconds=duration)).isoformat(),
        "duration_s": round(duration, 1),
        "announcement_played": True,
        "notice_version": "v1",
        "channel_map": '{"caller":0,"agent":1}',
        "flags": "[]",
        "source_sha256": "0" * 64,
        "source_bytes": 1,
        "source_format": "bench",
        "blob_name": f"r/{rec_id}.opus",
        "codec": "opus",
        "sample_rate": 8000,
        "channels": 2,
        "retain_until": (started + timedelta(days=365)).isoformat(),
        "created_at": started.isoformat(),
    }
    return decision, recording


def fill(engine: Engine, calls: int) -> None:
    rng = random.Random(7)
    for first in range(0, calls, BATCH):
        rows = [_row(rng, n) for n in range(first, min(first + BATCH, calls))]
        with engine.begin() as conn:
            conn.execute(insert(call_decisions), [d for d, _ in rows])
            conn.execute(insert(recordings), [r for _, r in rows])
    with engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE")


def queries(rng: random.Random) -> list[RecordingQuery]:
    def day() -> datetime:
        return START + timedelta(days=rng.randrange(DAYS - 31))

    makers: list[Callable[[], RecordingQuery]] = [
        lambda: RecordingQuery(
            line=rng.choice(LINES), started_from=(d := day()), started_to=d + timedelta(days=7)
        ),
        lambda: RecordingQuery(caller=f"+4477009{rng.randrange(100_000):05d}"),
        lambda: RecordingQuery(
            agent=f"agent-{rng.randrange(2000)}",
            started_from=(d := day()),
            started_to=d + timedelta(days=31),
        ),
        lambda: RecordingQuery(started_from=(d := day()), started_to=d + timedelta(days=1)),
        lambda: RecordingQuery(line=rng.choice(LINES), min_duration_s=1200),
    ]
    return [rng.choice(makers)() for _ in range(400)]


def p95_ms(engine: Engine, mix: list[RecordingQuery]) -> tuple[float, float]:
    times = []
    with engine.connect() as conn:
        for query in mix:
            start = time.perf_counter()
            search(conn, query)
            times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return times[int(len(times) * 0.95) - 1], statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=1_000_000)
    parser.add_argument("--pg", default="postgresql+psycopg://postgres@127.0.0.1/test")
    args = parser.parse_args()
    mix = queries(random.Random(11))
    with tempfile.TemporaryDirectory() as tmp:
        sqlite_home = init_home(system_context("bench"), Path(tmp) / "sqlite")
        schema = f"bench_{uuid.uuid4().hex[:8]}"
        admin = create_engine(args.pg, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
        try:
            os.environ["CALLVAULT_DB_URL"] = f"{args.pg}?options=-csearch_path%3D{schema}"
            pg_home = init_home(system_context("bench"), Path(tmp) / "pg")
            del os.environ["CALLVAULT_DB_URL"]
            for name, services in (("SQLite", sqlite_home), ("PostgreSQL", pg_home)):
                start = time.perf_counter()
                fill(services.engine, args.calls)
                filled = time.perf_counter() - start
                p95, median = p95_ms(services.engine, mix)
                print(
                    f"{name:<10} {args.calls:,} calls (filled in {filled:.0f} s): "
                    f"search p95 {p95:.1f} ms, median {median:.1f} ms  (target p95 < 50 ms)"
                )
                services.engine.dispose()
        finally:
            with admin.connect() as conn:
                conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")


if __name__ == "__main__":
    main()
