"""The draw day (the policy's ``quality.draw_on_day``, default the 5th): a month waits for the
calls PBXs upload a few days late. Before that day of the next month the daily job leaves the
month and says until when, and a person draws it only by asking for an early draw, which the
audit entry records; from that day on both draw as before.

The calls are made now, so they are this UK month's; the sampler's clock is set ahead, into
the month after, where the draw day falls (both legs)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update

from access.access_helpers import add_people, as_person, entries, record
from analytics.quality_helpers import every_call
from callvault.analytics.sampling import QualitySampler
from callvault.analytics.sampling_rule import (
    draw_opens,
    month_bounds,
    month_text,
    previous_month,
    uk_day_text,
    uk_month_of,
)
from callvault.analytics.store import quality_draws
from callvault.bootstrap import Services
from callvault.catalog.store import recordings
from callvault.context import RequestContext, system_context
from callvault.errors import BadInput
from callvault.jobs.dbqueue import DatabaseQueue
from callvault.jobs.quality_tasks import DRAW_MONTH, run_text
from callvault.policy.model import Policy
from callvault.uktime import UK
from homes import run_cli, worker_context
from jobs.jobs_helpers import burst

REASON = "calls the PBX uploaded late are now in"


@dataclass
class Month:
    services: Services
    label: str  # this UK month, which the calls below are in
    end: datetime  # its end (UTC): the first instant of next month
    opens: datetime  # its draw day: UK midnight on the 5th of next month (UTC)
    calls: list[str]
    made_at: datetime  # when they started
    audio: Path

    def sampler(self, at: datetime, policy: Policy | None = None) -> QualitySampler:
        s = self.services
        return QualitySampler(s.engine, s.audit, s.permissions,
                              policy or every_call(s.policy.policy), clock=lambda: at)  # fmt: skip

    def draws(self) -> int:
        with self.services.engine.connect() as conn:
            found = conn.execute(
                select(func.count()).where(quality_draws.c.month == self.label)
            ).scalar_one()
            return int(found)

    def entry(self, draw_id: str) -> dict[str, Any]:
        [found] = [e for e in entries(self.services) if e["object_id"] == draw_id]
        return found


@pytest.fixture
def month(services: Services, ctx: RequestContext, call_wav: Path) -> Month:
    add_people(services, ctx)
    at = datetime.now(UTC) - timedelta(minutes=5)
    year, mon = uk_month_of(at)
    calls = [
        record(services, ctx, call_wav, f"dd-{n}", agent=agent,
               started_at=(at + timedelta(seconds=n)).isoformat(),
               ended_at=(at + timedelta(seconds=n + 3)).isoformat())
        for n, agent in enumerate(["a1", "a2"])
    ]  # fmt: skip
    opens = draw_opens(year, mon, services.policy.policy.quality.draw_on_day)
    return Month(services, month_text(year, mon), month_bounds(year, mon)[1], opens, calls, at,
                 call_wav)  # fmt: skip


def test_the_draw_day_is_uk_midnight_on_the_policys_day_of_the_next_month(
    services: Services,
) -> None:
    assert services.policy.policy.quality.draw_on_day == 5
    # October's draw day is 5 November, midnight on UK clocks (GMT by then).
    assert draw_opens(2026, 10, 5) == datetime(2026, 11, 5, tzinfo=UTC)
    # March's is 5 April, in British Summer Time: 23:00 UTC on the 4th.
    assert draw_opens(2026, 3, 5) == datetime(2026, 4, 4, 23, tzinfo=UTC)
    assert draw_opens(2026, 12, 28).astimezone(UK) == datetime(2027, 1, 28, tzinfo=UK)
    # Day 1 draws a month the moment it ends, as before the draw day existed.
    assert draw_opens(2026, 10, 1) == month_bounds(2026, 10)[1]
    assert uk_day_text(draw_opens(2026, 10, 5)) == "5 November 2026"


def test_a_manager_cannot_draw_before_the_draw_day_without_asking_for_it(month: Month) -> None:
    mina, services = as_person(month.services, "mina"), month.services
    trail = services.audit.count()
    for at in (month.end + timedelta(minutes=1), month.opens - timedelta(seconds=1)):
        with pytest.raises(BadInput) as early:
            month.sampler(at).draw(mina, month.label)
        # The field to change is the early flag; the message names the day and the fix.
        assert early.value.field == "early"
        said = early.value.message
        assert uk_day_text(month.opens) in said and "quality.draw_on_day" in said
        assert "--early" in said and "not uploaded yet" in said
    assert month.draws() == 0 and services.audit.count() == trail

    drawn = month.sampler(month.opens).draw(mina, month.label)
    assert drawn["early"] is False and drawn["drawn"] == 2 and drawn["draw_on_day"] == 5
    details = month.entry(drawn["draw_id"])["details"]
    assert (details["early"], details["draw_on_day"]) == (False, 5)


def test_an_early_draw_is_recorded_and_misses_calls_uploaded_after_it(month: Month) -> None:
    mina = as_person(month.services, "mina")
    early_at = month.opens - timedelta(days=3)
    drawn = month.sampler(early_at).draw(mina, month.label, early=True)
    assert drawn["early"] is True
    assert {s["recording_id"] for s in drawn["samples"]} == set(month.calls)
    entry = month.entry(drawn["draw_id"])
    assert entry["action"] == "quality.drawn" and entry["details"]["early"] is True
    # A call of the month that the PBX uploads a day after the early draw (its catalogue
    # time set to then: this test cannot wait for the clock).
    started = month.made_at + timedelta(minutes=1)
    late = record(month.services, system_context("test"), month.audio, "dd-late", agent="a1",
                  started_at=started.isoformat(),
                  ended_at=(started + timedelta(seconds=3)).isoformat())  # fmt: skip
    with month.services.engine.begin() as conn:
        conn.execute(update(recordings).where(recordings.c.id == late)
                     .values(created_at=(early_at + timedelta(days=1)).isoformat()))  # fmt: skip
    assert month.sampler(month.opens).verify(mina, drawn["draw_id"])["ok"]
    # On the draw day, the month drawn again (with a reason) has it; not early any more.
    again = month.sampler(month.opens).draw(mina, month.label, reason=REASON)
    assert late in {s["recording_id"] for s in again["samples"]} and again["early"] is False
    assert month.entry(again["draw_id"])["details"]["early"] is False


def test_draw_on_day_1_draws_a_month_as_soon_as_it_ends(month: Month) -> None:
    policy = every_call(month.services.policy.policy)
    policy = replace(policy, quality=replace(policy.quality, draw_on_day=1))
    drawn = month.sampler(month.end, policy).draw(as_person(month.services, "max"), month.label)
    assert drawn["drawn"] == 2 and drawn["early"] is False and drawn["draw_on_day"] == 1


def test_the_daily_job_waits_for_the_draw_day_and_says_until_when(month: Month) -> None:
    job = worker_context()
    waiting = month.sampler(month.opens - timedelta(days=1)).draw_due_month(job)
    # It looks at the month before (drawn on its own draw day; here it has no calls) and
    # leaves this one, saying until when.
    assert waiting["month"] == month_text(*previous_month(month.end - timedelta(days=1)))
    assert waiting["outcome"] == "no_eligible_calls" and waiting["draw"]["draw_id"] is None
    assert waiting["waiting"] == {"month": month.label, "draw_from": month.opens.isoformat()}
    assert month.draws() == 0
    said = run_text(waiting)
    assert f"{month.label} waits for calls uploaded late" in said
    assert f"drawn from {uk_day_text(month.opens)}" in said

    drawn = month.sampler(month.opens).draw_due_month(job)
    assert (drawn["month"], drawn["outcome"], drawn["waiting"]) == (month.label, "drawn", None)
    assert drawn["draw"]["drawn"] == 2 and drawn["draw"]["drawn_by"] == "system:worker"
    assert run_text(drawn) == f"drew {month.label}: 2 calls of 2 eligible"
    again = month.sampler(month.opens + timedelta(days=1)).draw_due_month(job)
    assert again["outcome"] == "drawn_already" and month.draws() == 1

    policy = every_call(month.services.policy.policy)
    unscored = replace(policy, quality=replace(policy.quality, scorecards=()))
    assert month.sampler(month.opens, unscored).draw_due_month(job)["outcome"] == "no_scorecard"


def test_the_job_logs_what_it_did(services: Services, caplog: pytest.LogCaptureFixture) -> None:
    queue = services.jobs
    assert isinstance(queue, DatabaseQueue)
    assert queue.enqueue_periodic(DRAW_MONTH, key="log-1", queue="retention")
    with caplog.at_level("INFO", logger="callvault.jobs"):
        ran = burst(services, queues=("retention",))
    assert (ran.done, ran.failed) == (1, 0)
    said = [r.getMessage() for r in caplog.records if r.getMessage().startswith(DRAW_MONTH)]
    assert len(said) == 1 and "has no eligible call yet" in said[0]


def test_the_command_asks_for_early(
    month: Month, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``callvault quality draw --early``, with the command's clock on the 2nd of next month."""
    at = month.end + timedelta(days=1)

    def for_services(cls: type[QualitySampler], services: Services) -> QualitySampler:
        return cls(services.engine, services.audit, services.permissions,
                   every_call(services.policy.policy), clock=lambda: at)  # fmt: skip

    monkeypatch.setattr(QualitySampler, "for_services", classmethod(for_services))
    monkeypatch.setenv("CALLVAULT_HOME", str(month.services.settings.home))
    code, _, error = run_cli(["quality", "draw", "--month", month.label, "--as", "mina"], capsys)
    assert code == 2 and error["field"] == "early" and uk_day_text(month.opens) in error["error"]
    assert month.draws() == 0
    code, out, _ = run_cli(
        ["quality", "draw", "--month", month.label, "--early", "--as", "mina"], capsys
    )
    assert code == 0 and out["early"] is True and out["drawn"] == 2
