"""``callvault evidence bundle`` and ``evidence verify``: exit codes 0/1/2/3, and a bundle
verifying on a machine that has only callvault and the public key (a bare environment)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from access.access_helpers import add_people, as_person, grants, record, run_cli
from callvault.bootstrap import Services
from callvault.context import RequestContext
from evidence.evidence_helpers import FIELDS, public_pem, rewrite

CALLVAULT = Path(sys.executable).parent / "callvault"


@pytest.fixture
def world(
    services: Services,
    ctx: RequestContext,
    call_wav: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> tuple[Services, str, str]:
    """A recording and cora's complaint grant for it; the CLI pointed at the home."""
    monkeypatch.setenv("CALLVAULT_HOME", str(services.settings.home))
    add_people(services, ctx)
    rec_id = record(services, ctx, call_wav)
    grant = grants(services).flow.request(as_person(services, "cora"), rec_id, "complaint",
                                          "CMP-2026-0301", "complaint by the caller")  # fmt: skip
    return services, rec_id, grant.id


def _bundle_args(rec_id: str, grant_id: str, out: Path, who: str = "cora") -> list[str]:
    fields = [arg for key, value in FIELDS.items() for arg in (f"--{key}", value)]
    return ["evidence", "bundle", rec_id, "--grant", grant_id, "--out", str(out), *fields,
            "--as", who]  # fmt: skip


def test_exit_codes(
    world: tuple[Services, str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    services, rec_id, grant_id = world
    out = tmp_path / "bundle.zip"
    key = tmp_path / "export.pub"
    key.write_bytes(public_pem(services))

    code, made, _ = run_cli(_bundle_args(rec_id, grant_id, out), capsys)
    assert code == 0 and made["path"] == str(out) and made["disclosure_id"]
    code, checked, _ = run_cli(["evidence", "verify", str(out), "--key", str(key)], capsys)
    assert code == 0 and checked["ok"] is True and checked["bundle_id"] == made["bundle_id"]
    assert checked["disclosure"]["organisation"] == FIELDS["organisation"]

    bad = tmp_path / "bad.zip"
    rewrite(out, bad, lambda n, d: d + b"x" if n.startswith("audio/") else d)
    code, failed, _ = run_cli(["evidence", "verify", str(bad), "--key", str(key)], capsys)
    assert code == 1 and failed["ok"] is False and "seal" in failed["problem"]

    not_key = tmp_path / "not.pub"
    not_key.write_text("hello")
    code, _, error = run_cli(["evidence", "verify", str(out), "--key", str(not_key)], capsys)
    assert code == 2 and error["field"] == "key"
    code, _, error = run_cli(["evidence", "verify", str(tmp_path / "none.zip"), "--key",
                              str(key)], capsys)  # fmt: skip
    assert code == 2
    args = _bundle_args(rec_id, grant_id, tmp_path / "m.zip")
    code, _, error = run_cli([*args[:-4], "--method", "fax", *args[-2:]], capsys)
    assert code == 2 and error["field"] == "method"
    code, _, error = run_cli(_bundle_args(rec_id, grant_id, out), capsys)
    assert code == 2 and error["field"] == "out"  # never overwrites

    code, _, error = run_cli(_bundle_args(rec_id, grant_id, tmp_path / "t.zip", "tess"), capsys)
    assert code == 3 and "was given to cora, not tess" in error["error"]
    assert not (tmp_path / "m.zip").exists() and not (tmp_path / "t.zip").exists()


def test_verifies_with_only_callvault_and_the_public_key(
    world: tuple[Services, str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The recipient's machine: no CALLVAULT_* settings, no home, an empty working folder
    holding the bundle and the key, a HOME of its own; nothing is created there."""
    services, rec_id, grant_id = world
    made = tmp_path / "made.zip"
    assert run_cli(_bundle_args(rec_id, grant_id, made), capsys)[0] == 0
    recipient = tmp_path / "recipient"
    (recipient / "home").mkdir(parents=True)
    (recipient / "work").mkdir()
    work = recipient / "work"
    shutil.copy(made, work / "bundle.zip")
    (work / "council.pub").write_bytes(public_pem(services))
    rewrite(made, work / "tampered.zip", lambda n, d: d.replace(b"complaint", b"complains"))
    env = {"PATH": os.defpath, "HOME": str(recipient / "home"), "LC_ALL": "C.UTF-8"}

    def verify(name: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(CALLVAULT), "evidence", "verify", name, "--key", "council.pub", "--json"],
            cwd=work, env=env, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip

    good = verify("bundle.zip")
    assert good.returncode == 0, good.stderr
    report = orjson.loads(good.stdout)
    assert report["ok"] is True and report["recording_id"] == rec_id
    bad = verify("tampered.zip")
    assert bad.returncode == 1 and orjson.loads(bad.stdout)["ok"] is False
    assert sorted(p.name for p in work.iterdir()) == ["bundle.zip", "council.pub", "tampered.zip"]
    assert list((recipient / "home").iterdir()) == []


def test_the_verifier_imports_no_database_or_settings() -> None:
    probe = (
        "import sys, orjson; import callvault.evidence.verify; "
        "print(orjson.dumps(sorted(sys.modules)).decode())"
    )
    found = subprocess.run(
        [sys.executable, "-c", probe], env={"PATH": os.defpath}, capture_output=True,
        text=True, timeout=60, check=True,
    )  # fmt: skip
    modules = set(orjson.loads(found.stdout))
    assert not {"sqlalchemy", "callvault.config", "callvault.db", "callvault.bootstrap"} & modules
    assert {m for m in modules if m.startswith("callvault.")} <= {
        "callvault.access", "callvault.access.export_signing", "callvault.audit",
        "callvault.audit.chain", "callvault.errors", "callvault.evidence",
        "callvault.evidence.verify", "callvault.secretfile",
    }  # fmt: skip
