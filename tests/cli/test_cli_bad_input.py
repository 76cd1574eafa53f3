"""Bad input through the real command: a clear error naming the field, exit 2, nothing kept."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from audiofixtures import make_bad_files
from callvault.bootstrap import Services
from homes import nothing_stored, run_cli


@pytest.fixture
def cli_home(services: Services, monkeypatch: pytest.MonkeyPatch) -> Services:
    monkeypatch.setenv("CALLVAULT_HOME", str(services.settings.home))
    return services


def _nothing_stored(services: Services, audit_before: int) -> None:
    assert nothing_stored(services)
    assert services.catalog.count() == 0
    assert services.audit.count() == audit_before
    assert services.audit.verify().ok


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return make_bad_files(tmp_path_factory.mktemp("bad"))


BAD_AUDIO = ["empty", "text", "truncated", "rate_44k", "rate_4k", "three_channels", "pcm24",
             "float32", "zero_samples", "photo", "video_only"]  # fmt: skip


@pytest.mark.parametrize("name", BAD_AUDIO)
def test_bad_audio_is_refused(
    name: str,
    bad_files: dict[str, Path],
    cli_home: Services,
    make_meta: Callable[..., Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    before = cli_home.audit.count()
    code, out, err = run_cli(["ingest", str(bad_files[name]), "--meta", str(make_meta())], capsys)
    assert code == 2 and out is None
    assert err["field"] == "audio", err
    assert len(err["error"]) > 20
    _nothing_stored(cli_home, before)


BAD_META: list[tuple[dict[str, Any], str, str]] = [
    ({"call_id": ...}, "meta.call_id", "required"),
    ({"direction": ...}, "meta.direction", "required"),
    ({"dialled": ...}, "meta.dialled", "required"),
    ({"caller": ...}, "meta.caller", "required"),
    ({"agent": ...}, "meta.agent", "required"),
    ({"started_at": ...}, "meta.started_at", "required"),
    ({"ended_at": ...}, "meta.ended_at", "required"),
    ({"announcement_played": ...}, "meta.announcement_played", "required"),
    ({"channel_map": ...}, "meta.channel_map", "required"),
    ({"dialled": "020 PARKING"}, "meta.dialled", "number"),
    ({"caller": "07700 9001234567890"}, "meta.caller", "number"),
    ({"direction": "sideways"}, "meta.direction", "inbound"),
    (
        {"ended_at": "2026-01-01T09:00:00Z", "started_at": "2026-01-01T10:00:00Z"},
        "meta.ended_at",
        "before",
    ),
    (
        {"started_at": "2099-01-01T10:00:00Z", "ended_at": "2099-01-01T10:05:00Z"},
        "meta.started_at",
        "future",
    ),
    ({"started_at": "2026-01-01T10:00:00"}, "meta.started_at", "time zone"),
    ({"started_at": "yesterday"}, "meta.started_at", "ISO 8601"),
    ({"channel_map": {"caller": 0, "agent": 0}}, "meta.channel_map", "channel_map"),
    ({"channel_map": {"left": 0, "right": 1}}, "meta.channel_map", "channel_map"),
    ({"channel_map": {"mixed": 0}}, "meta.channel_map", "channel"),  # stereo audio, mono map
    ({"announcement_played": "yes"}, "meta.announcement_played", "true or false"),
    ({"colour": "blue"}, "meta.colour", "unknown"),
    ({"call_id": "../../etc/passwd"}, "meta.call_id", "call_id"),
]


@pytest.mark.parametrize(("overrides", "field", "words"), BAD_META)
def test_bad_metadata_is_refused(
    overrides: dict[str, Any],
    field: str,
    words: str,
    cli_home: Services,
    call_wav: Path,
    make_meta: Callable[..., Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    before = cli_home.audit.count()
    code, _out, err = run_cli(["ingest", str(call_wav), "--meta", str(make_meta(**overrides))],
                              capsys)  # fmt: skip
    assert code == 2
    assert err["field"] == field, err
    assert words.lower() in err["error"].lower(), err
    _nothing_stored(cli_home, before)


def test_metadata_that_is_not_json(
    cli_home: Services, call_wav: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    meta = tmp_path / "meta.json"
    meta.write_text("{call_id: 1")
    code, _out, err = run_cli(["ingest", str(call_wav), "--meta", str(meta)], capsys)
    assert code == 2 and err["field"] == "meta" and "JSON" in err["error"]


def test_file_over_the_size_limit(
    cli_home: Services,
    call_wav: Path,
    make_meta: Callable[..., Path],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("CALLVAULT_MAX_INGEST_BYTES", "1000")
    before = cli_home.audit.count()
    code, _out, err = run_cli(["ingest", str(call_wav), "--meta", str(make_meta())], capsys)
    assert code == 2 and err["field"] == "audio" and "max_ingest_bytes" in err["error"]
    _nothing_stored(cli_home, before)


def test_missing_audio_file(
    cli_home: Services, make_meta: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    code, _out, err = run_cli(["ingest", "/nonexistent.wav", "--meta", str(make_meta())], capsys)
    assert code == 2 and err["field"] == "audio"


def test_usage_error_exits_2(cli_home: Services, capsys: pytest.CaptureFixture[str]) -> None:
    code, _out, err = run_cli(["ingest"], capsys)
    assert code == 2 and "error" in err
