"""Ingest a call from a file: decide, transcode, encrypt, catalogue, audit.

The steps run in an order that makes a crash at any point leave either the whole recording
(catalogued, audited, decryptable) or none of it:

1. parse and check metadata; 2. ask the policy; a call that is not covered stops here with
its decision audited and no audio read; 3. hash the audio and settle idempotency;
4. transcode to Opus straight into an encrypting blob writer (no plaintext touches disk; the
blob becomes visible only when complete); 5. one transaction: decision, recording, wrapped
data key and audit entry. A blob whose transaction never committed is an orphan that nobody
can decrypt (its key existed only in memory); ``callvault check --repair`` removes it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import io
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError

from callvault.audit.service import AuditLog, utc_now_iso
from callvault.capture.live import LiveRecording, LiveStart
from callvault.capture.metadata import CallMeta, parse_meta_json
from callvault.capture.spool import spool_folder
from callvault.catalog.model import CallDecision, Recording
from callvault.catalog.service import Catalog
from callvault.config import Settings
from callvault.context import RequestContext
from callvault.db import transaction
from callvault.errors import BadInput, Conflict
from callvault.jobs.interfaces import JobQueue
from callvault.jobs.speech_tasks import TRANSCRIBE, transcribe_key
from callvault.jobs.tasks import VERIFY, verify_key
from callvault.locks import file_lock
from callvault.media.decode import probe
from callvault.media.encode import transcode_to_opus
from callvault.media.model import AudioInfo, EncodedAudio
from callvault.policy.model import Decision, Line
from callvault.policy.service import PolicyService
from callvault.vault.interfaces import BlobLocked, WrappedKey, lock_until
from callvault.vault.service import Vault

_HASH_CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class IngestResult:
    status: str  # "recorded" | "not_recorded"
    recording_id: str | None
    reason: str
    call_id: str
    line: str | None
    rule: str
    policy_version: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "recording_id": self.recording_id,
            "reason": self.reason,
            "call_id": self.call_id,
            "line": self.line,
            "rule": self.rule,
            "policy_version": self.policy_version,
        }


class AudioInput:
    """Audio from a file path (CLI, drop folder) or from memory (an API upload)."""

    def __init__(self, path: Path | None = None, data: bytes | None = None) -> None:
        self._path, self._data = path, data

    def size(self) -> int:
        if self._data is not None:
            return len(self._data)
        assert self._path is not None
        try:
            return self._path.stat().st_size
        except OSError as exc:
            raise BadInput(f"cannot read audio file {self._path}: {exc.strerror}", "audio") from exc

    def source(self) -> Path | BinaryIO:
        return self._path if self._data is None else io.BytesIO(self._data)  # type: ignore[return-value]

    def sha256(self) -> str:
        digest = hashlib.sha256()
        if self._data is not None:
            digest.update(self._data)
            return digest.hexdigest()
        assert self._path is not None
        with self._path.open("rb") as fh:
            while chunk := fh.read(_HASH_CHUNK):
                digest.update(chunk)
        return digest.hexdigest()


# The rule of a live call whose dialled number the recording client did not give.
UNKNOWN_NUMBER = "dialled-number-unknown"


class IngestService:
    def __init__(
        self,
        *,
        engine: Engine,
        settings: Settings,
        policy: PolicyService,
        vault: Vault,
        catalog: Catalog,
        audit: AuditLog,
        jobs: JobQueue,
        lock_path: Path,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._engine, self._settings, self._policy = engine, settings, policy
        self._vault, self._catalog, self._audit = vault, catalog, audit
        self._lock_path, self._clock = lock_path, clock
        self._jobs = jobs

    def ingest(self, ctx: RequestContext, audio: AudioInput, meta_json: bytes) -> IngestResult:
        """Ingest one call. Idempotent on (call id, audio hash); all-or-nothing on failure."""
        meta = parse_meta_json(
            meta_json,
            now=self._clock(),
            max_skew_s=self._settings.max_clock_skew_s,
            max_hours=self._settings.max_call_hours,
        )
        prior = self._catalog.decision_for_call(meta.call_id)
        if prior is not None and not prior.record:
            # A call is decided once: re-sending it, even under a changed policy, keeps nothing.
            return IngestResult(
                "not_recorded",
                None,
                f"already decided: not covered ({prior.rule})",
                meta.call_id,
                prior.line,
                prior.rule,
                prior.policy_version,
            )
        decision = self._policy.decide(meta.dialled, direction=meta.direction, caller=meta.caller)
        if prior is None and not decision.record:
            return self._decline(ctx, meta, decision)
        size = self._check_size(audio)
        audio_sha256 = audio.sha256()
        existing = self._existing(meta, audio_sha256, decision)
        if existing is not None:
            return existing
        info = probe(audio.source())
        _check_channel_map(meta, info)
        return self._store(ctx, meta, decision, audio, audio_sha256, size, info)

    # -- live calls (SIPREC) ---------------------------------------------------------------
    def start_live(
        self, ctx: RequestContext, meta: CallMeta, *, sample_rate: int, channels: int
    ) -> LiveRecording | IngestResult:
        """Decide a live call as it arrives. Covered: a ``LiveRecording`` to write its audio
        to; not covered: the declined result, audited, and no audio is ever taken.

        ``meta.ended_at`` is not known yet (pass the start); ``LiveRecording.finish`` sets it.
        """
        if self._catalog.decision_for_call(meta.call_id) is not None:
            raise Conflict(
                f"call {meta.call_id!r} was already decided; a call id is recorded once",
                "meta.call_id",
            )
        if meta.dialled:
            decision = self._policy.decide(
                meta.dialled, direction=meta.direction, caller=meta.caller
            )
        else:
            # The recording client did not say which number was dialled: not recorded (the
            # policy records only numbers it lists), and the decision says why.
            decision = Decision(False, None, "", UNKNOWN_NUMBER, self._policy.policy.version)
        if not decision.record:
            return self._decline(ctx, meta, decision)
        line = self._policy.policy.line(decision.line or "")
        retain_until = line.retention.add_to(meta.started_at)
        return LiveRecording(
            self,
            self._vault,
            LiveStart(ctx, meta, decision, line),
            sample_rate=sample_rate,
            channels=channels,
            lock_until=lock_until(retain_until, self._clock()),
            lock_path=self._lock_path,
            spools=spool_folder(self._settings.home),
        )

    def commit_live(
        self,
        start: LiveStart,
        *,
        recording_id: str,
        blob_name: str,
        data_key: bytes,
        sha256: str,
        size: int,
        encoded: EncodedAudio,
        paused: Sequence[tuple[float, float]] = (),
    ) -> IngestResult:
        """Commit a finished live recording whose blob is complete (``LiveRecording.finish``,
        which holds the ingest lock around this)."""
        ctx, meta, decision, line = start.ctx, start.meta, start.decision, start.line
        try:
            wrapped = self._vault.wrap_key(data_key, recording_id)
            decided = self._decision_row(ctx, meta, decision)
            recording = self._recording_row(
                meta, decided, line, recording_id, blob_name, sha256, size,
                encoded.input_info, encoded, line.retention.add_to(meta.started_at),
            )  # fmt: skip
            extra: dict[str, Any] = {}
            if paused:
                # Card payments (PCI DSS): the spans are silence in the audio; their bounds
                # are kept so a listener knows why, and no digit is stored anywhere.
                recording = dataclasses.replace(
                    recording, flags=[*recording.flags, "card_payment_paused"]
                )
                extra["paused_s"] = [[round(a, 3), round(b, 3)] for a, b in paused]
            self._commit(ctx, decided, recording, wrapped, extra)
        except BaseException:
            self._discard(blob_name)
            raise
        return _recorded(recording_id, meta, line, decision)

    def _decline(self, ctx: RequestContext, meta: CallMeta, decision: Decision) -> IngestResult:
        result = IngestResult(
            "not_recorded",
            None,
            f"not covered by the policy ({decision.rule})",
            meta.call_id,
            decision.line,
            decision.rule,
            decision.policy_version,
        )
        with transaction(self._engine) as conn:
            known = self._catalog.decision_for_call(meta.call_id)
            if known is None:
                self._catalog.add_decision(conn, self._decision_row(ctx, meta, decision))
            self._audit.append(
                conn,
                ctx,
                "call.not_recorded",
                object_type="call",
                object_id=meta.call_id,
                details={
                    "rule": decision.rule,
                    "policy_version": decision.policy_version,
                    "dialled": meta.dialled,
                    "direction": meta.direction,
                },
            )
        return result

    def _check_size(self, audio: AudioInput) -> int:
        size = audio.size()
        if size == 0:
            raise BadInput("the audio file is empty; send the recording's bytes", "audio")
        if size > self._settings.max_ingest_bytes:
            raise BadInput(
                f"the audio is {size} bytes, over the limit of {self._settings.max_ingest_bytes}; "
                "raise the max_ingest_bytes setting or send a compressed format",
                "audio",
            )
        return size

    def _existing(self, meta: CallMeta, sha256: str, decision: Decision) -> IngestResult | None:
        known = self._catalog.recording_for_call(meta.call_id)
        if known is None:
            return None
        if known.purged_at is not None:
            # Its retention period is over: keeping a re-sent copy would undo the purge.
            return IngestResult(
                "not_recorded",
                None,
                f"already recorded and deleted on {known.purged_at[:10]} when its retention "
                "period ended; it is not kept again",
                meta.call_id,
                known.line,
                decision.rule,
                decision.policy_version,
            )
        if known.source_sha256 != sha256:
            raise Conflict(
                f"call {meta.call_id!r} is already recorded with different audio "
                f"(sha256 {known.source_sha256[:12]}…); a call id is ingested once — check the "
                "PBX export or use a new call id",
                "meta.call_id",
            )
        return IngestResult(
            "recorded",
            known.id,
            "already recorded: same call id and audio",
            meta.call_id,
            known.line,
            decision.rule,
            decision.policy_version,
        )

    def _store(
        self,
        ctx: RequestContext,
        meta: CallMeta,
        decision: Decision,
        audio: AudioInput,
        sha256: str,
        size: int,
        info: AudioInfo,
    ) -> IngestResult:
        line = self._policy.policy.line(decision.line or "")
        recording_id = uuid.uuid4().hex
        blob_name = f"recordings/{recording_id[:2]}/{recording_id}.opus"
        data_key = self._vault.new_data_key()
        retain_until = line.retention.add_to(meta.started_at)
        # Object Lock (where the store has it) keeps the blob until the retention date, so not
        # even someone with storage credentials deletes it early.
        locked = lock_until(retain_until, self._clock())
        with file_lock(self._lock_path, exclusive=False):
            with self._vault.writer(blob_name, data_key, retain_until=locked) as sink:
                encoded = transcode_to_opus(audio.source(), sink)
            wrapped = self._vault.wrap_key(data_key, recording_id)
            decided = self._decision_row(ctx, meta, decision)
            recording = self._recording_row(
                meta,
                decided,
                line,
                recording_id,
                blob_name,
                sha256,
                size,
                info,
                encoded,
                retain_until,
            )
            try:
                self._commit(ctx, decided, recording, wrapped)
            except IntegrityError:
                # Another ingest of the same call id won the race: drop our copy, answer as it.
                self._discard(blob_name)
                again = self._existing(meta, sha256, decision)
                if again is None:
                    raise
                return again
            except BaseException:
                self._discard(blob_name)
                raise
        return _recorded(recording_id, meta, line, decision)

    def _discard(self, blob_name: str) -> None:
        """Remove a blob whose recording never committed. Its data key existed only in this
        process, so it is unreadable whatever happens; where Object Lock keeps its bytes
        until the retention date, the store hides it and that is enough."""
        with contextlib.suppress(BlobLocked):
            self._vault.delete(blob_name)

    def _commit(
        self,
        ctx: RequestContext,
        decided: CallDecision,
        recording: Recording,
        wrapped: WrappedKey,
        extra: dict[str, Any] | None = None,
    ) -> None:
        now = utc_now_iso()
        with transaction(self._engine) as conn:
            self._catalog.add_decision(conn, decided)
            self._catalog.add_recording(conn, recording, wrapped, now)
            self._audit.append(
                conn,
                ctx,
                "recording.ingested",
                object_type="recording",
                object_id=recording.id,
                details={
                    "call_id": recording.call_id,
                    "line": recording.line,
                    "rule": decided.rule,
                    "policy_version": decided.policy_version,
                    "source_sha256": recording.source_sha256,
                    "flags": recording.flags,
                    "retain_until": recording.retain_until,
                    **(extra or {}),
                },
            )
            # Commit with the recording or not at all: verify proves the stored copy decrypts
            # and plays; transcribe finds and mutes personal and card data (speech/service.py).
            for task, key, queue in (
                (VERIFY, verify_key(recording.id), "media"),
                (TRANSCRIBE, transcribe_key(recording.id), "speech"),
            ):
                payload = {"recording_id": recording.id}
                self._jobs.enqueue(conn, task, key=key, payload=payload, queue=queue)

    def _decision_row(
        self, ctx: RequestContext, meta: CallMeta, decision: Decision
    ) -> CallDecision:
        return CallDecision(
            id=uuid.uuid4().hex,
            call_id=meta.call_id,
            direction=meta.direction,
            dialled=meta.dialled,
            record=decision.record,
            line=decision.line,
            rule=decision.rule,
            policy_version=decision.policy_version,
            decided_at=utc_now_iso(),
            origin=ctx.origin,
        )

    def _recording_row(
        self,
        meta: CallMeta,
        decided: CallDecision,
        line: Line,
        recording_id: str,
        blob_name: str,
        sha256: str,
        size: int,
        info: AudioInfo,
        encoded: EncodedAudio,
        retain_until: datetime,
    ) -> Recording:
        flags = []
        if line.announcement.required and not meta.announcement_played:
            flags.append("no_announcement")  # IPA 2016 s.46: users must be told
        return Recording(
            id=recording_id,
            call_id=meta.call_id,
            decision_id=decided.id,
            line=line.id,
            sensitivity=line.sensitivity,
            direction=meta.direction,
            dialled=meta.dialled,
            caller=meta.caller,
            agent=meta.agent,
            started_at=meta.started_at.isoformat(),
            ended_at=meta.ended_at.isoformat(),
            duration_s=round(encoded.duration_s, 3),
            announcement_played=meta.announcement_played,
            notice_version=meta.notice_version or self._policy.policy.notice_version,
            channel_map=meta.channel_map,
            flags=flags,
            source_sha256=sha256,
            source_bytes=size,
            source_format=f"{info.container}/{info.codec}/{info.sample_rate}Hz/{info.channels}ch",
            blob_name=blob_name,
            codec="opus",
            sample_rate=encoded.sample_rate,
            channels=encoded.channels,
            retain_until=retain_until.isoformat(),
            created_at=utc_now_iso(),
        )


def _check_channel_map(meta: CallMeta, info: AudioInfo) -> None:
    wanted = 1 if "mixed" in meta.channel_map else 2
    if info.channels != wanted:
        raise BadInput(
            f"channel_map {meta.channel_map} describes {wanted} channel(s) but the audio has "
            f"{info.channels}; send a matching channel_map",
            "meta.channel_map",
        )


def _recorded(recording_id: str, meta: CallMeta, line: Line, decision: Decision) -> IngestResult:
    return IngestResult(
        "recorded",
        recording_id,
        f"covered by line {line.id}",
        meta.call_id,
        line.id,
        decision.rule,
        decision.policy_version,
    )
