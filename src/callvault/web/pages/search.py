"""``/recordings``: the search page. A GET form, so a search is a link that can be kept.

The search itself is the API's: ``search_as`` (only what the role may see, callers masked
where the role has no need, every search audited with its terms), run off the event loop in
the same few turns as the API's searches. The page adds what people type: dates in UK time
(a "to" date includes its whole day), durations in minutes, a line from the policy's list;
anything malformed re-renders the form with the fault beside its field, and no search runs.

Pages follow the catalogue's keyset order (``before``/``after`` cursors), so a page costs
the same however deep. A search by words said comes best match first, on one page.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import partial
from typing import Any
from urllib.parse import urlencode

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup, escape

from callvault.access.searching import (
    STANDARD_LINES_ONLY,
    SearchTerms,
    cursor,
    search_as,
)
from callvault.catalog.search import RecordingQuery
from callvault.context import Actor
from callvault.errors import BadInput
from callvault.policy.model import Line
from callvault.web.pages.render import page, render
from callvault.web.pages.when import day_start, duration_text, parse_day, when_text
from callvault.web.routes.recordings import search_turns
from callvault.web.security import request_context, services_of

router = APIRouter()

PAGE_SIZE = 50
# The form's fields, in the order it shows them (also the query string's names).
FIELDS = ("from", "to", "line", "agent", "caller", "min_minutes", "max_minutes", "text")
_PAGING = ("before", "after")
_MAX_LEN = {"agent": 64, "caller": 32, "text": 200, "before": 80, "after": 80}
# SearchTerms names a fault by its own field; the form's name for it.
_FORM_FIELD = {"min_duration_s": "min_minutes", "max_duration_s": "max_minutes"}
_SPECIAL = "special_category"


def visible_lines(lines: tuple[Line, ...], actor: Actor) -> list[Line]:
    """The policy's lines this role's searches can find (``searching.visibility``), by name."""
    hidden = _SPECIAL if actor.role in STANDARD_LINES_ONLY else None
    shown = [line for line in lines if line.sensitivity != hidden]
    return sorted(shown, key=lambda line: line.name.casefold())


@dataclass
class SearchForm:
    """What was typed, as typed (to show back), and the faults found, by field."""

    values: dict[str, str]
    errors: dict[str, str] = field(default_factory=dict)
    submitted: bool = False

    @classmethod
    def read(cls, query: Mapping[str, str]) -> SearchForm:
        values = {name: (query.get(name) or "").strip() for name in (*FIELDS, *_PAGING)}
        return cls(values, submitted=any(name in query for name in (*FIELDS, *_PAGING)))

    def get(self, name: str) -> str | None:
        return self.values.get(name) or None

    def listed_errors(self) -> list[tuple[str, str, str | None]]:
        """(field, message, the id to link to) in the form's order, for the summary."""
        order = [*FIELDS, *(name for name in self.errors if name not in FIELDS)]
        return [
            (name, self.errors[name], name if name in FIELDS else None)
            for name in order
            if name in self.errors
        ]

    def fault(self, error: BadInput) -> None:
        name = _FORM_FIELD.get(error.field or "", error.field or "form")
        self.errors.setdefault(name, error.message)

    def query(self, lines: list[Line]) -> RecordingQuery | None:
        """The search, or None when a field is wrong (each fault kept beside its field)."""
        for name, limit in _MAX_LEN.items():
            if len(self.values[name]) > limit:
                self.errors[name] = f"{_LABELS[name]} is longer than {limit} characters"
        line = self.get("line")
        if line is not None and line not in {known.id for known in lines}:
            self.errors["line"] = "choose a line from the list"
        start, end = self._day("from"), self._day("to")
        if start and end and end < start:
            self.errors["to"] = "the to date must be on or after the from date"
        shortest, longest = self._minutes("min_minutes"), self._minutes("max_minutes")
        if shortest is not None and longest is not None and longest < shortest:
            self.errors["max_minutes"] = "the longest must be at least the shortest"
        terms = SearchTerms(
            line=line,
            caller=self.get("caller"),
            agent=self.get("agent"),
            # UK midnights (SearchTerms turns them into UTC); a "to" day is included whole.
            started_from=day_start(start).isoformat() if start else None,
            started_to=day_start(end + timedelta(days=1)).isoformat() if end else None,
            min_duration_s=shortest * 60 if shortest is not None else None,
            max_duration_s=longest * 60 if longest is not None else None,
            text=self.get("text"),
            limit=PAGE_SIZE + 1,  # one more than shown says whether a next page exists
            before=self.get("before"),
            after=self.get("after"),
        )
        try:
            query = terms.query()
        except BadInput as error:
            self.fault(error)
            return None
        return None if self.errors else query

    def _day(self, name: str) -> date | None:
        try:
            return parse_day(self.values, name, _LABELS[name])
        except BadInput as error:
            self.errors[name] = error.message
            return None

    def _minutes(self, name: str) -> float | None:
        text = self.values[name]
        if not text:
            return None
        try:
            value = float(text)
        except ValueError:
            value = -1.0
        if not 0 <= value <= 24 * 60:  # NaN and infinity fail this too
            self.errors[name] = f"{_LABELS[name]} must be a number of minutes, like 2 or 1.5"
            return None
        return value

    def link(self, **paging: str) -> str:
        """This search's URL with ``paging`` in place of the current page."""
        kept = [(name, self.values[name]) for name in FIELDS if self.values[name]]
        return "/recordings?" + urlencode([*kept, *paging.items()])


_LABELS = {
    "from": "From date",
    "to": "To date",
    "line": "Line",
    "agent": "Agent",
    "caller": "Caller's number",
    "min_minutes": "Shortest call",
    "max_minutes": "Longest call",
    "text": "Words said",
    "before": "The next page",
    "after": "The previous page",
}


@router.get("/recordings", **page("recordings:search"))
async def search_page(request: Request) -> HTMLResponse:
    services = services_of(request)
    ctx = request_context(request)
    lines = visible_lines(services.policy.policy.lines, ctx.actor)
    form = SearchForm.read(request.query_params)
    context: dict[str, Any] = {"form": form, "lines": lines, "labels": _LABELS}
    if not form.submitted:
        return render(request, "search.html", **context, results=None)
    query = form.query(lines)
    if query is None:
        return render(request, "search.html", status_code=422, **context, results=None)
    search = partial(
        search_as, services.engine, services.audit_batch, services.permissions, ctx, query
    )
    try:
        rows = await anyio.to_thread.run_sync(search, limiter=search_turns(request))
    except BadInput as error:  # words with nothing to search for: refused before any query
        form.fault(error)
        return render(request, "search.html", status_code=422, **context, results=None)
    names = {line.id: line.name for line in services.policy.policy.lines}
    return render(request, "search.html", **context, **_page_of(form, rows, names))


def _page_of(form: SearchForm, rows: list[dict[str, Any]], names: dict[str, str]) -> dict[str, Any]:
    """The rows to show and the pager's links. ``rows`` holds one more than a page where
    more follow in the direction the search went."""
    by_words = form.get("text") is not None
    more = len(rows) > PAGE_SIZE
    if form.get("after"):
        shown = rows[-PAGE_SIZE:]  # newest first: the extra row is the furthest from the cursor
        newer, older = more, bool(shown)
    else:
        shown = rows[:PAGE_SIZE]
        newer, older = bool(form.get("before")), more
    pager = {
        "previous": form.link(after=cursor(shown[0])) if newer and shown and not by_words else None,
        "next": form.link(before=cursor(shown[-1])) if older and shown and not by_words else None,
        "first": form.link() if form.get("before") or form.get("after") else None,
    }
    return {
        "results": [_row(row, names) for row in shown],
        "by_words": by_words,
        # Words said: the best matches only, and more matched than are shown.
        "capped": by_words and more,
        "pager": pager,
    }


def _row(row: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    moments = row.get("moments") or []
    return {
        "id": row["recording_id"],
        "started": when_text(row["started_at"]),
        "started_iso": row["started_at"],
        "line": names.get(row["line"], row["line"]),
        "agent": row["agent"],
        "caller": row["caller"],
        "duration": duration_text(row["duration_s"]),
        "moment": _moment(moments[0]) if moments else None,
    }


_MARKED = re.compile(r"\[([^\[\]]*)\]")


def _moment(hit: dict[str, Any]) -> dict[str, Any]:
    """A matching moment: who spoke, when, and the snippet with the words marked (the
    index brackets them; the text is escaped before the marks go in)."""
    snippet = _MARKED.sub(r"<mark>\1</mark>", str(escape(hit["snippet"])))
    return {
        "speaker": {"caller": "Caller", "agent": "Agent"}.get(hit["speaker"], "Both"),
        "at": duration_text(hit["start_s"]),
        "snippet": Markup(snippet),  # noqa: S704 - escaped above; only <mark> is added
    }
