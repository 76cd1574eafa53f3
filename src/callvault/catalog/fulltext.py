"""Search by what was said: SQLite FTS5 on one machine, PostgreSQL full text at scale.

Both index transcript segments (speaker, start and end time, text) and answer a query with
the matching moments, best first, each with a highlighted snippet and the time to jump to.
User words are never passed as query syntax: each becomes a quoted term (FTS5) or goes
through ``plainto_tsquery`` (PostgreSQL), so quotes, ``NEAR``, ``*`` or ``-`` are just words.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Connection,
    Select,
    bindparam,
    column,
    func,
    literal_column,
    select,
    table,
    text,
)

from callvault.errors import BadInput

MAX_HITS = 200
# The segments table differs by engine (an FTS5 virtual table, or a table with a generated
# tsvector), so it is described here rather than on the shared metadata.
_segments = table(
    "transcript_segments",
    column("recording_id"),
    column("segment"),
    column("speaker"),
    column("start_s"),
    column("text"),
    column("tsv"),
)
_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True, slots=True)
class Segment:
    speaker: str  # "caller" | "agent" | "mixed"
    start_s: float
    end_s: float
    text: str


@dataclass(frozen=True, slots=True)
class Hit:
    recording_id: str
    speaker: str
    start_s: float
    snippet: str


def index_segments(conn: Connection, recording_id: str, segments: Sequence[Segment]) -> None:
    """Replace ``recording_id``'s indexed segments, inside the caller's transaction."""
    delete_segments(conn, recording_id)
    rows = [
        {
            "rid": recording_id,
            "n": n,
            "speaker": s.speaker,
            "start": s.start_s,
            "end": s.end_s,
            "text": s.text,
        }
        for n, s in enumerate(segments)
    ]
    if rows:
        conn.execute(
            text(
                "INSERT INTO transcript_segments (recording_id, segment, speaker, start_s, end_s,"
                " text) VALUES (:rid, :n, :speaker, :start, :end, :text)"
            ),
            rows,
        )


def delete_segments(conn: Connection, recording_id: str) -> None:
    conn.execute(
        text("DELETE FROM transcript_segments WHERE recording_id = :rid"), {"rid": recording_id}
    )


def delete_segments_of(conn: Connection, recording_ids: Sequence[str]) -> dict[str, int]:
    """Delete every segment of ``recording_ids`` (a purge); return how many each had."""
    ids: BindParameter[list[str]] = bindparam("ids", expanding=True)
    counted = conn.execute(
        text(
            "SELECT recording_id, count(*) FROM transcript_segments "
            "WHERE recording_id IN :ids GROUP BY recording_id"
        ).bindparams(ids),
        {"ids": list(recording_ids)},
    ).all()
    if counted:
        conn.execute(
            text("DELETE FROM transcript_segments WHERE recording_id IN :ids").bindparams(ids),
            {"ids": list(recording_ids)},
        )
    return {str(rid): int(n) for rid, n in counted}


def segment_texts(conn: Connection, recording_ids: Sequence[str]) -> dict[str, list[str]]:
    """The indexed (redacted) text of each of ``recording_ids`` that has any, segment by
    segment: what demand analysis matches topics against (analytics/topics.py)."""
    if not recording_ids:
        return {}
    ids: BindParameter[list[str]] = bindparam("ids", expanding=True)
    rows = conn.execute(
        text(
            "SELECT recording_id, text FROM transcript_segments WHERE recording_id IN :ids"
        ).bindparams(ids),
        {"ids": list(recording_ids)},
    )
    found: dict[str, list[str]] = {}
    for recording_id, said in rows:
        found.setdefault(str(recording_id), []).append(str(said))
    return found


def search_words(
    conn: Connection,
    words: str,
    *,
    limit: int = 50,
    recording_ids: Sequence[str] | None = None,
    within: Select[tuple[str]] | None = None,
) -> list[Hit]:
    """Moments where ``words`` were said (all of them, any form: "permits" finds "permit"),
    best first. ``recording_ids`` or ``within`` (a SELECT of recording ids, e.g. what the
    asker may see) restrict the hits in the same SQL statement."""
    terms = _WORD.findall(words)
    if not terms:
        raise BadInput("search words must contain at least one letter or digit", "text")
    limit = max(1, min(limit, MAX_HITS))
    if conn.dialect.name == "sqlite":
        statement = _sqlite_query(terms)
    else:
        statement = _postgresql_query(" ".join(terms))
    if recording_ids is not None:
        statement = statement.where(_segments.c.recording_id.in_(list(recording_ids)))
    if within is not None:
        statement = statement.where(_segments.c.recording_id.in_(within.scalar_subquery()))
    rows = conn.execute(statement.limit(limit))
    return [Hit(r.recording_id, r.speaker, float(r.start_s), r.snippet) for r in rows]


def _sqlite_query(terms: list[str]) -> Select[Any]:
    # Each word becomes a quoted FTS5 term, so query syntax in user words is just words.
    match = " ".join('"' + term.replace('"', '""') + '"' for term in terms)
    fts: ColumnElement[Any] = literal_column("transcript_segments")
    snippet = func.snippet(fts, 5, "[", "]", "…", 12).label("snippet")
    return (
        select(_segments.c.recording_id, _segments.c.speaker, _segments.c.start_s, snippet)
        .where(fts.op("MATCH")(match))
        .order_by(literal_column("rank"))
    )


def _postgresql_query(words: str) -> Select[Any]:
    query = func.plainto_tsquery("english", words)
    headline = func.ts_headline(
        "english", _segments.c.text, query, "StartSel=[, StopSel=], MaxWords=12, MinWords=4"
    ).label("snippet")
    return (
        select(_segments.c.recording_id, _segments.c.speaker, _segments.c.start_s, headline)
        .where(_segments.c.tsv.op("@@")(query))
        .order_by(
            func.ts_rank(_segments.c.tsv, query).desc(),
            _segments.c.recording_id,
            _segments.c.segment,
        )
    )
