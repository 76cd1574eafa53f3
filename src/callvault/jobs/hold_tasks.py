"""``retention.hold_reviews`` (queue ``retention``, daily): reminders of legal-hold reviews.

A hold stops retention for as long as it stands, so each has a review date; one nobody is
told about is never reviewed. Each day this job writes one ``hold.review_due`` entry into
the audit trail for every active hold whose review date has come, once per review date
(``retention.holds.remind_due``), where the DPO's reports and the owner find it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from callvault.access.actions import require
from callvault.jobs.registry import JobContext, periodic, task
from callvault.retention.holds import REMIND, remind_due

if TYPE_CHECKING:
    from callvault.bootstrap import Services

HOLD_REVIEWS = "retention.hold_reviews"


@periodic(every_minutes=24 * 60)
@task(HOLD_REVIEWS, queue="retention")
def remind_hold_reviews(services: Services, ctx: JobContext, payload: dict[str, Any]) -> None:
    """Remind each hold whose review date has come and was not reminded yet. Idempotent."""
    require(ctx.request.actor, REMIND)
    with ctx.done() as conn:
        remind_due(conn, services.audit, ctx.request, datetime.now(UTC).date())
