"""The scheduled purge, on both legs: a simulated clock, holds, certificates, bad input."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from purge_helpers import (
    PERIOD,
    audit_actions,
    has_key,
    now_utc,
    purger,
    record_at,
    retain_until,
    row,
)
from sqlalchemy import func, insert, select

from callvault.access.searching import SearchTerms, search_as
from callvault.bootstrap import Services
from callvault.capture.ingest import AudioInput
from callvault.catalog.store import recordings
from callvault.context import RequestContext
from callvault.errors import BadInput, Conflict, NotFound
from callvault.jobs.dbqueue import DatabaseQueue
from callvault.jobs.registry import PERIODIC
from callvault.jobs.retention_tasks import PURGE
from callvault.maintenance.service import check_home
from callvault.retention.ledger import Erasure
from callvault.retention.purge import RetentionService
from callvault.retention.store import disposals, retention_runs
from homes import meta_for, run_cli
from jobs.jobs_helpers import burst


def test_gone_the_day_after_its_period_held_one_survives_until_released(
    services: Services, ctx: RequestContext, call_wav: Path
) -> None:
    now = now_utc()
    started = now - PERIOD - timedelta(days=3)
    due_one = record_at(services, ctx, call_wav, "old-1", started)
    held_one = record_at(services, ctx, call_wav, "old-2", started + timedelta(minutes=1))
    fresh = record_at(services, ctx, call_wav, "fresh-1", now - timedelta(hours=2))
    end = retain_until(services, due_one)
    services.access.add_person(ctx, "dana", "dpo", "correct horse battery")
    dpo = RequestContext(actor=services.access.person("dana"), origin="test")
    hold = services.holds.place(
        dpo, reason="complaint", case_ref="CMP-2026-0042", recording_ids=[held_one]
    )

    day_before = purger(services, end - timedelta(days=1)).run(ctx)
    assert (day_before.counts.purged, day_before.counts.held) == (0, 0)
    assert has_key(services, due_one)

    day_after = purger(services, end + timedelta(days=1)).run(ctx)
    assert (day_after.counts.purged, day_after.counts.held) == (1, 1)
    assert day_after.counts.kept == 1
    with pytest.raises(NotFound, match="deleted on"):
        services.catalog.get(due_one)
    assert not has_key(services, due_one)
    assert not services.vault.exists(row(services, due_one)["blob_name"])
    tombstone = row(services, due_one)
    assert (tombstone["caller"], tombstone["agent"], tombstone["source_sha256"]) == ("", "", "")
    assert tombstone["purged_at"] is not None
    assert has_key(services, held_one) and has_key(services, fresh)
    assert services.catalog.get(held_one).id == held_one

    services.holds.release(dpo, hold.id, "complaint closed, no further action")
    next_day = purger(services, end + timedelta(days=2)).run(ctx)
    assert (next_day.counts.purged, next_day.counts.held, next_day.counts.kept) == (1, 0, 1)
    assert not has_key(services, held_one)
    assert services.catalog.get(fresh).id == fresh

    assert audit_actions(services, due_one)[-1] == "recording.purged"
    assert "recording.purged" in audit_actions(services, held_one)
    certificate = services.audit.show(object_id=due_one, limit=100)[-1]["details"]
    assert certificate["rule"].startswith("line parking: 12 months")
    assert certificate["blobs_deleted"] == [tombstone["blob_name"]]
    assert certificate["key_destroyed_at"] and certificate["completed_at"]
    runs = [e for e in services.audit.show(limit=1000) if e["action"] == "retention.run"]
    assert [r["details"]["purged"] for r in runs] == [0, 1, 1]
    assert services.audit.verify().ok


def test_idempotent_and_a_purged_call_is_not_kept_again(
    services: Services, ctx: RequestContext, call_wav: Path
) -> None:
    started = now_utc() - PERIOD - timedelta(days=3)
    gone = record_at(services, ctx, call_wav, "old-1", started)
    first = services.retention.run(ctx)
    second = services.retention.run(ctx)
    assert (first.counts.purged, second.counts.purged) == (1, 0)
    assert audit_actions(services, gone).count("recording.purged") == 1

    again = services.ingest.ingest(
        ctx,
        AudioInput(path=call_wav),
        orjson.dumps(
            meta_for(
                call_id="old-1",
                started_at=started.isoformat(),
                ended_at=(started + timedelta(seconds=3)).isoformat(),
            )
        ),
    )
    assert again.status == "not_recorded" and "deleted" in again.reason
    assert services.catalog.count() == 0


def test_a_grant_cannot_be_asked_for_a_purged_recording(
    services: Services, ctx: RequestContext, call_wav: Path
) -> None:
    gone = record_at(services, ctx, call_wav, "old-1", now_utc() - PERIOD - timedelta(days=3))
    services.retention.run(ctx)
    services.access.add_person(ctx, "cora", "complaints_officer", "correct horse battery")
    cora = RequestContext(actor=services.access.person("cora"), origin="test")
    with pytest.raises(NotFound, match="deleted on"):
        services.grants.request(cora, [gone], "complaint", "CMP-2026-0001")


def test_dry_run_changes_nothing_and_names_what_it_would_purge(
    services: Services, ctx: RequestContext, call_wav: Path
) -> None:
    gone = record_at(services, ctx, call_wav, "old-1", now_utc() - PERIOD - timedelta(days=3))
    entries = len(services.audit.show(limit=10_000))
    report = services.retention.run(ctx, dry_run=True)
    assert report.as_dict()["would_purge"] == [gone]
    assert report.counts.purged == 1
    assert has_key(services, gone)
    assert len(services.audit.show(limit=10_000)) == entries
    with services.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(retention_runs)).scalar_one() == 0


def _state(services: Services) -> tuple[int, int, int]:
    with services.engine.connect() as conn:
        runs = conn.execute(select(func.count()).select_from(retention_runs)).scalar_one()
        done = conn.execute(select(func.count()).select_from(disposals)).scalar_one()
    return runs, done, len(services.audit.show(limit=100_000))


def test_now_before_the_last_run_is_refused_and_changes_nothing(
    services: Services, ctx: RequestContext, call_wav: Path
) -> None:
    now = now_utc()
    gone = record_at(services, ctx, call_wav, "old-1", now - PERIOD - timedelta(days=3))
    services.retention.run(ctx, now=now - timedelta(days=10))
    before = _state(services)
    with pytest.raises(BadInput, match="cannot go back in time") as refused:
        services.retention.run(ctx, now=now - timedelta(days=11))
    assert refused.value.field == "now"
    assert _state(services) == before and has_key(services, gone)


def test_now_ahead_of_the_clock_is_refused_unless_dry(
    services: Services, ctx: RequestContext, call_wav: Path
) -> None:
    now = now_utc()
    kept = record_at(services, ctx, call_wav, "new-1", now - timedelta(days=1))
    before = _state(services)
    with pytest.raises(BadInput, match="ahead of the clock"):
        services.retention.run(ctx, now=now + PERIOD + timedelta(days=5))
    assert _state(services) == before and has_key(services, kept)
    preview = services.retention.run(ctx, now=now + PERIOD + timedelta(days=5), dry_run=True)
    assert preview.as_dict()["would_purge"] == [kept]
    with pytest.raises(BadInput, match="time zone"):
        services.retention.run(ctx, now=now.replace(tzinfo=None))


def test_a_purge_while_another_runs_is_refused_a_dead_one_is_taken_over(
    services: Services, ctx: RequestContext, call_wav: Path
) -> None:
    now = now_utc()
    gone = record_at(services, ctx, call_wav, "old-1", now - PERIOD - timedelta(days=3))
    with services.engine.begin() as conn:
        conn.execute(
            insert(retention_runs).values(
                id="r" * 32, status="running", as_of=(now - timedelta(days=1)).isoformat(),
                dry_run=False, actor="system:worker", started_at=now.isoformat(),
                heartbeat_at=now.isoformat(), purged=0, held=0, kept=0,
            )
        )  # fmt: skip
    before = _state(services)
    with pytest.raises(Conflict, match="another purge is running"):
        services.retention.run(ctx)
    assert _state(services) == before and has_key(services, gone)
    # Its worker died: no heartbeat for longer than STALE_AFTER.
    later = purger(services, now + timedelta(minutes=20)).run(ctx)
    assert later.counts.purged == 1
    with services.engine.connect() as conn:
        statuses = dict(conn.execute(select(retention_runs.c.id, retention_runs.c.status)).all())
    assert statuses["r" * 32] == "abandoned"


def test_a_policy_change_recomputes_dates_and_is_audited(
    services: Services, ctx: RequestContext, call_wav: Path, backend: str
) -> None:
    now = now_utc()
    started = now - timedelta(days=200)
    kept = record_at(services, ctx, call_wav, "mid-1", started)
    services.retention.run(ctx)  # applies the shipped periods (nothing moves)
    assert has_key(services, kept)
    policy_file = services.settings.policy_file
    text = policy_file.read_text(encoding="utf-8")
    # The line, not the topic parking_permit that the policy lists before the lines.
    parking = text.index("  - id: parking\n")
    shorter = text[:parking] + text[parking:].replace(
        "retention: 12 months", "retention: 6 months", 1
    )
    policy_file.write_text(shorter, encoding="utf-8")
    changed = Services(services.settings)
    report = changed.retention.run(ctx)
    assert report.recomputed[0]["line"] == "parking"
    assert report.recomputed[0]["to"] == "6 months" and report.recomputed[0]["from"] == "12 months"
    # 200 days ago plus six months is in the past: the new period purges it. Its key goes at
    # once; an Object Lock set under the old period keeps the S3 blob's bytes (pending).
    assert not has_key(changed, kept)
    if backend == "sqlite":
        assert (report.counts.purged, report.counts.pending) == (1, 0)
    else:
        assert (report.counts.purged, report.counts.pending) == (0, 1)
    assert "retention.recomputed" in audit_actions(changed, "parking")
    assert changed.audit.verify().ok
    changed.engine.dispose()


def test_counts_and_tombstones_leave_live_searches_alone(
    services: Services, ctx: RequestContext, call_wav: Path
) -> None:
    now = now_utc()
    gone = record_at(services, ctx, call_wav, "old-1", now - PERIOD - timedelta(days=3))
    live = record_at(services, ctx, call_wav, "new-1", now - timedelta(days=1))
    services.retention.run(ctx)
    assert services.catalog.count() == 1
    with services.engine.connect() as conn:
        rows = conn.execute(select(recordings.c.id, recordings.c.purged_at)).all()
    assert {r.id for r in rows} == {gone, live}
    services.access.add_person(ctx, "mina", "authorised_manager", "correct horse battery")

    mina = RequestContext(actor=services.access.person("mina"), origin="test")
    found = search_as(
        services.engine, services.audit_batch, services.permissions, mina,
        SearchTerms(line="parking").query(),
    )  # fmt: skip
    assert [r["recording_id"] for r in found] == [live]


def test_cli_retention_run(
    services: Services,
    ctx: RequestContext,
    call_wav: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("CALLVAULT_HOME", str(services.settings.home))
    now = now_utc()
    gone = record_at(services, ctx, call_wav, "old-1", now - PERIOD - timedelta(days=3))
    code, preview, _ = run_cli(["retention", "run", "--dry-run"], capsys)
    assert code == 0 and preview["would_purge"] == [gone] and has_key(services, gone)
    code, _, error = run_cli(["retention", "run", "--now", "last tuesday"], capsys)
    assert code == 2 and error["field"] == "now" and has_key(services, gone)
    code, _, error = run_cli(["retention", "run", "--now", "2026-01-01T00:00:00"], capsys)
    assert code == 2 and "time zone" in error["error"]
    code, done, _ = run_cli(["retention", "run"], capsys)
    assert code == 0 and (done["purged"], done["held"], done["kept"]) == (1, 0, 0)
    code, again, _ = run_cli(["retention", "run"], capsys)
    assert code == 0 and again["purged"] == 0  # "nothing to purge" is not an error
    code, _, error = run_cli(
        ["retention", "run", "--now", (now - timedelta(days=1)).isoformat()], capsys
    )
    assert code == 2 and "back in time" in error["error"]


def test_the_daily_job_purges_as_the_worker(
    services: Services, ctx: RequestContext, call_wav: Path
) -> None:
    gone = record_at(services, ctx, call_wav, "old-1", now_utc() - PERIOD - timedelta(days=3))
    assert PERIODIC[PURGE].cron == "0 0 * * *"
    queue = services.jobs
    assert isinstance(queue, DatabaseQueue)
    assert queue.enqueue_periodic(PURGE, key="day-1", queue="retention")
    assert burst(services).as_dict()["failed"] == 0
    assert not has_key(services, gone)
    certificate = services.audit.show(object_id=gone, limit=100)[-1]
    assert (certificate["action"], certificate["actor"]) == ("recording.purged", "system:worker")


def test_check_is_clean_after_a_purge(
    services: Services, ctx: RequestContext, call_wav: Path
) -> None:
    record_at(services, ctx, call_wav, "old-1", now_utc() - PERIOD - timedelta(days=3))
    record_at(services, ctx, call_wav, "new-1", now_utc() - timedelta(days=1))
    services.retention.run(ctx)
    report = check_home(services, repair=False)
    assert report.problems == []


def test_a_hold_placed_while_the_purge_runs_keeps_its_recording(
    services: Services, ctx: RequestContext, call_wav: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    started = now_utc() - PERIOD - timedelta(days=3)
    caught = record_at(services, ctx, call_wav, "old-1", started)
    other = record_at(services, ctx, call_wav, "old-2", started + timedelta(minutes=1))
    services.access.add_person(ctx, "dana", "dpo", "correct horse battery")
    dpo = RequestContext(actor=services.access.person("dana"), origin="test")
    shred = RetentionService._dispose

    def hold_first(self: RetentionService, *args: Any, **kwargs: Any) -> int:
        # The batch is chosen; a DPO places a hold before the keys are destroyed.
        services.holds.place(dpo, reason="litigation", case_ref="CLM-1", recording_ids=[caught])
        return shred(self, *args, **kwargs)

    monkeypatch.setattr(RetentionService, "_dispose", hold_first)
    report = services.retention.run(ctx)
    assert (report.counts.purged, report.counts.held) == (1, 1)
    assert has_key(services, caught) and not has_key(services, other)
    assert caught not in {e.recording_id for e in services.ledger.entries()}


def test_reapply_leaves_a_now_held_recording_alone(
    services: Services, ctx: RequestContext, call_wav: Path
) -> None:
    held = record_at(services, ctx, call_wav, "old-1", now_utc() - PERIOD - timedelta(days=3))
    services.access.add_person(ctx, "dana", "dpo", "correct horse battery")
    dpo = RequestContext(actor=services.access.person("dana"), origin="test")
    services.holds.place(dpo, reason="litigation", case_ref="CLM-1", recording_ids=[held])
    blob = row(services, held)["blob_name"]
    erasure = Erasure(held, (blob,), now_utc().isoformat(), "retention", "line parking")
    assert services.retention.reapply(ctx, [erasure]) == 0
    assert has_key(services, held) and services.vault.exists(blob)
