"""Shared by the demand tests: calls ingested at chosen UK times, transcripts written as the
speech job writes them, and the indexer run as the worker runs it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import orjson
from sqlalchemy import select

from audiofixtures import make_call_audio
from callvault.analytics.demand_index import DemandIndexer, IndexCounts
from callvault.analytics.store import demand_calls
from callvault.bootstrap import Services
from callvault.capture.ingest import AudioInput
from callvault.catalog.fulltext import Segment, index_segments
from callvault.catalog.service import Catalog
from callvault.context import Actor, RequestContext
from callvault.db import transaction
from callvault.speech.renditions import TRANSCRIPT_REDACTED, blob_name
from homes import meta_for, worker_context

UK = ZoneInfo("Europe/London")
OPERATOR = RequestContext(actor=Actor(name="operator:test", kind="operator"), origin="cli")
# Dialled numbers of the example policy's lines.
PARKING, OUT_OF_HOURS, CARELINE = "020 7371 5678", "020 8748 8588", "020 8741 2403"
# The callers, as the PBX sends them, and as the catalogue stores them (E.164).
CALLER_A, CALLER_B, CALLER_C, CALLER_D = (
    "07700 900001", "07700 900002", "07700 900003", "07700 900004",
)  # fmt: skip
NUMBERS = [CALLER_A, CALLER_B, CALLER_C, CALLER_D]
STORED = ["+447700900001", "+447700900002", "+447700900003", "+447700900004"]


@dataclass(frozen=True)
class Call:
    """A call to ingest: its UK wall-clock start, line, caller, seconds of audio, and what
    its redacted transcript says (None: not transcribed)."""

    call_id: str
    uk_start: str  # "2026-08-24 08:59:30", Europe/London
    dialled: str
    caller: str
    seconds: int
    said: tuple[str, ...] | None


def ingest_call(services: Services, ctx: RequestContext, folder: Path, call: Call) -> str:
    """Ingest ``call`` through the real ingest path; return its recording id."""
    audio = folder / f"call-{call.seconds}s.wav"
    if not audio.exists():
        make_call_audio(audio, seconds=float(call.seconds))
    started = datetime.fromisoformat(call.uk_start).replace(tzinfo=UK)
    meta = meta_for(
        call_id=call.call_id, dialled=call.dialled, caller=call.caller,
        started_at=started.isoformat(),
        ended_at=(started + timedelta(seconds=call.seconds)).isoformat(),
    )  # fmt: skip
    result = services.ingest.ingest(ctx, AudioInput(path=audio), orjson.dumps(meta))
    assert result.recording_id is not None, result
    if call.said is not None:
        transcribe(services, result.recording_id, call.said)
    return result.recording_id


def transcribe(services: Services, recording_id: str, said: tuple[str, ...]) -> None:
    """Index a redacted transcript, one segment per entry, through the full-text index
    function the speech job commits with (the speakers take turns), and record its redacted
    transcript rendition, which the speech job commits in the same transaction."""
    segments = [
        Segment("caller" if n % 2 == 0 else "agent", float(n), float(n + 1), text)
        for n, text in enumerate(said)
    ]
    with transaction(services.engine) as conn:
        index_segments(conn, recording_id, segments)
        name = blob_name(recording_id, TRANSCRIPT_REDACTED)
        Catalog(services.engine).add_rendition(conn, recording_id, TRANSCRIPT_REDACTED, name)


def index(services: Services) -> IndexCounts:
    """One indexing run, as the ``demand.index`` job makes it (system:worker)."""
    return DemandIndexer.for_services(services).run(worker_context())


def fact_rows(services: Services) -> dict[str, dict[str, object]]:
    with services.engine.connect() as conn:
        return {row.recording_id: row._asdict() for row in conn.execute(select(demand_calls))}
