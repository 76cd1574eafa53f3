"""The records built on recordings that the retention run also deletes once kept long enough
(UK GDPR Art. 5(1)(e)): quality evaluations with their samples (``quality.keep_evaluations``,
``analytics/evaluation_expiry.py``) and closed conduct incidents
(``conduct.keep_closed_incidents``, ``conduct/expiry.py``).

Each kind goes in a transaction of its own with an audit entry of its own; a dry run counts
and changes nothing. The keys here join the run's JSON result beside ``purged``, ``held`` and
``kept``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine

from callvault.analytics.evaluation_expiry import expire_quality_records
from callvault.audit.service import AuditLog
from callvault.conduct.expiry import expire_incidents
from callvault.context import RequestContext
from callvault.policy.model import Policy


def expire_records(
    engine: Engine,
    audit: AuditLog,
    ctx: RequestContext,
    policy: Policy,
    as_of: datetime,
    *,
    dry_run: bool = False,
) -> dict[str, int]:
    """Delete (a dry run: count) what ``policy`` keeps no longer as of ``as_of``."""
    quality = expire_quality_records(
        engine, audit, ctx, policy.quality.keep_evaluations, as_of, dry_run=dry_run
    )
    conduct = expire_incidents(
        engine, audit, ctx, policy.conduct.keep_closed_incidents, as_of, dry_run=dry_run
    )
    return {
        # Calibration scores are evaluations too.
        "evaluations_expired": quality.evaluations,
        "quality_samples_expired": quality.samples,
        "incidents_expired": conduct.incidents,
        # Closed and past their period, but a hold naming the incident keeps it.
        "incidents_held": conduct.held,
    }


__all__ = ["expire_records"]
