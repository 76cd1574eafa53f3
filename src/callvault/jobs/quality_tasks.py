"""``quality.draw_month`` (queue ``retention``, daily): the monthly quality sample.

Each day the worker, as the named system actor, draws the UK month just gone if nobody has
drawn it yet (``analytics/sampling.py``): the first run after a month ends draws it, later runs
find it drawn and do nothing. A month with no eligible call leaves no draw (the next day's run
looks again: calls still being ingested late count until a draw is made); a policy with no
scorecard asks for no sampling.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from callvault.analytics.sampling import QualitySampler
from callvault.jobs.registry import JobContext, periodic, task

if TYPE_CHECKING:
    from callvault.bootstrap import Services

DRAW_MONTH = "quality.draw_month"


@periodic(every_minutes=24 * 60)
@task(DRAW_MONTH, queue="retention", max_attempts=3)
def draw_month(services: Services, ctx: JobContext, payload: dict[str, Any]) -> None:
    """Draw the previous UK month's sample unless it is drawn already. Idempotent."""
    QualitySampler.for_services(services).draw_previous_month(ctx.request)
