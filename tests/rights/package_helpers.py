"""Shared by the review and package tests: a subject access request over a spoken call (with
a transcript and the speech job's redaction log) and a plain one, and reading packages."""

from __future__ import annotations

import io
import wave
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson
from sqlalchemy import func, select

from access.access_helpers import add_people, as_person, record
from callvault.bootstrap import Services
from callvault.capture.ingest import AudioInput
from callvault.context import RequestContext
from callvault.media.decode import decode_to_pcm
from callvault.rights.package import Packager
from callvault.rights.review import ReviewService
from callvault.rights.service import RightsService
from callvault.rights.store import rights_items, rights_mutes
from homes import worker_context
from speech_corpus import CorpusCall

REF = "SAR-2026-0042"
CALLER = "07700 900321"  # the requester's number; stored as +447700900321
# Cleaner Greener: no payments, so the speech job mutes nothing in the stored original.
NO_PAYMENTS_LINE = "020 8753 1100"
SPOKEN = "My name is {NAME:Sarah Jones} and my postcode is {POSTCODE:S W six, one A A}."
AGENT_SAYS = "Thank you, I have updated the parking permit."


@dataclass
class World:
    services: Services
    rights: RightsService
    review: ReviewService
    packager: Packager
    dana: RequestContext  # the DPO
    recordings: list[str]  # in call order: numbers 1, 2, ...

    def as_person(self, name: str) -> RequestContext:
        return as_person(self.services, name)

    def mutes(self) -> list[tuple[Any, ...]]:
        with self.services.engine.connect() as conn:
            rows = conn.execute(
                select(rights_mutes.c.recording_id, rights_mutes.c.channel,
                       rights_mutes.c.start_s, rights_mutes.c.end_s, rights_mutes.c.reason,
                       rights_mutes.c.added_by)
                .order_by(rights_mutes.c.recording_id, rights_mutes.c.start_s)
            )  # fmt: skip
            return [tuple(row) for row in rows]

    def items(self) -> list[tuple[Any, ...]]:
        i = rights_items.c
        with self.services.engine.connect() as conn:
            rows = conn.execute(
                select(i.recording_id, i.outcome, i.reason_code, i.note, i.decided_by)
                .order_by(i.recording_id)
            )  # fmt: skip
            return [tuple(row) for row in rows]

    def count_mutes(self) -> int:
        with self.services.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(rights_mutes)).scalar_one())


def make_world(services: Services, ctx: RequestContext, recordings: list[str]) -> World:
    rights = RightsService.for_services(services)
    dana = as_person(services, "dana")
    rights.open(dana, kind="access", ref=REF, requester="Ann Example",
                contact="ann@example.org", received_on=None, identity="verified",
                phones=[CALLER])  # fmt: skip
    return World(services, rights, ReviewService.for_services(services),
                 Packager.for_services(services), dana, recordings)  # fmt: skip


def spoken_call(services: Services, clip: CorpusCall) -> str:
    """The clip as the requester's call, transcribed by the speech job (redaction log made)."""
    meta = {**clip.meta, "caller": CALLER, "dialled": NO_PAYMENTS_LINE}
    result = services.ingest.ingest(
        worker_context(), AudioInput(path=clip.wav_path), orjson.dumps(meta)
    )
    assert result.recording_id is not None, result.reason
    services.speech.process(worker_context(), result.recording_id)
    return result.recording_id


def plain_call(services: Services, ctx: RequestContext, wav: Path, call_id: str) -> str:
    """A call from the requester's number an hour ago: no transcript, no redactions."""
    return record(services, ctx, wav, call_id, caller=CALLER)


def people(services: Services, ctx: RequestContext) -> None:
    add_people(services, ctx)


def stored_pcm(services: Services, recording_id: str) -> tuple[npt.NDArray[np.int16], int]:
    """The stored audio decoded (read around the grant on purpose: the test checks the
    package against what is at rest)."""
    rec = services.catalog.get(recording_id)
    return decode_to_pcm(services.vault.read_all(rec.blob_name, services.player.data_key(rec.id)))


def wav_pcm(data: bytes) -> tuple[npt.NDArray[np.int16], int, int]:
    """(channels, samples) int16, rate and sample width of a WAV file's bytes."""
    with wave.open(io.BytesIO(data)) as wav:
        channels, width, rate = wav.getnchannels(), wav.getsampwidth(), wav.getframerate()
        frames = wav.readframes(wav.getnframes())
    pcm = np.frombuffer(frames, dtype="<i2").reshape(-1, channels).T
    return pcm, rate, width


def members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        assert archive.testzip() is None
        return {name: archive.read(name) for name in archive.namelist()}
