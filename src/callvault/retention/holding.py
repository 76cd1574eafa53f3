"""Which recordings an active legal hold covers: the one question purge asks of holds.

A hold covers a recording either by name (``hold_recordings``) or by a saved search (the
``search_*`` columns of ``holds``: every criterion set must match; ``search_from`` inclusive,
``search_to`` exclusive, both ISO times compared as text like every time in the catalogue).
A saved search is evaluated when purge asks, so a call imported after the hold was placed is
held too.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Connection, and_, exists, or_, select, text, union

from callvault.catalog.store import recordings
from callvault.retention.store import hold_recordings, holds

# PostgreSQL advisory lock key taken by purge's shredding and by placing a hold ("cvhold").
_HOLD_LOCK = 0x6376686F6C64


def exclude_purges(conn: Connection) -> None:
    """Inside a write transaction: no purge shreds, and no hold is placed, until it ends.

    Purge checks holds again in the transaction that destroys keys, and placing a hold takes
    the same turn, so a hold placed while a purge is running is either seen or waits. SQLite
    needs nothing (one writer at a time); PostgreSQL takes a transaction advisory lock.
    """
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _HOLD_LOCK})


def active_hold_clause() -> ColumnElement[bool]:
    """SQL true for the recordings row under an active hold (by name or saved search)."""
    by_name = exists(
        select(hold_recordings.c.hold_id)
        .join(holds, holds.c.id == hold_recordings.c.hold_id)
        .where(
            hold_recordings.c.recording_id == recordings.c.id,
            holds.c.released_at.is_(None),
        )
    )
    by_search = exists(select(holds.c.id).where(holds.c.released_at.is_(None), _search_matches()))
    return or_(by_name, by_search)


def _search_matches() -> ColumnElement[bool]:
    """SQL true when the holds row has a saved search and the recordings row matches it."""
    return and_(
        or_(
            holds.c.search_caller.is_not(None),
            holds.c.search_line.is_not(None),
            holds.c.search_from.is_not(None),
            holds.c.search_to.is_not(None),
        ),
        or_(holds.c.search_caller.is_(None), holds.c.search_caller == recordings.c.caller),
        or_(holds.c.search_line.is_(None), holds.c.search_line == recordings.c.line),
        or_(holds.c.search_from.is_(None), recordings.c.started_at >= holds.c.search_from),
        or_(holds.c.search_to.is_(None), recordings.c.started_at < holds.c.search_to),
    )


def held_ids(conn: Connection, recording_ids: Iterable[str]) -> set[str]:
    """The ones of ``recording_ids`` an active hold covers."""
    wanted = list(recording_ids)
    found: set[str] = set()
    for start in range(0, len(wanted), 500):  # stay under every driver's parameter limit
        chunk = wanted[start : start + 500]
        rows = conn.execute(
            select(recordings.c.id).where(and_(recordings.c.id.in_(chunk), active_hold_clause()))
        )
        found.update(row.id for row in rows)
    return found


@dataclass(frozen=True, slots=True)
class HoldRef:
    """An active hold, as a reader of what it keeps needs to name it."""

    hold_id: str
    reason: str
    case_ref: str


def holds_covering(conn: Connection, recording_ids: Iterable[str]) -> dict[str, list[HoldRef]]:
    """For each of ``recording_ids`` an active hold covers (the same ones ``held_ids``
    finds): those holds, by case reference."""
    wanted = list(recording_ids)
    found: dict[str, set[HoldRef]] = {}
    for start in range(0, len(wanted), 500):  # stay under every driver's parameter limit
        chunk = wanted[start : start + 500]
        by_name = (
            select(
                hold_recordings.c.recording_id,
                holds.c.id.label("hold_id"),
                holds.c.reason,
                holds.c.case_ref,
            )
            .join(holds, holds.c.id == hold_recordings.c.hold_id)
            .where(hold_recordings.c.recording_id.in_(chunk), holds.c.released_at.is_(None))
        )
        by_search = (
            select(
                recordings.c.id.label("recording_id"),
                holds.c.id.label("hold_id"),
                holds.c.reason,
                holds.c.case_ref,
            )
            .select_from(recordings)
            .join(holds, _search_matches())
            .where(recordings.c.id.in_(chunk), holds.c.released_at.is_(None))
        )
        for recording_id, hold_id, reason, case_ref in conn.execute(union(by_name, by_search)):
            found.setdefault(recording_id, set()).add(HoldRef(hold_id, reason, case_ref))
    return {
        rid: sorted(refs, key=lambda ref: (ref.case_ref, ref.hold_id))
        for rid, refs in found.items()
    }
