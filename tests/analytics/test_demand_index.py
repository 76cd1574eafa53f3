"""Indexing demand facts: purges, erasure, late transcripts, key rotation, the job."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from access.access_helpers import add_people, as_person
from analytics.demand_helpers import (
    CALLER_A,
    CALLER_B,
    OPERATOR,
    PARKING,
    STORED,
    Call,
    fact_rows,
    index,
    ingest_call,
    transcribe,
)
from callvault.analytics.caller_key import CALLER_KEY_ID, CallerHasher
from callvault.analytics.demand import DemandWindow, demand_report_as
from callvault.analytics.demand_index import DemandIndexer
from callvault.analytics.store import analytics_keys
from callvault.bootstrap import Services
from callvault.catalog.service import Catalog
from callvault.context import RequestContext
from callvault.db import transaction
from callvault.errors import Refused
from callvault.jobs.analytics_tasks import DEMAND_INDEX
from callvault.jobs.dbqueue import DatabaseQueue
from callvault.jobs.registry import PERIODIC
from callvault.maintenance.service import rotate_keys
from callvault.speech.renditions import TRANSCRIPT_REDACTED, blob_name
from homes import worker_context
from jobs.jobs_helpers import burst

UK = ZoneInfo("Europe/London")
RETENTION = ("retention",)


def uk(moment: datetime) -> str:
    return moment.astimezone(UK).strftime("%Y-%m-%d %H:%M:%S")


def demand(services: Services, start: datetime, end: datetime) -> dict[str, Any]:
    return demand_report_as(
        services.engine, services.audit, services.permissions, services.policy.policy,
        OPERATOR, DemandWindow.parse(start.isoformat(), end.isoformat()),
    )  # fmt: skip


def stored_key(services: Services) -> tuple[str, int]:
    with services.engine.connect() as conn:
        kek_id = conn.execute(select(analytics_keys.c.kek_id)).scalar_one()
        rows = conn.execute(select(func.count()).select_from(analytics_keys)).scalar_one()
    return str(kek_id), int(rows)


def test_a_purge_clears_the_caller_key_and_the_call_still_counts(
    services: Services, ctx: RequestContext, tmp_path: Path
) -> None:
    now = datetime.now(UTC)
    old, recent = now - timedelta(days=365 + 20), now - timedelta(days=10)
    first = ingest_call(services, ctx, tmp_path, Call("e1", uk(old), PARKING, CALLER_A, 2,
                                                      ("my bin",)))  # fmt: skip
    ingest_call(services, ctx, tmp_path, Call("e2", uk(recent), PARKING, CALLER_A, 3, None))
    index(services)
    window = (old - timedelta(days=1), now)
    before = demand(services, *window)
    assert (before["calls"], before["repeat_callers"], before["calls_from_repeat_callers"]) == (
        2, 1, 2,
    )  # fmt: skip
    assert services.retention.run(ctx).counts.purged == 1  # e1 is past its 12 months
    row = fact_rows(services)[first]
    assert row["caller_key"] is None
    assert (row["topics"], row["transcribed"]) == ("missed_collection", True)  # kept: no one's
    after = demand(services, *window)
    assert (after["calls"], after["repeat_callers"], after["calls_from_repeat_callers"]) == (
        2, 0, 0,
    )  # fmt: skip
    assert after["topics"][0]["calls"] == 1  # missed_collection, still counted
    assert index(services).changed is False  # nothing to do, nothing audited


def test_a_call_purged_before_it_was_indexed_is_a_tombstone_row(
    services: Services, ctx: RequestContext, tmp_path: Path
) -> None:
    old = datetime.now(UTC) - timedelta(days=400)
    gone = ingest_call(services, ctx, tmp_path, Call("t1", uk(old), PARKING, CALLER_A, 2,
                                                     ("my bin",)))  # fmt: skip
    services.retention.run(ctx)
    assert index(services).as_dict() == {"indexed": 1, "purged": 1, "transcribed": 0}
    row = fact_rows(services)[gone]
    assert (row["caller_key"], row["topics"], row["transcribed"]) == (None, None, False)
    assert (row["line"], row["duration_s"]) == ("parking", pytest.approx(2.0, abs=0.05))


def test_erasure_clears_the_caller_key(
    services: Services, ctx: RequestContext, tmp_path: Path
) -> None:
    """An erasure request shreds through the same scrub as a purge."""
    add_people(services, ctx)
    recent = datetime.now(UTC) - timedelta(days=3)
    erased = ingest_call(services, ctx, tmp_path, Call("r1", uk(recent), PARKING, CALLER_A, 2,
                                                       None))  # fmt: skip
    index(services)
    assert fact_rows(services)[erased]["caller_key"] is not None
    services.retention.erase(as_person(services, "dana"), [erased], run_id="sar-1",
                             rule="erasure:test")  # fmt: skip
    assert fact_rows(services)[erased]["caller_key"] is None


def test_a_call_transcribed_later_gets_its_topics(
    services: Services, ctx: RequestContext, tmp_path: Path
) -> None:
    start = datetime.now(UTC) - timedelta(days=2)
    late = ingest_call(services, ctx, tmp_path, Call("l1", uk(start), PARKING, CALLER_A, 2, None))
    silent = ingest_call(services, ctx, tmp_path, Call("l2", uk(start + timedelta(hours=1)),
                                                       PARKING, CALLER_B, 2, None))  # fmt: skip
    assert index(services).as_dict() == {"indexed": 2, "purged": 0, "transcribed": 0}
    transcribe(services, late, ("my heating is broken",))
    # Nobody spoke: the speech job keeps a redacted transcript and indexes no segment.
    with transaction(services.engine) as conn:
        Catalog(services.engine).add_rendition(
            conn, silent, TRANSCRIPT_REDACTED, blob_name(silent, TRANSCRIPT_REDACTED)
        )
    assert index(services).as_dict() == {"indexed": 0, "purged": 0, "transcribed": 2}
    rows = fact_rows(services)
    assert (rows[late]["transcribed"], rows[late]["topics"]) == (True, "repairs")
    assert (rows[silent]["transcribed"], rows[silent]["topics"]) == (True, "")
    last = services.audit.show(limit=10_000)[-1]
    assert (last["action"], last["actor"]) == ("demand.indexed", "system:worker")
    assert last["details"]["transcribed"] == 2


def test_batches_index_everything_with_one_audit_entry(
    services: Services, ctx: RequestContext, tmp_path: Path
) -> None:
    start = datetime.now(UTC) - timedelta(days=1)
    for n in range(5):
        ingest_call(services, ctx, tmp_path, Call(f"b{n}", uk(start + timedelta(minutes=n)),
                                                  PARKING, CALLER_A, 2, ("bins",)))  # fmt: skip
    seen = len(services.audit.show(limit=10_000))
    indexer = DemandIndexer(services.engine, services.audit, services.keys,
                            services.policy.policy, batch=2)  # fmt: skip
    assert indexer.run(worker_context()).indexed == 5
    added = services.audit.show(after=seen, limit=10_000)
    assert [entry["action"] for entry in added] == ["demand.indexed"]
    assert added[0]["details"] == {"indexed": 5, "purged": 0, "transcribed": 0,
                                   "policy_version": services.policy.version}  # fmt: skip
    assert len({row["caller_key"] for row in fact_rows(services).values()}) == 1


def test_only_the_system_indexes(services: Services) -> None:
    with pytest.raises(Refused):
        DemandIndexer.for_services(services).run(OPERATOR)


def test_keys_rotate_rewraps_the_caller_key_and_hashes_stay_equal(
    services: Services, ctx: RequestContext, tmp_path: Path
) -> None:
    start = datetime.now(UTC) - timedelta(days=1)
    first = ingest_call(services, ctx, tmp_path, Call("k1", uk(start), PARKING, CALLER_A, 2, None))
    index(services)
    before = fact_rows(services)[first]["caller_key"]
    old_kek, _ = stored_key(services)
    assert rotate_keys(services, ctx) == 2  # the recording's data key and the caller key
    new_kek, rows = stored_key(services)
    assert (new_kek, rows) == (services.keys.active_key_id(), 1)
    assert old_kek not in services.keys.key_ids()  # retired: only the new wrap opens now
    hasher = CallerHasher.load(services.engine, services.keys)
    assert hasher.caller_key(STORED[0]) == before
    again = ingest_call(services, ctx, tmp_path, Call("k2", uk(start + timedelta(hours=1)),
                                                      PARKING, CALLER_A, 2, None))  # fmt: skip
    index(services)
    assert fact_rows(services)[again]["caller_key"] == before
    rotated = [e for e in services.audit.show(limit=10_000) if e["action"] == "keys.rotated"]
    assert [(e["details"]["rewrapped"], e["details"]["caller_key"]) for e in rotated] == [(2, 1)]


def test_two_workers_creating_the_key_at_once_share_one(services: Services) -> None:
    found: list[bytes] = []
    ready = threading.Barrier(2)

    def load() -> None:
        ready.wait()
        found.append(CallerHasher.load(services.engine, services.keys).key)

    threads = [threading.Thread(target=load) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(found) == 2 and found[0] == found[1] and len(found[0]) == 32
    assert stored_key(services)[1] == 1
    with services.engine.connect() as conn:
        assert conn.execute(select(analytics_keys.c.id)).scalar_one() == CALLER_KEY_ID


def test_the_job_indexes_as_the_worker_every_15_minutes(
    services: Services, ctx: RequestContext, tmp_path: Path
) -> None:
    assert PERIODIC[DEMAND_INDEX].cron == "*/15 * * * *"
    start = datetime.now(UTC) - timedelta(days=1)
    made = ingest_call(services, ctx, tmp_path, Call("j1", uk(start), PARKING, CALLER_A, 2,
                                                     ("a parking permit",)))  # fmt: skip
    queue = services.jobs
    assert isinstance(queue, DatabaseQueue)
    assert queue.enqueue_periodic(DEMAND_INDEX, key="demand-1", queue="retention")
    assert burst(services, queues=RETENTION).as_dict() == {"done": 1, "failed": 0}
    assert fact_rows(services)[made]["topics"] == "parking_permit"
    indexed = [e for e in services.audit.show(limit=10_000) if e["action"] == "demand.indexed"]
    assert [(e["actor"], e["details"]["indexed"]) for e in indexed] == [("system:worker", 1)]
    # The next period finds nothing new: the job is done, and the trail has no new entry.
    assert queue.enqueue_periodic(DEMAND_INDEX, key="demand-2", queue="retention")
    assert burst(services, queues=RETENTION).as_dict() == {"done": 1, "failed": 0}
    again = [e for e in services.audit.show(limit=10_000) if e["action"] == "demand.indexed"]
    assert len(again) == 1


def test_two_indexers_at_once_index_each_call_once(
    services: Services, ctx: RequestContext, tmp_path: Path
) -> None:
    start = datetime.now(UTC) - timedelta(days=1)
    for n in range(4):
        ingest_call(services, ctx, tmp_path, Call(f"x{n}", uk(start + timedelta(minutes=n)),
                                                  PARKING, CALLER_B, 2, ("bins",)))  # fmt: skip
    ready = threading.Barrier(2)
    problems: list[BaseException] = []

    def run() -> None:
        ready.wait()
        try:
            DemandIndexer(services.engine, services.audit, services.keys,
                          services.policy.policy, batch=1).run(worker_context())  # fmt: skip
        except BaseException as error:  # reported by the assert below
            problems.append(error)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert problems == []
    rows = fact_rows(services)
    assert len(rows) == 4 and {row["topics"] for row in rows.values()} == {"missed_collection"}
