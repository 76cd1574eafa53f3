"""The job Protocol: what ingest and the services see of a queue, whichever backs it.

A job is written inside the caller's open transaction, so it commits or rolls back with the
act that asked for it: no lost job after a crash, no orphan job for an act that never
happened. A job is named by a ``key`` (``"verify:<recording id>"``); enqueueing a key that is
already queued or running does nothing. Tasks are idempotent, so a job that runs twice (a
worker died after the work but before it was marked done) is harmless.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import Connection

# media: decode, verify, transcode; speech: transcription (one slot per GPU);
# retention: purge and reminders.
QUEUES = ("media", "speech", "retention")


@dataclass(frozen=True, slots=True)
class Job:
    """One claimed job, as a worker sees it."""

    id: str
    queue: str
    task: str
    key: str
    payload: dict[str, Any]
    attempts: int  # including this one
    max_attempts: int


@dataclass
class WorkerResult:
    """What a ``--burst`` run did: jobs finished, jobs given up on."""

    done: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, int]:
        return {"done": self.done, "failed": self.failed}


@dataclass(frozen=True, slots=True)
class WorkerOptions:
    queues: tuple[str, ...] = QUEUES
    burst: bool = False
    concurrency: int = 1
    # A running job whose worker has not sent a heartbeat for this long is taken back and
    # retried (its worker died or lost the database).
    stale_after_s: float = 300.0
    # Idle poll interval when nothing is due.
    poll_s: float = 1.0


class JobQueue(Protocol):
    """A queue of jobs in the same database as the acts that ask for them."""

    kind: str  # "database" | "procrastinate"

    def enqueue(
        self, conn: Connection, task: str, *, key: str, payload: dict[str, Any], queue: str
    ) -> None:
        """Add a job inside ``conn``'s open transaction; a no-op if ``key`` is unfinished."""
        ...

    def stats(self) -> dict[str, dict[str, int]]:
        """Jobs per queue per status (queue depth for metrics and ``check``)."""
        ...


class ClaimingQueue(JobQueue, Protocol):
    """A queue that callvault's own worker loop drains (the database queue)."""

    def claim(self, queues: tuple[str, ...], worker: str, stale_after_s: float) -> Job | None:
        """Take the next due job (or one whose worker went silent), or None."""
        ...

    def complete(self, conn: Connection, job: Job, worker: str, status: str, error: str) -> None:
        """Mark ``job`` done or failed inside ``conn``'s transaction (with the task's acts).

        Raises ``LeaseLost`` if another worker took the job back meanwhile: the caller's
        transaction then rolls back, so its acts are not recorded twice.
        """
        ...

    def retry_or_fail(self, job: Job, worker: str, error: str) -> bool:
        """After an error: queue ``job`` again with back-off, or fail it after its last
        attempt (the error kept). Returns True if it will be retried."""
        ...

    def heartbeat(self, worker: str) -> None:
        """Tell the queue that ``worker`` is alive and still holds its running jobs."""
        ...

    def enqueue_periodic(self, task: str, *, key: str, queue: str) -> bool:
        """Enqueue a scheduled run unless a job with ``key`` ever existed; True if added."""
        ...


class LeaseLost(Exception):
    """The job was taken back from this worker (its heartbeat went stale); drop the result."""


class JobGaveUp(Exception):
    """A task ended its job as failed on purpose (already recorded): do not retry it."""
