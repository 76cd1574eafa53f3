"""The tasks callvault's workers run. Importing this module registers them.

``recording.verify`` (queue ``media``): decrypt a stored recording through the vault and
decode it to the end, proving the recording at rest is intact and playable. Ingest enqueues
it for every new recording, in the recording's own transaction.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

# Tasks kept in their own modules register on import, like those below.
import callvault.jobs.analytics_tasks
import callvault.jobs.hold_tasks
import callvault.jobs.oversight_tasks
import callvault.jobs.quality_tasks
import callvault.jobs.retention_tasks
import callvault.jobs.speech_tasks
import callvault.jobs.training_tasks  # noqa: F401
from callvault.access.actions import require
from callvault.catalog.model import Recording
from callvault.errors import BadInput, IntegrityFailure, NotFound
from callvault.jobs.registry import JobContext, task
from callvault.media.decode import open_audio

if TYPE_CHECKING:
    from callvault.bootstrap import Services

VERIFY = "recording.verify"
# Decoded audio may fall this far short of the catalogued duration (codec delay and padding).
_SHORTFALL_S = 0.25


def verify_key(recording_id: str) -> str:
    return f"verify:{recording_id}"


class _ChunkReader:
    """A read-only pipe over decrypted chunks; keeps the vault's error for the caller.

    FFmpeg reads through a callback, which may swallow or re-wrap what the callback raised,
    so the integrity failure is also kept here and re-raised after the decode.
    """

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks, self._buffer = chunks, b""
        self.error: IntegrityFailure | None = None

    def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self._buffer) < size:
            try:
                chunk = next(self._chunks, None)
            except IntegrityFailure as exc:
                self.error = exc
                raise
            if chunk is None:
                break
            self._buffer += chunk
        if size < 0:
            size = len(self._buffer)
        taken, self._buffer = self._buffer[:size], self._buffer[size:]
        return taken


def _decode_stored(services: Services, recording_id: str, blob_name: str) -> float:
    """Seconds of audio decoded from the stored blob; raises on tampering or corruption."""
    key = services.vault.unwrap_key(services.catalog.wrapped_key(recording_id), recording_id)
    chunks = services.vault.read(blob_name, key)
    reader = _ChunkReader(chunks)
    try:
        with open_audio(reader) as audio:  # type: ignore[arg-type]
            for _ in audio.frames():
                pass
            return audio.decoded_s
    except (BadInput, IntegrityFailure):
        if reader.error is not None:
            raise reader.error from None
        raise
    finally:
        chunks.close()


def _decode_current(services: Services, recording: Recording) -> float:
    """Decode the recording's audio; if the speech job replaced it meanwhile (card data
    muted in a payment line's original, under a new key), decode the replacement."""
    try:
        return _decode_stored(services, recording.id, recording.blob_name)
    except (IntegrityFailure, NotFound):
        now = services.catalog.get(recording.id)
        if now.blob_name == recording.blob_name:
            raise
        return _decode_stored(services, recording.id, now.blob_name)


@task(VERIFY, queue="media")
def verify_recording(services: Services, ctx: JobContext, payload: dict[str, Any]) -> None:
    """Check one stored recording decrypts and decodes; audit the result. Idempotent."""
    require(ctx.request.actor, "recordings:verify")
    recording_id = str(payload["recording_id"])
    try:
        recording = services.catalog.get(recording_id)
    except NotFound:
        return  # purged since it was queued: nothing left to verify
    try:
        decoded_s = _decode_current(services, recording)
        if decoded_s < recording.duration_s - _SHORTFALL_S:
            raise BadInput(
                f"the stored audio breaks off at {decoded_s:.2f} s of {recording.duration_s:.2f} s",
                "blob",
            )
    except (IntegrityFailure, BadInput, NotFound) as exc:
        problem = f"{type(exc).__name__}: {exc.message}"
        with ctx.failed(problem) as conn:
            services.audit.append(
                conn,
                ctx.request,
                "recording.verify_failed",
                object_type="recording",
                object_id=recording_id,
                details={"ok": False, "problem": problem},
            )
        return
    with ctx.done() as conn:
        services.audit.append(
            conn,
            ctx.request,
            "recording.verified",
            object_type="recording",
            object_id=recording_id,
            details={"ok": True, "duration_s": round(decoded_s, 3)},
        )
