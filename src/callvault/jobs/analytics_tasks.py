"""``demand.index`` (queue ``retention``, every 15 minutes): demand facts for new calls.

Each run adds a ``demand_calls`` row for every recording that has none and completes the rows
of calls transcribed since (``analytics/demand_index.py``), as the named system actor. A run
that found nothing to do ends without an audit entry, so the schedule does not fill the
trail; one that indexed calls writes one entry, in the transaction that settles the job.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from callvault.analytics.demand_index import DemandIndexer
from callvault.jobs.registry import JobContext, periodic, task

if TYPE_CHECKING:
    from callvault.bootstrap import Services

DEMAND_INDEX = "demand.index"


# The housekeeping queue (purge, reminders): small, scheduled database work.
@periodic(every_minutes=15)
@task(DEMAND_INDEX, queue="retention")
def index_demand(services: Services, ctx: JobContext, payload: dict[str, Any]) -> None:
    """Index recordings without demand facts; complete those transcribed since. Idempotent."""
    DemandIndexer.for_services(services).run(ctx.request, finish=ctx.done)
