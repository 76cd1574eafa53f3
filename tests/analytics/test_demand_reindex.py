"""Re-indexing demand facts after the council edits its topics and opening hours: the figures
change after ``callvault report demand-reindex`` and not before; a dry run changes nothing; a
purged call is judged again only on what its tombstone keeps (its hours), keeping its topics
and getting no caller hash back; the audit entry holds counts only; who may not run it is
refused with exit 3, audited. Both legs."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from access.access_helpers import entries, run_cli
from analytics.demand_helpers import (
    CALLER_A,
    CALLER_B,
    OPERATOR,
    PARKING,
    STORED,
    UK,
    Call,
    fact_rows,
    index,
)
from analytics.demand_helpers import ingest_call as ingest
from callvault.analytics.demand import DemandWindow, demand_report
from callvault.analytics.demand_reindex import DemandReindexer, ReindexWindow
from callvault.bootstrap import Services, build
from callvault.context import RequestContext
from callvault.rights.bank_holidays import is_bank_holiday
from web_people import PASSWORD

# The edit: a topic the council did not have, and weekday hours to 20:00 instead of 17:00.
FLY_TIPPING = {"id": "fly_tipping", "name": "Fly-tipping", "words": ["fly tipping", "dumped"]}
LONGER_HOURS = {"weekdays": "08:00-20:00", "weekend": "closed", "bank_holidays": "closed"}


def working_day(before: datetime) -> date:
    """The last ordinary weekday (no bank holiday) on or before ``before``'s UK date."""
    day = before.astimezone(UK).date()
    while day.weekday() > 4 or is_bank_holiday(day):
        day -= timedelta(days=1)
    return day


@dataclass
class Home:
    services: Services  # built before the policy was edited: the old topics and hours
    day: date  # the ordinary weekday of the two live calls
    calls: dict[str, str]  # name -> recording id

    def window(self) -> DemandWindow:
        return DemandWindow.parse(self.day.isoformat(), (self.day + timedelta(days=1)).isoformat())

    def edit_policy(self) -> Services:
        """The council's edit, written to the home's policy file; the home built again reads
        it, as the next command or restart would."""
        path = self.services.settings.policy_file
        data: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
        data["topics"].append(FLY_TIPPING)
        data["opening_hours"] = LONGER_HOURS
        path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
        return build(self.services.settings.home)


@pytest.fixture
def home(services: Services, ctx: RequestContext, tmp_path: Path) -> Iterator[Home]:
    now = datetime.now(UTC)
    day = working_day(now - timedelta(days=14))
    old = working_day(now - timedelta(days=400))  # past the parking line's 12 months

    def at(when: date, clock: str) -> str:
        return f"{when.isoformat()} {clock}"

    calls = {
        "fly": Call("ri-1", at(day, "10:00:00"), PARKING, CALLER_A, 2,
                    ("somebody dumped a sofa", "fly tipping again")),
        "evening": Call("ri-2", at(day, "18:30:00"), PARKING, CALLER_A, 3,
                        ("my parking permit",)),
        "purged": Call("ri-3", at(old, "18:30:00"), PARKING, CALLER_B, 2,
                       ("a mattress dumped",)),
        "recent": Call("ri-4", at(day - timedelta(days=1), "11:00:00"), PARKING, CALLER_B, 2,
                       None),
    }  # fmt: skip
    made = {name: ingest(services, ctx, tmp_path, call) for name, call in calls.items()}
    index(services)
    assert services.retention.run(ctx).counts.purged == 1  # the old call, and its transcript
    for name, role in (("root", "administrator"), ("mina", "authorised_manager")):
        services.access.add_person(ctx, name, role, PASSWORD)
    yield Home(services, day, made)


def test_the_figures_follow_the_edited_policy_only_once_reindexed(home: Home) -> None:
    edited = home.edit_policy()
    try:
        _reindex_under(home, edited)
    finally:
        edited.engine.dispose()


def _reindex_under(home: Home, edited: Services) -> None:
    policy = edited.policy.policy
    before = demand_report(edited.engine, policy, home.window())
    topics = {t["topic"]: t["calls"] for t in before["topics"]}
    # The report lists the new topic, but no fact has it yet: facts are fixed when written.
    assert (before["calls"], before["out_of_hours"], topics["fly_tipping"]) == (2, 1, 0)
    assert (before["unclassified"], topics["parking_permit"]) == (1, 1)
    rows, trail = fact_rows(edited), edited.audit.count()
    purged = rows[home.calls["purged"]]
    assert (purged["caller_key"], purged["topics"], purged["out_of_hours"]) == (None, "", True)

    # One call a batch: the walk crosses a batch boundary at every call.
    reindexer = DemandReindexer(edited.engine, edited.audit, edited.permissions, policy, batch=1)
    dry = reindexer.run(OPERATOR, ReindexWindow(None, None), dry_run=True)
    assert (dry["reindexed"], dry["unchanged"], dry["purged"], dry["dry_run"]) == (3, 1, 1, True)
    assert fact_rows(edited) == rows and edited.audit.count() == trail  # nothing written

    # The day of the live calls only: the purged call's row is not in the window.
    window = ReindexWindow.parse(home.day.isoformat(), (home.day + timedelta(days=1)).isoformat())
    done = reindexer.run(OPERATOR, window)
    assert (done["reindexed"], done["unchanged"], done["purged"]) == (2, 0, 0)
    assert window.start is not None and done["from"] == window.start.isoformat()
    after = demand_report(edited.engine, policy, home.window())
    topics = {t["topic"]: t["calls"] for t in after["topics"]}
    assert (after["calls"], after["out_of_hours"], topics["fly_tipping"]) == (2, 0, 1)
    assert (after["unclassified"], topics["parking_permit"]) == (0, 1)
    assert after["repeat_callers"] == before["repeat_callers"] == 1  # caller hashes kept
    [entry] = entries(edited, trail)
    assert entry["action"] == "demand.reindexed" and entry["actor"] == OPERATOR.actor.name
    assert entry["details"] == done
    # Counts and the window only: no number, no hash, no word anybody said.
    said = str(entry["details"])
    assert not any(number in said for number in STORED) and "dumped" not in said
    assert not any(str(row["caller_key"]) in said for row in fact_rows(edited).values()
                   if row["caller_key"])  # fmt: skip

    # Every call: the purged one is judged again on its tombstone's line and start only.
    everything = reindexer.run(OPERATOR, ReindexWindow(None, None))
    assert (everything["reindexed"], everything["purged"]) == (1, 1)
    now = fact_rows(edited)[home.calls["purged"]]
    assert not now["out_of_hours"]  # 18:30 on a weekday is open now
    # Its transcript is gone: the topic its words would match now ("dumped") is not made
    # up, and no caller hash comes back.
    assert (now["caller_key"], now["topics"], now["transcribed"]) == (
        None, purged["topics"], purged["transcribed"],
    )  # fmt: skip
    again = reindexer.run(OPERATOR, ReindexWindow(None, None))
    assert (again["reindexed"], again["unchanged"]) == (0, 4)


def test_the_command_and_who_may_run_it(
    home: Home, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    home.edit_policy().engine.dispose()
    monkeypatch.setenv("CALLVAULT_HOME", str(home.services.settings.home))
    span = ["--from", home.day.isoformat(), "--to", (home.day + timedelta(days=1)).isoformat()]
    rows, trail = fact_rows(home.services), home.services.audit.count()
    # An authorised manager reads the figures but does not rebuild them: refused, audited.
    code, out, error = run_cli(["report", "demand-reindex", *span, "--as", "mina"], capsys)
    assert (code, out) == (3, None) and "demand:reindex" in error["error"]
    [refusal] = entries(home.services, trail)
    assert refusal["action"] == "access.refused" and refusal["actor"] == "mina"
    assert refusal["details"]["action"] == "demand:reindex"
    code, _, error = run_cli(["report", "demand-reindex", "--from", "last week"], capsys)
    assert code == 2 and error["field"] == "from"
    backwards = ["--from", span[3], "--to", span[1]]
    code, _, error = run_cli(["report", "demand-reindex", *backwards], capsys)
    assert code == 2 and error["field"] == "from"
    code, out, _ = run_cli(["report", "demand-reindex", *span, "--dry-run", "--as", "root"],
                           capsys)  # fmt: skip
    assert code == 0 and (out["reindexed"], out["dry_run"]) == (2, True)
    assert fact_rows(home.services) == rows
    # The administrator, who edited the policy, rebuilds the figures.
    code, out, _ = run_cli(["report", "demand-reindex", *span, "--as", "root"], capsys)
    assert code == 0 and set(out) == {"from", "to", "reindexed", "unchanged", "purged",
                                      "dry_run", "policy_version"}  # fmt: skip
    assert (out["reindexed"], out["unchanged"], out["dry_run"]) == (2, 0, False)
    assert out["from"] == ReindexWindow.parse(*span[1::2]).as_dict()["from"]
    assert entries(home.services)[-1]["actor"] == "root"
    code, out, _ = run_cli(["report", "demand-reindex"], capsys)  # the operator, every call
    assert code == 0 and (out["from"], out["to"], out["reindexed"]) == (None, None, 1)
