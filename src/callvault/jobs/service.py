"""Running jobs: one task run (shared by both queues) and the database queue's worker loop.

The loop claims a job, runs its task as ``system:worker`` and settles the job in the task's
own final transaction, so an audit entry and "job done" commit together. A heartbeat thread
keeps the worker's running jobs its own; if the worker dies, another takes them back after
``stale_after_s``. Scheduled (periodic) tasks are enqueued by every worker, keyed by period,
so each period runs once however many workers there are.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from callvault.jobs.interfaces import ClaimingQueue, Job, LeaseLost, WorkerOptions, WorkerResult
from callvault.jobs.registry import PERIODIC, TASKS, JobContext, Settle

if TYPE_CHECKING:
    from callvault.bootstrap import Services

log = logging.getLogger("callvault.jobs")


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def run_task(services: Services, job: Job, settle: Settle | None) -> str:
    """Run ``job``'s task; return "done" or "failed" (a failure the task recorded itself).

    Exceptions from the task propagate: the queue decides whether to retry.
    """
    definition = TASKS.get(job.task)
    if definition is None:
        raise LookupError(f"no task named {job.task!r} is registered in this worker")
    ctx = JobContext(services.engine, job, settle)
    definition.func(services, ctx, job.payload)
    if ctx.outcome is None:
        with ctx.done():
            pass
    assert ctx.outcome is not None
    return ctx.outcome


class DatabaseWorker:
    """Drains a ``ClaimingQueue``: ``run()`` until ``stop()``, or until empty with burst."""

    def __init__(self, services: Services, queue: ClaimingQueue, options: WorkerOptions) -> None:
        self._services, self._queue, self._options = services, queue, options
        self.name = worker_name()
        self.result = WorkerResult()
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._last_period: dict[str, int] = {}

    def stop(self) -> None:
        self._stopping.set()

    def run(self) -> WorkerResult:
        beat = threading.Thread(target=self._beat, name="callvault-heartbeat", daemon=True)
        beat.start()
        try:
            with ThreadPoolExecutor(self._options.concurrency) as pool:
                slots = [pool.submit(self._slot) for _ in range(self._options.concurrency)]
                for slot in slots:
                    slot.result()
        finally:
            self._stopping.set()
            beat.join(timeout=5)
        return self.result

    def _slot(self) -> None:
        while not self._stopping.is_set():
            if not self._options.burst:
                self._schedule()
            job = self._queue.claim(self._options.queues, self.name, self._options.stale_after_s)
            if job is None:
                if self._options.burst:
                    return
                self._stopping.wait(self._options.poll_s)
                continue
            self._run_one(job)

    def _run_one(self, job: Job) -> None:
        settle: Settle = lambda conn, status, error: self._queue.complete(  # noqa: E731
            conn, job, self.name, status, error
        )
        try:
            outcome = run_task(self._services, job, settle)
        except LeaseLost as exc:
            log.warning("%s", exc)
            return
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
            log.warning("job %s (%s) attempt %d failed: %s", job.id, job.task, job.attempts, error)
            retried = self._queue.retry_or_fail(job, self.name, error)
            if not retried:
                self._count("failed", error)
            return
        self._count(outcome, "")

    def _count(self, outcome: str, error: str) -> None:
        with self._lock:
            if outcome == "done":
                self.result.done += 1
            else:
                self.result.failed += 1
                if error:
                    self.result.errors.append(error)

    def _beat(self) -> None:
        interval = max(self._options.stale_after_s / 4, 0.05)
        while not self._stopping.wait(interval):
            try:
                self._queue.heartbeat(self.name)
            except Exception:  # a database blip must not kill the worker; the next beat retries
                log.exception("heartbeat failed")

    def _schedule(self, now: Callable[[], float] = time.time) -> None:
        for definition in PERIODIC.values():
            period = int(now() // (definition.every_minutes * 60))
            if self._last_period.get(definition.task) == period:
                continue
            self._last_period[definition.task] = period
            queue = TASKS[definition.task].queue
            if queue in self._options.queues:
                self._queue.enqueue_periodic(
                    definition.task, key=f"periodic:{definition.task}:{period}", queue=queue
                )


def run_worker(services: Services, options: WorkerOptions) -> WorkerResult:
    """Run the worker the settings choose (database queue or procrastinate)."""
    import callvault.jobs.tasks  # noqa: F401  (registers the tasks)

    queue = services.jobs
    if queue.kind == "procrastinate":
        from callvault.jobs.procrastinate_queue import ProcrastinateQueue

        assert isinstance(queue, ProcrastinateQueue)
        return queue.run_worker(services, options)
    from callvault.jobs.dbqueue import DatabaseQueue

    assert isinstance(queue, DatabaseQueue)
    return DatabaseWorker(services, queue, options).run()
