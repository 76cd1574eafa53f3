"""What is on disk after ingest: ciphertext only, and any flipped byte is caught."""

from __future__ import annotations

import wave
from pathlib import Path

import orjson
import pytest

from callvault.bootstrap import Services
from callvault.capture.ingest import AudioInput
from callvault.context import RequestContext
from callvault.errors import IntegrityFailure
from callvault.vault.blobs import FilesystemBlobStore
from homes import meta_for, raw_blob, replace_raw_blob, stored_blobs

AUDIO_MAGIC = (b"RIFF", b"WAVE", b"OggS", b"OpusHead", b"OpusTags", b"fLaC", b"ID3", b"LAME")


def _ingest(services: Services, ctx: RequestContext, audio: Path) -> str:
    result = services.ingest.ingest(ctx, AudioInput(path=audio), orjson.dumps(meta_for()))
    assert result.recording_id is not None
    return result.recording_id


def _pcm_sample(call_wav: Path) -> bytes:
    with wave.open(str(call_wav), "rb") as wav:
        wav.setpos(wav.getnframes() // 2)
        return wav.readframes(16)


def test_blobs_hold_no_audio_header_and_no_plaintext(
    services: Services, ctx: RequestContext, call_wav: Path
) -> None:
    _ingest(services, ctx, call_wav)
    names = stored_blobs(services)
    assert len(names) == 1
    pcm = _pcm_sample(call_wav)
    for name in names:
        data = raw_blob(services, name)
        for magic in AUDIO_MAGIC:
            assert magic not in data, f"{magic!r} found in {name}"
        assert pcm not in data
        # Ciphertext looks random: every byte value turns up in a few kilobytes.
        assert len(set(data)) > 250
        if isinstance(services.blobs, FilesystemBlobStore):
            assert services.blobs.path_of(name).stat().st_mode & 0o077 == 0


def test_no_audio_anywhere_in_the_home(
    services: Services, ctx: RequestContext, call_wav: Path
) -> None:
    _ingest(services, ctx, call_wav)
    for path in services.settings.home.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert not any(magic in data for magic in (b"OggS", b"OpusHead", b"WAVEfmt")), path


@pytest.mark.parametrize("where", [0, 30, 100, -20, -1])
def test_flipping_one_byte_fails_playback(
    services: Services, ctx: RequestContext, call_wav: Path, where: int
) -> None:
    rec_id = _ingest(services, ctx, call_wav)
    (name,) = stored_blobs(services)
    data = bytearray(raw_blob(services, name))
    data[where] ^= 0x01
    replace_raw_blob(services, name, bytes(data))
    key = services.vault.unwrap_key(services.catalog.wrapped_key(rec_id), rec_id)
    with pytest.raises(IntegrityFailure):
        services.vault.read_all(services.catalog.get(rec_id).blob_name, key)


def test_a_blob_under_another_recordings_name_fails(
    services: Services, ctx: RequestContext, call_wav: Path, tmp_path: Path
) -> None:
    from audiofixtures import make_call_audio

    first = _ingest(services, ctx, call_wav)
    other = make_call_audio(tmp_path / "b.wav", seconds=2.0, seed=3)
    second = services.ingest.ingest(
        ctx, AudioInput(path=other), orjson.dumps(meta_for(call_id="pbx-0002"))
    ).recording_id
    assert second is not None
    # Swap in the other recording's ciphertext, as someone with storage access could.
    first_blob = raw_blob(services, services.catalog.get(first).blob_name)
    replace_raw_blob(services, services.catalog.get(second).blob_name, first_blob)
    key = services.vault.unwrap_key(services.catalog.wrapped_key(second), second)
    with pytest.raises(IntegrityFailure):
        services.vault.read_all(services.catalog.get(second).blob_name, key)
