"""The queue at scale: procrastinate (PostgreSQL) workers on any number of machines.

Chosen by ``queue_url`` (a PostgreSQL URL naming callvault's own database). Jobs are deferred
by calling procrastinate's SQL function ``procrastinate_defer_jobs_v1`` on callvault's own
connection, inside the act's transaction, so a job commits or rolls back with its act; that
is why the queue must live in the same database (and schema) as the catalogue. A key becomes
procrastinate's ``queueing_lock`` (one queued job per key) and its ``lock`` (never two
running at once). A worker that dies leaves its jobs "doing" under a silent heartbeat;
workers retry them (at start, then every minute) once ``stale_after_s`` has passed.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote, urlparse

import orjson
from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import IntegrityError

from callvault.db import transaction
from callvault.errors import ConfigError
from callvault.jobs.interfaces import Job, JobGaveUp, WorkerOptions, WorkerResult
from callvault.jobs.registry import PERIODIC, TASKS, TaskDef

if TYPE_CHECKING:
    import procrastinate

    from callvault.bootstrap import Services

log = logging.getLogger("callvault.jobs")

# PostgreSQL advisory lock key for applying procrastinate's schema ("cvjobs").
_SCHEMA_LOCK = 0x63766A6F6273
_RETRY_STALLED = "callvault.retry_stalled_jobs"
_DEFER = text(
    "SELECT procrastinate_defer_jobs_v1(ARRAY[CAST(ROW(:queue, :task, 0, :key, :key, "
    "CAST(:args AS jsonb), NULL) AS procrastinate_job_to_defer_v1)])"
)
_UNFINISHED = text(
    "SELECT 1 FROM procrastinate_jobs WHERE queueing_lock = :key "
    "AND status IN ('todo', 'doing') LIMIT 1"
)


def _where(url: str) -> tuple[str, int, str, str]:
    """(host, port, database, search_path) a PostgreSQL URL names."""
    parsed = urlparse(url)
    options = " ".join(parse_qs(parsed.query).get("options", []))
    search_path = ""
    for option in options.split():
        if "search_path=" in option:
            search_path = option.split("search_path=", 1)[1]
    return (
        parsed.hostname or "localhost",
        parsed.port or 5432,
        unquote(parsed.path.lstrip("/")),
        search_path,
    )


def check_same_database(db_url: str, queue_url: str) -> None:
    """Refuse a queue that is not in callvault's own database and schema."""
    scheme = urlparse(queue_url).scheme.split("+")[0]
    if scheme not in {"postgresql", "postgres"}:
        raise ConfigError(
            f"queue_url must be empty (the database queue) or a postgresql:// URL, got {scheme}://",
            "queue_url",
        )
    if not db_url.startswith("postgresql"):
        raise ConfigError(
            "queue_url names PostgreSQL but db_url is not PostgreSQL: jobs are written in the "
            "same transaction as the recording, so the queue must live in callvault's own "
            "database; set db_url to that PostgreSQL database, or leave queue_url empty",
            "queue_url",
        )
    if _where(db_url) != _where(queue_url):
        raise ConfigError(
            f"queue_url names {_describe(queue_url)} but db_url names {_describe(db_url)}: jobs "
            "are written in the same transaction as the recording, so the queue must live in "
            "the same database (and schema); point queue_url at db_url's database",
            "queue_url",
        )


def _describe(url: str) -> str:
    host, port, database, search_path = _where(url)
    return f"{host}:{port}/{database}" + (f" (search_path {search_path})" if search_path else "")


def _conninfo(url: str) -> str:
    """A libpq URL (no SQLAlchemy driver suffix)."""
    scheme, rest = url.split("://", 1)
    return f"{scheme.split('+')[0]}://{rest}"


class ProcrastinateQueue:
    """Defers into procrastinate's tables on callvault's connection; runs its workers."""

    kind = "procrastinate"

    def __init__(self, engine: Engine, queue_url: str) -> None:
        self._engine = engine
        self._conninfo = _conninfo(queue_url)

    @classmethod
    def open(cls, engine: Engine, db_url: str, queue_url: str) -> ProcrastinateQueue:
        """Check the URL and make sure procrastinate's schema exists in our database."""
        check_same_database(db_url, queue_url)
        queue = cls(engine, queue_url)
        queue.apply_schema()
        return queue

    def apply_schema(self) -> bool:
        """Create procrastinate's tables and functions if missing; True if it did."""
        from procrastinate.schema import SchemaManager

        with transaction(self._engine) as conn:
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _SCHEMA_LOCK})
            if conn.execute(text("SELECT to_regclass('procrastinate_jobs')")).scalar():
                return False
            # Unqualified names: the schema lands in the connection's search_path (ours).
            cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
            cursor.execute(SchemaManager.get_schema())  # no parameters: simple protocol
            cursor.close()
        return True

    def enqueue(
        self, conn: Connection, task: str, *, key: str, payload: dict[str, Any], queue: str
    ) -> None:
        """Defer a job inside ``conn``'s open transaction; a no-op if ``key`` is unfinished."""
        if conn.execute(_UNFINISHED, {"key": key}).first() is not None:
            return
        args = orjson.dumps(payload).decode()
        try:
            # A savepoint: a lost race on the queueing lock must not abort the act.
            with conn.begin_nested():
                conn.execute(_DEFER, {"queue": queue, "task": task, "key": key, "args": args})
        except IntegrityError:
            log.info("job %s is already queued", key)

    def stats(self) -> dict[str, dict[str, int]]:
        query = text(
            "SELECT queue_name, status::text, count(*) FROM procrastinate_jobs "
            "GROUP BY queue_name, status"
        )
        out: dict[str, dict[str, int]] = {}
        with self._engine.connect() as conn:
            for queue, status, count in conn.execute(query):
                out.setdefault(queue, {})[status] = int(count)
        return out

    # -- workers ---------------------------------------------------------------------------
    def run_worker(
        self,
        services: Services,
        options: WorkerOptions,
    ) -> WorkerResult:
        """Run a procrastinate worker on ``options.queues`` until stopped (or empty: burst)."""
        result = WorkerResult()
        return asyncio.run(self._run(services, options, result))

    async def _run(
        self,
        services: Services,
        options: WorkerOptions,
        result: WorkerResult,
    ) -> WorkerResult:
        app = self._app(services, options, result)
        async with app.open_async():
            await _retry_stalled(app, options.stale_after_s)
            await app.run_worker_async(
                queues=list(options.queues),
                wait=not options.burst,
                concurrency=options.concurrency,
                fetch_job_polling_interval=options.poll_s,
                update_heartbeat_interval=max(options.stale_after_s / 4, 0.1),
                stalled_worker_timeout=options.stale_after_s,
            )
        return result

    def _app(
        self, services: Services, options: WorkerOptions, result: WorkerResult
    ) -> procrastinate.App:
        import procrastinate

        app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=self._conninfo))
        for definition in TASKS.values():
            registered = app.task(
                name=definition.name,
                queue=definition.queue,
                pass_context=True,
                retry=_retry_strategy(definition.max_attempts),
            )(_task_runner(services, definition, result))
            # A burst run drains what is queued; it schedules nothing new (as the database
            # worker does), or it would race the schedule of the long-running workers.
            if definition.name in PERIODIC and not options.burst:
                app.periodic(cron=PERIODIC[definition.name].cron)(registered)

        async def retry_stalled(timestamp: int) -> None:
            await _retry_stalled(app, options.stale_after_s)

        if options.burst:
            return app  # a burst run retried stalled jobs as it started
        # Long-running workers look for dead workers' jobs every minute.
        stalled = app.task(
            name=_RETRY_STALLED, queue=options.queues[0], queueing_lock=_RETRY_STALLED
        )
        app.periodic(cron="* * * * *")(stalled(retry_stalled))
        return app


async def _retry_stalled(app: procrastinate.App, stale_after_s: float) -> None:
    """Put back the jobs of workers whose heartbeat went silent (they died)."""
    await app.job_manager.prune_stalled_workers(stale_after_s)
    for job in await app.job_manager.get_stalled_jobs(seconds_since_heartbeat=stale_after_s):
        log.warning("retrying job %s (%s): its worker stopped", job.id, job.task_name)
        await app.job_manager.retry_job(job)


def _retry_strategy(max_attempts: int) -> Any:
    import procrastinate

    class _Retry(procrastinate.BaseRetryStrategy):
        """Exponential back-off; a job the task failed on purpose is not retried."""

        def get_retry_decision(
            self, *, exception: BaseException, job: procrastinate.jobs.Job
        ) -> procrastinate.RetryDecision | None:
            if isinstance(exception, JobGaveUp) or job.attempts + 1 >= max_attempts:
                return None
            return procrastinate.RetryDecision(retry_in={"seconds": 2 ** (job.attempts + 1)})

    return _Retry()


def _task_runner(services: Services, definition: TaskDef, result: WorkerResult) -> Any:
    from callvault.jobs.service import run_task

    lock = threading.Lock()

    def run(context: procrastinate.JobContext, **payload: Any) -> None:
        found = context.job
        job = Job(
            id=str(found.id),
            queue=found.queue,
            task=found.task_name,
            key=found.queueing_lock or "",
            payload=payload,
            attempts=found.attempts + 1,
            max_attempts=definition.max_attempts,
        )
        try:
            outcome = run_task(services, job, None)
        except Exception:
            if job.attempts >= job.max_attempts:
                with lock:
                    result.failed += 1
            raise
        with lock:
            if outcome == "failed":
                result.failed += 1
            else:
                result.done += 1
        if outcome == "failed":
            raise JobGaveUp(f"job {job.id} ({job.task}) failed; see the audit log")

    run.__name__ = definition.name.replace(".", "_")
    return run
