"""A task that hangs on its first attempt (so a test can kill its worker mid-job)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from callvault.jobs.registry import JobContext, task

if TYPE_CHECKING:
    from callvault.bootstrap import Services

SLOW = "test.slow"


@task(SLOW, queue="retention", max_attempts=3)
def slow(services: Services, ctx: JobContext, payload: dict[str, Any]) -> None:
    if ctx.job.attempts == 1:
        Path(payload["marker"]).write_text(str(ctx.job.id))
        time.sleep(60)  # killed long before this ends
    with ctx.done() as conn:
        services.audit.append(conn, ctx.request, "test.slow_done", object_id=ctx.job.key)
