"""Search as a person: only what their role may see, filtered in SQL, and audited.

Who sees what (ARCHITECTURE rule 6: rows a person may not see are never fetched):
- roles that may hear audio search every line, except that team leaders (quality monitoring)
  do not see special-category lines, as they may not request them either;
- team leaders see caller numbers masked: quality work needs the call, not the caller;
- everyone else (advisor, auditor, administrator) is refused: they have no recording access.
Search terms are personal data (a caller's number, words said), so every search is audited
with them.

Searching by words said joins the transcript index to the same visibility terms in one
statement; results then come best match first, each with the moments that matched.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Engine, select

from callvault.access.actions import Permissions
from callvault.audit.group_commit import GroupCommit
from callvault.capture.metadata import WITHHELD
from callvault.catalog.fulltext import MAX_HITS, search_words
from callvault.catalog.search import MAX_PAGE, RecordingQuery, conditions, search
from callvault.catalog.store import recordings
from callvault.context import RequestContext
from callvault.errors import BadInput, Refused
from callvault.policy.numbers import normalise_number

SEARCH = "recordings:search"
# Roles that see the recording but not who called.
MASKED_CALLER_ROLES = frozenset({"team_leader"})
# Roles kept off special-category lines (adult social care, careline, ...).
STANDARD_LINES_ONLY = frozenset({"team_leader"})
_MAX_TEXT = 200
# A cursor is "<started_at>~<recording id>": neither part ever holds a "~".
_CURSOR_SEP = "~"
_CURSOR_ID = re.compile(r"[A-Za-z0-9_-]{1,40}")
_MAX_WHEN = 40


def mask_number(number: str) -> str:
    """``+447700900123`` → ``+4477009•••••``: the area stays, the person goes."""
    if not number.startswith("+") or len(number) < 8:
        return number  # "withheld" stays as it is
    return number[:-5] + "•" * 5


def visibility(role: str | None) -> list[ColumnElement[bool]]:
    """The WHERE terms a role adds to every search."""
    if role in STANDARD_LINES_ONLY:
        return [recordings.c.sensitivity != "special_category"]
    return []


@dataclass(frozen=True, slots=True)
class SearchTerms:
    """A search as a person types it (CLI options, API query parameters), unparsed."""

    line: str | None = None
    caller: str | None = None
    agent: str | None = None
    started_from: str | None = None
    started_to: str | None = None
    min_duration_s: float | None = None
    max_duration_s: float | None = None
    text: str | None = None
    limit: int = 50
    # Keyset paging (``cursor`` makes them): the page after the row ``before`` names, or
    # the page before the row ``after`` names. Not with ``text``: best match first has no
    # keyset order.
    before: str | None = None
    after: str | None = None

    def query(self) -> RecordingQuery:
        """The parsed query; BadInput naming the field for anything malformed."""
        caller = self.caller
        if caller is not None and caller.strip().lower() != WITHHELD:
            caller = normalise_number(caller, "caller").value
        elif caller is not None:
            caller = WITHHELD
        if self.text is not None and not 1 <= len(self.text.strip()) <= _MAX_TEXT:
            raise BadInput(f"text must be 1 to {_MAX_TEXT} characters", "text")
        if not 1 <= self.limit <= MAX_PAGE:
            raise BadInput(f"limit must be between 1 and {MAX_PAGE}", "limit")
        for name in ("min_duration_s", "max_duration_s"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise BadInput(f"{name} must not be negative", name)
        if self.text is not None and (self.before or self.after):
            raise BadInput("a search by words said has one page, best match first", "text")
        if self.before and self.after:
            raise BadInput("page with before or after, not both", "after")
        return RecordingQuery(
            line=self.line,
            caller=caller,
            agent=self.agent,
            started_from=parse_when(self.started_from, "from"),
            started_to=parse_when(self.started_to, "to"),
            min_duration_s=self.min_duration_s,
            max_duration_s=self.max_duration_s,
            limit=self.limit,
            text=self.text.strip() if self.text else None,
            before=parse_cursor(self.before, "before"),
            after=parse_cursor(self.after, "after"),
        )


def cursor(row: dict[str, Any]) -> str:
    """A search result's place in the newest-first order, for ``before``/``after``."""
    return f"{row['started_at']}{_CURSOR_SEP}{row['recording_id']}"


def parse_cursor(value: str | None, field: str) -> tuple[str, str] | None:
    """(started_at, recording id) from ``cursor``'s text; BadInput naming ``field``."""
    if not value:
        return None
    started, _, recording_id = value.rpartition(_CURSOR_SEP)
    try:
        datetime.fromisoformat(started)
    except ValueError:
        started = ""
    if not started or len(started) > _MAX_WHEN or not _CURSOR_ID.fullmatch(recording_id):
        raise BadInput(f"{field} is not a place in the results; start the search again", field)
    return started, recording_id


def parse_when(value: str | None, field: str) -> datetime | None:
    """A date or ISO time (UTC when no zone is given), in UTC: stored times are UTC text,
    compared as text, so a bound given with another offset must be converted first."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise BadInput(
            f"{field} {value[:40]!r} is not a date or time; use e.g. 2026-11-01 or "
            "2026-11-01T09:00:00Z",
            field,
        ) from None
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def search_as(
    engine: Engine,
    audit: GroupCommit,
    permissions: Permissions,
    ctx: RequestContext,
    query: RecordingQuery,
) -> list[dict[str, Any]]:
    """One page of recordings ``ctx.actor`` may see (newest first, or best match first when
    searching words said). Returned only once the search's audit entry is committed; the
    search reads without the write lock and its entry shares a commit with concurrent ones
    (``audit.group_commit``)."""
    role = ctx.actor.role
    filters = {k: v for k, v in _describe(query).items() if v is not None}
    if not permissions.allowed(ctx.actor, SEARCH):
        audit.append(
            ctx, "access.refused", object_type="action", object_id=SEARCH,
            details={"filters": filters},
        )  # fmt: skip
        raise Refused(f"{ctx.actor.name} ({role}) may not search recordings", "actor")
    with engine.connect() as conn, conn.begin():
        if query.text:
            rows = _by_words(conn, query, visibility(role))
        else:
            rows = search(conn, query, visibility(role))
    audit.append(
        ctx, "recordings.searched", object_type="search",
        details={"filters": filters, "results": len(rows)},
    )  # fmt: skip
    if role in MASKED_CALLER_ROLES:
        for row in rows:
            row["caller"] = mask_number(row["caller"])
    return [{"recording_id": row.pop("id"), **row} for row in rows]


def _by_words(
    conn: Connection, query: RecordingQuery, visible: list[ColumnElement[bool]]
) -> list[dict[str, Any]]:
    """Recordings whose transcript has the words, among those the metadata terms and the
    asker's visibility allow (one statement), best match first, with their moments."""
    assert query.text
    within = select(recordings.c.id).where(*conditions(query), *visible)
    hits = search_words(conn, query.text, limit=MAX_HITS, within=within)
    moments: dict[str, list[dict[str, Any]]] = {}
    for hit in hits:
        moments.setdefault(hit.recording_id, []).append(
            {"speaker": hit.speaker, "start_s": hit.start_s, "snippet": hit.snippet}
        )
    wanted = list(moments)[: query.limit]
    if not wanted:
        return []
    summaries = {
        row["id"]: row
        for row in search(conn, RecordingQuery(limit=len(wanted)), [recordings.c.id.in_(wanted)])
    }
    return [{**summaries[rid], "moments": moments[rid]} for rid in wanted if rid in summaries]


def _describe(query: RecordingQuery) -> dict[str, Any]:
    return {
        "line": query.line,
        "caller": query.caller,
        "agent": query.agent,
        "from": query.started_from.isoformat() if query.started_from else None,
        "to": query.started_to.isoformat() if query.started_to else None,
        "min_duration_s": query.min_duration_s,
        "max_duration_s": query.max_duration_s,
        "text": query.text,
        "before": _CURSOR_SEP.join(query.before) if query.before else None,
        "after": _CURSOR_SEP.join(query.after) if query.after else None,
    }
