"""The task registry: task name -> function, queue and attempts; periodic schedules.

A task is ``func(services, ctx, payload)``. It acts as the named system actor
``ctx.request`` (``system:worker``) through the service layer, like any other caller, and
ends in ``ctx.done()`` or ``ctx.failed(error)``: a transaction that records its acts (the
audit entry) and settles the job together. A task that returns without either is marked done.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine

from callvault.context import Actor, RequestContext
from callvault.db import transaction
from callvault.jobs.interfaces import QUEUES, Job

if TYPE_CHECKING:
    from callvault.bootstrap import Services

# Settles a job inside the task's final transaction: (conn, status, error).
Settle = Callable[[Connection, str, str], None]
TaskFunc = Callable[["Services", "JobContext", dict[str, Any]], None]

WORKER_ACTOR = Actor(name="system:worker", kind="system")


@dataclass(frozen=True, slots=True)
class TaskDef:
    name: str
    queue: str
    func: TaskFunc
    max_attempts: int


@dataclass(frozen=True, slots=True)
class PeriodicDef:
    task: str
    every_minutes: int

    @property
    def cron(self) -> str:
        """The same schedule as a cron line (procrastinate's periodic tasks)."""
        return cron_for(self.every_minutes)


TASKS: dict[str, TaskDef] = {}
PERIODIC: dict[str, PeriodicDef] = {}


def task(name: str, *, queue: str, max_attempts: int = 5) -> Callable[[TaskFunc], TaskFunc]:
    """Register ``func`` as task ``name`` on ``queue``."""
    if queue not in QUEUES:
        raise ValueError(f"task {name}: unknown queue {queue!r}; queues are {QUEUES}")

    def register(func: TaskFunc) -> TaskFunc:
        if name in TASKS and TASKS[name].func is not func:
            raise ValueError(f"task {name!r} is registered twice")
        TASKS[name] = TaskDef(name, queue, func, max_attempts)
        return func

    return register


def periodic(*, every_minutes: int) -> Callable[[TaskFunc], TaskFunc]:
    """Run a registered task every so many minutes (apply below ``@task``'s decorator).

    On procrastinate this becomes a ``periodic`` task (a cron line); the database worker
    enqueues one job per period, keyed by the period, so several workers run it once.
    """
    cron_for(every_minutes)  # refuse a period cron cannot express, at import time

    def register(func: TaskFunc) -> TaskFunc:
        names = [d.name for d in TASKS.values() if d.func is func]
        if not names:
            raise ValueError("@periodic goes above @task: register the task first")
        PERIODIC[names[0]] = PeriodicDef(names[0], every_minutes)
        return func

    return register


def cron_for(every_minutes: int) -> str:
    if 0 < every_minutes < 60 and 60 % every_minutes == 0:
        return f"*/{every_minutes} * * * *"
    hours, rest = divmod(every_minutes, 60)
    if rest == 0 and 0 < hours <= 24 and 24 % hours == 0:
        return f"0 */{hours} * * *" if hours < 24 else "0 0 * * *"
    raise ValueError(
        f"every_minutes={every_minutes}: use a divisor of 60, or whole hours dividing 24"
    )


def worker_context(job: Job) -> RequestContext:
    return RequestContext(actor=WORKER_ACTOR, origin="job", request_id=f"job-{job.id}")


class JobContext:
    """What a running task knows of its job, and how it ends it."""

    def __init__(self, engine: Engine, job: Job, settle: Settle | None) -> None:
        self.job = job
        self.request = worker_context(job)
        self.outcome: str | None = None
        self._engine, self._settle = engine, settle

    @contextmanager
    def done(self) -> Iterator[Connection]:
        """A transaction that records the task's acts and marks the job done."""
        with self._ending("done", "") as conn:
            yield conn

    @contextmanager
    def failed(self, error: str) -> Iterator[Connection]:
        """A transaction that records the task's acts and fails the job, without retry."""
        with self._ending("failed", error) as conn:
            yield conn

    @contextmanager
    def _ending(self, status: str, error: str) -> Iterator[Connection]:
        if self.outcome is not None:
            raise RuntimeError(f"job {self.job.id} already ended {self.outcome}")
        with transaction(self._engine) as conn:
            yield conn
            if self._settle is not None:
                self._settle(conn, status, error)
        self.outcome = status
