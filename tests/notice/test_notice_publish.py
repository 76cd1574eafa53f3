"""Publishing: ``callvault notice``, ``/notice`` and ``/notice/staff``, and the record of
processing (``callvault report ropa``, ``/api/v1/reports/ropa``), on a real home."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml
from fastapi.testclient import TestClient

from access.access_helpers import add_people, as_person, entries, record
from callvault.bootstrap import Services, build
from callvault.cli.main import main
from callvault.context import RequestContext
from callvault.errors import Refused
from callvault.notice.service import publish, ropa_as
from callvault.web.app import create_app
from homes import run_cli
from web_people import sign_in

EVIL = "<script>alert('x')</script>"


def write_policy(path: Path, example_text: str, edit: Any) -> Path:
    data = yaml.safe_load(example_text)
    edit(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def run_raw(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """``callvault ARGS`` in-process without ``--json``: (exit code, stdout, stderr)."""
    with pytest.raises(SystemExit) as exited:
        main(args)
    out, err = capsys.readouterr()
    return int(exited.value.code or 0), out, err


@pytest.fixture
def home_env(services: Services, monkeypatch: pytest.MonkeyPatch) -> Services:
    monkeypatch.setenv("CALLVAULT_HOME", str(services.settings.home))
    return services


@pytest.fixture
def client(services: Services) -> Iterator[TestClient]:
    with TestClient(create_app(services), base_url="https://testserver") as anonymous:
        yield anonymous


def rebuilt(services: Services, example_text: str, edit: Any) -> Services:
    """The same home with its policy file edited, as after an operator's edit and restart."""
    write_policy(services.settings.policy_file, example_text, edit)
    return build(services.settings.home)


# -- the command --------------------------------------------------------------------------------


def test_cli_prints_the_notice_of_the_home(
    home_env: Services, capsys: pytest.CaptureFixture[str]
) -> None:
    policy = home_env.policy.policy
    code, out, _ = run_cli(["notice"], capsys)
    assert code == 0
    assert out["audience"] == "public" and out["format"] == "md"
    assert (out["notice_version"], out["policy_version"]) == ("FPN-2026-11", policy.version)
    assert out["text"] == publish(policy, "public", "md").text
    assert out["sha256"] == publish(policy, "public", "html").document.sha256
    assert out["content"]["sections"][0]["heading"] == "Who records your call"
    code, text, _ = run_raw(["notice", "--staff", "--format", "html"], capsys)
    assert code == 0 and text == publish(policy, "staff", "html").text


def test_cli_writes_the_notice_whole(
    tmp_path: Path, example_text: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--policy`` reviews a draft without a home; ``--out`` replaces the file whole."""
    draft = write_policy(tmp_path / "draft.yaml", example_text, lambda d: None)
    out = tmp_path / "site" / "notice.html"
    out.parent.mkdir()
    code, text, _ = run_raw(
        ["notice", "--policy", str(draft), "--format", "html", "--out", str(out)], capsys
    )
    assert code == 0 and text.startswith("wrote the public notice FPN-2026-11")
    assert out.read_text(encoding="utf-8").startswith("<!doctype html>")
    assert [p.name for p in out.parent.iterdir()] == ["notice.html"]  # no temporary left


def test_cli_refuses_an_incomplete_notice_and_writes_nothing(
    tmp_path: Path, example_text: str, capsys: pytest.CaptureFixture[str]
) -> None:
    draft = write_policy(
        tmp_path / "draft.yaml", example_text, lambda d: d["purposes"][2].pop("description")
    )
    out = tmp_path / "notice.html"
    out.write_text("the notice published before", encoding="utf-8")
    code, body, error = run_cli(["notice", "--policy", str(draft), "--out", str(out)], capsys)
    assert code == 2 and body is None
    assert error["field"] == "purposes[2].description"
    assert "not published" in error["error"] and "`purposes[2].description`" in error["error"]
    assert out.read_text(encoding="utf-8") == "the notice published before"
    assert {p.name for p in tmp_path.iterdir()} == {"draft.yaml", "notice.html"}
    # The staff notice needs the same field, and says so too.
    code, _, error = run_cli(["notice", "--staff", "--policy", str(draft)], capsys)
    assert (code, error["field"]) == (2, "purposes[2].description")


def test_cli_out_to_a_missing_folder_is_bad_input(
    tmp_path: Path, example_text: str, capsys: pytest.CaptureFixture[str]
) -> None:
    draft = write_policy(tmp_path / "draft.yaml", example_text, lambda d: None)
    missing = tmp_path / "nowhere" / "notice.md"
    code, _, error = run_cli(["notice", "--policy", str(draft), "--out", str(missing)], capsys)
    assert (code, error["field"]) == (2, "out")


# -- the pages ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("path", "audience"), [("/notice", "public"), ("/notice/staff", "staff")])
def test_pages_are_public_and_say_only_what_the_policy_says(
    services: Services,
    ctx: RequestContext,
    client: TestClient,
    call_wav: Path,
    path: str,
    audience: str,
) -> None:
    before = client.get(path)
    assert before.status_code == 200, before.text
    assert before.headers["content-type"].startswith("text/html")
    published = publish(services.policy.policy, audience, "html")
    assert before.text == published.text
    assert before.headers["etag"] == f'"{published.document.sha256}"'
    csp = before.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src" not in csp and "unsafe" not in csp
    # People and calls in the home change nothing: the page comes from the policy alone.
    add_people(services, ctx)
    recording = record(services, ctx, call_wav, "notice-1", agent="agent-17")
    after = client.get(path)
    assert after.text == before.text
    for private in (recording, "07700 900123", "+447700900123", "agent-17", "cora", "notice-1"):
        assert private not in after.text


def test_pages_escape_policy_text(services: Services, example_text: str) -> None:
    def evil(data: dict[str, Any]) -> None:
        data["controller"] = f"Council {EVIL}"
        data["lines"][0]["name"] = EVIL
        data["roles"][1]["name"] = EVIL  # a listening role: on the staff page

    changed = rebuilt(services, example_text, evil)
    with TestClient(create_app(changed), base_url="https://testserver") as anonymous:
        for path in ("/notice", "/notice/staff"):
            page = anonymous.get(path)
            assert page.status_code == 200
            assert "<script" not in page.text and "&lt;script&gt;" in page.text
    changed.engine.dispose()


def test_an_incomplete_policy_publishes_no_page(services: Services, example_text: str) -> None:
    changed = rebuilt(services, example_text, lambda d: d["purposes"][0].pop("description"))
    with TestClient(create_app(changed), base_url="https://testserver") as anonymous:
        for path in ("/notice", "/notice/staff"):
            refused = anonymous.get(path)
            assert refused.status_code == 503
            assert refused.headers["content-type"].startswith("application/json")
            assert refused.json()["field"] == "purposes[0].description"
            assert "<html" not in refused.text
    changed.engine.dispose()


# -- the record of processing -------------------------------------------------------------------


def test_record_of_processing_who_may(services: Services, ctx: RequestContext) -> None:
    add_people(services, ctx)
    for name in ("dana", "aud", "root"):  # the DPO, an auditor, an administrator
        record = ropa_as(
            services.engine, services.audit, services.permissions,
            as_person(services, name), services.policy.policy,
        )  # fmt: skip
        assert len(record["rows"]) == len(services.policy.policy.purposes)
    for name in ("adam", "cora"):  # an advisor, a complaints officer
        with pytest.raises(Refused):
            ropa_as(
                services.engine, services.audit, services.permissions,
                as_person(services, name), services.policy.policy,
            )  # fmt: skip
        last = entries(services)[-1]
        assert (last["action"], last["actor"], last["object_id"]) == (
            "access.refused", name, "ropa:read"
        )  # fmt: skip


def test_record_of_processing_cli_and_api(
    home_env: Services, ctx: RequestContext, capsys: pytest.CaptureFixture[str]
) -> None:
    services = home_env
    add_people(services, ctx)
    code, out, _ = run_cli(["report", "ropa", "--as", "aud"], capsys)
    assert code == 0 and [row["purpose_id"] for row in out["rows"]][:2] == [
        "complaint",
        "ombudsman",
    ]
    code, text, _ = run_raw(["report", "ropa", "--format", "csv"], capsys)
    assert code == 0
    assert [row["purpose_id"] for row in csv.DictReader(io.StringIO(text))] == [
        row["purpose_id"] for row in out["rows"]
    ]
    code, _, error = run_cli(["report", "ropa", "--as", "adam"], capsys)
    assert (code, error["field"]) == (3, "actor")
    with TestClient(create_app(services), base_url="https://testserver") as dpo:
        sign_in(dpo, services, "dana")
        as_csv = dpo.get("/api/v1/reports/ropa?format=csv")
        assert as_csv.status_code == 200
        assert as_csv.headers["content-type"].startswith("text/csv")
        assert "attachment" in as_csv.headers["content-disposition"]
        assert as_csv.text == text
        as_json = dpo.get("/api/v1/reports/ropa")
        assert orjson.loads(as_json.content) == out
        md = dpo.get("/api/v1/reports/ropa?format=md")
        assert md.text.startswith("# Record of processing activities")
        assert dpo.get("/api/v1/reports/ropa?format=xlsx").status_code == 422
