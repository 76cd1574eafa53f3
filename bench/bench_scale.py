"""Ingest throughput: two ingest processes on PostgreSQL + SeaweedFS (S3 with Object Lock,
procrastinate queue) against the embedded default (SQLite + files), same machine, same run.

Run: .venv/bin/python bench/bench_scale.py [--calls 40] [--seconds 30]

Each stack gets a fresh home; two processes each ingest half the calls (30-second two-channel
8 kHz calls by default) through the service layer, as two PBX uploaders or two API workers
would. Prints calls per second for each stack and their ratio. Both stacks write the same
governance (decision, recording, wrapped key, audit entry, verify job) per call.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "tests")]

import orjson  # noqa: E402
from sqlalchemy import create_engine  # noqa: E402

from audiofixtures import make_call_audio  # noqa: E402
from callvault.bootstrap import build  # noqa: E402
from callvault.capture.ingest import AudioInput  # noqa: E402
from callvault.context import system_context  # noqa: E402
from callvault.maintenance.service import init_home  # noqa: E402
from homes import meta_for  # noqa: E402
from seaweed import LOCKED_BUCKET, start_seaweed  # noqa: E402

PROCESSES = 2


def child(audio: Path, first: int, count: int) -> None:
    """One ingest process: ``count`` calls with ids from ``first``."""
    services = build()
    ctx = system_context("bench")
    for n in range(first, first + count):
        meta = orjson.dumps(meta_for(call_id=f"scale-{n}"))
        services.ingest.ingest(ctx, AudioInput(path=audio), meta)


def run_stack(env: dict[str, str], audio: Path, calls: int) -> float:
    """Calls per second for PROCESSES ingest processes sharing ``calls``."""
    per = calls // PROCESSES
    start = time.perf_counter()
    procs = [
        subprocess.Popen(
            [sys.executable, __file__, "--child", str(audio), str(i * per), str(per)], env=env
        )
        for i in range(PROCESSES)
    ]
    for proc in procs:
        if proc.wait(timeout=1800) != 0:
            raise SystemExit("an ingest process failed")
    return per * PROCESSES / (time.perf_counter() - start)


def make_home(home: Path, settings: dict[str, str]) -> dict[str, str]:
    os.environ.update(settings)
    init_home(system_context("bench"), home).engine.dispose()
    for key in settings:
        if key.startswith("CALLVAULT_"):
            del os.environ[key]
    return {**os.environ, "CALLVAULT_HOME": str(home)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=40)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--pg", default="postgresql+psycopg://postgres@127.0.0.1/test")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        audio = make_call_audio(work / "call.wav", seconds=args.seconds)
        embedded = make_home(work / "embedded", {})
        server = start_seaweed(work / "seaweed")
        schema = f"bench_{uuid.uuid4().hex[:8]}"
        admin = create_engine(args.pg, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
        try:
            db_url = f"{args.pg}?options=-csearch_path%3D{schema}"
            scaled = make_home(
                work / "scaled",
                {
                    "CALLVAULT_DB_URL": db_url,
                    "CALLVAULT_QUEUE_URL": db_url,
                    "CALLVAULT_BLOB_URL": server.url(LOCKED_BUCKET, "bench"),
                    "AWS_ACCESS_KEY_ID": server.access_key,
                    "AWS_SECRET_ACCESS_KEY": server.secret_key,
                },
            )
            one = run_stack(embedded, audio, args.calls)
            many = run_stack(scaled, audio, args.calls)
        finally:
            server.stop()
            with admin.connect() as conn:
                conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        print(f"{args.calls} calls of {args.seconds:g} s, {PROCESSES} ingest processes")
        print(f"  embedded (SQLite + files)                     : {one:.2f} calls/s")
        print(f"  scale (PostgreSQL + SeaweedFS + procrastinate): {many:.2f} calls/s")
        print(f"  ratio scale / embedded                        : {many / one:.2f}")


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--child":
        child(Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))
    else:
        main()
