"""Decisions on erasure (Art. 17) and objection (Art. 21) requests, one recording at a time.

Each recording a request found gets a decision with a reason code: erased, or kept under an
exemption the law allows. A granted erasure is carried out at once by crypto-shredding (the
recording's data key destroyed, its blobs deleted, the erasure ledger written first so no
restore brings it back), and the disposal certificate's audit entry is kept on the decision.

The decision is written (state ``erasing``) before the shred and marked ``erased`` after it: a
crash between the two leaves a decision that deciding again finishes, never a shred without a
recorded reason. A recording a legal hold covers cannot be erased: the hold says a case needs
it (and for an open subject access request, DPA 2018 s.173 makes erasing it an offence); the
decision is then "kept" with reason ``active_hold``, and a fresh request after the hold's
release can erase it.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, update

from callvault.audit.service import AuditLog
from callvault.context import RequestContext
from callvault.db import transaction
from callvault.errors import BadInput, Conflict, NotFound
from callvault.retention.holding import held_ids
from callvault.retention.purge import RetentionService
from callvault.rights.items import MANAGE
from callvault.rights.model import Item, RightsRequest
from callvault.rights.service import RightsService
from callvault.rights.store import rights_items
from callvault.rights.terms import parse_note

if TYPE_CHECKING:
    from callvault.bootstrap import Services

# Why a recording is erased: Art. 17(1) grounds (an objection upheld is 17(1)(c)).
ERASE_REASONS = {
    "no_longer_necessary": "Art. 17(1)(a): no longer necessary for the purpose it was kept for",
    "objection_upheld": "Art. 17(1)(c) / 21(1): the objection is upheld; no overriding grounds",
    "unlawful": "Art. 17(1)(d): it was recorded or kept unlawfully (e.g. outside the policy)",
    "legal_obligation": "Art. 17(1)(e): erasure is required by law",
}
# Why it is kept: the exemptions the law allows.
KEEP_REASONS = {
    "public_task": "Art. 17(3)(b): needed for a task in the public interest or official "
    "authority (the council's statutory service)",
    "legal_obligation": "Art. 17(3)(b): the council must keep it by law",
    "legal_claims": "Art. 17(3)(e) / 21(1): needed to establish, exercise or defend legal claims",
    "compelling_grounds": "Art. 21(1): compelling legitimate grounds override the objection",
    "active_hold": "a legal hold covers it (an open case, or a subject access request: "
    "DPA 2018 s.173)",
    "not_requester": "the call is not the requester's: nothing of theirs to erase",
}
DECISIONS = ("erase", "keep")
# Exemptions that weigh the council's need against the requester's: the weighing is written.
_REASONED = frozenset({"public_task", "compelling_grounds"})


class ErasureDecisions:
    def __init__(self, rights: RightsService, retention: RetentionService, audit: AuditLog) -> None:
        self._rights, self._retention, self._audit = rights, retention, audit

    @classmethod
    def for_services(cls, services: Services) -> ErasureDecisions:
        return cls(RightsService.for_services(services), services.retention, services.audit)

    def decide(
        self,
        ctx: RequestContext,
        ref: str,
        recording_id: str,
        *,
        decision: str | None,
        reason_code: str | None,
        note: str | None = None,
    ) -> Item:
        """Decide one recording of an erasure or objection request; erase it at once when the
        decision is to erase. Bad input, or a decision the law does not allow, changes nothing."""
        self._rights.require(ctx, MANAGE, ref)
        request = self._rights.open_request(ref)
        if request.kind == "access":
            raise BadInput(
                f"{request.ref} is a subject access request: review its recordings instead "
                "(`callvault rights review`)",
                "ref",
            )
        item = _item(request, recording_id)
        if item.outcome in {"erased", "kept"}:
            raise Conflict(
                f"recording {recording_id} of {request.ref} is already decided ({item.outcome})",
                "recording_id",
            )
        code = _reason(decision, reason_code)
        text = parse_note(note)
        if not text and code in _REASONED:
            raise BadInput(
                f"note is required with reason code {code}: say why the council's need "
                "outweighs the request (the requester and the ICO may ask)",
                "note",
            )
        ctx = replace(ctx, purpose=f"rights:{request.kind}", case_ref=request.ref)
        with transaction(self._rights.engine) as conn:
            if decision == "erase" and held_ids(conn, [recording_id]):
                raise Conflict(
                    f"a legal hold covers recording {recording_id}; decide keep with reason "
                    "code active_hold (or release the hold first, if its case has ended)",
                    "decision",
                )
            outcome = "erasing" if decision == "erase" else "kept"
            self._mark(conn, request, recording_id, outcome, code, text, ctx.actor.name)
            self._audit.append(
                conn, ctx, "rights.decided", object_type="recording", object_id=recording_id,
                details={"ref": request.ref, "request_id": request.id, "decision": decision,
                         "reason_code": code, "basis": _basis(decision, code)},
            )  # fmt: skip
        if decision == "erase":
            self._shred(ctx, request, recording_id, code)
        return _item(self._rights.get(ctx, request.id, audited=False), recording_id)

    def resume(self, ctx: RequestContext, ref: str) -> list[str]:
        """Finish erasures a crash interrupted (decided, not yet shredded); return their ids."""
        self._rights.require(ctx, MANAGE, ref)
        request = self._rights.get(ctx, ref, audited=False)
        left = [i for i in request.items if i.outcome == "erasing"]
        ctx = replace(ctx, purpose=f"rights:{request.kind}", case_ref=request.ref)
        for item in left:
            self._shred(ctx, request, item.recording_id, item.reason_code or "")
        return [i.recording_id for i in left]

    def _shred(
        self, ctx: RequestContext, request: RightsRequest, recording_id: str, code: str
    ) -> None:
        rule = f"{request.kind} request {request.ref}: {code} ({ERASE_REASONS.get(code, code)})"
        certificates = self._retention.erase(ctx, [recording_id], run_id=request.id, rule=rule)
        if recording_id not in certificates:
            raise Conflict(
                f"recording {recording_id} could not be erased yet (a hold placed meanwhile, or "
                "its blobs are locked in object storage); `callvault rights finish` finishes it",
                "recording_id",
            )
        with transaction(self._rights.engine) as conn:
            conn.execute(
                update(rights_items)
                .where(
                    rights_items.c.request_id == request.id,
                    rights_items.c.recording_id == recording_id,
                )
                .values(outcome="erased", certificate_seq=certificates[recording_id])
            )

    def _mark(
        self,
        conn: Connection,
        request: RightsRequest,
        recording_id: str,
        outcome: str,
        code: str,
        note: str,
        by: str,
    ) -> None:
        conn.execute(
            update(rights_items)
            .where(
                rights_items.c.request_id == request.id,
                rights_items.c.recording_id == recording_id,
            )
            .values(outcome=outcome, reason_code=code, note=note or None, decided_by=by,
                    decided_at=datetime.now(UTC).isoformat(timespec="microseconds"))
        )  # fmt: skip


def _item(request: RightsRequest, recording_id: str) -> Item:
    for item in request.items:
        if item.recording_id == recording_id:
            return item
    raise NotFound(
        f"recording {recording_id[:40]!r} is not among the recordings {request.ref} found; "
        "search again (`callvault rights search`) if it should be",
        "recording_id",
    )


def _reason(decision: str | None, reason_code: str | None) -> str:
    if decision not in DECISIONS:
        raise BadInput(f"decision must be one of {', '.join(DECISIONS)}", "decision")
    allowed = ERASE_REASONS if decision == "erase" else KEEP_REASONS
    if reason_code not in allowed:
        raise BadInput(
            f"reason_code for {decision} must be one of {', '.join(allowed)}", "reason_code"
        )
    return reason_code


def _basis(decision: str | None, code: str) -> str:
    return (ERASE_REASONS if decision == "erase" else KEEP_REASONS)[code]


def describe_reasons() -> dict[str, Any]:
    """Every reason code with the law it rests on (for the CLI's help and the web form)."""
    return {"erase": dict(ERASE_REASONS), "keep": dict(KEEP_REASONS)}
