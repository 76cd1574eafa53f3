"""The access commands through the real CLI: --json shapes and exit code 3 when refused."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from access.access_helpers import record, run_cli
from callvault.bootstrap import Services
from callvault.context import RequestContext


def test_user_access_and_play_commands(
    services: Services,
    ctx: RequestContext,
    call_wav: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CALLVAULT_HOME", str(services.settings.home))
    rec_id = record(services, ctx, call_wav)
    code, out, _ = run_cli(["user", "add", "cora", "--role", "complaints_officer"], capsys)
    assert code == 0 and out["user"] == "cora" and out["role"] == "complaints_officer"
    assert len(out["password"]) >= 12
    monkeypatch.setattr("sys.stdin", io.StringIO("a long enough password\n"))
    code, out, _ = run_cli(
        ["user", "add", "mina", "--role", "authorised_manager", "--password-stdin"], capsys
    )
    assert code == 0 and out == {"user": "mina", "role": "authorised_manager"}
    run_cli(["user", "add", "max", "--role", "authorised_manager"], capsys)
    run_cli(["user", "add", "adam", "--role", "advisor"], capsys)
    code, out, _ = run_cli(["user", "list"], capsys)
    assert [u["user"] for u in out["users"]] == ["adam", "cora", "max", "mina"]

    code, out, _ = run_cli(
        ["access", "request", rec_id, "--purpose", "complaint", "--case", "CMP-2026-0001",
         "--reason", "complaint", "--as", "cora"], capsys,
    )  # fmt: skip
    assert code == 0 and out["status"] == "approved"
    grant_id = out["grant_id"]
    dest = tmp_path / "cora.opus"
    code, out, _ = run_cli(
        ["play", rec_id, "--grant", grant_id, "--out", str(dest), "--as", "cora"], capsys
    )
    assert code == 0 and out["path"] == str(dest) and len(out["sha256"]) == 64
    last = services.audit.show(limit=10_000)[-1]
    assert last["action"] == "recording.played" and last["actor"] == "cora"
    assert last["operator"].startswith("operator:")

    # Refused: exit 3 with the error document; nothing written.
    other = tmp_path / "mina.opus"
    code, out, err = run_cli(
        ["play", rec_id, "--grant", grant_id, "--out", str(other), "--as", "mina"], capsys
    )
    assert code == 3 and out is None and err["field"] == "grant_id" and not other.exists()
    code, _, err = run_cli(
        ["access", "request", rec_id, "--purpose", "complaint", "--case", "CMP-2026-0001",
         "--as", "adam"], capsys,
    )  # fmt: skip
    assert code == 3 and "adam may not do recordings:request" in err["error"]
    assert services.audit.show(limit=10_000)[-1]["action"] == "access.refused"
    code, _, err = run_cli(
        ["access", "request", rec_id, "--purpose", "complaint", "--case", "bad",
         "--as", "cora"], capsys,
    )  # fmt: skip
    assert code == 2 and err["field"] == "case_ref"

    # Second approval through the CLI.
    code, out, _ = run_cli(
        ["access", "request", rec_id, "--purpose", "crime", "--case", "CRM-2026-0001",
         "--as", "mina"], capsys,
    )  # fmt: skip
    assert out["status"] == "pending"
    pending = out["grant_id"]
    code, _, err = run_cli(["access", "approve", pending, "--as", "mina"], capsys)
    assert code == 3 and "different person" in err["error"]
    code, out, _ = run_cli(["access", "approve", pending, "--as", "max"], capsys)
    assert code == 0 and out == {
        "grant_id": pending,
        "status": "approved",
        "recording_ids": [rec_id],
    }
    code, out, _ = run_cli(
        ["access", "revoke", pending, "--reason", "done", "--as", "mina"], capsys
    )
    assert code == 0 and out["grant_id"] == pending and out["status"] == "revoked"

    # Unknown or disabled people cannot be acted for.
    code, _, err = run_cli(["access", "deny", pending, "--as", "nobody"], capsys)
    assert code == 3 and err["field"] == "as"
    code, out, _ = run_cli(["user", "disable", "cora"], capsys)
    assert code == 0 and out == {"user": "cora", "disabled": True}
    code, _, err = run_cli(
        ["play", rec_id, "--grant", grant_id, "--out", str(tmp_path / "x.opus"), "--as", "cora"],
        capsys,
    )
    assert code == 3 and "disabled" in err["error"]
    assert services.audit.verify().ok
