"""Shared by the speech tests: ingest a corpus clip, people with grants, stored audio."""

from __future__ import annotations

import wave
from contextlib import AbstractContextManager
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson
import pytest

from callvault.bootstrap import Services
from callvault.capture.ingest import AudioInput
from callvault.context import RequestContext, system_context
from callvault.media.decode import decode_to_pcm
from callvault.media.tones import COLUMN_HZ, KEYPAD, ROW_HZ
from speech_corpus import CorpusCall, tools_missing

PEOPLE = {"cora": "complaints_officer", "tess": "team_leader", "mina": "authorised_manager"}
needs_corpus_tools = pytest.mark.skipif(tools_missing() is not None, reason=str(tools_missing()))


def ingest_clip(services: Services, clip: CorpusCall, **meta: Any) -> str:
    result = services.ingest.ingest(
        system_context("test"),
        AudioInput(path=clip.wav_path),
        orjson.dumps({**clip.meta, **meta}),
    )
    assert result.recording_id is not None, result.reason
    return result.recording_id


def add_people(services: Services) -> None:
    for name, role in PEOPLE.items():
        services.access.add_person(system_context("test"), name, role, "correct horse battery")


def person(services: Services, name: str) -> RequestContext:
    return RequestContext(
        actor=services.access.person(name, operator="operator:test"), origin="cli"
    )


def granted(services: Services, name: str, recording_id: str, purpose: str, case: str) -> str:
    """An approved grant for ``name`` (purposes without a second approval)."""
    grant = services.grants.request(person(services, name), recording_id, purpose, case)
    assert grant.status == "approved", grant
    return grant.id


def stored_audio(services: Services, recording_id: str) -> tuple[npt.NDArray[np.int16], int]:
    """The recording's stored audio as it is now (tests read around the grant on purpose:
    they check what is at rest)."""
    rec = services.catalog.get(recording_id)
    key = services.player.data_key(recording_id)
    return decode_to_pcm(services.vault.read_all(rec.blob_name, key))


def rendition_names(services: Services, recording_id: str) -> dict[str, str]:
    from sqlalchemy import select

    from callvault.catalog.store import renditions

    with services.engine.connect() as conn:
        rows = conn.execute(
            select(renditions.c.kind, renditions.c.blob_name).where(
                renditions.c.recording_id == recording_id
            )
        )
        return {r.kind: r.blob_name for r in rows}


def wave_file(path: Path) -> AbstractContextManager[wave.Wave_write]:
    return wave.open(str(path), "wb")


def with_key_presses(clip: CorpusCall, digits: str, *, at_s: float) -> CorpusCall:
    """``clip`` with ``digits`` keyed on the caller's channel from ``at_s`` (70 ms tones,
    70 ms apart, at -10 dBFS per tone, as a PBX records a caller keying a card number)."""
    pcm, rate = decode_to_pcm(clip.wav_path)
    pcm = pcm.copy()
    tone_n, gap_n = round(0.07 * rate), round(0.07 * rate)
    t = np.arange(tone_n) / rate
    at = round(at_s * rate)
    for key in digits:
        row = next(r for r, keys in enumerate(KEYPAD) if key in keys)
        col = KEYPAD[row].index(key)
        wave = np.sin(2 * np.pi * ROW_HZ[row] * t) + np.sin(2 * np.pi * COLUMN_HZ[col] * t)
        end = at + tone_n
        mixed = pcm[0, at:end].astype(np.float64) + wave * 32767 * 10 ** (-10 / 20)
        pcm[0, at:end] = np.clip(mixed, -32768, 32767).astype(np.int16)
        at = end + gap_n
    if at > pcm.shape[1]:
        raise ValueError("the key presses run past the end of the clip")
    out = clip.wav_path.with_name(clip.wav_path.stem + "-keys.wav")
    with wave_file(out) as wav:
        wav.setnchannels(pcm.shape[0])
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(np.ascontiguousarray(pcm.T).tobytes())
    meta = {**clip.meta, "call_id": clip.meta["call_id"] + "-keys"}
    meta_path = out.with_suffix(".json")
    meta_path.write_bytes(orjson.dumps(meta))
    return replace(clip, wav_path=out, meta_path=meta_path, meta=meta)
