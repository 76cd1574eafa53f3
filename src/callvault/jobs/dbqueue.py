"""The default queue: a ``jobs`` table in callvault's own database (SQLite or PostgreSQL).

Enqueueing is an INSERT in the caller's transaction. Claiming is one UPDATE of the next due
row: on PostgreSQL its subquery takes the row ``FOR UPDATE SKIP LOCKED``, so workers on many
machines never take the same job; on SQLite the UPDATE runs under ``BEGIN IMMEDIATE`` (one
writer at a time). A running job carries its worker's heartbeat; one whose heartbeat is older
than ``stale_after_s`` is taken back by the next claim and counts as an attempt.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, and_, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from callvault.db import transaction
from callvault.jobs.interfaces import Job, LeaseLost
from callvault.jobs.store import UNFINISHED_SQL, jobs

DEFAULT_MAX_ATTEMPTS = 5
# Back-off after a failed attempt: base * 2 ** (attempts - 1), capped.
RETRY_BASE_S = 10.0
RETRY_CAP_S = 3600.0
_ERROR_CHARS = 4000


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def _now() -> datetime:
    return datetime.now(UTC)


class DatabaseQueue:
    """Jobs in the ``jobs`` table; callvault's own worker loop drains it."""

    kind = "database"

    def __init__(self, engine: Engine, *, retry_base_s: float = RETRY_BASE_S) -> None:
        self._engine = engine
        self._retry_base_s = retry_base_s

    # -- the Protocol ----------------------------------------------------------------------
    def enqueue(
        self,
        conn: Connection,
        task: str,
        *,
        key: str,
        payload: dict[str, Any],
        queue: str,
        max_attempts: int | None = None,
    ) -> None:
        """Add a job inside ``conn``'s open transaction; a no-op if ``key`` is unfinished."""
        if max_attempts is None:
            from callvault.jobs.registry import TASKS

            known = TASKS.get(task)
            max_attempts = known.max_attempts if known else DEFAULT_MAX_ATTEMPTS
        now = _iso(_now())
        values = {
            "id": uuid.uuid4().hex,
            "queue": queue,
            "task": task,
            "key": key,
            "payload": payload,
            "status": "queued",
            "attempts": 0,
            "max_attempts": max_attempts,
            "run_after": now,
            "created_at": now,
        }
        # ON CONFLICT DO NOTHING, not a caught error: a failed statement would abort the
        # caller's whole PostgreSQL transaction, the act along with it.
        if conn.dialect.name == "postgresql":
            stmt: Any = postgresql.insert(jobs).values(**values)
        else:
            stmt = sqlite.insert(jobs).values(**values)
        stmt = stmt.on_conflict_do_nothing(index_elements=["key"], index_where=UNFINISHED_SQL)
        conn.execute(stmt)

    def stats(self) -> dict[str, dict[str, int]]:
        """Jobs per queue per status."""
        query = select(jobs.c.queue, jobs.c.status, func.count()).group_by(
            jobs.c.queue, jobs.c.status
        )
        out: dict[str, dict[str, int]] = {}
        with self._engine.connect() as conn:
            for queue, status, count in conn.execute(query):
                out.setdefault(queue, {})[status] = int(count)
        return out

    # -- the worker's side -----------------------------------------------------------------
    def claim(self, queues: tuple[str, ...], worker: str, stale_after_s: float) -> Job | None:
        """Take the next due job, or a running one whose worker went silent; None if none."""
        while True:
            now = _now()
            stale_before = _iso(now - timedelta(seconds=stale_after_s))
            # An alias, so the subquery is not correlated with the UPDATE's own row.
            candidate = jobs.alias("candidate")
            due = or_(
                and_(candidate.c.status == "queued", candidate.c.run_after <= _iso(now)),
                and_(candidate.c.status == "running", candidate.c.heartbeat < stale_before),
            )
            pick = (
                select(candidate.c.id)
                .where(candidate.c.queue.in_(queues), due)
                .order_by(candidate.c.run_after, candidate.c.created_at)
                .limit(1)
                .with_for_update(skip_locked=True)
                .scalar_subquery()
            )
            stamp = _iso(now)
            with transaction(self._engine) as conn:
                row = conn.execute(
                    update(jobs)
                    .where(jobs.c.id == pick)
                    .values(
                        status="running",
                        attempts=jobs.c.attempts + 1,
                        locked_by=worker,
                        locked_at=stamp,
                        heartbeat=stamp,
                    )
                    .returning(*jobs.c)
                ).first()
                if row is None:
                    return None
                if row.attempts <= row.max_attempts:
                    return _job(row._asdict())
                # Its workers kept dying on it: give up rather than take down more.
                conn.execute(
                    update(jobs)
                    .where(jobs.c.id == row.id)
                    .values(
                        status="failed",
                        locked_by=None,
                        finished_at=stamp,
                        last_error=(row.last_error or "")
                        + f"\nworker stopped sending heartbeats {row.max_attempts} time(s)",
                    )
                )

    def complete(self, conn: Connection, job: Job, worker: str, status: str, error: str) -> None:
        """Mark ``job`` done or failed inside ``conn``'s transaction; LeaseLost if taken."""
        result = conn.execute(
            update(jobs)
            .where(jobs.c.id == job.id, jobs.c.locked_by == worker, jobs.c.status == "running")
            .values(
                status=status,
                locked_by=None,
                finished_at=_iso(_now()),
                last_error=error[:_ERROR_CHARS] or None,
            )
        )
        if result.rowcount != 1:
            raise LeaseLost(f"job {job.id} was taken back from {worker}")

    def retry_or_fail(self, job: Job, worker: str, error: str) -> bool:
        """Queue ``job`` again after a back-off, or fail it after its last attempt."""
        retry = job.attempts < job.max_attempts
        now = _now()
        delay = min(self._retry_base_s * 2 ** (job.attempts - 1), RETRY_CAP_S)
        values: dict[str, Any] = {"locked_by": None, "last_error": error[:_ERROR_CHARS]}
        if retry:
            values |= {"status": "queued", "run_after": _iso(now + timedelta(seconds=delay))}
        else:
            values |= {"status": "failed", "finished_at": _iso(now)}
        with transaction(self._engine) as conn:
            conn.execute(
                update(jobs)
                .where(jobs.c.id == job.id, jobs.c.locked_by == worker, jobs.c.status == "running")
                .values(**values)
            )
        return retry

    def heartbeat(self, worker: str) -> None:
        with transaction(self._engine) as conn:
            conn.execute(
                update(jobs)
                .where(jobs.c.locked_by == worker, jobs.c.status == "running")
                .values(heartbeat=_iso(_now()))
            )

    def enqueue_periodic(self, task: str, *, key: str, queue: str) -> bool:
        """Enqueue a scheduled run unless a job with ``key`` ever existed (any worker)."""
        with transaction(self._engine) as conn:
            seen = conn.execute(select(jobs.c.id).where(jobs.c.key == key).limit(1)).first()
            if seen is not None:
                return False
            self.enqueue(conn, task, key=key, payload={}, queue=queue)
        return True

    def job(self, key: str) -> dict[str, Any] | None:
        """The newest job with ``key``, as a dict (for tests and ``check``)."""
        with self._engine.connect() as conn:
            row = conn.execute(
                select(jobs).where(jobs.c.key == key).order_by(jobs.c.created_at.desc()).limit(1)
            ).first()
        return None if row is None else row._asdict()


def _job(row: dict[str, Any]) -> Job:
    return Job(
        id=row["id"],
        queue=row["queue"],
        task=row["task"],
        key=row["key"],
        payload=dict(row["payload"]),
        attempts=row["attempts"],
        max_attempts=row["max_attempts"],
    )
