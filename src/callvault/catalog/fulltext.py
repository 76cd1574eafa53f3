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

from sqlalchemy import Connection, text

from callvault.errors import BadInput

MAX_HITS = 200
_SQLITE_QUERY = (
    "SELECT recording_id, speaker, start_s,"
    " snippet(transcript_segments, 5, '[', ']', '…', 12) AS snippet"
    " FROM transcript_segments WHERE transcript_segments MATCH :match{only}"
    " ORDER BY rank LIMIT :limit"
)
_POSTGRESQL_QUERY = (
    "SELECT recording_id, speaker, start_s,"
    " ts_headline('english', text, q, 'StartSel=[, StopSel=], MaxWords=12, MinWords=4')"
    " AS snippet FROM transcript_segments, plainto_tsquery('english', :words) AS q"
    " WHERE tsv @@ q{only} ORDER BY ts_rank(tsv, q) DESC, recording_id, segment LIMIT :limit"
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


def search_words(
    conn: Connection, words: str, *, limit: int = 50, recording_ids: Sequence[str] | None = None
) -> list[Hit]:
    """Moments where ``words`` were said (all of them, any form: "permits" finds "permit")."""
    terms = _WORD.findall(words)
    if not terms:
        raise BadInput("search words must contain at least one letter or digit", "text")
    limit = max(1, min(limit, MAX_HITS))
    if conn.dialect.name == "sqlite":
        return _search_sqlite(conn, terms, limit, recording_ids)
    return _search_postgresql(conn, " ".join(terms), limit, recording_ids)


def _search_sqlite(
    conn: Connection, terms: list[str], limit: int, recording_ids: Sequence[str] | None
) -> list[Hit]:
    match = " ".join('"' + term.replace('"', '""') + '"' for term in terms)
    only = _only_clause(recording_ids)
    sql = _SQLITE_QUERY.format(only=only.sql)  # only bound-parameter placeholders go in
    rows = conn.execute(text(sql), {"match": match, "limit": limit, **only.params})
    return [Hit(r.recording_id, r.speaker, float(r.start_s), r.snippet) for r in rows]


def _search_postgresql(
    conn: Connection, words: str, limit: int, recording_ids: Sequence[str] | None
) -> list[Hit]:
    only = _only_clause(recording_ids)
    sql = _POSTGRESQL_QUERY.format(only=only.sql)  # only bound-parameter placeholders go in
    rows = conn.execute(text(sql), {"words": words, "limit": limit, **only.params})
    return [Hit(r.recording_id, r.speaker, float(r.start_s), r.snippet) for r in rows]


@dataclass(frozen=True, slots=True)
class _Clause:
    sql: str
    params: dict[str, str]


def _only_clause(recording_ids: Sequence[str] | None) -> _Clause:
    """Restrict hits to recordings the asker may see (the access layer passes them)."""
    if recording_ids is None:
        return _Clause("", {})
    params = {f"r{i}": rid for i, rid in enumerate(recording_ids)}
    if not params:
        return _Clause(" AND 1 = 0", {})
    return _Clause(f" AND recording_id IN ({', '.join(':' + k for k in params)})", params)
