"""Metadata search over recordings, filtered and ordered in SQL.

Results come newest first with keyset paging (``before``), so page 1,000 costs what page 1
does. Who may see which recordings is added to the same WHERE clause by the access layer
(ARCHITECTURE rule 6: lists filter in SQL, nothing is fetched and dropped later).
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
    # Keyset cursor: (started_at, id) of the last row of the previous page.
    before: tuple[str, str] | None = None
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
    return terms


def search(
    conn: Connection, query: RecordingQuery, extra: list[ColumnElement[bool]] | None = None
) -> list[dict[str, Any]]:
    """One page of recording summaries matching ``query`` and any ``extra`` terms."""
    statement = (
        select(*SUMMARY_COLUMNS)
        .where(*conditions(query), *(extra or []))
        .order_by(recordings.c.started_at.desc(), recordings.c.id.desc())
        .limit(max(1, min(query.limit, MAX_PAGE)))
    )
    return [_summary(row._mapping) for row in conn.execute(statement)]


def _summary(mapping: Any) -> dict[str, Any]:
    # str(): SQLAlchemy's quoted_name keys are str subclasses that JSON encoders refuse.
    row = {str(key): value for key, value in mapping.items()}
    row["flags"] = orjson.loads(row["flags"])
    return row
