"""Customer conduct incidents: the safety and conduct officer's case about a caller's
behaviour, from the speech job's conduct flags to the evidence for an injunction.

The path: the speech job flags threatening or abusive words (``speech/flags.py``); the officer
reviews the queue (``callvault flags list --kind conduct``) and opens an incident for what needs
action, naming the flags or recordings. Each linked recording gets a legal hold under the
incident's reference at once (reason ``injunction``), so retention cannot delete the evidence
while the case runs; a linked open flag is closed as ``action_taken`` pointing at the incident.
The officer listens and makes evidence bundles under ``staff_safety`` grants whose case
reference is the incident's (``callvault evidence bundle``); the incident lists them. Closing
records the outcome: where proceedings or the police need the evidence (``injunction``,
``police_referral``) the holds stay until released by a hold keeper when that ends; otherwise
closing releases them.

The incident's reference (``SAF-<year>-<n>``) fits the ``staff_safety`` purpose's case
reference pattern, so the same reference runs through grants, holds and bundles. The summary
may describe the caller, so the audit trail (kept for good) names the incident by reference,
never its summary.
"""

from __future__ import annotations

import builtins
import uuid
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, func, insert, select, update

from callvault.access.actions import Permissions
from callvault.access.grants import check_id
from callvault.access.refusals import require_permission
from callvault.access.register import export_recordings, exports
from callvault.access.store import grant_recordings, grants
from callvault.audit.service import AuditLog
from callvault.catalog.store import recordings
from callvault.conduct.store import incident_recordings, incidents
from callvault.context import RequestContext
from callvault.db import plain, transaction
from callvault.errors import BadInput, Conflict, NotFound
from callvault.retention.holds import HoldService
from callvault.retention.store import holds
from callvault.speech.flags import ReviewFlags
from callvault.speech.store import review_flags

if TYPE_CHECKING:
    from callvault.bootstrap import Services

MANAGE, READ = "incidents:manage", "incidents:read"
PURPOSE, HOLD_REASON = "staff_safety", "injunction"
OUTCOMES = ("injunction", "police_referral", "warning_letter", "no_further_action")
# Proceedings (and the police) need the evidence after the incident closes: these keep the
# holds, which a hold keeper releases when the proceedings end.
KEEPS_EVIDENCE = frozenset({"injunction", "police_referral"})
_MAX_SUMMARY, _MAX_NOTE = 4000, 2000

Clock = Callable[[], datetime]


class IncidentService:
    def __init__(
        self,
        engine: Engine,
        audit: AuditLog,
        permissions: Permissions,
        holds: HoldService,
        flags: ReviewFlags,
        clock: Clock = lambda: datetime.now(UTC),
    ) -> None:
        self._engine, self._audit, self._permissions = engine, audit, permissions
        self._holds, self._flags, self._clock = holds, flags, clock

    @classmethod
    def for_services(cls, services: Services) -> IncidentService:
        return cls(services.engine, services.audit, services.permissions, services.holds,
                   services.flags)  # fmt: skip

    def open(
        self,
        ctx: RequestContext,
        summary: str,
        *,
        recording_ids: Iterable[str] = (),
        flag_ids: Iterable[str] = (),
        note: str = "",
    ) -> dict[str, Any]:
        """Open an incident and link the recordings and conduct flags named (at least one).
        Bad input of any field changes nothing. The incident row commits first (that takes
        its reference, which the holds name), then each link; a link failing part-way (a
        recording purged meanwhile) leaves the incident with the links made so far."""
        self._require(ctx, MANAGE, None)
        summary = _text(summary, "summary", _MAX_SUMMARY, required=True)
        note = _text(note, "note", _MAX_NOTE)
        wanted_recordings = [check_id(r, "recording_id") for r in recording_ids]
        wanted_flags = [check_id(f, "flag_id") for f in flag_ids]
        if not wanted_recordings and not wanted_flags:
            raise BadInput(
                "name what the incident is about: a conduct flag (callvault flags list --kind "
                "conduct) or a recording",
                "flag_ids",
            )
        links = self._resolve(wanted_recordings, wanted_flags)
        now = self._now()
        row = {"id": uuid.uuid4().hex, "summary": summary, "opened_by": ctx.actor.name,
               "opened_at": now}  # fmt: skip
        with transaction(self._engine) as conn:
            row["ref"] = _next_ref(conn, self._clock().year)
            conn.execute(insert(incidents).values(**row))
            self._audit.append(
                conn, _about(ctx, row["ref"]), "incident.opened", object_type="incident",
                object_id=row["ref"], details={"links": len(links)},
            )  # fmt: skip
        for recording_id, flag_id in links:
            if flag_id is not None:  # the flag names its recording
                self.link(ctx, row["ref"], flag_id=flag_id, note=note)
            else:
                self.link(ctx, row["ref"], recording_id=recording_id, note=note)
        return self._detail(row["ref"])

    def link(
        self,
        ctx: RequestContext,
        ref: str,
        *,
        recording_id: str | None = None,
        flag_id: str | None = None,
        note: str = "",
    ) -> dict[str, Any]:
        """Link a recording (or a conduct flag's recording) to an open incident: hold it under
        the incident's reference, then record the link; an open flag is closed as acted on."""
        self._require(ctx, MANAGE, ref)
        note = _text(note, "note", _MAX_NOTE)
        incident = self._find(ref)
        if incident["closed_at"] is not None:
            raise Conflict(f"incident {ref} is closed; open a new one", "ref")
        if bool(recording_id) == bool(flag_id):
            raise BadInput("name one recording or one conduct flag to link", "recording_id")
        [(rid, fid)] = self._resolve(
            [check_id(recording_id, "recording_id")] if recording_id else [],
            [check_id(flag_id, "flag_id")] if flag_id else [],
        )
        with self._engine.connect() as conn:
            if _linked(conn, incident["id"], rid):
                raise Conflict(f"recording {rid} is already linked to {ref}", "recording_id")
        # The hold goes on first, in its own transaction: a crash between the two leaves an
        # extra hold (visible in the hold register under this reference), never evidence that
        # the incident relies on but retention may delete.
        hold = self._holds.place(
            ctx, reason=HOLD_REASON, case_ref=ref, recording_ids=[rid],
            note=f"customer conduct incident {ref}",
        )  # fmt: skip
        with transaction(self._engine) as conn:
            conn.execute(
                insert(incident_recordings).values(
                    incident_id=incident["id"], recording_id=rid, flag_id=fid, hold_id=hold.id,
                    note=note, added_by=ctx.actor.name, added_at=self._now(),
                )
            )  # fmt: skip
            self._audit.append(
                conn, _about(ctx, ref), "incident.linked", object_type="recording",
                object_id=rid, details={"ref": ref, "flag_id": fid, "hold_id": hold.id},
            )  # fmt: skip
        if fid is not None and self._flag_open(fid):
            self._flags.review(ctx, fid, "action_taken", f"customer conduct incident {ref}")
        return self._detail(ref)

    def close(self, ctx: RequestContext, ref: str, outcome: str, note: str) -> dict[str, Any]:
        """Record the outcome. Holds stay for outcomes whose proceedings need the evidence;
        otherwise they are released, each with the incident's outcome as its reason."""
        self._require(ctx, MANAGE, ref)
        if outcome not in OUTCOMES:
            raise BadInput(f"outcome must be one of {', '.join(OUTCOMES)}", "outcome")
        note = _text(note, "note", _MAX_NOTE, required=True)
        incident = self._find(ref)
        keep = outcome in KEEPS_EVIDENCE
        with transaction(self._engine) as conn:
            closed = conn.execute(
                update(incidents)
                .where(incidents.c.id == incident["id"], incidents.c.closed_at.is_(None))
                .values(closed_at=self._now(), closed_by=ctx.actor.name, outcome=outcome,
                        outcome_note=note)
            )  # fmt: skip
            if closed.rowcount != 1:
                raise Conflict(f"incident {ref} is already closed", "ref")
            hold_ids = [r.hold_id for r in conn.execute(
                select(incident_recordings.c.hold_id)
                .where(incident_recordings.c.incident_id == incident["id"])
            )]  # fmt: skip
            self._audit.append(
                conn, _about(ctx, ref), "incident.closed", object_type="incident",
                object_id=ref, details={"outcome": outcome, "holds_kept": keep,
                                        "hold_ids": hold_ids},
            )  # fmt: skip
        if not keep:
            # After the close commits: a release that fails leaves the hold in force (the safe
            # way round), in the hold register under this reference for a keeper to release.
            self._release(ctx, hold_ids, f"customer conduct incident {ref} closed: {outcome}")
        return self._detail(ref)

    def get(self, ctx: RequestContext, ref: str) -> dict[str, Any]:
        """The incident with its recordings, their flags and holds, and the evidence bundles
        and grants made under its reference; reading it is audited."""
        self._require(ctx, READ, ref)
        found = self._detail(ref)
        with transaction(self._engine) as conn:
            self._audit.append(conn, _about(ctx, ref), "incident.viewed",
                               object_type="incident", object_id=ref)  # fmt: skip
        return found

    def list(self, ctx: RequestContext, *, open_only: bool = True) -> builtins.list[dict[str, Any]]:
        """Incidents, newest first, with how many recordings each links (no summaries: the
        list is an index; a summary is read, and audited, with the incident)."""
        self._require(ctx, READ, None)
        linked = (
            select(func.count())
            .where(incident_recordings.c.incident_id == incidents.c.id)
            .scalar_subquery()
        )
        statement = select(
            incidents.c.ref, incidents.c.opened_by, incidents.c.opened_at,
            incidents.c.closed_at, incidents.c.outcome, linked.label("recordings"),
        ).order_by(incidents.c.opened_at.desc(), incidents.c.ref.desc())  # fmt: skip
        if open_only:
            statement = statement.where(incidents.c.closed_at.is_(None))
        with transaction(self._engine) as conn:
            rows = [plain(r) for r in conn.execute(statement)]
            self._audit.append(conn, ctx, "incidents.listed", object_type="incidents",
                               details={"open_only": open_only, "results": len(rows)})  # fmt: skip
        return rows

    def _resolve(
        self, recording_ids: builtins.list[str], flag_ids: builtins.list[str]
    ) -> builtins.list[tuple[str, str | None]]:
        """(recording, flag) pairs: each flag must be a conduct flag; each recording live."""
        pairs: builtins.list[tuple[str, str | None]] = []
        with self._engine.connect() as conn:
            for flag_id in flag_ids:
                flag = conn.execute(
                    select(review_flags.c.recording_id, review_flags.c.kind)
                    .where(review_flags.c.id == flag_id)
                ).first()  # fmt: skip
                if flag is None or flag.kind != "conduct":
                    raise NotFound(f"no conduct flag {flag_id!r}", "flag_id")
                pairs.append((flag.recording_id, flag_id))
            for recording_id in recording_ids:
                live = conn.execute(
                    select(recordings.c.id).where(
                        recordings.c.id == recording_id, recordings.c.purged_at.is_(None)
                    )
                ).first()
                if live is None:
                    raise NotFound(f"no recording {recording_id!r}", "recording_id")
                pairs.append((recording_id, None))
        if len({rid for rid, _ in pairs}) != len(pairs):
            raise BadInput("each recording may be named once (a flag names its recording)",
                           "recording_ids")  # fmt: skip
        return pairs

    def _detail(self, ref: str) -> dict[str, Any]:
        """The incident as ``get`` shows it; callers that just acted on it return this
        without a "viewed" entry (their own act's entry says what they did)."""
        incident = self._find(ref)
        with self._engine.connect() as conn:
            found = {**incident, "recordings": _linked_recordings(conn, incident["id"]),
                     "grants": _grants(conn, ref), "bundles": _bundles(conn, ref)}  # fmt: skip
        del found["id"]
        return found

    def _release(self, ctx: RequestContext, hold_ids: Iterable[str], why: str) -> None:
        for hold_id in hold_ids:
            if self._holds.get(ctx, hold_id).active:  # a keeper may have released it already
                self._holds.release(ctx, hold_id, why)

    def _flag_open(self, flag_id: str) -> bool:
        with self._engine.connect() as conn:
            reviewed = conn.execute(
                select(review_flags.c.reviewed_at).where(review_flags.c.id == flag_id)
            ).scalar_one_or_none()
        return reviewed is None

    def _find(self, ref: str) -> dict[str, Any]:
        if not isinstance(ref, str) or not 1 <= len(ref) <= 32:
            raise BadInput("ref is an incident reference such as SAF-2026-0001", "ref")
        with self._engine.connect() as conn:
            row = conn.execute(select(incidents).where(incidents.c.ref == ref)).first()
        if row is None:
            raise NotFound(f"no incident {ref!r}; `callvault incident list` shows them", "ref")
        return plain(row)

    def _require(self, ctx: RequestContext, action: str, ref: str | None) -> None:
        require_permission(self._engine, self._audit, self._permissions, ctx, action,
                           object_type="incident", object_id=ref)  # fmt: skip

    def _now(self) -> str:
        return self._clock().astimezone(UTC).isoformat(timespec="microseconds")


def _about(ctx: RequestContext, ref: str) -> RequestContext:
    return replace(ctx, purpose=PURPOSE, case_ref=ref)


def _text(value: str | None, field: str, limit: int, *, required: bool = False) -> str:
    value = (value or "").strip()
    if required and not value:
        raise BadInput(f"{field} is required", field)
    if len(value) > limit:
        raise BadInput(f"{field} must be at most {limit} characters", field)
    return value


def _next_ref(conn: Connection, year: int) -> str:
    """``SAF-<year>-<n>``, n one more than the year's highest (not its count: expired
    incidents leave gaps, and a reference must never name two incidents). The unique column
    refuses a concurrent twin, whose transaction then fails and changes nothing."""
    prefix = f"SAF-{year}-"
    refs = conn.execute(select(incidents.c.ref).where(incidents.c.ref.like(f"{prefix}%")))
    numbers = [int(ref[len(prefix) :]) for ref in refs.scalars() if ref[len(prefix) :].isdigit()]
    return f"{prefix}{max(numbers, default=0) + 1:04d}"


def _linked(conn: Connection, incident_id: str, recording_id: str) -> bool:
    return (
        conn.execute(
            select(incident_recordings.c.recording_id).where(
                incident_recordings.c.incident_id == incident_id,
                incident_recordings.c.recording_id == recording_id,
            )
        ).first()
        is not None
    )


def _linked_recordings(conn: Connection, incident_id: str) -> list[dict[str, Any]]:
    statement = (
        select(
            incident_recordings.c.recording_id,
            recordings.c.line,
            recordings.c.started_at,
            recordings.c.duration_s,
            incident_recordings.c.flag_id,
            review_flags.c.rule,
            review_flags.c.speaker,
            review_flags.c.start_s,
            incident_recordings.c.hold_id,
            holds.c.released_at.label("hold_released_at"),
            incident_recordings.c.note,
            incident_recordings.c.added_by,
            incident_recordings.c.added_at,
        )
        .join(recordings, recordings.c.id == incident_recordings.c.recording_id)
        .join(holds, holds.c.id == incident_recordings.c.hold_id)
        .outerjoin(review_flags, review_flags.c.id == incident_recordings.c.flag_id)
        .where(incident_recordings.c.incident_id == incident_id)
        .order_by(recordings.c.started_at, incident_recordings.c.recording_id)
    )
    return [plain(r) for r in conn.execute(statement)]


def _grants(conn: Connection, ref: str) -> list[dict[str, Any]]:
    """The staff_safety grants naming the incident's reference, each with its recordings."""
    statement = (
        select(grants.c.id, grants.c.requester, grants.c.status, grants.c.expires_at)
        .where(grants.c.case_ref == ref, grants.c.purpose == PURPOSE)
        .order_by(grants.c.requested_at)
    )
    found = [plain(r) for r in conn.execute(statement)]
    covered = _recordings_of(conn, grant_recordings.c.grant_id, [g["id"] for g in found])
    return [{**g, "recording_ids": covered.get(g["id"], [])} for g in found]


def _recordings_of(conn: Connection, key: Any, ids: list[str]) -> dict[str, list[str]]:
    """id -> recording ids, from a link table (``key`` is its id column, the table's other
    column ``recording_id``)."""
    covered: dict[str, list[str]] = {}
    if ids:
        recording = key.table.c.recording_id
        rows = conn.execute(select(key, recording).where(key.in_(ids)).order_by(recording))
        for owner, recording_id in rows:
            covered.setdefault(owner, []).append(recording_id)
    return covered


def _bundles(conn: Connection, ref: str) -> list[dict[str, Any]]:
    """Evidence bundles (exports) made under the reference, each with the recordings it
    holds."""
    statement = (
        select(
            exports.c.id,
            exports.c.grant_id,
            exports.c.exported_by,
            exports.c.exported_at,
            exports.c.file_sha256,
            exports.c.completed_at,
        )
        .where(exports.c.case_ref == ref, exports.c.purpose == PURPOSE)
        .order_by(exports.c.exported_at)
    )
    found = [plain(r) for r in conn.execute(statement)]
    covered = _recordings_of(conn, export_recordings.c.export_id, [b["id"] for b in found])
    return [{**b, "recording_ids": covered.get(b["id"], [])} for b in found]


__all__ = ["KEEPS_EVIDENCE", "OUTCOMES", "IncidentService"]
