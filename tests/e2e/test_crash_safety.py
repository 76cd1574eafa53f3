"""SIGKILL during ingest, at every step and at random moments: afterwards there is either the
whole recording (catalogued, audited, decryptable) or none of it, no plaintext anywhere, and
after ``callvault check --repair`` no orphan blob."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest
from crash_harness import POINTS

from audiofixtures import make_call_audio
from callvault.bootstrap import Services, build
from callvault.maintenance.service import check_home
from homes import meta_for, raw_blob, stored_blobs

HARNESS = Path(__file__).with_name("crash_harness.py")
PLAINTEXT_MAGIC = (b"RIFF", b"WAVEfmt", b"OggS", b"OpusHead")


@pytest.fixture(scope="module")
def long_call(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Long enough that encoding takes a good part of a second, so timed kills land mid-write.
    return make_call_audio(tmp_path_factory.mktemp("audio") / "long.wav", seconds=240.0)


def _run(
    services: Services, point: str, audio: Path, call_id: str, tmp: Path
) -> subprocess.Popen[bytes]:
    meta = tmp / f"{call_id}.json"
    meta.write_bytes(orjson.dumps(meta_for(call_id=call_id)))
    env = {**os.environ, "CALLVAULT_HOME": str(services.settings.home), "TMPDIR": str(tmp / "t"),
           "PYTHONPATH": os.pathsep.join(sys.path)}  # fmt: skip
    (tmp / "t").mkdir(exist_ok=True)
    return subprocess.Popen([sys.executable, str(HARNESS), point, str(audio), str(meta)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip


def _assert_all_or_nothing(home: Path, call_id: str, tmp: Path) -> str:
    services = build(home)
    check = check_home(services, repair=True)
    assert check.ok, check.problems
    recording = services.catalog.recording_for_call(call_id)
    assert stored_blobs(services) == services.catalog.blob_names(), "orphan blob after repair"
    assert services.blobs.remove_incomplete() == 0, "incomplete write left after repair"
    for name in stored_blobs(services):
        data = raw_blob(services, name)
        assert not any(m in data for m in PLAINTEXT_MAGIC), f"plaintext audio in blob {name}"
    assert services.audit.verify().ok
    for path in [*home.rglob("*"), *(tmp / "t").rglob("*")]:
        if path.is_file() and path.suffix != ".json":
            data = path.read_bytes()
            assert not any(m in data for m in PLAINTEXT_MAGIC), f"plaintext audio in {path}"
    assert not list((tmp / "t").iterdir()), "a temp file outlived the process"
    if recording is None:
        assert services.audit.show(object_id=call_id) == []
        return "none"
    key = services.vault.unwrap_key(services.catalog.wrapped_key(recording.id), recording.id)
    assert services.vault.read_all(recording.blob_name, key)[:4] == b"OggS"
    actions = [e["action"] for e in services.audit.show(object_id=recording.id)]
    assert actions == ["recording.ingested"]
    return "whole"


@pytest.mark.parametrize("point", sorted(POINTS))
def test_kill_at_each_step(services: Services, tmp_path: Path, point: str) -> None:
    audio = make_call_audio(tmp_path / "call.wav", seconds=20.0)
    proc = _run(services, point, audio, f"crash-{point}", tmp_path)
    proc.wait(timeout=120)
    expected_code = 0 if point == "none" else -signal.SIGKILL
    assert proc.returncode == expected_code, proc.stderr.read() if proc.stderr else ""
    outcome = _assert_all_or_nothing(services.settings.home, f"crash-{point}", tmp_path)
    if point in {"none", "after_commit"}:  # every other point comes before the commit
        assert outcome == "whole"
    else:
        assert outcome == "none"


@pytest.mark.slow
def test_kill_at_random_moments(services: Services, tmp_path: Path, long_call: Path) -> None:
    start = time.monotonic()
    _run(services, "none", long_call, "timing", tmp_path).wait(timeout=300)
    full = time.monotonic() - start
    outcomes = []
    for i in range(10):
        call_id = f"random-{i}"
        proc = _run(services, "none", long_call, call_id, tmp_path)
        time.sleep(full * (0.1 + 0.09 * i))  # spread over startup, encoding and commit
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
        outcomes.append(_assert_all_or_nothing(services.settings.home, call_id, tmp_path))
    assert "none" in outcomes
