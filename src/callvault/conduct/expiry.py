"""Storage limitation for customer conduct incidents: a closed incident goes once it has been
kept for the policy's ``conduct.keep_closed_incidents`` after it closed.

An open incident is never due. Nor is a closed one while a hold naming its reference is in
force: its outcome kept the evidence for proceedings (``injunction``, ``police_referral``),
and the case goes with the evidence, after a hold keeper releases the hold. For every other
outcome closing released the holds already (``service.close``).

The retention run deletes the incident's own rows, its links to recordings before the
incident, in one transaction with one audit entry saying how many and the cutoff. The holds
(the hold register), grants and evidence bundles naming its reference are records of their
own with their own rules, and the audit trail (kept for good) names incidents by reference
only, never by summary.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, delete, exists, func, select

from callvault.audit.service import AuditLog
from callvault.conduct.store import incident_recordings, incidents
from callvault.context import RequestContext
from callvault.db import transaction
from callvault.policy.model import Retention
from callvault.retention.store import holds

EXPIRED = "incidents.expired"


@dataclass(frozen=True, slots=True)
class IncidentExpiry:
    """What one expiry deleted (a dry run: would delete): incidents closed on or before
    ``cutoff``, their links to recordings, and how many such a hold still keeps."""

    cutoff: str
    incidents: int = 0
    links: int = 0
    held: int = 0


def expire_incidents(
    engine: Engine,
    audit: AuditLog,
    ctx: RequestContext,
    keep: Retention,
    as_of: datetime,
    *,
    dry_run: bool = False,
) -> IncidentExpiry:
    """Delete every incident closed ``keep`` or more before ``as_of`` that no hold keeps (a
    dry run counts them and changes nothing, not even the audit trail)."""
    cutoff = keep.back_from(as_of.astimezone(UTC)).isoformat(timespec="microseconds")
    past = incidents.c.closed_at.is_not(None) & (incidents.c.closed_at <= cutoff)
    due, held = past & ~_held(), past & _held()
    links = incident_recordings.c.incident_id.in_(select(incidents.c.id).where(due))
    if dry_run:
        with engine.connect() as conn:
            return IncidentExpiry(
                cutoff,
                _count(conn, incidents, due),
                _count(conn, incident_recordings, links),
                _count(conn, incidents, held),
            )
    with transaction(engine) as conn:
        linked = conn.execute(delete(incident_recordings).where(links)).rowcount
        gone = conn.execute(delete(incidents).where(due)).rowcount
        found = IncidentExpiry(cutoff, int(gone), int(linked), _count(conn, incidents, held))
        if found.incidents:
            audit.append(
                conn, ctx, EXPIRED, object_type="incidents", object_id=None,
                details={"cutoff": cutoff, "kept_for": keep.describe(),
                         "as_of": as_of.astimezone(UTC).isoformat(), "incidents": found.incidents,
                         "links": found.links, "held": found.held},
            )  # fmt: skip
    return found


def _held() -> Any:
    """SQL true for an incident a hold naming its reference still keeps."""
    return exists(
        select(holds.c.id).where(holds.c.case_ref == incidents.c.ref, holds.c.released_at.is_(None))
    )


def _count(conn: Connection, table: Any, where: Any) -> int:
    return int(conn.execute(select(func.count()).select_from(table).where(where)).scalar_one())


__all__ = ["EXPIRED", "IncidentExpiry", "expire_incidents"]
