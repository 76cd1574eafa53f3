"""``access.bulk_alerts`` (queue ``retention``, hourly): bulk-access alerts into the trail.

Alerts are computed on demand for the DPO, but an alert only computed is one nobody may ever
look at; this job writes each new one (yesterday's and today's so far) into the audit trail
once, as ``access.bulk_alert``, where it stays. The rule is in ``access/bulk_access.py``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from callvault.access.actions import require
from callvault.access.bulk_access import bulk_access_alerts, record_new_alerts
from callvault.jobs.registry import JobContext, periodic, task

if TYPE_CHECKING:
    from callvault.bootstrap import Services

BULK_ALERTS = "access.bulk_alerts"


# The housekeeping queue (purge, reminders): small, scheduled database work.
@periodic(every_minutes=60)
@task(BULK_ALERTS, queue="retention")
def record_bulk_alerts(services: Services, ctx: JobContext, payload: dict[str, Any]) -> None:
    """Record yesterday's and today's bulk-access alerts not yet in the trail. Idempotent."""
    require(ctx.request.actor, "alerts:record")
    today = datetime.now(UTC).date()
    # Found on a read connection; only the check-and-append holds the write lock.
    alerts = bulk_access_alerts(services.engine, [today - timedelta(days=1), today])
    with ctx.done() as conn:
        record_new_alerts(conn, services.audit, ctx.request, alerts)
