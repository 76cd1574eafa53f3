"""Who reads the demand report, through the real command and the API; refusals audited."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from access.access_helpers import add_people, entries, run_cli
from analytics.demand_helpers import CALLER_A, CALLER_B, CARELINE, PARKING, Call, index, ingest_call
from callvault.bootstrap import Services
from callvault.context import RequestContext
from callvault.web.app import create_app
from web_people import PASSWORD, sign_in

FROM, TO = "2026-08-24", "2026-09-07"
CALLVAULT = str(Path(sys.executable).parent / "callvault")
FIGURES = {"calls", "out_of_hours", "out_of_hours_share", "duration_s", "repeat_callers",
           "calls_from_repeat_callers", "transcribed", "unclassified", "topics", "by_hour",
           "by_weekday", "by_day", "by_week"}  # fmt: skip
TOP = FIGURES | {"from", "to", "timezone", "policy_version", "lines", "not_indexed", "cells"}


@pytest.fixture
def seeded(services: Services, ctx: RequestContext, tmp_path: Path) -> None:
    """Three calls: two from A on parking (one on the bank holiday), one to careline."""
    for call in (
        Call("a1", "2026-08-24 10:00:00", PARKING, CALLER_A, 2, ("my parking permit",)),
        Call("a2", "2026-08-31 10:00:00", PARKING, CALLER_A, 3, None),
        Call("a3", "2026-08-29 03:00:00", CARELINE, CALLER_B, 2, ("my alarm",)),
    ):
        ingest_call(services, ctx, tmp_path, call)
    index(services)
    add_people(services, ctx)
    services.access.add_person(ctx, "bia", "business_intelligence", PASSWORD)


@pytest.fixture
def cli_home(services: Services, monkeypatch: pytest.MonkeyPatch) -> Services:
    """The test home for commands run in-process (``run_cli``)."""
    monkeypatch.setenv("CALLVAULT_HOME", str(services.settings.home))
    return services


def callvault(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CALLVAULT, *args], env=env, capture_output=True, text=True,
                          timeout=120, check=False)  # fmt: skip


def test_the_real_command_prints_the_report(
    services: Services, seeded: None, cli_env: dict[str, str]
) -> None:
    proc = callvault(cli_env, "report", "demand", "--from", FROM, "--to", TO, "--json")
    assert proc.returncode == 0, proc.stderr
    report: dict[str, Any] = orjson.loads(proc.stdout)
    assert set(report) == TOP
    assert set(report["lines"][0]) == FIGURES | {"line", "name"}
    parking = next(line for line in report["lines"] if line["line"] == "parking")
    assert (parking["calls"], parking["out_of_hours"], parking["repeat_callers"]) == (2, 1, 1)
    assert (report["calls"], report["transcribed"], report["unclassified"]) == (3, 2, 0)
    proc = callvault(cli_env, "report", "demand", "--from", FROM, "--to", TO, "--csv")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        "line,date,hour,calls,out_of_hours,total_duration_s",
        "parking,2026-08-24,10,1,0,2.0",
        "parking,2026-08-31,10,1,1,3.0",
        "careline,2026-08-29,3,1,0,2.0",
    ]
    proc = callvault(cli_env, "report", "demand", "--from", FROM, "--to", TO, "--as", "bia")
    assert proc.returncode == 0, proc.stderr
    table = proc.stdout.splitlines()
    assert table[1].split()[:2] == ["line", "calls"]
    assert next(row for row in table if row.startswith("parking")).split()[1:4] == [
        "2", "1", "(50%)",
    ]  # fmt: skip
    assert next(row for row in table if row.startswith("all lines")).split()[2] == "3"


def test_an_advisor_or_auditor_is_refused_and_audited(
    cli_home: Services, seeded: None, cli_env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    services = cli_home
    proc = callvault(cli_env, "report", "demand", "--as", "aud", "--json")
    assert proc.returncode == 3 and proc.stdout == ""
    assert orjson.loads(proc.stderr.strip().splitlines()[-1])["field"] == "actor"
    last = entries(services)[-1]
    assert (last["action"], last["actor"], last["object_id"]) == (
        "access.refused", "aud", "demand:read",
    )  # fmt: skip
    code, _, error = run_cli(["report", "demand", "--as", "adam"], capsys)
    assert (code, error["field"]) == (3, "actor")
    last = entries(services)[-1]
    assert (last["action"], last["actor"]) == ("access.refused", "adam")
    assert not [e for e in entries(services) if e["action"] == "report.demand"]


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["--from", "2026-09-07", "--to", "2026-08-24"], "from"),
        (["--to", "soon"], "to"),
        (["--from", "2025-01-01", "--to", "2026-09-01"], "from"),
    ],
)
def test_bad_input_exits_2_and_changes_nothing(
    services: Services,
    seeded: None,
    cli_home: Services,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    field: str,
) -> None:
    before = len(entries(services))
    code, out, error = run_cli(["report", "demand", *args], capsys)
    assert (code, out, error["field"]) == (2, None, field)
    assert len(entries(services)) == before


def test_api_json_and_csv(services: Services, seeded: None) -> None:
    app = create_app(services)
    with TestClient(app, base_url="https://testserver") as analyst:
        sign_in(analyst, services, "bia")
        response = analyst.get("/api/v1/reports/demand", params={"from": FROM, "to": TO})
        assert response.status_code == 200, response.text
        assert set(response.json()) == TOP and response.json()["calls"] == 3
        response = analyst.get(
            "/api/v1/reports/demand", params={"from": FROM, "to": TO, "format": "csv"}
        )
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/csv")
        assert response.headers["content-disposition"] == (
            'attachment; filename="demand-2026-08-24-2026-09-07.csv"'
        )
        assert response.text.splitlines()[1] == "parking,2026-08-24,10,1,0,2.0"
        assert analyst.get("/api/v1/reports/demand", params={"from": "x"}).status_code == 422
        assert analyst.get("/api/v1/reports/demand", params={"format": "xml"}).status_code == 422
    with TestClient(app, base_url="https://testserver") as manager:
        sign_in(manager, services, "mina")
        assert manager.get("/api/v1/reports/demand").status_code == 200
    with TestClient(app, base_url="https://testserver") as auditor:
        sign_in(auditor, services, "aud")
        assert auditor.get("/api/v1/reports/demand").status_code == 403
    last = entries(services)[-1]
    assert (last["action"], last["actor"]) == ("access.refused", "aud")
    read = [e for e in entries(services) if e["action"] == "report.demand"]
    assert [e["actor"] for e in read] == ["bia", "bia", "mina"]
