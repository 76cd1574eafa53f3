"""Shared by the job tests: ingest a call, run a burst worker, read the jobs table."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import select

from callvault.bootstrap import Services
from callvault.capture.ingest import AudioInput
from callvault.context import system_context
from callvault.jobs.interfaces import QUEUES, WorkerOptions, WorkerResult
from callvault.jobs.service import run_worker
from callvault.jobs.store import jobs
from homes import meta_for


def ingest(services: Services, wav: Path, call_id: str = "pbx-0001") -> str:
    result = services.ingest.ingest(
        system_context("test"), AudioInput(path=wav), orjson.dumps(meta_for(call_id=call_id))
    )
    assert result.recording_id is not None
    return result.recording_id


def burst(
    services: Services, stale_after_s: float = 300.0, queues: tuple[str, ...] = QUEUES
) -> WorkerResult:
    return run_worker(
        services, WorkerOptions(queues=queues, burst=True, stale_after_s=stale_after_s)
    )


def job_rows(services: Services, queue: str | None = None) -> list[dict[str, Any]]:
    """Jobs in the order they were queued (of ``queue`` only, if named)."""
    query = select(jobs).order_by(jobs.c.created_at, jobs.c.task.desc())
    if queue is not None:
        query = query.where(jobs.c.queue == queue)
    with services.engine.connect() as conn:
        return [r._asdict() for r in conn.execute(query)]


def actions(services: Services, object_id: str) -> list[str]:
    return [e["action"] for e in services.audit.show(object_id=object_id)]


def wait_for(path: Path, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} did not appear within {seconds} s"
        time.sleep(0.05)
