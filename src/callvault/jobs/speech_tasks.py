"""``recording.transcribe`` (queue ``speech``): transcribe a new recording, find and mute
personal data and card data, index the redacted text, flag what a person must review.

Ingest enqueues it for every covered recording, in the recording's own transaction. It runs
on its own queue so transcription can be given its own workers (where GPUs are) without
holding up verification or retention.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from callvault.jobs.registry import JobContext, task

if TYPE_CHECKING:
    from callvault.bootstrap import Services

TRANSCRIBE = "recording.transcribe"


def transcribe_key(recording_id: str) -> str:
    return f"speech:{recording_id}"


@task(TRANSCRIBE, queue="speech", max_attempts=3)
def transcribe_recording(services: Services, ctx: JobContext, payload: dict[str, Any]) -> None:
    """Process one recording through the speech pipeline. Idempotent."""
    # The service commits its acts (blobs, index, audit) itself; the job is then done.
    services.speech.process(ctx.request, str(payload["recording_id"]))
