"""``quality.draw_month`` (queue ``retention``, daily): the monthly quality sample.

Each day the worker, as the named system actor, draws the latest UK month whose draw day has
come (the policy's ``quality.draw_on_day`` of the month after, default the 5th) if nobody has
drawn it yet (``analytics/sampling.py``). Before that day the month just gone waits: calls a
PBX uploads a few days late would otherwise never be eligible, since a month is drawn once.
The first run on or after the draw day draws it; later runs find it drawn and do nothing. A
month with no eligible call leaves no draw (the next day's run looks again); a policy with
no scorecard asks for no sampling. Each run logs what it did, and what waits until when.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any

from callvault.analytics.sampling import QualitySampler
from callvault.analytics.sampling_rule import uk_day_text
from callvault.jobs.registry import JobContext, periodic, task

if TYPE_CHECKING:
    from callvault.bootstrap import Services

DRAW_MONTH = "quality.draw_month"
log = logging.getLogger("callvault.jobs")


@periodic(every_minutes=24 * 60)
@task(DRAW_MONTH, queue="retention", max_attempts=3)
def draw_month(services: Services, ctx: JobContext, payload: dict[str, Any]) -> None:
    """Draw the latest month whose draw day has come unless it is drawn already. Idempotent."""
    done = QualitySampler.for_services(services).draw_due_month(ctx.request)
    log.info("%s: %s", DRAW_MONTH, run_text(done))


def run_text(done: dict[str, Any]) -> str:
    """What a run did, in a line: counts and months only."""
    month, outcome = done["month"], done["outcome"]
    if outcome == "drawn":
        said = f"drew {month}: {done['draw']['drawn']} calls of {done['draw']['eligible']} eligible"
    else:
        said = {
            "no_eligible_calls": f"{month} has no eligible call yet; tomorrow's run looks again",
            "drawn_already": f"{month} is drawn already; nothing to do",
            "no_scorecard": "the policy has no quality scorecard, so nothing is sampled",
        }[outcome]
    waiting = done["waiting"]
    if waiting is not None:
        opens = uk_day_text(datetime.fromisoformat(waiting["draw_from"]))
        said += (
            f"; {waiting['month']} waits for calls uploaded late and is drawn from {opens} "
            "(quality.draw_on_day)"
        )
    return said
