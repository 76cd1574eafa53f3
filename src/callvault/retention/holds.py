"""Legal holds: keeping recordings past their retention period while a case needs them.

A hold names its recordings by id, or by a saved search (caller, line, times) that also
covers calls imported after it was placed; ``retention.holding`` is the one definition of
"covered by an active hold" that purge asks. Placing, releasing and re-dating a hold are each
audited in the transaction that changes its row, with the hold's reason and case reference as
the entry's purpose and case. A hold is looked at again on its review date: a daily job
(``retention.hold_reviews``) writes one ``hold.review_due`` entry per review date reached.

The database is the source of truth. Where the blob store has Object Lock, a hold is also
mirrored onto the blobs of the recordings it names, so not even someone with storage
credentials can delete them; a mirror that fails is logged and the hold still stands.
"""

from __future__ import annotations

import builtins
import logging
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    Row,
    and_,
    exists,
    insert,
    or_,
    select,
    update,
)

from callvault.access.actions import Permissions
from callvault.access.grants import check_id
from callvault.access.refusals import require_permission
from callvault.access.service import AccessService
from callvault.audit.service import AuditLog
from callvault.catalog.search import conditions
from callvault.catalog.store import recordings
from callvault.context import RequestContext
from callvault.db import transaction
from callvault.errors import BadInput, Conflict, NotFound, Refused
from callvault.retention.hold_terms import (
    SavedSearch,
    parse_case_ref,
    parse_note,
    parse_reason,
    parse_recording_ids,
    parse_release_reason,
    parse_review_on,
    parse_search,
    printable,
)
from callvault.retention.holding import exclude_purges, held_ids
from callvault.retention.store import hold_recordings, holds
from callvault.vault.service import Vault

if TYPE_CHECKING:
    from callvault.bootstrap import Services

log = logging.getLogger(__name__)

PLACE, RELEASE, READ, REVIEW, REMIND = (
    "holds:place", "holds:release", "holds:read", "holds:review", "holds:remind"
)  # fmt: skip
_CHUNK = 500  # ids per IN (...): under every driver's parameter limit

Clock = Callable[[], datetime]


@dataclass(frozen=True, slots=True)
class Hold:
    id: str
    reason: str
    case_ref: str
    owner: str
    review_on: str
    note: str
    placed_by: str
    placed_at: str
    recording_ids: tuple[str, ...]
    search: SavedSearch | None
    released_at: str | None
    released_by: str | None
    release_reason: str | None
    reminded_for: str | None
    # Active and its review date has come (as of when it was read).
    due: bool

    @property
    def active(self) -> bool:
        return self.released_at is None

    def as_dict(self) -> dict[str, Any]:
        return {
            "hold_id": self.id,
            "status": "active" if self.active else "released",
            "reason": self.reason,
            "case_ref": self.case_ref,
            "owner": self.owner,
            "review_on": self.review_on,
            "due": self.due,
            "note": self.note,
            "placed_by": self.placed_by,
            "placed_at": self.placed_at,
            "recording_ids": list(self.recording_ids),
            "search": self.search.as_dict() if self.search else None,
            "released_at": self.released_at,
            "released_by": self.released_by,
            "release_reason": self.release_reason,
            "reminded_for": self.reminded_for,
        }


class HoldService:
    def __init__(
        self,
        engine: Engine,
        audit: AuditLog,
        permissions: Permissions,
        people: AccessService,
        vault: Vault,
        policy_lines: frozenset[str],
        clock: Clock | None = None,
    ) -> None:
        self._engine, self._audit, self._permissions = engine, audit, permissions
        self._people, self._vault, self._policy_lines = people, vault, policy_lines
        self._clock: Clock = clock or (lambda: datetime.now(UTC))

    @classmethod
    def for_services(cls, services: Services) -> HoldService:
        lines = frozenset(line.id for line in services.policy.policy.lines)
        return cls(services.engine, services.audit, services.permissions, services.access,
                   services.vault, lines)  # fmt: skip

    def place(
        self,
        ctx: RequestContext,
        *,
        reason: str | None,
        case_ref: str | None,
        recording_ids: Iterable[str] = (),
        caller: str | None = None,
        line: str | None = None,
        started_from: str | None = None,
        started_to: str | None = None,
        owner: str | None = None,
        review_on: str | None = None,
        note: str | None = "",
    ) -> Hold:
        """Hold the recordings named, and those the saved search matches (now or later),
        until released. Bad input of any field changes nothing."""
        self._require(ctx, PLACE, None)
        today = self._today()
        row: dict[str, Any] = {
            "reason": parse_reason(reason),
            "case_ref": parse_case_ref(case_ref),
            "note": parse_note(note),
        }
        ids = parse_recording_ids(recording_ids)
        search = parse_search(caller, line, started_from, started_to)
        if not ids and search is None:
            raise BadInput(
                "name the recordings to hold: their ids, or a saved search (caller, line, "
                "from, to) that matches them",
                "recording_ids",
            )
        row |= {
            "id": uuid.uuid4().hex,
            "review_on": parse_review_on(review_on, today).isoformat(),
            "owner": self._owner(ctx, owner),
            "placed_by": ctx.actor.name,
            "placed_at": self._now(),
            "search_caller": search.caller if search else None,
            "search_line": search.line if search else None,
            "search_from": search.started_from if search else None,
            "search_to": search.started_to if search else None,
        }
        ctx = replace(ctx, purpose=row["reason"], case_ref=row["case_ref"])
        with transaction(self._engine) as conn:
            # Checked in the writing transaction, so a purge cannot slip in between.
            exclude_purges(conn)
            blobs = self._live_blobs(conn, ids)
            if search and search.line:
                self._check_line(conn, search.line)
            conn.execute(insert(holds).values(**row))
            if ids:
                conn.execute(
                    insert(hold_recordings),
                    [{"hold_id": row["id"], "recording_id": r} for r in ids],
                )
            self._audit.append(
                conn, ctx, "hold.placed", object_type="hold", object_id=row["id"],
                details={"reason": row["reason"], "case_ref": row["case_ref"],
                         "owner": row["owner"], "review_on": row["review_on"],
                         "recording_ids": ids, "search": search.as_dict() if search else None},
            )  # fmt: skip
        self._mirror(row["id"], blobs, on=True)
        return self._find(row["id"])

    def release(self, ctx: RequestContext, hold_id: str, reason: str | None) -> Hold:
        """End a hold (its recordings are then kept only as long as retention, or another
        hold, says); the reason is required and audited."""
        check_id(hold_id, "hold_id")
        self._require(ctx, RELEASE, hold_id)
        why = parse_release_reason(reason)
        hold = self._find(hold_id)
        if not hold.active:
            raise Conflict(
                f"hold {hold_id} was already released on {(hold.released_at or '')[:10]} by "
                f"{hold.released_by}; `callvault hold list --all` shows it",
                "hold_id",
            )
        ctx = replace(ctx, purpose=hold.reason, case_ref=hold.case_ref)
        with transaction(self._engine) as conn:
            ended = conn.execute(
                update(holds)
                .where(holds.c.id == hold_id, holds.c.released_at.is_(None))
                .values(released_at=self._now(), released_by=ctx.actor.name, release_reason=why)
            )
            if ended.rowcount != 1:
                raise Conflict(f"hold {hold_id} was released meanwhile", "hold_id")
            self._audit.append(
                conn, ctx, "hold.released", object_type="hold", object_id=hold_id,
                details={"reason": why, "recording_ids": list(hold.recording_ids)},
            )  # fmt: skip
            blobs = _blobs_to_lift(conn, hold)
        self._mirror(hold_id, blobs, on=False)
        return self._find(hold_id)

    def review(self, ctx: RequestContext, hold_id: str, on: str | None) -> Hold:
        """Give an active hold a new review date (today or later); it is reminded again then."""
        check_id(hold_id, "hold_id")
        self._require(ctx, REVIEW, hold_id)
        day = parse_review_on(on, self._today(), required=True).isoformat()
        hold = self._find(hold_id)
        if not hold.active:
            raise Conflict(f"hold {hold_id} was released; there is nothing to review", "hold_id")
        ctx = replace(ctx, purpose=hold.reason, case_ref=hold.case_ref)
        with transaction(self._engine) as conn:
            changed = conn.execute(
                update(holds)
                .where(holds.c.id == hold_id, holds.c.released_at.is_(None))
                .values(review_on=day)
            )
            if changed.rowcount != 1:
                raise Conflict(f"hold {hold_id} was released meanwhile", "hold_id")
            self._audit.append(
                conn, ctx, "hold.review_changed", object_type="hold", object_id=hold_id,
                details={"from": hold.review_on, "to": day},
            )  # fmt: skip
        return self._find(hold_id)

    def get(self, ctx: RequestContext, hold_id: str) -> Hold:
        """One hold; reading it is audited (a case reference and a caller's number are
        personal data)."""
        check_id(hold_id, "hold_id")
        self._require(ctx, READ, hold_id)
        hold = self._find(hold_id)
        ctx = replace(ctx, purpose=hold.reason, case_ref=hold.case_ref)
        with transaction(self._engine) as conn:
            self._audit.append(conn, ctx, "hold.read", object_type="hold", object_id=hold_id)
        return hold

    def remind(self, ctx: RequestContext) -> builtins.list[str]:
        """Write one ``hold.review_due`` entry for each hold whose review date has come and
        was not reminded yet; the ids reminded."""
        self._require(ctx, REMIND, None)
        with transaction(self._engine) as conn:
            return remind_due(conn, self._audit, ctx, self._today())

    def list(
        self, ctx: RequestContext, active_only: bool = True, due_only: bool = False
    ) -> builtins.list[Hold]:
        """Holds by review date (soonest first); ``due_only``: active ones whose review
        date has come. Audited, like ``get``."""
        self._require(ctx, READ, None)
        today = self._today().isoformat()
        query = select(holds).order_by(holds.c.review_on, holds.c.placed_at, holds.c.id)
        if active_only or due_only:
            query = query.where(holds.c.released_at.is_(None))
        if due_only:
            query = query.where(holds.c.review_on <= today)
        with transaction(self._engine) as conn:
            found = self._holds(conn, conn.execute(query).all())
            self._audit.append(
                conn, ctx, "hold.listed", object_type="holds", object_id=None,
                details={"active_only": active_only, "due_only": due_only, "count": len(found)},
            )  # fmt: skip
        return found

    # -- helpers ----------------------------------------------------------------------------
    def _require(self, ctx: RequestContext, action: str, hold_id: str | None) -> None:
        require_permission(self._engine, self._audit, self._permissions, ctx, action,
                           object_type="action", object_id=hold_id)  # fmt: skip

    def _owner(self, ctx: RequestContext, owner: str | None) -> str:
        """The person who reviews and releases the hold: a known person whose role may."""
        owner = printable((owner or "").strip(), "owner")
        if not owner:
            if ctx.actor.kind != "user":
                raise BadInput(
                    "owner is required when the operator places a hold: name the person who "
                    "runs the case and will review the hold",
                    "owner",
                )
            return ctx.actor.name
        try:
            person = self._people.person(owner)
        except Refused:
            raise BadInput(
                f"owner {owner[:64]!r} is not a known user; name a person with an account "
                "(`callvault user add`)",
                "owner",
            ) from None
        if not self._permissions.allowed(person, RELEASE):
            raise BadInput(
                f"owner {owner} ({person.role}) may not review or release holds; name an "
                "authorised manager, complaints or safety officer, or the DPO",
                "owner",
            )
        return person.name

    def _live_blobs(self, conn: Connection, ids: Sequence[str]) -> builtins.list[str]:
        """The blob names of ``ids``; BadInput for an unknown or purged one."""
        found: dict[str, Any] = {}
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            query = select(recordings.c.id, recordings.c.blob_name, recordings.c.purged_at)
            for row in conn.execute(query.where(recordings.c.id.in_(chunk))):
                found[row.id] = row
        missing = [r for r in ids if r not in found]
        if missing:
            more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
            raise BadInput(
                f"no recording {missing[0]!r}{more}; `callvault search` finds recording ids",
                "recording_ids",
            )
        purged = [found[r] for r in ids if found[r].purged_at is not None]
        if purged:
            raise BadInput(
                f"recording {purged[0].id} was purged on {purged[0].purged_at[:10]}; only its "
                "tombstone is left, so there is nothing to hold",
                "recording_ids",
            )
        return [found[r].blob_name for r in ids]

    def _check_line(self, conn: Connection, line: str) -> None:
        # A line the policy no longer has may still have recordings kept under it.
        if line in self._policy_lines:
            return
        if not conn.execute(select(exists().where(recordings.c.line == line))).scalar():
            known = ", ".join(sorted(self._policy_lines))
            raise BadInput(
                f"unknown line {line[:64]!r}: a hold on it would hold nothing; one of: {known}",
                "line",
            )

    def _mirror(self, hold_id: str, blobs: Iterable[str], *, on: bool) -> None:
        """Place or lift the store's own legal hold (a no-op without Object Lock)."""
        for name in blobs:
            try:
                self._vault.set_legal_hold(name, on)
            except NotFound:
                continue  # purged meanwhile: nothing left to hold
            except Exception:
                # After the commit: the database hold stands and is what purge obeys, so a
                # store outage must not turn a placed hold into a reported failure.
                log.warning("legal hold mirror failed", extra={"hold_id": hold_id, "on": on},
                            exc_info=True)  # fmt: skip

    def _find(self, hold_id: str) -> Hold:
        with self._engine.connect() as conn:
            row = conn.execute(select(holds).where(holds.c.id == hold_id)).first()
            if row is None:
                raise NotFound(
                    f"no hold {hold_id!r}; `callvault hold list --all` shows every hold",
                    "hold_id",
                )
            return self._holds(conn, [row])[0]

    def _holds(self, conn: Connection, rows: Sequence[Row[Any]]) -> builtins.list[Hold]:
        named: dict[str, builtins.list[str]] = {}
        ids = [row.id for row in rows]
        for start in range(0, len(ids), _CHUNK):
            pairs = conn.execute(
                select(hold_recordings.c.hold_id, hold_recordings.c.recording_id)
                .where(hold_recordings.c.hold_id.in_(ids[start : start + _CHUNK]))
                .order_by(hold_recordings.c.recording_id)
            )
            for hold_id, recording_id in pairs:
                named.setdefault(hold_id, []).append(recording_id)
        today = self._today().isoformat()
        return [_hold(row, tuple(named.get(row.id, ())), today) for row in rows]

    def _today(self) -> date:
        return self._clock().astimezone(UTC).date()

    def _now(self) -> str:
        return self._clock().astimezone(UTC).isoformat(timespec="microseconds")


def remind_due(conn: Connection, audit: AuditLog, ctx: RequestContext, today: date) -> list[str]:
    """In ``conn``'s transaction: one ``hold.review_due`` entry for each active hold whose
    review date is today or past and was not reminded for that date; the ids reminded."""
    not_reminded = or_(holds.c.reminded_for.is_(None), holds.c.reminded_for != holds.c.review_on)
    due = conn.execute(
        select(holds)
        .where(holds.c.released_at.is_(None), holds.c.review_on <= today.isoformat(), not_reminded)
        .order_by(holds.c.review_on, holds.c.id)
    ).all()
    reminded = []
    for row in due:
        # Guarded by the same terms, so two workers running at once remind once.
        marked = conn.execute(
            update(holds)
            .where(holds.c.id == row.id, holds.c.review_on == row.review_on, not_reminded)
            .values(reminded_for=row.review_on)
        )
        if marked.rowcount != 1:
            continue
        audit.append(
            conn, replace(ctx, purpose=row.reason, case_ref=row.case_ref), "hold.review_due",
            object_type="hold", object_id=row.id,
            details={"review_on": row.review_on, "owner": row.owner, "placed_at": row.placed_at},
        )  # fmt: skip
        reminded.append(row.id)
    return reminded


def _blobs_to_lift(conn: Connection, hold: Hold) -> list[str]:
    """After ``hold`` is released: the blobs whose store hold it may have kept on, and that no
    active hold covers any more (by name or by search). Store holds are placed only on
    recordings named by a hold, but such a recording may have stayed covered by another
    hold's saved search when its naming hold ended; so this hold's search matches count too."""
    covered: ColumnElement[bool] = recordings.c.id.in_(
        select(hold_recordings.c.recording_id).where(hold_recordings.c.hold_id == hold.id)
    )
    if hold.search is not None:
        named_by_any = recordings.c.id.in_(select(hold_recordings.c.recording_id))
        covered = or_(covered, and_(*conditions(hold.search.query()), named_by_any))
    rows = conn.execute(
        select(recordings.c.id, recordings.c.blob_name).where(
            covered, recordings.c.purged_at.is_(None)
        )
    ).all()
    still = held_ids(conn, [row.id for row in rows])
    return [row.blob_name for row in rows if row.id not in still]


def _hold(row: Row[Any], recording_ids: tuple[str, ...], today: str) -> Hold:
    search = None
    if any(v is not None for v in (row.search_caller, row.search_line, row.search_from,
                                   row.search_to)):  # fmt: skip
        search = SavedSearch(row.search_caller, row.search_line, row.search_from, row.search_to)
    return Hold(
        id=row.id, reason=row.reason, case_ref=row.case_ref, owner=row.owner,
        review_on=row.review_on, note=row.note, placed_by=row.placed_by,
        placed_at=row.placed_at, recording_ids=recording_ids, search=search,
        released_at=row.released_at, released_by=row.released_by,
        release_reason=row.release_reason, reminded_for=row.reminded_for,
        due=row.released_at is None and row.review_on <= today,
    )  # fmt: skip
