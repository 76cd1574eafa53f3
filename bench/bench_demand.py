"""Demand analysis at council scale: indexing the facts, and the report, each beside the
plainest query that reads the same rows.

Run: .venv/bin/python bench/bench_demand.py [--calls 200000] [--rounds 3]

A fresh SQLite home gets a year of catalogue rows inserted straight into its tables
(``bench_search.fill``: 8 lines, 100,000 callers, durations around five minutes; no audio
and no transcripts, so every call is indexed as not transcribed). Then, side by side:

1. the indexer (``DemandIndexer.run``: UK local time, bank holidays, opening hours, the caller
   hash, batched writes) over every call, against one plain ``SELECT`` of the same catalogue
   columns (the least any indexer must read);
2. the report (``demand_report``: every line's figures, hours, weekdays, days, weeks,
   durations with median and p90, repeat callers) over 28 days and over a year, against
   one ``GROUP BY line, local_date, local_hour`` over the same facts (the least any report
   must aggregate).

The ratios are the figures to watch; the seconds depend on the machine.
"""

from __future__ import annotations

import argparse
import functools
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from sqlalchemy import Column, MetaData, Table, func, insert, select  # noqa: E402

from bench_search import START, fill  # noqa: E402
from callvault.analytics.demand import DemandWindow, demand_report  # noqa: E402
from callvault.analytics.demand_index import BATCH, DemandIndexer  # noqa: E402
from callvault.analytics.store import demand_calls  # noqa: E402
from callvault.bootstrap import Services  # noqa: E402
from callvault.catalog.store import recordings  # noqa: E402
from callvault.context import RequestContext, system_context  # noqa: E402
from callvault.db import plain  # noqa: E402
from callvault.jobs.registry import WORKER_ACTOR  # noqa: E402
from callvault.maintenance.service import init_home  # noqa: E402


def _best(rounds: int, work: Callable[[], object]) -> float:
    times = []
    for _ in range(rounds):
        began = time.perf_counter()
        work()
        times.append(time.perf_counter() - began)
    return min(times)


def _plain_read(services: Services) -> None:
    r = recordings.c
    with services.engine.connect() as conn:
        for _row in conn.execute(
            select(r.id, r.line, r.direction, r.caller, r.started_at, r.duration_s)
        ):
            pass


def _plain_write(services: Services) -> float:
    """The write floor: the indexer's rows inserted again, as plain rows in batches of the
    indexer's size, into a scratch copy of the table (seconds)."""
    with services.engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE demand_copy AS SELECT * FROM demand_calls WHERE 0")
        rows = [plain(r) for r in conn.execute(select(demand_calls))]
    copy = Table("demand_copy", MetaData(), *(Column(c.name, c.type) for c in demand_calls.c))
    began = time.perf_counter()
    for first in range(0, len(rows), BATCH):
        with services.engine.begin() as conn:
            conn.execute(insert(copy), rows[first : first + BATCH])
    return time.perf_counter() - began


def _plain_group(services: Services, window: DemandWindow) -> None:
    d = demand_calls.c
    with services.engine.connect() as conn:
        conn.execute(
            select(d.line, d.local_date, d.local_hour, func.count(), func.sum(d.duration_s))
            .where(d.started_at >= window.start.isoformat(), d.started_at < window.end.isoformat())
            .group_by(d.line, d.local_date, d.local_hour)
        ).all()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        services = init_home(system_context("bench"), Path(tmp) / "home")
        began = time.perf_counter()
        fill(services.engine, args.calls)
        print(f"{args.calls:,} calls inserted in {time.perf_counter() - began:.1f} s")

        read_s = _best(args.rounds, lambda: _plain_read(services))
        indexer = DemandIndexer.for_services(services)
        # As a worker runs it: the job's system actor.
        ctx = RequestContext(actor=WORKER_ACTOR, origin="job")
        began = time.perf_counter()
        counts = indexer.run(ctx)
        index_s = time.perf_counter() - began
        assert counts.as_dict()["indexed"] == args.calls, counts
        write_s = _plain_write(services)
        print(f"index: {index_s:.2f} s ({args.calls / index_s:,.0f} calls/s); plain read of the "
              f"same columns {read_s:.2f} s ({index_s / read_s:.0f}x); plain write of the same "
              f"facts {write_s:.2f} s ({index_s / write_s:.1f}x)")  # fmt: skip

        policy = services.policy.policy
        for label, start, end in (
            ("28 days", "2026-03-02", "2026-03-30"),
            ("a year", START.date().isoformat(), "2026-12-01"),
        ):
            window = DemandWindow.parse(start, end, now=datetime(2026, 12, 1, tzinfo=UTC))
            report = functools.partial(demand_report, services.engine, policy, window)
            report_s = _best(args.rounds, report)
            group_s = _best(args.rounds, functools.partial(_plain_group, services, window))
            calls = report()["calls"]
            print(f"report over {label} ({calls:,} calls): {report_s * 1000:.0f} ms; plain "
                  f"GROUP BY {group_s * 1000:.0f} ms; ratio {report_s / group_s:.1f}x")  # fmt: skip


if __name__ == "__main__":
    main()
