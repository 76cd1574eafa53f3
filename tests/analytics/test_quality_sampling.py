"""The monthly quality sample (both legs): drawn by the system from a seed in the audit trail,
re-drawable by anyone from that entry alone, drawn once per month unless a reason is given,
and the only way a quality evaluator gets to hear a call."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from access.access_helpers import add_people, as_person, entries, record
from analytics.quality_helpers import digest_by_hand, redraw_by_hand
from audiofixtures import make_call_audio
from callvault.analytics.sampling import QualitySampler
from callvault.analytics.sampling_rule import (
    due_month,
    month_bounds,
    month_text,
    uk_month_of,
)
from callvault.analytics.store import quality_draws, quality_samples
from callvault.bootstrap import Services
from callvault.catalog.store import recordings
from callvault.context import RequestContext
from callvault.errors import BadInput, Conflict, NotFound, Refused
from callvault.jobs.dbqueue import DatabaseQueue
from callvault.jobs.quality_tasks import DRAW_MONTH
from callvault.policy.model import Policy
from jobs.jobs_helpers import burst

CASE_REF = re.compile(r"^QA-\d{4}-\d{3,6}$")
CALLVAULT = Path(sys.executable).parent / "callvault"
REASON = "the first draw missed calls from the Parking overflow queue"


def quick(policy: Policy, per_advisor: int = 2, **changes: Any) -> Policy:
    """The example policy's sampling, fewer calls per advisor, and any length of call (test
    calls last three seconds; the minimum duration has its own test with minute-long calls)."""
    quality = replace(policy.quality, calls_per_advisor=per_advisor, min_duration_s=0.0, **changes)
    return replace(policy, quality=quality)


@dataclass
class World:
    services: Services
    ctx: RequestContext
    audio: Path
    month: str  # the latest UK month whose draw day has come (the one the daily job draws)
    start: datetime  # its first instant (UTC)
    calls: list[tuple[str, str]]  # (advisor, recording id), all eligible

    def sampler(self, policy: Policy | None = None, at: datetime | None = None) -> QualitySampler:
        s = self.services
        return QualitySampler(s.engine, s.audit, s.permissions, policy or quick(s.policy.policy),
                              clock=(lambda: at) if at else None)  # fmt: skip

    def call(self, call_id: str, agent: str, at: datetime, audio: Path | None = None) -> str:
        return record(self.services, self.ctx, audio or self.audio, call_id, agent=agent,
                      started_at=at.isoformat(),
                      ended_at=(at + timedelta(seconds=3)).isoformat())  # fmt: skip

    def person(self, name: str) -> RequestContext:
        return as_person(self.services, name)

    def count(self, table: Any) -> int:
        with self.services.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(table)).scalar_one())

    def stored(self, draw_id: str) -> list[tuple[str, str]]:
        s = quality_samples.c
        with self.services.engine.connect() as conn:
            rows = conn.execute(select(s.agent, s.recording_id).where(s.draw_id == draw_id))
            return [(agent, rid) for agent, rid in rows]

    def change(self, statement: Any) -> None:
        """Change a quality table as someone with database access could (no triggers there)."""
        with self.services.engine.begin() as conn:
            conn.execute(statement)


@pytest.fixture
def world(services: Services, ctx: RequestContext, call_wav: Path) -> World:
    add_people(services, ctx)
    year, month = due_month(datetime.now(UTC), services.policy.policy.quality.draw_on_day)
    start = month_bounds(year, month)[0]
    w = World(services, ctx, call_wav, month_text(year, month), start, [])
    # a1 has more calls than are drawn per advisor, a2 fewer, a3 exactly as many.
    for n, agent in enumerate(["a1"] * 5 + ["a2"] + ["a3"] * 2):
        w.calls.append((agent, w.call(f"q-{n}", agent, start + timedelta(hours=9 + n))))
    return w


def _entry(world: World, draw_id: str) -> dict[str, Any]:
    [entry] = [e for e in entries(world.services) if e["object_id"] == draw_id
               and e["action"] in {"quality.drawn", "quality.redrawn"}]  # fmt: skip
    return entry


def test_the_sample_is_drawn_again_from_the_seed_in_the_audit_entry(world: World) -> None:
    draw = world.sampler().draw(world.person("mina"), world.month)
    entry = _entry(world, draw["draw_id"])
    details = entry["details"]
    assert entry["action"] == "quality.drawn" and entry["actor"] == "mina"
    recorded = ("month", "attempt", "calls_per_advisor", "min_duration_s", "eligible", "drawn")
    assert [details[k] for k in recorded] == [world.month, 1, 2, 0.0, 8, 5]
    assert details["policy_version"] == world.services.policy.version
    assert re.fullmatch(r"[0-9a-f]{64}", details["seed"]) and details["seed"] == draw["seed"]
    # Anyone with the trail: the rule, written again here, gives the same calls.
    chosen = redraw_by_hand(details["seed"], world.calls, details["calls_per_advisor"])
    stored = world.stored(draw["draw_id"])
    assert {rid for _, rid in stored} == chosen and len(chosen) == 5
    assert digest_by_hand(stored) == details["sample_sha256"]
    # Two of a1's five, a2's only call, both of a3's.
    per_agent = {a: sum(1 for agent, _ in stored if agent == a) for a in ("a1", "a2", "a3")}
    assert per_agent == {"a1": 2, "a2": 1, "a3": 2}
    refs = [s["case_ref"] for s in draw["samples"]]
    assert all(CASE_REF.match(ref) and ref.startswith(f"QA-{world.month[:4]}-") for ref in refs)
    assert len(set(refs)) == 5
    report = world.sampler().verify(world.person("aud"), draw["draw_id"])
    assert report["ok"] and report["complete"] and report["purged_since"] == 0
    assert (report["expected"], report["found"], report["missing"]) == (5, 5, [])
    assert entries(world.services)[-1]["action"] == "quality.verified"


def test_verify_finds_a_changed_sample(world: World) -> None:
    draw = world.sampler().draw(world.ctx, world.month)
    draw_id, s = draw["draw_id"], quality_samples.c
    drawn = {rid for _, rid in world.stored(draw_id)}
    spare = next(rid for agent, rid in world.calls if agent == "a1" and rid not in drawn)
    first = draw["samples"][0]["recording_id"]
    # A sampled call swapped for one the seed did not draw (an awkward call hidden).
    world.change(update(quality_samples).where(s.draw_id == draw_id, s.recording_id == first)
                 .values(recording_id=spare))  # fmt: skip
    report = world.sampler().verify(world.person("aud"), draw_id)
    assert not report["ok"]
    assert (report["missing"], report["unexpected"]) == ([first], [spare])
    assert any("digest" in p for p in report["problems"])
    world.change(delete(quality_samples).where(s.draw_id == draw_id, s.recording_id == spare))
    report = world.sampler().verify(world.person("aud"), draw_id)
    assert not report["ok"] and report["missing"] == [first] and report["found"] == 4
    # The draw row's seed changed to one that would explain another sample: the trail wins.
    world.change(update(quality_draws).where(quality_draws.c.id == draw_id).values(seed="0" * 64))
    report = world.sampler().verify(world.person("aud"), draw_id)
    assert any("seed" in p for p in report["problems"]) and report["seed"] == draw["seed"]
    with pytest.raises(NotFound):
        world.sampler().verify(world.person("aud"), "f" * 32)
    assert world.services.audit.verify().ok


def test_a_drawn_month_is_drawn_again_only_with_a_reason(world: World) -> None:
    mina, sampler = world.person("mina"), world.sampler()
    first = sampler.draw(mina, world.month)
    counts = (world.count(quality_draws), world.count(quality_samples))
    trail = world.services.audit.count()
    with pytest.raises(Conflict, match=r"already drawn on .* by mina") as refused:
        sampler.draw(world.person("max"), world.month)
    assert refused.value.field == "month" and "give a reason" in refused.value.message
    with pytest.raises(BadInput) as short:
        sampler.draw(mina, world.month, reason="  because  ")
    assert short.value.field == "reason"
    assert (world.count(quality_draws), world.count(quality_samples)) == counts
    assert world.services.audit.count() == trail

    second = sampler.draw(world.person("max"), world.month, reason=REASON)
    assert second["attempt"] == 2 and second["seed"] != first["seed"]
    assert second["superseded_draw_id"] == first["draw_id"]
    entry = _entry(world, second["draw_id"])
    assert entry["action"] == "quality.redrawn" and entry["details"]["reason"] == REASON
    assert entry["details"]["superseded_draw_id"] == first["draw_id"]
    assert entry["details"]["superseded_seed"] == first["seed"]
    # The first draw is kept, marked superseded, with its samples.
    assert len(world.stored(first["draw_id"])) == 5
    draws = sampler.draws(world.person("aud"), world.month)
    assert [(d["attempt"], d["current"], d["reason"]) for d in draws] == [
        (2, True, REASON), (1, False, ""),
    ]  # fmt: skip
    assert draws[1]["superseded_at"] == draws[0]["drawn_at"]
    listed = sampler.samples(world.person("tess"), world.month)
    assert {s["draw_id"] for s in listed} == {second["draw_id"]}
    old_refs = {s["case_ref"] for s in first["samples"]}
    assert not old_refs & {s["case_ref"] for s in listed}
    for draw in (first, second):  # each still re-draws from its own entry
        assert sampler.verify(world.person("aud"), draw["draw_id"])["ok"]


def test_two_draws_at_once_leave_one_current_draw(world: World) -> None:
    outcomes: list[object] = []
    barrier = threading.Barrier(2)

    def draw() -> None:
        barrier.wait()
        try:
            outcomes.append(world.sampler().draw(world.ctx, world.month)["attempt"])
        except Conflict as exc:
            outcomes.append(exc.field)

    threads = [threading.Thread(target=draw) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(map(str, outcomes)) == ["1", "month"]
    assert world.count(quality_draws) == 1
    # The constraint itself: a second first attempt of a month cannot be stored.
    with pytest.raises(IntegrityError), world.services.engine.begin() as conn:
        row = conn.execute(select(quality_draws)).one()._asdict()
        conn.execute(insert(quality_draws).values(**{**row, "id": "e" * 32}))


def test_a_month_must_be_over_and_the_policy_must_have_a_scorecard(world: World) -> None:
    now = datetime.now(UTC)
    sampler = world.sampler(at=now)
    for month in (month_text(*uk_month_of(now)), "2999-01", "2026-13", "March", ""):
        with pytest.raises(BadInput) as bad:
            sampler.draw(world.ctx, month)
        assert bad.value.field == "month", month
    without = quick(world.services.policy.policy, scorecards=())
    with pytest.raises(BadInput) as bad:
        world.sampler(without).draw(world.ctx, world.month)
    assert bad.value.field == "quality.scorecards"
    assert world.count(quality_draws) == 0


def test_eligible_calls_are_the_uk_months_long_inbound_calls_of_named_advisors(
    world: World, tmp_path: Path
) -> None:
    services = world.services
    long_call = make_call_audio(tmp_path / "long.wav", seconds=61.0)
    # A month of British Summer Time: UK midnight is 23:00 UTC the day before.
    year, month = due_month(datetime.now(UTC), services.policy.policy.quality.draw_on_day)
    while month not in range(4, 10):
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    start, end = month_bounds(year, month)
    assert start.hour == 23 and end.hour == 23
    minute = timedelta(minutes=1)
    made = {
        "first_minute": world.call("e-1", "b1", start + minute, long_call),
        "last_minute": world.call("e-2", "b1", end - 2 * minute, long_call),
        "day_before": world.call("e-3", "b1", start - 30 * minute, long_call),
        "day_after": world.call("e-4", "b1", end + minute, long_call),  # same UTC date
        "short": world.call("e-5", "b1", start + 60 * minute),
        "no_advisor": world.call("e-6", "unknown", start + 61 * minute, long_call),
        "outbound": world.call("e-7", "b2", start + 62 * minute, long_call),
        "second_advisor": world.call("e-8", "b2", start + 63 * minute, long_call),
    }
    # No line of the example policy records outbound calls; a council's may.
    world.change(update(recordings).where(recordings.c.id == made["outbound"])
                 .values(direction="outbound"))  # fmt: skip
    draw = world.sampler(services.policy.policy).draw(world.ctx, month_text(year, month))
    assert draw["min_duration_s"] == 60.0 and draw["calls_per_advisor"] == 4
    assert {s["recording_id"] for s in draw["samples"]} == {
        made["first_minute"], made["last_minute"], made["second_advisor"]
    }  # fmt: skip
    assert draw["eligible"] == 3
    # A call catalogued after the draw is not in it, and verify does not count it.
    world.call("e-9", "b2", start + 64 * minute, long_call)
    report = world.sampler().verify(world.person("aud"), draw["draw_id"])
    assert report["ok"] and report["expected"] == 3


def test_lines_no_scorecard_covers_are_not_sampled(world: World) -> None:
    card = replace(world.services.policy.policy.quality.scorecards[0], lines=("parking",))
    policy = quick(world.services.policy.policy, scorecards=(card,))
    at = world.start + timedelta(hours=2)
    other = record(world.services, world.ctx, world.audio, "e-other", agent="a2",
                   dialled="020 8753 1100", started_at=at.isoformat(),
                   ended_at=(at + timedelta(seconds=3)).isoformat())  # fmt: skip
    draw = world.sampler(policy).draw(world.ctx, world.month)
    assert other not in {s["recording_id"] for s in draw["samples"]} and draw["eligible"] == 8
    assert _entry(world, draw["draw_id"])["details"]["lines"] == ["parking"]
    assert world.sampler(policy).verify(world.person("aud"), draw["draw_id"])["ok"]


def test_calls_purged_since_the_draw_are_reported_not_rechecked(world: World) -> None:
    services = world.services
    # A month old enough that its calls' 12 months of retention have run out.
    now = datetime.now(UTC)
    old_year, old_month = now.year - 2, now.month
    start = month_bounds(old_year, old_month)[0] + timedelta(hours=10)
    old = [(agent, world.call(f"old-{n}", agent, start + timedelta(hours=n)))
           for n, agent in enumerate(["c1", "c1", "c1", "c2"])]  # fmt: skip
    month = month_text(old_year, old_month)
    sampler = world.sampler(quick(services.policy.policy, per_advisor=1))
    draw = sampler.draw(world.ctx, month)
    assert draw["drawn"] == 2
    services.retention.run(world.ctx)
    report = sampler.verify(world.person("aud"), draw["draw_id"])
    assert report["purged_since"] == 4 and report["ok"] and not report["complete"]
    assert "cannot be re-checked" in report["note"]
    listed = sampler.samples(world.person("aud"), month)
    assert all(s["purged"] for s in listed) and len(listed) == 2
    # Drawn now, the purged calls are not eligible at all.
    again = sampler.draw(world.ctx, month, reason=REASON)
    assert again["draw_id"] is None and again["eligible"] == 0
    assert {rid for _, rid in old} >= {s["recording_id"] for s in listed}


def test_quality_listening_follows_the_sample(world: World) -> None:
    services, tess = world.services, world.person("tess")
    draw = world.sampler(quick(services.policy.policy, per_advisor=1)).draw(world.ctx, world.month)
    sampled = {s["recording_id"]: s["case_ref"] for s in draw["samples"]}
    unsampled = next(rid for _, rid in world.calls if rid not in sampled)
    a_ref = next(iter(sampled.values()))
    flow = services.grants
    for rid, ref in ((unsampled, a_ref), (unsampled, "QA-1999-0001")):
        before = services.audit.count()
        with pytest.raises(Refused, match="hears only calls the system sampled") as refused:
            flow.request(tess, [rid], "quality", ref)
        assert refused.value.field == "case_ref"
        [entry] = entries(services, before)
        assert entry["action"] == "access.refused" and entry["case_ref"] == ref
    rid, ref = next(iter(sampled.items()))
    with pytest.raises(Refused, match="its own"):
        flow.request(tess, [rid, unsampled], "quality", ref)
    grant = flow.request(tess, [rid], "quality", ref, "monthly evaluation")
    assert grant.status == "approved" and grant.case_ref == ref
    assert not [g for g in flow.for_recording(unsampled) if g.purpose == "quality"]
    # Once the month is drawn again, the superseded sample's references hear nothing more.
    world.sampler().draw(world.ctx, world.month, reason=REASON)
    with pytest.raises(Refused, match="sampled"):
        flow.request(tess, [rid], "quality", ref)


def test_advisors_may_not_draw_or_read_and_are_audited(world: World) -> None:
    services, sampler = world.services, world.sampler()
    adam, tess = world.person("adam"), world.person("tess")
    calls = (
        (adam, lambda c: sampler.draw(c, world.month), "quality:draw"),
        (tess, lambda c: sampler.draw(c, world.month), "quality:draw"),
        (adam, sampler.samples, "quality:read"),
        (adam, sampler.draws, "quality:read"),
        (adam, lambda c: sampler.verify(c, "f" * 32), "quality:read"),
    )
    for who, act, action in calls:
        before = services.audit.count()
        with pytest.raises(Refused, match=action):
            act(who)
        [entry] = entries(services, before)
        assert entry["action"] == "access.refused" and entry["details"]["action"] == action
    assert world.count(quality_draws) == 0


def test_listing_is_audited_and_filtered(world: World) -> None:
    sampler = world.sampler()
    sampler.draw(world.ctx, world.month)
    tess = world.person("tess")
    mine = sampler.samples(tess, agent="a1")
    assert [s["agent"] for s in mine] == ["a1", "a1"]
    assert {s["scorecard"] for s in mine} == {"standard"} and not any(s["purged"] for s in mine)
    entry = entries(world.services)[-1]
    assert entry["action"] == "quality.samples_listed" and entry["actor"] == "tess"
    assert entry["details"] == {"month": None, "agent": "a1", "case_ref": None, "results": 2}
    assert sampler.samples(tess, month="2001-01") == []
    with pytest.raises(BadInput) as bad:
        sampler.samples(tess, month="last month")
    assert bad.value.field == "month"
    assert len(sampler.draws(world.person("dana"))) == 1
    assert entries(world.services)[-1]["action"] == "quality.draws_listed"


def _long_calls(world: World, tmp_path: Path, *agents: str) -> list[str]:
    """Minute-long calls in the world's month: eligible under the example policy itself."""
    audio = make_call_audio(tmp_path / "minute.wav", seconds=61.0)
    at = world.start + timedelta(days=2)
    return [world.call(f"long-{n}-{agent}", agent, at + timedelta(hours=n), audio)
            for n, agent in enumerate(agents)]  # fmt: skip


def test_the_commands(world: World, cli_env: dict[str, str], tmp_path: Path) -> None:
    made = _long_calls(world, tmp_path, "d1", "d1", "d2")

    def run(*args: str) -> tuple[int, Any, Any]:
        done = subprocess.run([str(CALLVAULT), "quality", *args, "--json"], env=cli_env,
                              capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
        out = orjson.loads(done.stdout) if done.stdout.strip() else None
        err = orjson.loads(done.stderr.strip().splitlines()[-1]) if done.stderr.strip() else None
        return done.returncode, out, err

    code, draw, _ = run("draw", "--month", world.month)
    assert code == 0 and draw["drawn"] == 3 and draw["attempt"] == 1
    assert {s["recording_id"] for s in draw["samples"]} == set(made)
    code, _, error = run("draw", "--month", world.month)
    assert code == 2 and error["field"] == "month" and "already drawn" in error["error"]
    code, _, error = run("draw", "--month", world.month, "--reason", "again")
    assert code == 2 and error["field"] == "reason"
    code, _, error = run("draw", "--month", world.month, "--reason", REASON, "--as", "adam")
    assert code == 3 and "quality:draw" in error["error"]
    code, listed, _ = run("samples", "--month", world.month, "--agent", "d1", "--as", "tess")
    assert code == 0 and len(listed["samples"]) == 2
    assert all(CASE_REF.match(s["case_ref"]) for s in listed["samples"])
    code, draws, _ = run("draws", "--as", "aud")
    assert code == 0 and [d["id"] for d in draws["draws"]] == [draw["draw_id"]]
    code, report, _ = run("verify", draw["draw_id"])
    assert code == 0 and report["ok"] is True
    s = quality_samples.c
    world.change(delete(quality_samples).where(s.draw_id == draw["draw_id"], s.position == 1))
    code, report, _ = run("verify", draw["draw_id"])
    assert code == 1 and report["ok"] is False and len(report["missing"]) == 1
    text = subprocess.run([str(CALLVAULT), "quality", "verify", draw["draw_id"]], env=cli_env,
                          capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
    assert text.returncode == 1 and "NOT INTACT" in text.stdout
    again = [str(CALLVAULT), "quality", "draw", "--month", world.month, "--reason", REASON]
    text = subprocess.run(again, env=cli_env, capture_output=True, text=True, timeout=120,
                          check=False)  # fmt: skip
    assert text.returncode == 0 and f"(attempt 2, superseding {draw['draw_id']})" in text.stdout


def test_the_daily_job_draws_the_month_whose_draw_day_came_once(
    world: World, tmp_path: Path
) -> None:
    services = world.services
    queue = services.jobs
    assert isinstance(queue, DatabaseQueue)

    def day(key: str) -> None:
        assert queue.enqueue_periodic(DRAW_MONTH, key=key, queue="retention")
        ran = burst(services, queues=("retention",))
        assert (ran.done, ran.failed) == (1, 0)

    day("day-1")  # the month's calls are all too short to judge: nothing to draw
    assert world.count(quality_draws) == 0
    assert not [e for e in entries(services) if e["action"].startswith("quality.")]
    made = _long_calls(world, tmp_path, "d1")
    day("day-2")
    [draw] = world.sampler().draws(world.person("aud"))
    assert (draw["month"], draw["drawn_by"], draw["drawn"]) == (world.month, "system:worker", 1)
    assert world.stored(draw["id"]) == [("d1", made[0])]
    day("day-3")
    assert world.count(quality_draws) == 1
