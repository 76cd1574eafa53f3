"""``/audit`` and ``/audit/verify``: the audit trail for auditors and the DPO.

``/audit`` lists entries newest first, filtered by actor, action, object and the days (UK
time) they were written, a page at a time. Reading the trail is itself audited, as the
API's ``GET /api/v1/audit`` does (``audit.read`` with the query in its details): entries
name callers' numbers and search terms. ``/audit/verify`` recomputes the whole hash chain
and its signed checkpoints, as ``callvault audit verify`` does, and says where it broke.

Times show in UK local time (Europe/London), which is what staff read on their clocks; the
``<time>`` element carries the UTC instant the entry holds.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any
from urllib.parse import urlencode

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from callvault.audit.service import AuditLog
from callvault.db import transaction
from callvault.errors import BadInput
from callvault.web.pages.render import form_text, page, render
from callvault.web.pages.when import day_start, parse_day, stamp_text
from callvault.web.security import request_context, services_of

router = APIRouter()

PAGE_SIZE = 50
# A long details object (a purge's list of recordings) is cut here; the object filter or
# the API shows the whole entry.
DETAILS_SHOWN = 300
_MAX_SEQ = 2**62


def _sequence(params: Mapping[str, Any], name: str) -> int | None:
    text = form_text(params, name, 20, required=False)
    if not text:
        return None
    if not text.isdigit() or int(text) > _MAX_SEQ:
        raise BadInput(f"{name} must be an entry number", name)
    return int(text)


@dataclass(frozen=True, slots=True)
class AuditQuery:
    """What the filter form asked for, checked."""

    actor: str | None
    action: str | None
    object_id: str | None
    from_day: date | None
    to_day: date | None
    before: int | None
    after: int | None

    def show_filters(self) -> dict[str, Any]:
        """Keyword arguments for ``AuditLog.show``: the days as UK-time instants, the last
        day included whole."""
        return {
            "actor": self.actor,
            "action": self.action,
            "object_id": self.object_id,
            "since": day_start(self.from_day) if self.from_day else None,
            "until": day_start(self.to_day + timedelta(days=1)) if self.to_day else None,
        }

    def audited(self) -> dict[str, Any]:
        """The query as the ``audit.read`` entry records it (the API's keys, and the rest)."""
        return {
            "after": self.after or 0,
            "before": self.before,
            "limit": PAGE_SIZE,
            "object": self.object_id,
            "actor": self.actor,
            "action": self.action,
            "from": self.from_day.isoformat() if self.from_day else None,
            "to": self.to_day.isoformat() if self.to_day else None,
        }

    def link(self, **paging: int) -> str:
        """``/audit`` with these filters and ``paging`` (before= or after=)."""
        kept = {
            "actor": self.actor,
            "action": self.action,
            "object": self.object_id,
            "from": self.from_day.isoformat() if self.from_day else None,
            "to": self.to_day.isoformat() if self.to_day else None,
        }
        query = {key: value for key, value in kept.items() if value} | paging
        return "/audit" + (f"?{urlencode(query)}" if query else "")


# Form field -> (query parameter, longest accepted).
_TEXT_FIELDS = {"actor": 64, "action": 64, "object": 64}


def read_query(params: Mapping[str, Any]) -> tuple[AuditQuery | None, dict[str, str]]:
    """The checked query, or the problems found, by field name."""
    errors: dict[str, str] = {}
    texts: dict[str, str | None] = {}
    for name, limit in _TEXT_FIELDS.items():
        try:
            texts[name] = form_text(params, name, limit, required=False) or None
        except BadInput as error:
            errors[name] = error.message
    days: dict[str, date | None] = {}
    for name in ("from", "to"):
        try:
            days[name] = parse_day(params, name)
        except BadInput as error:
            errors[name] = error.message
    paging: dict[str, int | None] = {}
    for name in ("before", "after"):
        try:
            paging[name] = _sequence(params, name)
        except BadInput as error:
            errors[name] = error.message
    first, last = days.get("from"), days.get("to")
    if first and last and first > last:
        errors["from"] = "from must not be after to"
    if errors:
        return None, errors
    query = AuditQuery(
        actor=texts["actor"],
        action=texts["action"],
        object_id=texts["object"],
        from_day=first,
        to_day=last,
        before=paging["before"],
        after=paging["after"],
    )
    return query, {}


def compact_details(entry: dict[str, Any]) -> str:
    """An entry's purpose, case and details on one line: ``key: value; ...`` (keys with no
    value left out)."""
    parts = [f"{key}: {entry[key]}" for key in ("purpose", "case_ref") if entry.get(key)]
    details = entry.get("details") or {}
    for key, value in details.items():
        if value is None:
            continue
        shown = value if isinstance(value, str) else orjson.dumps(value).decode()
        parts.append(f"{key}: {shown}")
    text = "; ".join(parts)
    return text if len(text) <= DETAILS_SHOWN else text[: DETAILS_SHOWN - 1] + "…"


def entry_row(entry: dict[str, Any]) -> dict[str, Any]:
    """One table row: what a reviewer reads, in the order they read it."""
    actor = entry["actor"]
    if entry.get("operator"):
        actor = f"{actor} (by {entry['operator']})"
    object_text = entry.get("object_id") or ""
    if entry.get("object_type") and object_text:
        object_text = f"{entry['object_type']} {object_text}"
    return {
        "seq": entry["seq"],
        "at": entry["at"],
        "when": stamp_text(entry["at"]),
        "actor": actor,
        "action": entry["action"],
        "object": object_text or entry.get("object_type") or "",
        "details": compact_details(entry),
    }


@router.get("/audit", **page("audit:read"))
def audit_page(request: Request) -> HTMLResponse:
    params = request.query_params
    # What was typed goes back into the form as it came (cut short), right or wrong.
    form = {name: params.get(name, "")[:200] for name in (*_TEXT_FIELDS, "from", "to")}
    query, errors = read_query(params)
    services = services_of(request)
    may_verify = services.permissions.allowed(request.state.actor, "audit:verify")
    if query is None:
        # Nothing was read, so there is no reading to audit.
        return render(
            request,
            "audit.html",
            status_code=422,
            view="list",
            form=form,
            errors=errors,
            rows=[],
            older=None,
            newer=None,
            newest=None,
            may_verify=may_verify,
            filtered=False,
        )
    with transaction(services.engine) as conn:
        services.audit.append(
            conn,
            request_context(request),
            "audit.read",
            object_type="audit",
            details=query.audited(),
        )
    rows, older, newer = _page_of_entries(services.audit, query)
    filtered = any(value for value in query.show_filters().values())
    paged = query.before is not None or query.after is not None
    return render(
        request,
        "audit.html",
        view="list",
        form=form,
        errors={},
        rows=[entry_row(entry) for entry in rows],
        older=older,
        newer=newer,
        newest=query.link() if paged else None,
        may_verify=may_verify,
        filtered=filtered,
    )


def _page_of_entries(
    audit: AuditLog, query: AuditQuery
) -> tuple[list[dict[str, Any]], str | None, str | None]:
    """One page, newest first, and the links to the older and newer pages (None at an end).

    ``after`` pages forward (the Newer link): those entries are read oldest first and shown
    reversed. One more entry than the page is read to know whether another page lies that
    way; one entry past the page's other end says whether one lies the other way."""
    filters = query.show_filters()
    if query.after is not None:
        found = audit.show(after=query.after, limit=PAGE_SIZE + 1, **filters)
        more_newer = len(found) > PAGE_SIZE
        rows = list(reversed(found[:PAGE_SIZE]))
        oldest = rows[-1]["seq"] if rows else query.after + 1
        more_older = bool(audit.show(before=oldest, limit=1, newest_first=True, **filters))
    else:
        found = audit.show(before=query.before, limit=PAGE_SIZE + 1, newest_first=True, **filters)
        more_older = len(found) > PAGE_SIZE
        rows = found[:PAGE_SIZE]
        if query.before is None:
            more_newer = False
        else:
            newest = rows[0]["seq"] if rows else query.before - 1
            more_newer = bool(audit.show(after=newest, limit=1, **filters))
    older = query.link(before=rows[-1]["seq"]) if more_older and rows else None
    newer = query.link(after=rows[0]["seq"]) if more_newer and rows else None
    return rows, older, newer


@router.get("/audit/verify", **page("audit:verify"))
def verify_page(request: Request) -> HTMLResponse:
    # A sync handler: FastAPI runs it in the thread pool, so reading the whole chain never
    # blocks the event loop (as the API's verify route).
    services = services_of(request)
    result = services.audit.verify()
    may_read = services.permissions.allowed(request.state.actor, "audit:read")
    return render(request, "audit.html", view="verify", result=result, may_read=may_read)
