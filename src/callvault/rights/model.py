"""A rights request as the register holds it, with its clock worked out."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

import orjson
from sqlalchemy import Connection, Row, select

from callvault.rights.bank_holidays import HolidayCalendar
from callvault.rights.clock import ClockState, Extension, Pause, statutory_clock
from callvault.rights.store import rights_items, rights_pauses, rights_requests, rights_searches


@dataclass(frozen=True, slots=True)
class Item:
    recording_id: str
    search_id: str
    outcome: str
    reason_code: str | None
    note: str | None
    decided_by: str | None
    decided_at: str | None
    certificate_seq: int | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "recording_id": self.recording_id,
            "search_id": self.search_id,
            "outcome": self.outcome,
            "reason_code": self.reason_code,
            "note": self.note,
            "decided_by": self.decided_by,
            "decided_at": self.decided_at,
            "certificate_seq": self.certificate_seq,
        }


@dataclass(frozen=True, slots=True)
class RightsRequest:
    id: str
    ref: str
    kind: str
    requester: str
    contact: str
    identity: str
    received_on: date
    identifiers: tuple[dict[str, Any], ...]
    state: str
    opened_by: str
    opened_at: str
    closed_by: str | None
    closed_at: str | None
    outcome: str | None
    extension: Extension | None
    pauses: tuple[Pause, ...]
    clock: ClockState
    searches: tuple[dict[str, Any], ...] = ()
    items: tuple[Item, ...] = field(default=())

    @property
    def phones(self) -> list[str]:
        return [i["value"] for i in self.identifiers if i["kind"] == "phone"]

    @property
    def hold_ids(self) -> list[str]:
        return [s["hold_id"] for s in self.searches if s["hold_id"]]

    def as_dict(self, today: date) -> dict[str, Any]:
        clock = self.clock
        return {
            "request_id": self.id,
            "ref": self.ref,
            "kind": self.kind,
            "requester": self.requester,
            "contact": self.contact,
            "identity": self.identity,
            "received_on": self.received_on.isoformat(),
            "phones": self.phones,
            "state": self.state,
            "deadline": clock.deadline.isoformat() if clock.deadline else None,
            "clock_stopped": clock.stopped,
            "paused_days": clock.paused_days,
            "days_left": clock.days_left(today) if self.state == "open" else None,
            "overdue": self.state == "open" and clock.is_overdue(today),
            "extension": None
            if self.extension is None
            else {
                "months": self.extension.months,
                "reason": self.extension.reason,
                "told_on": self.extension.told_on.isoformat(),
            },
            "pauses": [
                {
                    "reason": p.reason,
                    "start": p.start.isoformat(),
                    "end": p.end.isoformat() if p.end else None,
                }
                for p in self.pauses
            ],
            "opened_by": self.opened_by,
            "opened_at": self.opened_at,
            "closed_by": self.closed_by,
            "closed_at": self.closed_at,
            "outcome": self.outcome,
            "searches": list(self.searches),
            "items": [item.as_dict() for item in self.items],
        }


def load_request(
    conn: Connection, row: Row[Any], calendar: HolidayCalendar, *, full: bool = True
) -> RightsRequest:
    """``row`` of rights_requests with its pauses (and, when ``full``, searches and items)."""
    pauses = tuple(
        Pause(
            start=date.fromisoformat(p.started_on),
            end=date.fromisoformat(p.ended_on) if p.ended_on else None,
            reason=p.reason,
        )
        for p in conn.execute(
            select(rights_pauses)
            .where(rights_pauses.c.request_id == row.id)
            .order_by(rights_pauses.c.id)
        )
    )
    extension = None
    if row.extension_months:
        extension = Extension(
            months=row.extension_months,
            reason=row.extension_reason or "",
            told_on=date.fromisoformat(row.extension_told_on),
        )
    received = date.fromisoformat(row.received_on)
    searches: tuple[dict[str, Any], ...] = ()
    items: tuple[Item, ...] = ()
    if full:
        searches = tuple(
            {
                "search_id": s.id,
                "searched_by": s.searched_by,
                "searched_at": s.searched_at,
                "terms": orjson.loads(s.terms),
                "matched": s.matched,
                "hold_id": s.hold_id,
            }
            for s in conn.execute(
                select(rights_searches)
                .where(rights_searches.c.request_id == row.id)
                .order_by(rights_searches.c.searched_at)
            )
        )
        items = tuple(
            Item(
                i.recording_id,
                i.search_id,
                i.outcome,
                i.reason_code,
                i.note,
                i.decided_by,
                i.decided_at,
                i.certificate_seq,
            )
            for i in conn.execute(
                select(rights_items)
                .where(rights_items.c.request_id == row.id)
                .order_by(rights_items.c.recording_id)
            )
        )
    return RightsRequest(
        id=row.id,
        ref=row.ref,
        kind=row.kind,
        requester=row.requester,
        contact=row.contact,
        identity=row.identity,
        received_on=received,
        identifiers=tuple(orjson.loads(row.identifiers)),
        state=row.state,
        opened_by=row.opened_by,
        opened_at=row.opened_at,
        closed_by=row.closed_by,
        closed_at=row.closed_at,
        outcome=row.outcome,
        extension=extension,
        pauses=pauses,
        clock=statutory_clock(received, pauses=pauses, extension=extension, calendar=calendar),
        searches=searches,
        items=items,
    )


def request_row(conn: Connection, ref_or_id: str) -> Row[Any] | None:
    c = rights_requests.c
    return conn.execute(
        select(rights_requests).where((c.ref == ref_or_id) | (c.id == ref_or_id))
    ).first()
