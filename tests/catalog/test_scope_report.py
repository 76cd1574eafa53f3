"""The scope proof over real ingested calls: what each line kept and declined, and that no call
outside the policy was kept. Violations are forced by writing a recording through the
catalogue's own insert API (as a bug in capture, or a hand-edited database, would)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from access.access_helpers import add_people, as_person, entries, record
from callvault.audit.service import utc_now_iso
from callvault.bootstrap import Services, build
from callvault.capture.ingest import AudioInput
from callvault.catalog.model import CallDecision, Recording
from callvault.catalog.scope import ScopeWindow, scope_report, scope_report_as
from callvault.catalog.store import recordings
from callvault.context import Actor, RequestContext
from callvault.db import transaction
from callvault.errors import BadInput, Refused
from callvault.vault.interfaces import WrappedKey
from callvault.web.app import create_app
from homes import meta_for, run_cli
from web_people import sign_in

OPERATOR = RequestContext(actor=Actor(name="operator:test", kind="operator"), origin="cli")
STAFF_DDI = "+442087539999"  # in the staff direct-dial block 020 8753, no line's number
OTHER_VERSION = "2025-04-01+0123456789ab"


def decline(services: Services, ctx: RequestContext, call_id: str, dialled: str) -> str:
    result = services.ingest.ingest(
        ctx,
        AudioInput(data=b"never read"),
        orjson.dumps(meta_for(call_id=call_id, dialled=dialled)),
    )
    assert result.status == "not_recorded"
    return result.rule


def insert_recording(
    services: Services,
    *,
    line: str,
    dialled: str,
    record_it: bool = True,
    rule: str | None = None,
    version: str | None = None,
    started: datetime | None = None,
) -> str:
    """A decision and a recording written through the catalogue's insert API, bypassing the
    policy (what the scope proof exists to catch)."""
    now = utc_now_iso()
    start = started or datetime.now(UTC) - timedelta(hours=2)
    rec_id, call_id = uuid.uuid4().hex, f"forced-{uuid.uuid4().hex[:8]}"
    decision = CallDecision(
        id=uuid.uuid4().hex, call_id=call_id, direction="inbound", dialled=dialled,
        record=record_it, line=line, rule=rule or f"line:{line}",
        policy_version=version or services.policy.version, decided_at=now, origin="test",
    )  # fmt: skip
    recording = Recording(
        id=rec_id, call_id=call_id, decision_id=decision.id, line=line, sensitivity="standard",
        direction="inbound", dialled=dialled, caller="+447700900123", agent="agent-17",
        started_at=start.isoformat(), ended_at=(start + timedelta(seconds=3)).isoformat(),
        duration_s=3.0, announcement_played=True, notice_version="FPN-2026-11",
        channel_map={"caller": 0, "agent": 1}, flags=[], source_sha256="0" * 64,
        source_bytes=1, source_format="wav", blob_name=f"recordings/ff/{rec_id}.opus",
        codec="opus", sample_rate=48000, channels=2,
        retain_until=(start + timedelta(days=365)).isoformat(), created_at=now,
    )  # fmt: skip
    with transaction(services.engine) as conn:
        services.catalog.add_decision(conn, decision)
        services.catalog.add_recording(conn, recording, WrappedKey("test", b"\0" * 40), now)
    return rec_id


def purge_row(services: Services, recording_id: str) -> None:
    """Leave the row as retention's purge leaves it: a tombstone with no caller or agent."""
    with transaction(services.engine) as conn:
        conn.execute(
            update(recordings)
            .where(recordings.c.id == recording_id)
            .values(caller="", agent="", source_sha256="", purged_at=utc_now_iso())
        )


def report(services: Services, **window: str) -> dict[str, Any]:
    return scope_report(
        services.engine, services.policy.policy,
        ScopeWindow.parse(window.get("start"), window.get("end")),
    )  # fmt: skip


def by_line(found: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {row["line"]: row for row in found["lines"]}


@pytest.fixture
def calls(services: Services, ctx: RequestContext, call_wav: Path) -> dict[str, str]:
    """Two recorded parking calls (one purged), a careline call, and four declined ones: two
    staff direct dials, an internal extension and a number no line has."""
    made = {
        "parking": record(services, ctx, call_wav, "c-park-1"),
        "parking_purged": record(services, ctx, call_wav, "c-park-2"),
        "careline": record(services, ctx, call_wav, "c-care-1", dialled="020 8741 4008"),
    }
    purge_row(services, made["parking_purged"])
    for call_id, dialled in (("c-ddi-1", "020 8753 9999"), ("c-ddi-2", "020 8748 1234"),
                             ("c-ext-1", "4008"), ("c-other", "020 7946 0000")):  # fmt: skip
        decline(services, ctx, call_id, dialled)
    return made


def test_recorded_and_declined_per_line_with_nothing_outside(
    services: Services, calls: dict[str, str]
) -> None:
    found = report(services)
    assert found["ok"] is True and found["violations"] == []
    assert found["checked"] == 3
    assert found["policy_version"] == services.policy.version
    lines = by_line(found)
    assert len(lines) == len(services.policy.policy.lines)
    parking, careline = lines["parking"], lines["careline"]
    assert (parking["recorded"], parking["recorded_live"], parking["recorded_purged"]) == (2, 1, 1)
    assert (careline["recorded"], careline["recorded_live"], careline["recorded_purged"]) == (
        1,
        1,
        0,
    )
    assert lines["switchboard"]["recorded"] == 0
    assert all(row["declined"] == 0 and row["violations"] == 0 for row in lines.values())
    assert parking["when_recorder_down"] == "continue_unrecorded"
    assert parking["record_outbound"] is False and lines["switchboard"]["on_transfer"] == "stop"
    declined = {item["rule"]: item["calls"] for item in found["declined"]}
    assert declined == {
        "exclusion:staff_extensions": 2, "internal-extension": 1, "not-listed": 1,
    }  # fmt: skip
    (staff,) = found["exclusions"]
    assert (staff["id"], staff["declined"], staff["kept"]) == ("staff_extensions", 2, 0)
    assert "never recorded" in staff["reason"]
    assert found["other_versions"] == []


def test_window_bounds(services: Services, ctx: RequestContext, call_wav: Path) -> None:
    old = datetime.now(UTC) - timedelta(days=45)
    record(services, ctx, call_wav, "c-old", started_at=old.isoformat(),
           ended_at=(old + timedelta(seconds=3)).isoformat())  # fmt: skip
    record(services, ctx, call_wav, "c-new")
    assert report(services)["checked"] == 1  # the month to now
    assert report(services, start=(old - timedelta(days=1)).date().isoformat())["checked"] == 2
    before = report(services, start="2020-01-01", end=(old + timedelta(hours=1)).isoformat())
    assert by_line(before)["parking"]["recorded"] == 1
    with pytest.raises(BadInput) as caught:
        ScopeWindow.parse("2026-12-01", "2026-11-01")
    assert caught.value.field == "from"
    with pytest.raises(BadInput):
        ScopeWindow.parse("yesterday", None)


@pytest.mark.parametrize(
    ("line", "dialled", "problem", "current_rule"),
    [
        ("parking", STAFF_DDI, "excluded_number", "exclusion:staff_extensions"),
        ("parking", "4008", "internal_extension", "internal-extension"),
        ("parking", "+442079460000", "not_a_line_number", "not-listed"),
        ("parking", "+442087414008", "line_differs", "line:careline"),
    ],
)
def test_a_call_kept_outside_the_policy_is_a_violation(
    services: Services,
    calls: dict[str, str],
    line: str,
    dialled: str,
    problem: str,
    current_rule: str,
) -> None:
    forced = insert_recording(services, line=line, dialled=dialled)
    found = report(services)
    assert found["ok"] is False and found["checked"] == 4
    (violation,) = found["violations"]
    assert violation["recording_id"] == forced
    assert (violation["problem"], violation["current_rule"]) == (problem, current_rule)
    assert violation["dialled"] == dialled and violation["decided_rule"] == "line:parking"
    assert by_line(found)["parking"]["violations"] == 1
    (staff,) = found["exclusions"]
    assert staff["kept"] == (1 if problem == "excluded_number" else 0)


def test_stored_decision_must_agree(services: Services) -> None:
    declined = insert_recording(
        services, line="parking", dialled="+442073715678", record_it=False, rule="not-listed"
    )
    (violation,) = report(services)["violations"]
    assert violation["recording_id"] == declined
    assert violation["problem"] == "decided_not_to_record"
    # A purged tombstone is checked like a live recording.
    purge_row(services, declined)
    (violation,) = report(services)["violations"]
    assert violation["purged"] is True


def test_another_policy_version_is_reported_not_judged(
    services: Services, calls: dict[str, str]
) -> None:
    """A call recorded under an older policy, whose number the current one excludes, was kept
    lawfully then: counted under its version with the rule the policy applies now."""
    insert_recording(services, line="parking", dialled=STAFF_DDI, version=OTHER_VERSION)
    insert_recording(services, line="parking", dialled="+442073715678", version=OTHER_VERSION)
    found = report(services)
    assert found["ok"] is True and found["violations"] == []
    assert found["other_versions"] == [
        {"policy_version": OTHER_VERSION, "current_rule": "exclusion:staff_extensions",
         "recordings": 1},
        {"policy_version": OTHER_VERSION, "current_rule": "line:parking", "recordings": 1},
    ]  # fmt: skip
    assert by_line(found)["parking"]["decided_under_other_versions"] == 2
    assert by_line(found)["parking"]["recorded"] == 4


def test_declined_calls_to_a_line_number_are_counted_on_the_line(
    services: Services, ctx: RequestContext, call_wav: Path
) -> None:
    """A call to a number that is a line's now, declined under a policy that did not list it
    (the first decision stands): counted on the line, for the DPO to see."""
    policy_file = services.settings.policy_file
    shipped = policy_file.read_text(encoding="utf-8")
    policy_file.write_text(shipped.replace('"020 8753 6164"', '"020 8753 6165"'), "utf-8")
    older = build(services.settings.home)
    assert older.policy.version != services.policy.version
    policy_file.write_text(shipped, encoding="utf-8")
    assert decline(older, ctx, "c-homebuy", "020 8753 6164") == "exclusion:staff_extensions"
    older.engine.dispose()
    found = report(services)  # under the shipped policy, where 020 8753 6164 is Homebuy's
    assert by_line(found)["homebuy"]["declined"] == 1
    assert found["ok"] is True


def test_the_report_is_audited_and_refused_to_others(
    services: Services, ctx: RequestContext, calls: dict[str, str]
) -> None:
    add_people(services, ctx)
    window = ScopeWindow.parse(None, None)
    for name in ("dana", "aud", "root"):
        found = scope_report_as(
            services.engine, services.audit, services.permissions, services.policy.policy,
            as_person(services, name), window,
        )  # fmt: skip
        assert found["ok"] is True
        last = entries(services)[-1]
        assert (last["action"], last["actor"]) == ("report.scope", name)
        assert last["details"]["checked"] == 3 and last["details"]["ok"] is True
    for name in ("adam", "cora", "tess"):
        with pytest.raises(Refused):
            scope_report_as(
                services.engine, services.audit, services.permissions, services.policy.policy,
                as_person(services, name), window,
            )  # fmt: skip
        last = entries(services)[-1]
        assert (last["action"], last["object_id"]) == ("access.refused", "scope:read")


def test_cli_exit_codes(
    services: Services,
    calls: dict[str, str],
    ctx: RequestContext,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("CALLVAULT_HOME", str(services.settings.home))
    add_people(services, ctx)
    code, out, _ = run_cli(["report", "scope", "--as", "aud"], capsys)
    assert code == 0 and out["ok"] is True and out["checked"] == 3
    assert {"lines", "declined", "exclusions", "violations", "other_versions"} <= set(out)
    forced = insert_recording(services, line="parking", dialled=STAFF_DDI)
    code, out, _ = run_cli(["report", "scope", "--from", "2020-01-01"], capsys)
    assert code == 1  # a check failed; the report is still printed in full
    assert out["ok"] is False and out["violations"][0]["recording_id"] == forced
    code, _, error = run_cli(["report", "scope", "--as", "adam"], capsys)
    assert (code, error["field"]) == (3, "actor")
    code, _, error = run_cli(["report", "scope", "--to", "soon"], capsys)
    assert (code, error["field"]) == (2, "to")


def test_api(services: Services, calls: dict[str, str], ctx: RequestContext) -> None:
    add_people(services, ctx)
    forced = insert_recording(services, line="parking", dialled=STAFF_DDI)
    with TestClient(create_app(services), base_url="https://testserver") as auditor:
        sign_in(auditor, services, "aud")
        response = auditor.get("/api/v1/reports/scope", params={"from": "2020-01-01"})
        assert response.status_code == 200  # the finding is in the body
        body = response.json()
        assert body["ok"] is False and body["violations"][0]["recording_id"] == forced
        assert auditor.get("/api/v1/reports/scope", params={"from": "x"}).status_code == 422
