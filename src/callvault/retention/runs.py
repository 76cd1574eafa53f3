"""One purge at a time, never back in time: the ``retention_runs`` register.

A run is admitted by inserting its row as ``running``; a unique index over the running row
makes a second, concurrent run fail on any number of workers or machines. A run that died
(no heartbeat for ``STALE_AFTER``) is marked ``abandoned`` by the next, which then resumes
its work (the disposals it left half done). A purge's ``as_of`` time may not go before the
last real run's: the catalogue, the certificates and the ledger already say that run
happened, and a run "in the past" would contradict them.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, Row, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from callvault.db import transaction
from callvault.errors import BadInput, Conflict
from callvault.retention.store import retention_runs

# Each batch beats the heartbeat; a run silent this long has died.
STALE_AFTER = timedelta(minutes=15)


@dataclass(frozen=True, slots=True)
class RunCounts:
    """What a run did: purged (this run), held (due but under a hold), kept (not yet due),
    pending (key destroyed, a blob not yet deletable: finished by a later run)."""

    purged: int
    held: int
    kept: int
    pending: int = 0


def start_run(engine: Engine, actor: str, as_of: datetime, now: datetime) -> str:
    """Admit one purge as of ``as_of``; ``Conflict`` while another runs, ``BadInput`` when
    ``as_of`` is before the last run's. Changes nothing when it refuses."""
    run_id = uuid.uuid4().hex
    try:
        with transaction(engine) as conn:
            _take_over_stale(conn, now)
            last = last_as_of(conn)
            if last is not None and as_of.isoformat() < last:
                raise BadInput(
                    f"--now {as_of.isoformat()} is before the last purge's time ({last}); a "
                    "purge cannot go back in time: give a later --now, or none for the clock",
                    "now",
                )
            conn.execute(
                insert(retention_runs).values(
                    id=run_id,
                    status="running",
                    as_of=as_of.isoformat(),
                    dry_run=False,
                    actor=actor,
                    started_at=now.isoformat(),
                    heartbeat_at=now.isoformat(),
                    purged=0,
                    held=0,
                    kept=0,
                )
            )
    except IntegrityError:
        # PostgreSQL: another machine's run committed between our check and insert.
        raise _running_conflict(None) from None
    return run_id


def _take_over_stale(conn: Connection, now: datetime) -> None:
    running = conn.execute(
        select(retention_runs).where(retention_runs.c.status == "running")
    ).first()
    if running is None:
        return
    if datetime.fromisoformat(running.heartbeat_at) > now - STALE_AFTER:
        raise _running_conflict(running)
    conn.execute(
        update(retention_runs)
        .where(retention_runs.c.id == running.id)
        .values(status="abandoned", finished_at=now.isoformat())
    )


def _running_conflict(running: Row[Any] | None) -> Conflict:
    if running is None:
        return Conflict("another purge is running; wait for it to finish, then run again", "run")
    return Conflict(
        f"another purge is running (run {running.id}, by {running.actor}, since "
        f"{running.started_at}); wait for it to finish, then run again",
        "run",
    )


def last_as_of(conn: Connection) -> str | None:
    """The ``as_of`` of the latest real (not dry) run, finished or not."""
    value = conn.execute(
        select(func.max(retention_runs.c.as_of)).where(retention_runs.c.dry_run.is_(False))
    ).scalar_one_or_none()
    return None if value is None else str(value)


def beat(conn: Connection, run_id: str, now: datetime) -> None:
    """Say the run is alive (inside each batch's transaction)."""
    conn.execute(
        update(retention_runs)
        .where(retention_runs.c.id == run_id)
        .values(heartbeat_at=now.isoformat())
    )


def finish_run(conn: Connection, run_id: str, counts: RunCounts, now: datetime) -> None:
    conn.execute(
        update(retention_runs)
        .where(retention_runs.c.id == run_id)
        .values(
            status="done",
            finished_at=now.isoformat(),
            purged=counts.purged,
            held=counts.held,
            kept=counts.kept,
        )
    )


def fail_run(engine: Engine, run_id: str, now: datetime) -> None:
    """Release the run after an error, so the next run need not wait for it to go stale."""
    with transaction(engine) as conn:
        conn.execute(
            update(retention_runs)
            .where(retention_runs.c.id == run_id, retention_runs.c.status == "running")
            .values(status="failed", finished_at=now.isoformat())
        )
