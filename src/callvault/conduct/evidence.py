"""The evidence for an incident: one signed bundle per linked recording, for the court.

Each bundle is an ordinary evidence bundle (``evidence/service.py``): made under the
officer's own approved ``staff_safety`` grant naming the incident's reference, audited, and
entered in the disclosure register before its file appears. Every linked recording's grant is
found before any file is written, so a missing grant refuses the whole set (naming the
recordings to ask access for) instead of leaving half the evidence in the folder.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from callvault.access.refusals import record_refusal
from callvault.access.store import grant_recordings, grants
from callvault.conduct.service import PURPOSE, IncidentService
from callvault.context import RequestContext
from callvault.errors import BadInput, Refused
from callvault.evidence.service import EvidenceService

if TYPE_CHECKING:
    from callvault.bootstrap import Services


def bundle_incident(
    services: Services,
    ctx: RequestContext,
    ref: str,
    out_dir: Path,
    *,
    recipient: str,
    organisation: str,
    reason: str,
    method: str,
) -> dict[str, Any]:
    """Write ``<ref>-<n>.zip`` into the existing folder ``out_dir`` for each recording of
    incident ``ref``; each is entered in the disclosure register as sent to ``recipient``."""
    out_dir = Path(out_dir)
    if not out_dir.is_dir():
        raise BadInput(f"{out_dir} is not a folder; create it first", "out")
    incident = IncidentService.for_services(services).get(ctx, ref)
    recording_ids = [r["recording_id"] for r in incident["recordings"]]
    if not recording_ids:
        raise BadInput(f"incident {ref} links no recording", "ref")
    grant_for = _grants_of(services, ctx.actor.name, ref, recording_ids)
    missing = [rid for rid in recording_ids if rid not in grant_for]
    if missing:
        refusal = Refused(
            f"you hold no approved, unexpired staff_safety grant naming {ref} for recording "
            f"{', '.join(missing)}; ask for access to each with case reference {ref}",
            "grant",
        )
        record_refusal(services.engine, services.audit, ctx, refusal, object_type="incident",
                       object_id=ref, missing=missing)  # fmt: skip
    bundles = EvidenceService.for_services(services)
    made = [
        bundles.bundle(
            ctx,
            rid,
            grant_for[rid],
            out_dir / f"{ref}-{n}.zip",
            recipient=recipient,
            organisation=organisation,
            reason=reason,
            method=method,
        )
        for n, rid in enumerate(recording_ids, start=1)
    ]
    return {"ref": ref, "bundles": made}


def _grants_of(
    services: Services, requester: str, ref: str, recording_ids: list[str]
) -> dict[str, str]:
    """recording id -> an approved, unexpired staff_safety grant of ``requester`` naming
    ``ref`` that covers it."""
    now = datetime.now(UTC).isoformat(timespec="microseconds")
    g, gr = grants.c, grant_recordings.c
    query = (
        select(gr.recording_id, g.id)
        .join(grants, g.id == gr.grant_id)
        .where(g.requester == requester, g.purpose == PURPOSE, g.case_ref == ref,
               g.status == "approved", g.expires_at > now, gr.recording_id.in_(recording_ids))
        .order_by(g.expires_at.desc())
    )  # fmt: skip
    found: dict[str, str] = {}
    with services.engine.connect() as conn:
        for recording_id, grant_id in conn.execute(query):
            found.setdefault(recording_id, grant_id)
    return found


__all__ = ["bundle_incident"]
