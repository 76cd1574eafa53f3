"""Reviewing each recording of a subject access request before anything is sent.

A person decides, per recording: ``released`` with a set of mutes (other people's voices and
details, DPA 2018 Sch. 2 para 16), or ``withheld`` with a reason code (an exemption, or a call
that is not the requester's). The speech job's redaction log proposes the mutes: each one the
reviewer does not drop is kept, widened as the speech job widens its own (word times from
the recogniser are a little off), so forgetting to decide mutes rather than discloses. The
reviewer drops proposals that are the requester's own details (theirs to have) and adds
spans the recogniser could not find, such as a third party's voice in the background.

A review replaces the recording's previous decision in one transaction with its audit entry
(``rights.reviewed``: counts and the reason code, never the reasons' words or the note). A
review after a response package was written says so in the entry, and the package shows as
stale until it is made again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, delete, insert, select, update

from callvault.access.actions import Permissions
from callvault.audit.service import AuditLog
from callvault.catalog.service import Catalog
from callvault.context import RequestContext
from callvault.db import transaction
from callvault.errors import BadInput, Conflict
from callvault.rights.bank_holidays import HolidayCalendar
from callvault.rights.items import (
    MANAGE,
    READ,
    REVIEWED,
    NumberedItem,
    access_request,
    case_context,
    find_item,
    now_iso,
    numbered_items,
    packages,
    require,
)
from callvault.rights.review_terms import (
    MuteSpan,
    parse_drop,
    parse_mutes,
    parse_outcome,
    parse_reason_code,
    review_note,
)
from callvault.rights.store import rights_items, rights_mutes
from callvault.speech.renditions import PAD_S
from callvault.speech.store import redactions

if TYPE_CHECKING:
    from callvault.bootstrap import Services

# How the redaction log names what the speech job found.
KIND_WORDS = {
    "NAME": "a name", "ADDRESS": "an address", "POSTCODE": "a postcode",
    "PHONE": "a phone number", "EMAIL": "an email address",
    "NI_NUMBER": "a National Insurance number", "DATE_OF_BIRTH": "a date of birth",
    "CARD": "a card number", "SECURITY_CODE": "a card security code",
    "SORT_CODE": "a sort code", "ACCOUNT_NUMBER": "an account number",
    "DIGITS": "a long number", "DTMF": "keypad tones",
}  # fmt: skip
# The redactions rows a reviewer decides on: those muted in the redacted rendition. Rows of
# rendition "original" are payment card data already muted in the stored audio itself.
_PROPOSED, _AT_CAPTURE = "redacted", "original"


@dataclass(frozen=True, slots=True)
class Proposal:
    """One row of the speech job's redaction log for the recording."""

    id: int
    kind: str
    speaker: str
    start_s: float
    end_s: float
    detector: str

    def describe(self) -> str:
        return f"{KIND_WORDS.get(self.kind, self.kind.lower())} said by the {self.speaker}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "speaker": self.speaker,
            "start": round(self.start_s, 3),
            "end": round(self.end_s, 3),
            "detector": self.detector,
        }


@dataclass(frozen=True, slots=True)
class Mute(MuteSpan):
    """A span muted in the released audio, as stored: who decided it and why."""

    added_by: str

    def as_dict(self) -> dict[str, Any]:
        return MuteSpan.as_dict(self) | {"added_by": self.added_by}


@dataclass(frozen=True, slots=True)
class ItemReview:
    """A recording of the request with what the reviewer sees and what they decided."""

    ref: str
    item: NumberedItem
    count: int  # recordings in the request
    proposals: tuple[Proposal, ...]
    at_capture: tuple[Proposal, ...]  # card data muted in the stored audio when it was kept
    mutes: tuple[Mute, ...]
    package_stale: bool

    def kept(self, proposal: Proposal) -> bool | None:
        """Whether the reviewer kept the proposed mute (None: not released, or not yet)."""
        if self.item.outcome != "released":
            return None
        span = _confirmed(proposal, self.item.duration_s)
        return any(
            (m.channel, m.start_s, m.end_s, m.reason)
            == (None, span.start_s, span.end_s, span.reason)
            for m in self.mutes
        )

    def as_dict(self) -> dict[str, Any]:
        item = self.item
        return {
            "ref": self.ref,
            "number": item.number,
            "of": self.count,
            "recording_id": item.recording_id,
            "started_at": item.started_at,
            "line": item.line,
            "duration_s": item.duration_s,
            "channels": item.channels,
            "outcome": item.outcome,
            "reason_code": item.reason_code,
            "note": item.note,
            "decided_by": item.decided_by,
            "decided_at": item.decided_at,
            "proposals": [p.as_dict() | {"kept": self.kept(p)} for p in self.proposals],
            "muted_at_capture": [p.as_dict() for p in self.at_capture],
            "mutes": [m.as_dict() for m in self.mutes],
            "package_stale": self.package_stale,
        }


class ReviewService:
    def __init__(
        self,
        engine: Engine,
        audit: AuditLog,
        permissions: Permissions,
        catalog: Catalog,
        calendar: HolidayCalendar | None = None,
    ) -> None:
        self._engine, self._audit, self._permissions = engine, audit, permissions
        self._catalog = catalog
        self._calendar = calendar or HolidayCalendar()

    @classmethod
    def for_services(cls, services: Services) -> ReviewService:
        return cls(services.engine, services.audit, services.permissions, services.catalog)

    def item(self, ctx: RequestContext, ref: str, recording_id: str) -> ItemReview:
        """One recording of the request: the proposed mutes and the decision so far."""
        require(self._engine, self._audit, self._permissions, ctx, READ, ref)
        request = access_request(self._engine, self._calendar, ref, open_only=False)
        view = self._view(request.ref, request.id, recording_id)
        with transaction(self._engine) as conn:
            self._audit.append(
                conn, case_context(ctx, request.ref), "rights.item_viewed",
                object_type="rights_request", object_id=request.id,
                details={"ref": request.ref, "recording_id": recording_id},
            )  # fmt: skip
        return view

    def review(
        self,
        ctx: RequestContext,
        ref: str,
        recording_id: str,
        *,
        outcome: str | None,
        drop: Sequence[Any] = (),
        mutes: Sequence[Mapping[str, Any]] = (),
        reason_code: str | None = None,
        note: str | None = None,
    ) -> ItemReview:
        """Decide one recording: ``released`` with every proposed mute except those in
        ``drop`` and the spans in ``mutes`` ({channel, start, end, reason}), or ``withheld``
        with ``reason_code`` and a ``note``. Replaces the previous decision; bad input of any
        field changes nothing."""
        require(self._engine, self._audit, self._permissions, ctx, MANAGE, ref)
        request = access_request(self._engine, self._calendar, ref)
        before = self._view(request.ref, request.id, recording_id)
        item = before.item
        outcome = parse_outcome(outcome)
        text = review_note(note, outcome)
        if outcome == "released":
            if reason_code:
                raise BadInput("reason_code is for withheld recordings only", "reason_code")
            if item.purged:
                raise Conflict(f"recording {item.recording_id} was deleted; withhold it", "outcome")
            dropped = parse_drop(drop, {p.id for p in before.proposals})
            added = parse_mutes(mutes, duration_s=item.duration_s, channels=item.channels)
            kept = [p for p in before.proposals if p.id not in dropped]
            code = None
        else:
            code = parse_reason_code(reason_code)
            if drop or mutes:
                raise BadInput("a withheld recording is not sent: give no mutes or drops", "mutes")
            dropped, added, kept = [], [], []
        rows = [
            _mute_row(request.id, item, _confirmed(p, item.duration_s), ctx.actor.name)
            for p in kept
        ] + [_mute_row(request.id, item, span, ctx.actor.name) for span in added]
        stale = packages(self._audit, request.id)
        with transaction(self._engine) as conn:
            where = (rights_mutes.c.request_id == request.id) & (
                rights_mutes.c.recording_id == item.recording_id
            )
            conn.execute(delete(rights_mutes).where(where))
            if rows:
                conn.execute(insert(rights_mutes), rows)
            conn.execute(
                update(rights_items)
                .where(rights_items.c.request_id == request.id,
                       rights_items.c.recording_id == item.recording_id)
                .values(outcome=outcome, reason_code=code, note=text or None,
                        decided_by=ctx.actor.name, decided_at=now_iso())
            )  # fmt: skip
            self._audit.append(
                conn, case_context(ctx, request.ref), REVIEWED, object_type="rights_request",
                object_id=request.id,
                details={"ref": request.ref, "recording_id": item.recording_id,
                         "number": item.number, "outcome": outcome, "reason_code": code,
                         "confirmed": len(kept), "dropped": len(dropped), "dropped_ids": dropped,
                         "added": len(added), "muted": len(rows), "note": bool(text),
                         "replaces": None if item.outcome == "pending" else item.outcome,
                         "after_package": stale[-1]["sha256"] if stale else None},
            )  # fmt: skip
        return self._view(request.ref, request.id, item.recording_id)

    def _view(self, ref: str, request_id: str, recording_id: str) -> ItemReview:
        with self._engine.connect() as conn:
            items = numbered_items(conn, request_id)
            item = find_item(items, recording_id, ref)
            logged = conn.execute(
                select(redactions)
                .where(redactions.c.recording_id == item.recording_id)
                .order_by(redactions.c.start_s, redactions.c.id)
            ).all()
            muted = conn.execute(
                select(rights_mutes)
                .where(rights_mutes.c.request_id == request_id,
                       rights_mutes.c.recording_id == item.recording_id)
                .order_by(rights_mutes.c.start_s, rights_mutes.c.id)
            ).all()  # fmt: skip
        proposals = [
            (row.rendition, Proposal(row.id, row.kind, row.speaker, float(row.start_s),
                                     float(row.end_s), row.detector))
            for row in logged
        ]  # fmt: skip
        found = packages(self._audit, request_id)
        return ItemReview(
            ref=ref,
            item=item,
            count=len(items),
            proposals=tuple(p for rendition, p in proposals if rendition == _PROPOSED),
            at_capture=tuple(p for rendition, p in proposals if rendition == _AT_CAPTURE),
            mutes=tuple(
                Mute(m.channel, float(m.start_s), float(m.end_s), m.reason, m.added_by)
                for m in muted
            ),
            package_stale=bool(found) and found[-1]["stale"],
        )


def _confirmed(proposal: Proposal, duration_s: float) -> MuteSpan:
    """A proposal kept by the reviewer: on both channels (what one party says is heard on the
    other's channel too) and widened like the speech job's own mutes, within the call."""
    return MuteSpan(
        None,
        round(max(0.0, proposal.start_s - PAD_S), 3),
        round(min(duration_s, proposal.end_s + PAD_S), 3),
        f"{proposal.describe()} (found automatically, confirmed on review)",
    )


def _mute_row(request_id: str, item: NumberedItem, span: MuteSpan, by: str) -> dict[str, Any]:
    return {
        "request_id": request_id,
        "recording_id": item.recording_id,
        "channel": span.channel,
        "start_s": span.start_s,
        "end_s": span.end_s,
        "reason": span.reason,
        "added_by": by,
    }


def at_capture_reason(proposal: Proposal) -> str:
    """The redaction log's reason for card data muted in the stored audio when it was kept."""
    return (
        f"{proposal.describe()}: payment card data, muted when the call was stored (we never "
        "keep it, PCI DSS)"
    )
