"""What the rights modules share: a request found by reference, and its recordings.

Used by ``service.py``, ``review.py`` and ``package.py``: the permission check (refusals
audited), finding a request by reference, the open access request, its recordings numbered
in call order (the numbers the requester reads in the package: ``audio/01-...``, the
redaction log's ``recording`` column), and the packages made.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, select

from callvault.access.actions import Permissions
from callvault.access.refusals import require_permission
from callvault.audit.service import AuditLog
from callvault.catalog.store import recordings
from callvault.context import RequestContext
from callvault.errors import Conflict, NotFound
from callvault.rights.bank_holidays import HolidayCalendar
from callvault.rights.model import RightsRequest, load_request, request_row
from callvault.rights.store import rights_items
from callvault.uktime import UK

MANAGE = "rights:manage"
READ = "rights:read"
ACCESS_PURPOSE = "subject_access"
# Audit actions of the package: committed before any audio is written, and once the file is
# in place (a package whose writing failed has the first and not the second).
PACKAGED = "rights.packaged"
PACKAGE_WRITTEN = "rights.package_written"
REVIEWED = "rights.reviewed"


@dataclass(frozen=True, slots=True)
class NumberedItem:
    """One recording of the request, numbered from 1 in the order the calls were made."""

    number: int
    recording_id: str
    started_at: str
    line: str
    duration_s: float
    channels: int
    purged: bool
    outcome: str
    reason_code: str | None
    note: str | None
    decided_by: str | None
    decided_at: str | None

    @property
    def started_on(self) -> str:
        """The UK day the call was made (YYYY-MM-DD)."""
        return datetime.fromisoformat(self.started_at).astimezone(UK).date().isoformat()

    def label(self, count: int) -> str:
        """``NN``: the number zero-padded to the width of the request's largest."""
        return f"{self.number:0{max(2, len(str(count)))}d}"


def require(
    engine: Engine,
    audit: AuditLog,
    permissions: Permissions,
    ctx: RequestContext,
    action: str,
    ref: str | None,
) -> None:
    """Refuse (audited) an actor who may not do ``action`` on request ``ref``."""
    require_permission(engine, audit, permissions, ctx, action,
                       object_type="rights_request", object_id=ref)  # fmt: skip


def case_context(ctx: RequestContext, ref: str, kind: str = "access") -> RequestContext:
    """``ctx`` under the request's purpose (subject access, or ``rights:<kind>``) and its
    reference."""
    purpose = ACCESS_PURPOSE if kind == "access" else f"rights:{kind}"
    return replace(ctx, purpose=purpose, case_ref=ref)


def find_request(engine: Engine, calendar: HolidayCalendar, ref: str) -> RightsRequest:
    """The request ``ref`` (reference or id) with its clock, searches and items; NotFound."""
    with engine.connect() as conn:
        return load_by_ref(conn, calendar, ref)


def load_by_ref(conn: Connection, calendar: HolidayCalendar, ref: str) -> RightsRequest:
    """As ``find_request``, on an open connection (inside the caller's transaction)."""
    row = request_row(conn, ref)
    if row is None:
        raise NotFound(f"no rights request {ref[:40]!r}", "ref")
    return load_request(conn, row, calendar)


def access_request(
    engine: Engine, calendar: HolidayCalendar, ref: str, *, open_only: bool = True
) -> RightsRequest:
    """The subject access request ``ref`` (reference or id); NotFound, or Conflict when it is
    another kind or (``open_only``) closed."""
    request = find_request(engine, calendar, ref)
    if request.kind != "access":
        raise Conflict(
            f"{request.ref} is an {request.kind} request; recordings are reviewed and "
            "packaged for subject access requests only",
            "ref",
        )
    if open_only and request.state != "open":
        raise Conflict(f"{request.ref} is closed ({request.state}); nothing can change", "ref")
    return request


def numbered_items(conn: Connection, request_id: str) -> list[NumberedItem]:
    """The request's recordings in call order (then id), numbered from 1."""
    i, r = rights_items.c, recordings.c
    rows = conn.execute(
        select(i.recording_id, i.outcome, i.reason_code, i.note, i.decided_by, i.decided_at,
               r.started_at, r.line, r.duration_s, r.channels, r.purged_at)
        .join(recordings, r.id == i.recording_id)
        .where(i.request_id == request_id)
        .order_by(r.started_at, i.recording_id)
    )  # fmt: skip
    return [
        NumberedItem(
            number=n,
            recording_id=row.recording_id,
            started_at=row.started_at,
            line=row.line,
            duration_s=float(row.duration_s),
            channels=int(row.channels),
            purged=row.purged_at is not None,
            outcome=row.outcome,
            reason_code=row.reason_code,
            note=row.note,
            decided_by=row.decided_by,
            decided_at=row.decided_at,
        )
        for n, row in enumerate(rows, start=1)
    ]


def find_item(items: list[NumberedItem], recording_id: str, ref: str) -> NumberedItem:
    found = next((item for item in items if item.recording_id == recording_id), None)
    if found is None:
        raise NotFound(
            f"recording {recording_id[:40]!r} is not one of {ref}'s recordings; "
            f"`callvault rights show {ref}` lists them",
            "recording_id",
        )
    return found


def packages(audit: AuditLog, request_id: str) -> list[dict[str, Any]]:
    """The response packages written for a request, oldest first: SHA-256, when, by whom,
    and whether a review changed a decision after it (``stale``: make it again)."""
    entries = audit.show(object_id=request_id, limit=10_000)
    written = [e for e in entries if e["action"] == PACKAGE_WRITTEN]
    last_review = max((e["seq"] for e in entries if e["action"] == REVIEWED), default=0)
    return [
        {
            "sha256": e["details"]["sha256"],
            "packaged_at": e["details"]["packaged_at"],
            "written_at": e["at"],
            "by": e["actor"],
            "stale": e["seq"] < last_review,
        }
        for e in written
    ]


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")
