"""The speech commands as operators script them: transcript, flags, and check's model probe."""

from __future__ import annotations

from pathlib import Path

import pytest
from speech_helpers import add_people, granted, ingest_clip, needs_corpus_tools

from callvault.bootstrap import Services
from callvault.context import system_context
from homes import run_cli, worker_context
from speech_corpus import short_clip

pytestmark = needs_corpus_tools


@pytest.fixture
def home_env(services: Services, monkeypatch: pytest.MonkeyPatch) -> Services:
    monkeypatch.setenv("CALLVAULT_HOME", str(services.settings.home))
    return services


def test_transcript_and_flags_from_the_command_line(
    home_env: Services, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    services = home_env
    rec_id = ingest_clip(services, short_clip(tmp_path, "ABUSE"))
    add_people(services)
    services.access.add_person(
        system_context("test"), "sam", "safety_officer", "correct horse battery"
    )
    grant = granted(services, "cora", rec_id, "complaint", "CMP-2026-0010")
    args = ["transcript", rec_id, "--grant", grant, "--as", "cora"]

    code, _out, error = run_cli(args, capsys)
    assert code == 2 and error["field"] == "recording_id"  # not transcribed yet

    services.speech.process(worker_context(), rec_id)
    code, out, _ = run_cli([*args, "--rendition", "redacted"], capsys)
    assert code == 0 and out["rendition"] == "redacted"
    assert {s["speaker"] for s in out["segments"]} == {"caller", "agent"}
    assert all(set(s) == {"speaker", "start", "end", "text"} for s in out["segments"])

    code, out, _ = run_cli(["flags", "list", "--kind", "conduct", "--as", "sam"], capsys)
    assert code == 0 and [f["recording_id"] for f in out["flags"]] == [rec_id]
    flag_id = out["flags"][0]["id"]
    # Advisors and team leaders review no flags; cora (complaints) handles no conduct flags.
    code, _out, error = run_cli(["flags", "list", "--as", "tess"], capsys)
    assert code == 3 and error["field"] == "actor"
    review = ["flags", "review", flag_id, "--outcome", "action_taken", "--note", "letter sent"]
    code, out, _ = run_cli([*review, "--as", "sam"], capsys)
    assert code == 0 and out["reviewed_by"] == "sam"
    code, _out, error = run_cli([*review, "--as", "sam"], capsys)
    assert code == 2 and "reviewed by sam" in error["error"]
    code, out, _ = run_cli(["flags", "list", "--as", "sam"], capsys)
    assert out["flags"] == []
    actions = [e["action"] for e in services.audit.show()]
    assert {"transcript.read", "flags.listed", "flag.reviewed"} <= set(actions)


def test_check_names_a_broken_model_folder(
    home_env: Services, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    code, out, _ = run_cli(["check"], capsys)
    assert code == 0 and out["ok"], out
    monkeypatch.setenv("CALLVAULT_SPEECH_MODEL_DIR", str(tmp_path))
    code, out, _ = run_cli(["check"], capsys)
    assert code == 1
    assert any("speech model" in p and "model.bin" in p for p in out["problems"]), out
