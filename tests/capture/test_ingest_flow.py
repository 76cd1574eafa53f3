"""Ingest through the real services: SQLite, key file, blob store, audit trail."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from audiofixtures import FORMATS, make_call_audio
from callvault.bootstrap import Services
from callvault.capture.ingest import AudioInput
from callvault.context import RequestContext
from callvault.errors import Conflict
from callvault.media.decode import decode_to_pcm
from homes import meta_for, nothing_stored, stored_blobs


def _ingest(services: Services, ctx: RequestContext, audio: Path, **meta: object) -> dict[str, Any]:
    result = services.ingest.ingest(ctx, AudioInput(path=audio), orjson.dumps(meta_for(**meta)))
    return result.as_dict()


def _decrypt(services: Services, recording_id: str) -> bytes:
    rec = services.catalog.get(recording_id)
    key = services.vault.unwrap_key(services.catalog.wrapped_key(recording_id), recording_id)
    return services.vault.read_all(rec.blob_name, key)


def test_covered_call_is_stored_encrypted_and_audited(
    services: Services, ctx: RequestContext, call_wav: Path
) -> None:
    result = _ingest(services, ctx, call_wav)
    assert result["status"] == "recorded"
    assert result["line"] == "parking" and result["rule"] == "line:parking"
    rec = services.catalog.get(result["recording_id"])
    assert rec.dialled == "+442073715678" and rec.caller == "+447700900123"
    assert rec.codec == "opus" and rec.channels == 2 and rec.sample_rate == 8000
    assert abs(rec.duration_s - 3.0) < 0.1
    pcm, rate = decode_to_pcm(_decrypt(services, rec.id))
    assert pcm.shape[0] == 2 and rate == 8000
    entries = services.audit.show(object_id=rec.id)
    assert [e["action"] for e in entries] == ["recording.ingested"]
    assert entries[0]["details"]["policy_version"] == services.policy.policy.version
    assert services.audit.verify().ok


def test_retention_date_comes_from_the_line(
    services: Services, ctx: RequestContext, call_wav: Path
) -> None:
    result = _ingest(services, ctx, call_wav, started_at="2026-01-31T10:00:00Z",
                     ended_at="2026-01-31T10:00:03Z")  # fmt: skip
    rec = services.catalog.get(result["recording_id"])
    assert rec.retain_until.startswith("2027-01-31")  # 12 months


def test_extension_call_keeps_no_audio(
    services: Services, ctx: RequestContext, call_wav: Path, home: Path
) -> None:
    result = _ingest(services, ctx, call_wav, dialled="4008", call_id="ext-1")
    assert result == {**result, "status": "not_recorded", "recording_id": None,
                      "rule": "internal-extension"}  # fmt: skip
    assert nothing_stored(services)
    assert services.catalog.count() == 0
    decision = services.catalog.decision_for_call("ext-1")
    assert decision is not None and decision.record is False
    entry = services.audit.show(object_id="ext-1")[0]
    assert entry["action"] == "call.not_recorded"
    assert "caller" not in entry["details"]  # the decision is audited, not the content


def test_unlisted_number_keeps_no_audio(
    services: Services, ctx: RequestContext, call_wav: Path, home: Path
) -> None:
    result = _ingest(services, ctx, call_wav, dialled="020 7946 0999", call_id="x-2")
    assert result["status"] == "not_recorded" and result["rule"] == "not-listed"
    assert nothing_stored(services)


def test_same_call_same_audio_is_idempotent(
    services: Services, ctx: RequestContext, call_wav: Path, home: Path
) -> None:
    first = _ingest(services, ctx, call_wav)
    files = stored_blobs(services)
    second = _ingest(services, ctx, call_wav)
    assert second["recording_id"] == first["recording_id"]
    assert stored_blobs(services) == files
    assert services.catalog.count() == 1


def test_same_call_other_audio_conflicts_and_changes_nothing(
    services: Services, ctx: RequestContext, call_wav: Path, tmp_path: Path, home: Path
) -> None:
    _ingest(services, ctx, call_wav)
    files, entries = stored_blobs(services), services.audit.count()
    other = make_call_audio(tmp_path / "other.wav", seconds=3.0, seed=9)
    with pytest.raises(Conflict) as err:
        _ingest(services, ctx, other)
    assert err.value.field == "meta.call_id"
    assert stored_blobs(services) == files and services.audit.count() == entries


def test_missing_announcement_raises_a_flag(
    services: Services, ctx: RequestContext, call_wav: Path
) -> None:
    result = _ingest(services, ctx, call_wav, announcement_played=False)
    assert services.catalog.get(result["recording_id"]).flags == ["no_announcement"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_each_accepted_format(
    services: Services, ctx: RequestContext, tmp_path: Path, fmt: str
) -> None:
    audio = make_call_audio(tmp_path / f"call.{fmt}", fmt=fmt, seconds=2.0)
    result = _ingest(services, ctx, audio, call_id=f"fmt-{fmt}")
    assert result["status"] == "recorded"
    pcm, _rate = decode_to_pcm(_decrypt(services, result["recording_id"]))
    assert pcm.shape[0] == 2


def test_mono_mixed_recording(services: Services, ctx: RequestContext, tmp_path: Path) -> None:
    audio = make_call_audio(tmp_path / "mono.wav", channels=1, rate=16000, seconds=2.0)
    result = _ingest(services, ctx, audio, channel_map={"mixed": 0})
    rec = services.catalog.get(result["recording_id"])
    assert rec.channels == 1 and rec.sample_rate == 16000 and rec.channel_map == {"mixed": 0}


def test_api_bytes_and_file_give_the_same_hash(
    services: Services, ctx: RequestContext, call_wav: Path
) -> None:
    data = call_wav.read_bytes()
    by_bytes = services.ingest.ingest(ctx, AudioInput(data=data), orjson.dumps(meta_for()))
    again = _ingest(services, ctx, call_wav)
    assert again["recording_id"] == by_bytes.recording_id


def test_a_call_is_decided_once(
    services: Services, ctx: RequestContext, call_wav: Path, home: Path
) -> None:
    """Re-sending a call after the policy changed neither keeps a declined call's audio nor
    declines a recorded call: the first decision stands and is what the catalogue shows."""
    declined = _ingest(services, ctx, call_wav, call_id="c-ext", dialled="020 8753 9999")
    recorded = _ingest(services, ctx, call_wav, call_id="c-rec")
    entries = services.audit.count()
    policy = services.settings.policy_file
    text = policy.read_text().replace('"020 7371 5678"', '"020 8753 9999"')
    policy.write_text(text)
    from callvault.bootstrap import build

    changed = build(home)
    assert changed.policy.decide("020 8753 9999").record
    again = changed.ingest.ingest(
        ctx,
        AudioInput(path=call_wav),
        orjson.dumps(meta_for(call_id="c-ext", dialled="020 8753 9999")),
    )
    assert again.status == "not_recorded" and again.rule == declined["rule"]
    same = changed.ingest.ingest(
        ctx, AudioInput(path=call_wav), orjson.dumps(meta_for(call_id="c-rec"))
    )
    assert same.status == "recorded" and same.recording_id == recorded["recording_id"]
    assert changed.catalog.count() == 1 and changed.audit.count() == entries
