"""Oversight on both legs: the access review and the bulk-access alerts, from the real trail.

Past activity is written by the real AuditLog with its clock set (``at``): the entries, the
chain and the SQL that reads them are all the real ones.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from access.access_helpers import PEOPLE, add_people, as_person, entries, grants, record, run_cli
from callvault.access.bulk_access import (
    ALERT_ACTION,
    AlertRule,
    bulk_access_alerts,
    bulk_alerts_as,
    detect,
    record_new_alerts,
)
from callvault.access.oversight import ReviewWindow, access_review_as
from callvault.access.store import users
from callvault.bootstrap import Services
from callvault.cli.main import main
from callvault.context import Actor, RequestContext
from callvault.db import transaction
from callvault.errors import BadInput, Refused
from callvault.jobs.dbqueue import DatabaseQueue
from callvault.jobs.oversight_tasks import BULK_ALERTS
from jobs.jobs_helpers import burst

NOW = datetime.now(UTC)
TODAY = NOW.date()

OPERATOR = RequestContext(actor=Actor(name="operator:test", kind="operator"), origin="cli")

# (time, action, object id) of one entry.
Act = tuple[datetime, str, str | None]


class Past:
    """Writes real audit entries (and new accounts) as if at a time of the test's choosing:
    the clock the audit log and the account store read is set, nothing else changes."""

    def __init__(self, services: Services, monkeypatch: pytest.MonkeyPatch) -> None:
        self.services, self.now = services, NOW
        for module in ("callvault.audit.service", "callvault.access.service"):
            monkeypatch.setattr(f"{module}.utc_now_iso", self._iso)

    def _iso(self) -> str:
        return self.now.isoformat(timespec="microseconds")

    def acts(self, who: str, acts: list[Act]) -> None:
        """``who`` did ``acts``, in one transaction."""
        ctx = as_person(self.services, who)
        with transaction(self.services.engine) as conn:
            for at, action, object_id in acts:
                self.now = at
                self.services.audit.append(
                    conn, ctx, action, object_type="recording", object_id=object_id
                )
        self.now = NOW

    def plays(self, who: str, day: date, recordings: int, repeats: int = 1) -> None:
        """``who`` plays ``recordings`` distinct recordings on ``day``, each ``repeats`` times."""
        start = datetime(day.year, day.month, day.day, 0, 0, 1, tzinfo=UTC)
        self.acts(who, [
            (start + timedelta(seconds=n * 10 + r), "recording.played", f"{day}-{n}")
            for n in range(recordings) for r in range(repeats)
        ])  # fmt: skip


@pytest.fixture
def past(services: Services, monkeypatch: pytest.MonkeyPatch) -> Past:
    return Past(services, monkeypatch)


def review(services: Services, ctx: RequestContext, **window: str) -> dict[str, Any]:
    roles = frozenset(role.id for role in services.policy.policy.roles)
    return access_review_as(
        services.engine, services.audit, services.permissions, ctx,
        ReviewWindow.parse(window.get("start"), window.get("end")), 90, roles,
    )  # fmt: skip


def by_user(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {row["user"]: row for row in report["accounts"]}


def test_review_lists_every_account_with_its_last_use(
    services: Services, ctx: RequestContext, call_wav: Path, tmp_path: Path
) -> None:
    add_people(services, ctx)
    services.access.add_service(ctx, "pbx-main")
    rec_id = record(services, ctx, call_wav)
    cora = as_person(services, "cora")
    grant = grants(services).flow.request(cora, rec_id, "complaint", "CMP-2026-0001", "parking")
    grants(services).player.play(cora, rec_id, grant.id, tmp_path / "call.opus")
    services.access.disable(ctx, "max")
    report = review(services, as_person(services, "aud"))
    rows = by_user(report)
    assert set(rows) == {*PEOPLE, "pbx-main"}
    # Last use is each account's latest entry as the actor, read back from the real trail
    # (all but the last entry, which records this reading of the report).
    trail = entries(services)[:-1]
    for name, row in rows.items():
        own = [e for e in trail if e["actor"] == name]
        expected = (own[-1]["at"], own[-1]["action"]) if own else (None, None)
        assert (row["last_used_at"], row["last_action"]) == expected, name
    assert rows["cora"]["last_action"] == "recording.played"
    assert (rows["cora"]["listens"], rows["cora"]["requests"], rows["cora"]["approvals"]) == (
        1,
        1,
        0,
    )  # fmt: skip  (the automatic approval is not one cora gave)
    assert rows["max"]["disabled"] and "disabled" in rows["max"]["flags"]
    assert rows["pbx-main"]["kind"] == "service" and "never_used" in rows["pbx-main"]["flags"]
    assert "never_used" in rows["sam"]["flags"] and "never_used" not in rows["cora"]["flags"]
    assert not any("unused_listener" in row["flags"] for row in rows.values())
    assert report["summary"]["accounts"] == len(PEOPLE) + 1
    last = entries(services)[-1]
    assert (last["action"], last["actor"]) == ("report.access_review", "aud")


def test_review_window_counts_and_flags(
    services: Services, ctx: RequestContext, past: Past
) -> None:
    past.now = NOW - timedelta(days=400)
    add_people(services, ctx)  # created long ago
    past.now = NOW
    search = "recordings.searched"
    past.acts("mina", [(NOW - timedelta(days=240), search, None),  # before the window
                       (NOW - timedelta(days=120), search, None)])  # fmt: skip
    past.acts("cora", [(NOW - timedelta(days=5), search, None),
                       (NOW - timedelta(days=4), search, None)])  # fmt: skip
    services.access.add_person(ctx, "newbie", "complaints_officer", "correct horse battery")
    with transaction(services.engine) as conn:  # changed outside callvault, by SQL
        conn.execute(update(users).where(users.c.username == "tess").values(role="dpo"))
    rows = by_user(review(services, OPERATOR))
    assert rows["mina"]["searches"] == 1  # the older search is outside the six months
    assert rows["mina"]["last_action"] == "recordings.searched"
    assert "unused_listener" in rows["mina"]["flags"]
    assert rows["cora"]["searches"] == 2 and "unused_listener" not in rows["cora"]["flags"]
    assert "role_changed" in rows["tess"]["flags"]
    assert rows["tess"]["role_history"][0]["role"] == "team_leader"
    # Auditors and administrators never hear audio: not flagged as unused listeners.
    assert "unused_listener" not in rows["aud"]["flags"]
    # A new account is not "unused" before it has had 90 days to be used.
    assert rows["newbie"]["flags"] == ["never_used"]
    # A window that ended before the searches sees neither them nor later use.
    early = by_user(review(services, OPERATOR, end=(NOW - timedelta(days=200)).isoformat()))
    assert early["mina"]["searches"] == 1 and early["cora"]["last_used_at"] is None


@pytest.mark.parametrize("who", ["adam", "tess"])
def test_review_refused_to_advisors_and_team_leaders(
    services: Services, ctx: RequestContext, who: str
) -> None:
    add_people(services, ctx)
    with pytest.raises(Refused):
        review(services, as_person(services, who))
    refusal = entries(services)[-1]
    assert (refusal["action"], refusal["actor"], refusal["object_id"]) == (
        "access.refused", who, "users:review",
    )  # fmt: skip


def test_window_must_make_sense() -> None:
    with pytest.raises(BadInput) as error:
        ReviewWindow.parse("2026-06-01", "2026-01-01")
    assert error.value.field == "from"
    with pytest.raises(BadInput):
        ReviewWindow.parse("last tuesday", None)


# -- the alert rule, on counts ---------------------------------------------------------------
def history(per_day: int, days: int = 30, every: int = 1) -> dict[date, int]:
    return {TODAY - timedelta(days=n): per_day for n in range(1, days + 1) if n % every == 0}


def test_rule_fires_on_a_jump_and_not_on_steady_or_new_listening() -> None:
    listening = {
        "jumped": {**history(6), TODAY: 40},  # 40 >= 3 x 6 and >= 20
        "steady": {**history(25), TODAY: 30},  # far below 3 x 25
        "starter": {TODAY: 3},  # a first day
        "keen_starter": {TODAY: 20},  # no history: the floor decides
        "part_timer": {**history(8, every=3), TODAY: 23},  # 23 < 3 x 8 (median of days worked)
    }
    found = {alert.user: alert for alert in detect(listening, [TODAY])}
    assert set(found) == {"jumped", "keen_starter"}
    assert (found["jumped"].baseline, found["jumped"].threshold) == (6.0, 20.0)
    assert found["jumped"].active_days == 30
    strict = AlertRule(min_recordings=5, factor=2.0)
    assert {a.user for a in detect({"x": {**history(3), TODAY: 6}}, [TODAY], strict)} == {"x"}


# -- alerts from the real trail --------------------------------------------------------------
def seed_month(past: Past) -> None:
    for n in range(1, 31):
        past.plays("cora", TODAY - timedelta(days=n), 4)  # cora's usual: 4 a day
    for n in range(2, 31, 2):
        past.plays("mina", TODAY - timedelta(days=n), 21)  # mina: 21 every other day
    past.plays("cora", TODAY, 25, repeats=2)  # 25 recordings, each played twice
    past.plays("mina", TODAY, 24)  # steady
    past.plays("sam", TODAY, 3)  # a new starter's first day


def test_alert_fires_for_a_jump_from_real_entries(
    services: Services, ctx: RequestContext, past: Past
) -> None:
    add_people(services, ctx)
    seed_month(past)
    [alert] = bulk_access_alerts(services.engine, [TODAY])
    assert (alert.user, alert.day, alert.recordings, alert.baseline) == ("cora", str(TODAY), 25, 4)
    found = bulk_alerts_as(
        services.engine, services.audit, services.permissions, as_person(services, "dana"),
        [TODAY - timedelta(days=1), TODAY],
    )  # fmt: skip
    assert [(a["user"], a["role"], a["recorded"]) for a in found["alerts"]] == [
        ("cora", "complaints_officer", False)
    ]
    assert entries(services)[-1]["action"] == "alerts.read"


def test_the_job_records_each_alert_once(
    services: Services, ctx: RequestContext, past: Past
) -> None:
    add_people(services, ctx)
    seed_month(past)
    queue = services.jobs
    assert isinstance(queue, DatabaseQueue)
    for key in ("first", "second"):  # two periods' runs
        assert queue.enqueue_periodic(BULK_ALERTS, key=key, queue="retention")
    assert burst(services).as_dict() == {"done": 2, "failed": 0}
    recorded = [e for e in entries(services) if e["action"] == ALERT_ACTION]
    assert len(recorded) == 1
    assert (recorded[0]["object_id"], recorded[0]["actor"]) == ("cora", "system:worker")
    assert recorded[0]["details"]["day"] == str(TODAY)
    assert recorded[0]["details"]["recordings"] == 25
    again = bulk_access_alerts(services.engine, [TODAY])
    with transaction(services.engine) as conn:
        assert record_new_alerts(conn, services.audit, ctx, again) == []
    found = bulk_alerts_as(services.engine, services.audit, services.permissions, OPERATOR, [TODAY])
    assert found["alerts"][0]["recorded"] is True
    assert services.audit.verify().ok


@pytest.mark.parametrize("who", ["adam", "tess", "aud"])
def test_alerts_refused_to_others_than_the_dpo(
    services: Services, ctx: RequestContext, who: str
) -> None:
    add_people(services, ctx)
    with pytest.raises(Refused):
        bulk_alerts_as(
            services.engine, services.audit, services.permissions, as_person(services, who),
            [TODAY],
        )  # fmt: skip
    refusal = entries(services)[-1]
    assert (refusal["action"], refusal["object_id"]) == ("access.refused", "alerts:read")


# -- the CLI ---------------------------------------------------------------------------------
def test_report_commands(
    services: Services,
    ctx: RequestContext,
    past: Past,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CALLVAULT_HOME", str(services.settings.home))
    add_people(services, ctx)
    past.plays("cora", TODAY, 22)
    code, out, _ = run_cli(["report", "access-review", "--from", "2026-01-01"], capsys)
    assert code == 0 and {row["user"] for row in out["accounts"]} == set(PEOPLE)
    assert by_user(out)["cora"]["listens"] == 22
    code, out, _ = run_cli(["report", "bulk-access", "--as", "dana"], capsys)
    assert code == 0 and [(a["user"], a["recordings"]) for a in out["alerts"]] == [("cora", 22)]
    code, _, error = run_cli(["report", "bulk-access", "--as", "tess"], capsys)
    assert code == 3 and error["field"] == "actor"
    code, _, error = run_cli(["report", "bulk-access", "--to", "someday"], capsys)
    assert code == 2 and error["field"] == "to"
    with pytest.raises(SystemExit):
        main(["report", "access-review"])
    table = capsys.readouterr().out
    assert table.startswith("access review") and "never_used" in table
