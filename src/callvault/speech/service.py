"""The speech pipeline's one door: process a stored recording; read its transcript.

``process`` (the ``recording.transcribe`` job) decrypts a recording, analyses it
(``analysis.py``) and stores what came of it, every blob encrypted like the audio:

- the original transcript (card data replaced by ``[CARD]``...), and the redacted one;
- the redacted audio rendition (everything found muted);
- where card data was heard, a new original with it muted, under a NEW data key, so the
  old audio is crypto-shredded even where Object Lock keeps its bytes;
- the redaction log and review flags; the redacted text in the search index.

All of it commits in one transaction with the ``recording.transcribed`` audit entry; blobs
written for a transaction that did not commit are deleted again. Reading a transcript goes
through the same gate as playing audio (``Player.clear``) and is audited before any byte is
decrypted.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, insert, select, update

from callvault.access.actions import require
from callvault.access.playback import Player, check_rendition
from callvault.audit.service import AuditLog, utc_now_iso
from callvault.catalog.fulltext import Segment as IndexedSegment
from callvault.catalog.fulltext import index_segments
from callvault.catalog.model import Recording
from callvault.catalog.service import Catalog
from callvault.catalog.store import recordings
from callvault.context import RequestContext
from callvault.db import transaction
from callvault.errors import NotFound
from callvault.media.decode import decode_to_pcm
from callvault.policy.model import Policy
from callvault.speech.model import Finding, Transcript
from callvault.speech.renditions import (
    ORIGINAL,
    REDACTED_AUDIO,
    SUPERSEDED,
    TRANSCRIPT,
    TRANSCRIPT_REDACTED,
    blob_name,
    encode_opus,
    muted,
)
from callvault.speech.store import redactions, review_flags
from callvault.vault.interfaces import BlobLocked, lock_until
from callvault.vault.service import Vault

if TYPE_CHECKING:
    # Only types: the analysis modules import the models' libraries (seconds to import).
    from callvault.speech.analysis import Analysis, SpeechAnalyser

TRANSCRIBE_ACTION = "recordings:transcribe"
READ_ACTION = "transcripts:read"


class SpeechService:
    def __init__(
        self,
        engine: Engine,
        catalog: Catalog,
        vault: Vault,
        audit: AuditLog,
        policy: Policy,
        player: Player,
        analyser: Callable[[], SpeechAnalyser],
        *,
        redaction_mode: str = "silence",
    ) -> None:
        self._engine, self._catalog, self._vault = engine, catalog, vault
        self._audit, self._policy, self._player = audit, policy, player
        self._analyser, self._mode = analyser, redaction_mode

    def analyser(self) -> SpeechAnalyser:
        """The loaded models (loaded now if this process has not yet)."""
        return self._analyser()

    # -- the job ------------------------------------------------------------------------------
    def process(self, ctx: RequestContext, recording_id: str) -> dict[str, Any]:
        """Transcribe, find, mute and store; idempotent (a processed recording is skipped)."""
        require(ctx.actor, TRANSCRIBE_ACTION)
        try:
            rec = self._catalog.get(recording_id)
        except NotFound:
            return {"recording_id": recording_id, "status": "purged"}
        if self._catalog.rendition(recording_id, TRANSCRIPT) is not None:
            return {"recording_id": recording_id, "status": "done already"}
        key = self._player.data_key(recording_id)
        pcm, rate = decode_to_pcm(self._vault.read_all(rec.blob_name, key))
        started = time.perf_counter()
        line = self._policy.line(rec.line)
        analysis = self.analyser().analyse(
            pcm, rate, speakers_of(rec), takes_payments=line.takes_payments
        )
        seconds = time.perf_counter() - started
        # Card data heard: everything is written under a new key, the old one destroyed.
        new_key = self._vault.new_data_key() if analysis.in_original else None
        written: dict[str, str] = {}  # kind -> blob name
        with self._discard_unless_committed(written):
            if new_key is not None:
                pcm = muted(pcm, rate, analysis.in_original, self._mode)
                self._write(rec, ORIGINAL, new_key, encode_opus(pcm, rate), written)
            blobs = {
                TRANSCRIPT: analysis.original_transcript.to_json(),
                TRANSCRIPT_REDACTED: analysis.redacted_transcript.to_json(),
                REDACTED_AUDIO: encode_opus(muted(pcm, rate, analysis.findings, self._mode), rate),
            }
            for kind, data in blobs.items():
                self._write(rec, kind, new_key or key, data, written)
            summary = self._commit(ctx, rec, analysis, new_key, written, seconds)
        if new_key is not None:
            self._drop_superseded(rec)
        return summary

    def _drop_superseded(self, rec: Recording) -> None:
        """Delete the audio the muted original replaced. Its key is destroyed already; where
        Object Lock keeps the bytes until the retention date, they stay catalogued as
        ``superseded`` (unreadable) so that the purge deletes them and ``check`` knows them."""
        try:
            self._vault.delete(rec.blob_name)
        except NotFound:
            return
        except BlobLocked:
            with transaction(self._engine) as conn:
                self._catalog.add_rendition(conn, rec.id, SUPERSEDED, rec.blob_name)

    def _write(
        self, rec: Recording, kind: str, key: bytes, data: bytes, written: dict[str, str]
    ) -> None:
        name = blob_name(rec.id, kind, generation=1)
        written[kind] = name
        locked = lock_until(datetime.fromisoformat(rec.retain_until), datetime.now(UTC))
        self._vault.write(name, key, data, retain_until=locked)

    @contextmanager
    def _discard_unless_committed(self, written: dict[str, str]) -> Iterator[None]:
        try:
            yield
        except BaseException:
            for name in written.values():
                with contextlib.suppress(BlobLocked, NotFound):
                    self._vault.delete(name)
            raise

    def _commit(
        self,
        ctx: RequestContext,
        rec: Recording,
        analysis: Analysis,
        new_key: bytes | None,
        written: dict[str, str],
        seconds: float,
    ) -> dict[str, Any]:
        now = utc_now_iso()
        with transaction(self._engine) as conn:
            current = conn.execute(
                select(recordings.c.blob_name, recordings.c.purged_at).where(
                    recordings.c.id == rec.id
                )
            ).one()
            if current.purged_at is not None or current.blob_name != rec.blob_name:
                raise NotFound(
                    f"recording {rec.id} changed while it was transcribed", "recording_id"
                )
            if new_key is not None:
                conn.execute(
                    update(recordings)
                    .where(recordings.c.id == rec.id)
                    .values(blob_name=written[ORIGINAL])
                )
                wrapped = self._vault.wrap_key(new_key, rec.id)
                self._catalog.replace_wrapped_key(conn, rec.id, wrapped)
            for kind, name in written.items():
                if kind != ORIGINAL:
                    self._catalog.add_rendition(conn, rec.id, kind, name)
            self._log(conn, rec.id, analysis, now)
            index_segments(conn, rec.id, _indexed(analysis.redacted_transcript))
            summary = {
                "recording_id": rec.id,
                "status": "transcribed",
                "model": analysis.transcript.model,
                "segments": len(analysis.transcript.segments),
                "words": sum(len(s.words) for s in analysis.transcript.segments),
                "found": analysis.counts(),
                "muted_in_original": len(analysis.in_original),
                "flags": sorted({f.rule for f in analysis.flags}),
                "seconds": round(seconds, 2),
            }
            self._audit.append(
                conn, ctx, "recording.transcribed", object_type="recording", object_id=rec.id,
                details={k: v for k, v in summary.items() if k not in ("recording_id", "status")},
            )  # fmt: skip
        return summary

    def _log(self, conn: Connection, recording_id: str, analysis: Analysis, now: str) -> None:
        rows = [_logged(recording_id, "redacted", f, now) for f in analysis.findings]
        rows += [_logged(recording_id, "original", f, now) for f in analysis.in_original]
        if rows:
            conn.execute(insert(redactions), rows)
        flags = [
            {"id": uuid.uuid4().hex, "recording_id": recording_id, "kind": f.kind, "rule": f.rule,
             "speaker": f.speaker, "start_s": round(f.start_s, 3), "end_s": round(f.end_s, 3),
             "raised_at": now}
            for f in analysis.flags
        ]  # fmt: skip
        if flags:
            conn.execute(insert(review_flags), flags)

    # -- reading --------------------------------------------------------------------------------
    def transcript(
        self, ctx: RequestContext, recording_id: str, grant_id: str, rendition: str = "redacted"
    ) -> dict[str, Any]:
        """The transcript under ``grant_id``: ``{"segments": [{speaker, start, end, text}]}``."""
        transcript = self.read_transcript(ctx, recording_id, grant_id, rendition)
        return {
            "recording_id": recording_id,
            "rendition": rendition,
            "model": transcript.model,
            "segments": transcript.public_segments(),
        }

    def read_transcript(
        self, ctx: RequestContext, recording_id: str, grant_id: str, rendition: str = "redacted"
    ) -> Transcript:
        """The stored transcript with its word times (the subject access package withholds
        words by time), behind the same gate and audit entry as ``transcript``."""
        check_rendition(rendition)
        cleared = self._player.clear(ctx, recording_id, grant_id, READ_ACTION)
        self._player.check_purpose_rendition(cleared, rendition)
        kind = TRANSCRIPT if rendition == "original" else TRANSCRIPT_REDACTED
        name = self._catalog.rendition(recording_id, kind)
        if name is None:
            raise NotFound(
                f"recording {recording_id} has no transcript yet: the speech job has not run "
                "(callvault worker --queues speech)",
                "recording_id",
            )
        with transaction(self._engine) as conn:
            self._audit.append(
                conn, cleared.ctx, "transcript.read", object_type="recording",
                object_id=recording_id, details={"grant_id": grant_id, "rendition": rendition},
            )  # fmt: skip
        # Committed: only now is the key unwrapped and the transcript decrypted.
        data = self._vault.read_all(name, self._player.data_key(recording_id))
        return Transcript.from_json(data)


def speakers_of(rec: Recording) -> tuple[str, ...]:
    """Who is on each channel, from the recording's channel map."""
    by_channel = {channel: speaker for speaker, channel in rec.channel_map.items()}
    if rec.channels == 1:
        return (by_channel.get(0, "mixed"),)
    return tuple(by_channel.get(c, f"channel{c}") for c in range(rec.channels))


def _indexed(transcript: Transcript) -> list[IndexedSegment]:
    return [IndexedSegment(s.speaker, s.start_s, s.end_s, s.text) for s in transcript.segments]


def _logged(recording_id: str, rendition: str, f: Finding, now: str) -> dict[str, Any]:
    return {
        "recording_id": recording_id, "rendition": rendition, "kind": f.kind,
        "speaker": f.speaker, "start_s": round(f.start_s, 3), "end_s": round(f.end_s, 3),
        "detector": f.detector, "score": round(f.score, 3), "created_at": now,
    }  # fmt: skip


__all__ = ["READ_ACTION", "TRANSCRIBE_ACTION", "SpeechService", "speakers_of"]
