"""Metadata search over recordings, filtered and ordered in SQL.

Results come newest first with keyset paging (``before``: the page after; ``after``: the page
before), so page 1,000 costs what page 1 does. Who may see which recordings is added to the
same WHERE clause by the access layer (ARCHITECTURE rule 6: lists filter in SQL, nothing is
fetched and dropped later).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import ColumnElement, Connection, and_, or_, select

from callvault.catalog.store import recordings

MAX_PAGE = 500

SUMMARY_COLUMNS = (
    recordings.c.id,
    recordings.c.line,
    recordings.c.started_at,
    recordings.c.duration_s,
    recordings.c.caller,
    recordings.c.agent,
    recordings.c.direction,
    recordings.c.flags,
)


@dataclass(frozen=True, slots=True)
class RecordingQuery:
    line: str | None = None
    caller: str | None = None  # normalised E.164, or "withheld"
    agent: str | None = None
    started_from: datetime | None = None
    started_to: datetime | None = None
    min_duration_s: float | None = None
    max_duration_s: float | None = None
    limit: int = 50
    # Keyset cursors, (started_at, id): ``before`` the last row of the page shown (the next,
    # older page follows it), ``after`` its first row (the previous, newer page precedes it).
    before: tuple[str, str] | None = None
    after: tuple[str, str] | None = None
    # Words said in the call (transcript full text); results then come best match first.
    text: str | None = None


def conditions(query: RecordingQuery) -> list[ColumnElement[bool]]:
    """The WHERE terms for ``query`` (the access layer adds its own beside them)."""
    c = recordings.c
    # A purged recording is a tombstone: never a search result.
    terms: list[ColumnElement[bool]] = [c.purged_at.is_(None)]
    for column, value in ((c.line, query.line), (c.caller, query.caller), (c.agent, query.agent)):
        if value is not None:
            terms.append(column == value)
    if query.started_from is not None:
        terms.append(c.started_at >= query.started_from.isoformat())
    if query.started_to is not None:
        terms.append(c.started_at < query.started_to.isoformat())
    if query.min_duration_s is not None:
        terms.append(c.duration_s >= query.min_duration_s)
    if query.max_duration_s is not None:
        terms.append(c.duration_s <= query.max_duration_s)
    if query.before is not None:
        started, rec_id = query.before
        terms.append(or_(c.started_at < started, and_(c.started_at == started, c.id < rec_id)))
    if query.after is not None:
        started, rec_id = query.after
        terms.append(or_(c.started_at > started, and_(c.started_at == started, c.id > rec_id)))
    return terms


def search(
    conn: Connection, query: RecordingQuery, extra: list[ColumnElement[bool]] | None = None
) -> list[dict[str, Any]]:
    """One page of recording summaries matching ``query`` and any ``extra`` terms, newest
    first; with ``after``, the page of rows just newer than the cursor."""
    c = recordings.c
    # The page before a cursor is the rows nearest it going forward in time, shown reversed.
    forward = query.after is not None
    order = (c.started_at.asc(), c.id.asc()) if forward else (c.started_at.desc(), c.id.desc())
    statement = (
        select(*SUMMARY_COLUMNS)
        .where(*conditions(query), *(extra or []))
        .order_by(*order)
        .limit(max(1, min(query.limit, MAX_PAGE)))
    )
    rows = [_summary(row._mapping) for row in conn.execute(statement)]
    return rows[::-1] if forward else rows


def _summary(mapping: Any) -> dict[str, Any]:
    # str(): SQLAlchemy's quoted_name keys are str subclasses that JSON encoders refuse.
    row = {str(key): value for key, value in mapping.items()}
    row["flags"] = orjson.loads(row["flags"])
    return row
