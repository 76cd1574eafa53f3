"""``retention.purge`` (queue ``retention``, daily): the scheduled purge.

Nobody has to remember to delete: every day the worker purges what the retention schedule
says is due (``retention/purge.py``), and the quality evaluations and closed incidents the
policy keeps no longer (``retention/records.py``), as the named system actor. A purge
already running elsewhere (a second worker, or an operator's ``callvault retention run``) is
not an error: that run does the work, and this job ends.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

from callvault.errors import Conflict
from callvault.jobs.registry import JobContext, periodic, task

if TYPE_CHECKING:
    from callvault.bootstrap import Services

PURGE = "retention.purge"


@periodic(every_minutes=24 * 60)
@task(PURGE, queue="retention", max_attempts=3)
def purge_due(services: Services, ctx: JobContext, payload: dict[str, Any]) -> None:
    """Purge everything due now; every purge and the run itself are in the audit trail."""
    # Another purge holding the run purges the same recordings.
    with contextlib.suppress(Conflict):
        services.retention.run(ctx.request)
    with ctx.done():
        pass
