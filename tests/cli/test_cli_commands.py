"""The command-line surface scripts rely on (CLI.md): shapes, exit codes, effects."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest

from callvault.access.sessions import ANONYMOUS
from callvault.access.signin import SignInService
from callvault.bootstrap import Services, build
from callvault.context import RequestContext
from homes import run_cli, tamper
from web_people import current_code


@pytest.fixture
def cli_home(services: Services, monkeypatch: pytest.MonkeyPatch) -> Services:
    monkeypatch.setenv("CALLVAULT_HOME", str(services.settings.home))
    return services


def test_init_prints_credentials_once_and_refuses_to_overwrite(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CALLVAULT_HOME", str(tmp_path / "h"))
    code, out, _ = run_cli(["init"], capsys)
    assert code == 0
    assert {"home", "admin_user", "admin_password"} <= set(out)
    assert out["home"] == str(tmp_path / "h") and len(out["admin_password"]) >= 16
    assert (tmp_path / "h" / "keys" / "kek.json").stat().st_mode & 0o777 == 0o600
    code, _, err = run_cli(["init"], capsys)
    assert code == 2 and err["field"] == "home"


def test_init_demo_ingests_sample_calls(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CALLVAULT_HOME", str(tmp_path / "demo"))
    code, out, _ = run_cli(["init", "--demo"], capsys)
    assert code == 0 and out["demo"]["recorded"] >= 3 and out["demo"]["not_recorded"] >= 1
    # One person per role the web UI serves, each able to sign in with what the file says.
    accounts = Path(out["demo"]["accounts_file"])
    assert accounts.stat().st_mode & 0o777 == 0o600
    text = accounts.read_text()
    password = text.split("password for every account: ")[1].split()[0]
    services = build(tmp_path / "demo")
    signin = SignInService.for_services(services)
    roles = {services.access.person(name).role for name in out["demo"]["people"]}
    assert {"complaints_officer", "authorised_manager", "dpo", "advisor", "auditor"} <= roles
    secret = text.split("callvault:cora?secret=")[1].split("&")[0]
    web = RequestContext(actor=ANONYMOUS, origin="api:test")
    assert signin.sign_in(web, "cora", password, current_code(secret)).role == "complaints_officer"
    assert signin.sign_in(web, "audrey", password, None).role == "auditor"
    code, out, _ = run_cli(["audit", "verify"], capsys)
    assert code == 0 and out["ok"] is True


def test_policy_check_shape(cli_home: Services, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(["policy", "check", "tel:+44-20-8741-2403"], capsys)
    assert code == 0
    assert out == {**out, "record": True, "line": "careline", "number": "+442087412403",
                   "rule": "line:careline"}  # fmt: skip
    assert out["policy_version"] == cli_home.policy.policy.version


def test_policy_check_not_a_number(cli_home: Services, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(["policy", "check", "parking"], capsys)
    assert code == 2 and out is None and err["field"] == "dialled"


def test_policy_show(cli_home: Services, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(["policy", "show"], capsys)
    assert code == 0 and len(out["lines"]) == 18 and out["version"]


def test_ingest_shape(
    cli_home: Services,
    call_wav: Path,
    make_meta: Callable[..., Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run_cli(["ingest", str(call_wav), "--meta", str(make_meta())], capsys)
    assert code == 0 and out["status"] == "recorded" and out["recording_id"] and out["reason"]
    code, out, _ = run_cli(
        ["ingest", str(call_wav), "--meta", str(make_meta(call_id="c2", dialled="2403"))], capsys
    )
    assert code == 0 and out == {**out, "status": "not_recorded", "recording_id": None}


def test_audit_verify_fails_with_exit_1(
    cli_home: Services, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run_cli(["audit", "verify"], capsys)
    assert code == 0 and out == {**out, "ok": True, "entries": 1, "first_bad": None}
    tamper(cli_home, "UPDATE audit_log SET entry=replace(entry, 'home.initialised', 'x')")
    code, out, _ = run_cli(["audit", "verify"], capsys)
    assert code == 1 and out["ok"] is False and out["first_bad"] == 1


def test_audit_show(cli_home: Services, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(["audit", "show"], capsys)
    assert code == 0 and out["entries"][0]["action"] == "home.initialised"


def test_keys_rotate_rewraps_and_audio_still_plays(
    cli_home: Services,
    call_wav: Path,
    make_meta: Callable[..., Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    _, ingested, _ = run_cli(["ingest", str(call_wav), "--meta", str(make_meta())], capsys)
    rec_id = ingested["recording_id"]
    blob_before = _blob_bytes(cli_home, rec_id)
    old_kek = cli_home.catalog.wrapped_key(rec_id).kek_id
    code, out, _ = run_cli(["keys", "rotate"], capsys)
    assert code == 0 and out == {"rewrapped": 1}
    fresh = build(cli_home.settings.home)
    wrapped = fresh.catalog.wrapped_key(rec_id)
    assert wrapped.kek_id != old_kek and fresh.keys.key_ids() == [wrapped.kek_id]
    assert _blob_bytes(fresh, rec_id) == blob_before  # audio not re-encrypted
    key = fresh.vault.unwrap_key(wrapped, rec_id)
    assert fresh.vault.read_all(fresh.catalog.get(rec_id).blob_name, key)[:4] == b"OggS"
    assert fresh.audit.verify().ok


def _blob_bytes(services: Services, rec_id: str) -> bytes:
    name = services.catalog.get(rec_id).blob_name
    return b"".join(iter(services.blobs.open(name).read, b""))


def test_check_ok(cli_home: Services, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(["check"], capsys)
    assert code == 0 and out == {**out, "ok": True, "problems": []}


def test_check_reports_a_bad_policy(cli_home: Services, capsys: pytest.CaptureFixture[str]) -> None:
    policy = cli_home.settings.policy_file
    policy.write_text(policy.read_text().replace("retention: 12 months", "retention: soon", 1))
    code, out, _ = run_cli(["check"], capsys)
    assert code == 1 and out["ok"] is False and "policy" in out["problems"][0]


def test_real_binary_json_error_on_stderr(cli_home: Services) -> None:
    """The installed entry point, as an operator's script runs it."""
    env = {**os.environ, "CALLVAULT_HOME": str(cli_home.settings.home)}
    exe = Path(sys.executable).parent / "callvault"
    proc = subprocess.run([str(exe), "policy", "check", "+44", "--json"], env=env,
                          capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert proc.returncode == 2 and proc.stdout == ""
    assert orjson.loads(proc.stderr)["field"] == "dialled"
    proc = subprocess.run([str(exe), "policy", "check", "0800 145 6095", "--json"], env=env,
                          capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert proc.returncode == 0 and orjson.loads(proc.stdout)["line"] == "adult_social_care"


def test_check_finds_and_repairs_an_open_home(
    cli_home: Services, capsys: pytest.CaptureFixture[str]
) -> None:
    home = cli_home.settings.home
    home.chmod(0o755)
    code, out, _ = run_cli(["check"], capsys)
    assert code == 1 and "chmod 700" in out["problems"][0]
    code, out, _ = run_cli(["check", "--repair"], capsys)
    assert code == 0 and out["repaired"] and home.stat().st_mode & 0o777 == 0o700


def test_files_the_cli_creates_are_private(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CALLVAULT_HOME", str(tmp_path / "h"))
    old = os.umask(0o022)
    try:
        assert run_cli(["init"], capsys)[0] == 0
    finally:
        os.umask(old)
    for path in (tmp_path / "h").rglob("*"):
        assert path.stat().st_mode & 0o077 == 0, path


def test_serve_refuses_an_unmigrated_database(
    cli_home: Services, capsys: pytest.CaptureFixture[str]
) -> None:
    """An upgrade without a migration fails fast with the fix, instead of serving errors."""
    from alembic import command

    from callvault.db import _alembic_config

    # The database as the previous release left it: only the first migration applied.
    with cli_home.engine.begin() as conn:
        command.downgrade(_alembic_config(conn), "0001")
    code, _out, err = run_cli(["worker", "--burst"], capsys)
    assert code == 2 and err["field"] == "db_url" and "check --repair" in err["error"]
    code, out, _ = run_cli(["check", "--repair"], capsys)
    assert code == 0 and "migrated the database schema" in out["repaired"]
