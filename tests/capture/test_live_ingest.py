"""A live call's audio into the vault as it arrives, committed like a file ingest at the end."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import numpy as np
import numpy.typing as npt
import pytest
from sqlalchemy import func, select

from callvault.bootstrap import Services
from callvault.capture.ingest import IngestResult
from callvault.capture.live import LiveRecording
from callvault.capture.metadata import CallMeta
from callvault.capture.spool import PcmSpool, spool_folder
from callvault.catalog.store import call_decisions, recordings
from callvault.context import RequestContext
from callvault.errors import BadInput, Conflict
from callvault.maintenance.service import check_home
from callvault.media.decode import open_audio
from homes import nothing_stored

RATE = 8000
PARKING = "+442073715678"
STAFF_EXTENSION = "+442087531234"


def call_meta(call_id: str, dialled: str = PARKING) -> CallMeta:
    started = datetime.now(UTC) - timedelta(seconds=30)
    return CallMeta(
        call_id=call_id,
        direction="inbound",
        dialled=dialled,
        caller="+447700900123",
        agent="agent-17",
        started_at=started,
        ended_at=started,
        announcement_played=True,
        channel_map={"caller": 0, "agent": 1},
        source="siprec",
    )


def tone_in_caller_channel(seconds: float) -> npt.NDArray[np.int16]:
    t = np.arange(int(RATE * seconds)) / RATE
    caller = (np.sin(2 * np.pi * 440 * t) * 8000).astype(np.int16)
    both = np.zeros(len(caller) * 2, dtype=np.int16)
    both[0::2] = caller
    return both


def start(services: Services, ctx: RequestContext, meta: CallMeta) -> LiveRecording:
    live = services.ingest.start_live(ctx, meta, sample_rate=RATE, channels=2)
    assert isinstance(live, LiveRecording)
    return live


def counts(services: Services) -> tuple[int, int, int]:
    with services.engine.connect() as conn:
        recs = conn.execute(select(func.count()).select_from(recordings)).scalar_one()
        decided = conn.execute(select(func.count()).select_from(call_decisions)).scalar_one()
    return recs, decided, len(services.audit.show(limit=10_000))


def test_a_covered_call_is_encrypted_as_it_arrives_and_committed_at_the_end(
    services: Services, ctx: RequestContext
) -> None:
    meta = call_meta("live-1")
    live = start(services, ctx, meta)
    audio = tone_in_caller_channel(10.0)
    for at in range(0, len(audio), 2 * 333):  # uneven chunks, as a timeline hands them over
        live.write(audio[at : at + 2 * 333])
    assert services.catalog.count() == 0  # nothing is catalogued before the call ends
    result = live.finish(meta.started_at + timedelta(seconds=10))

    assert isinstance(result, IngestResult) and result.status == "recorded"
    recording = services.catalog.get(live.recording_id)
    assert recording.line == "parking" and abs(recording.duration_s - 10.0) < 0.05
    assert recording.source_format == "rtp/pcm_s16le/8000Hz/2ch"
    key = services.vault.unwrap_key(services.catalog.wrapped_key(recording.id), recording.id)
    stored = services.vault.read_all(recording.blob_name, key)
    with open_audio(io.BytesIO(stored)) as reader:
        assert reader.info.channels == 2
        frames = [f.to_ndarray() for f in reader.frames()]
    pcm = np.concatenate(frames, axis=1).astype(np.float64)
    caller_rms, agent_rms = np.sqrt((pcm**2).mean(axis=1))
    assert caller_rms > 100 * max(agent_rms, 1e-9)  # the tone stayed on the caller's channel
    actions = [e["action"] for e in services.audit.show(object_id=recording.id, limit=10)]
    assert actions == ["recording.ingested"]


def test_only_ciphertext_reaches_the_disk_while_the_call_goes_on(
    services: Services, ctx: RequestContext
) -> None:
    live = start(services, ctx, call_meta("live-2"))
    audio = tone_in_caller_channel(60.0)
    live.write(audio)  # past the first 64 KiB chunk: sealed and on disk
    spools = list(spool_folder(services.settings.home).iterdir())
    assert len(spools) == 1 and spools[0].stat().st_size > 65536
    data = spools[0].read_bytes()
    assert audio[8000:8100].tobytes() not in data  # no run of the PCM as it went in
    assert spools[0].parent.stat().st_mode & 0o077 == 0  # the spool folder is the recorder's alone
    live.abort()
    assert nothing_stored(services)


def test_repair_deletes_the_spool_of_a_call_a_crash_cut_off(services: Services) -> None:
    # What a recorder killed mid-call leaves: a spool whose key died with the process, and
    # no live lock (the kernel dropped it).
    left = PcmSpool(spool_folder(services.settings.home), "c" * 32, sample_rate=RATE, channels=2)
    left.write(tone_in_caller_channel(20.0).tobytes())
    del left
    assert check_home(services, repair=True).repaired == ["removed 1 unfinished call spool(s)"]
    assert nothing_stored(services)
    assert counts(services)[0] == 0


def test_a_call_the_policy_does_not_cover_takes_no_audio(
    services: Services, ctx: RequestContext
) -> None:
    result = services.ingest.start_live(
        ctx, call_meta("live-3", dialled=STAFF_EXTENSION), sample_rate=RATE, channels=2
    )
    assert isinstance(result, IngestResult) and result.status == "not_recorded"
    assert counts(services)[0] == 0 and nothing_stored(services)
    assert services.audit.show(limit=10)[-1]["action"] == "call.not_recorded"


def test_abort_leaves_nothing(services: Services, ctx: RequestContext) -> None:
    before = counts(services)
    live = start(services, ctx, call_meta("live-4"))
    live.write(tone_in_caller_channel(2.0))
    live.abort()
    live.abort()  # twice is harmless
    assert counts(services) == before
    assert nothing_stored(services)


def test_a_call_id_is_recorded_once(services: Services, ctx: RequestContext) -> None:
    live = start(services, ctx, call_meta("live-5"))
    live.write(tone_in_caller_channel(1.0))
    live.finish(datetime.now(UTC))
    with pytest.raises(Conflict):
        services.ingest.start_live(ctx, call_meta("live-5"), sample_rate=RATE, channels=2)


def test_pcm_of_the_wrong_shape_is_refused(services: Services, ctx: RequestContext) -> None:
    live = start(services, ctx, call_meta("live-6"))
    with pytest.raises(BadInput, match="interleaved int16"):
        live.write(np.zeros(3, dtype=np.int16))  # half a stereo frame
    with pytest.raises(BadInput):
        live.write(np.zeros(4, dtype=np.float32))
    live.abort()
    assert nothing_stored(services)


def test_repair_leaves_a_call_in_progress_alone(services: Services, ctx: RequestContext) -> None:
    live = start(services, ctx, call_meta("live-7"))
    live.write(tone_in_caller_channel(60.0))  # some of it is in the store, unfinished
    report = check_home(services, repair=True)
    assert any("calls are being recorded" in note for note in report.repaired)
    live.write(tone_in_caller_channel(1.0))
    result = live.finish(datetime.now(UTC))
    assert result.status == "recorded"
    recording = services.catalog.get(live.recording_id)
    assert abs(recording.duration_s - 61.0) < 0.1
    assert check_home(services, repair=True).problems == []
