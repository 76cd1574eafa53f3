"""``/recordings/{id}``: one recording's page, and ``.../request``: asking to hear it.

Who may open the page is who may find the recording by searching: the same action
(``recordings:search``) and the same visibility terms (``searching.visibility``) in the
same WHERE clause, so a recording a search would never show is "not found" here too.
The page shows the caller's number as search does (masked for roles with no need), so
opening it is audited like a search (``recording.viewed``); so are the holds and the audit
trail it shows (``hold.read``, ``audit.read``, as their own pages do). The trail is the
recording's own entries and those of the grants that cover it: who asked to hear it, and
who decided.

Asking for access is the API's request (``GrantService.request``): its refusals are
audited there; a fault re-renders this page with the message beside the field it names.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select

from callvault.access.grants import Grant
from callvault.access.searching import MASKED_CALLER_ROLES, mask_number, visibility
from callvault.bootstrap import Services
from callvault.catalog.model import CallDecision, Recording
from callvault.catalog.store import recordings
from callvault.context import RequestContext
from callvault.db import transaction
from callvault.errors import CallvaultError, NotFound
from callvault.policy.model import Policy, Purpose
from callvault.retention.holding import HoldRef, holds_covering
from callvault.uktime import UK
from callvault.web.pages.render import form_text, page, redirect, render
from callvault.web.pages.when import day_text, duration_text, when_text
from callvault.web.security import request_context, services_of

router = APIRouter()

TRAIL = "recordings:trail"
HOLDS = "holds:read"
# The latest entries of a recording's trail shown on its page (the Audit page has them all).
TRAIL_SHOWN = 200
FORM_FIELDS = ("purpose", "case_ref", "reason")
_ID = re.compile(r"[A-Za-z0-9_-]{1,40}")
_MAX_REASON = 2000
_MAX_CASE_REF = 64

ACTION_LABELS = {
    "recording.ingested": "Stored",
    "recording.viewed": "Details viewed",
    "recording.played": "Listened",
    "recording.streamed": "Audio sent",
    "recording.exported": "Exported",
    "recording.transcribed": "Transcribed",
    "recording.verified": "Checked intact",
    "recording.verify_failed": "Failed its integrity check",
    "recording.purged": "Deleted at the end of retention",
    "transcript.read": "Transcript read",
    "access.refused": "Refused",
    # The grants that cover the recording: who asked to hear it, and who decided.
    "access.requested": "Access requested",
    "access.approved": "Approved",
    "access.denied": "Denied",
    "access.revoked": "Withdrawn",
}
# A purpose without second approval approves its requests itself, under the requester's name.
AUTO_APPROVED = "Approved automatically"
STATUS_LABELS = {
    "pending": ("Waiting for a second approver", "warn"),
    "approved": ("Approved", "ok"),
    "expired": ("Expired", "warn"),
    "denied": ("Denied", "bad"),
    "revoked": ("Withdrawn", "bad"),
}


@router.get("/recordings/{recording_id}", **page("recordings:search"))
def recording_page(request: Request, recording_id: str) -> HTMLResponse:
    return show(request, recording_id)


@router.post("/recordings/{recording_id}/request", **page("recordings:request"))
async def request_access(request: Request, recording_id: str) -> Response:
    form = await request.form()
    entered = {name: str(form.get(name) or "") for name in FORM_FIELDS}
    services = services_of(request)
    try:
        purpose = form_text(form, "purpose", 64)
        case_ref = form_text(form, "case_ref", _MAX_CASE_REF)
        reason = form_text(form, "reason", _MAX_REASON)
        grant = await run_in_threadpool(
            services.grants.request,
            request_context(request),
            [recording_id],
            purpose,
            case_ref,
            reason,
        )
    except CallvaultError as error:
        return await run_in_threadpool(_show_again, request, recording_id, error, entered)
    return redirect(request, f"/recordings/{recording_id}", _requested(services, grant))


def _requested(services: Services, grant: Grant) -> str:
    purpose = services.grants.purpose(grant.purpose).name
    if grant.status == "pending":
        return (
            f"Access requested for {purpose} ({grant.case_ref}): pending — waiting for a "
            "second approver."
        )
    until = when_text(grant.expires_at)
    return f"Access requested for {purpose} ({grant.case_ref}): approved until {until}."


def _show_again(
    request: Request, recording_id: str, error: CallvaultError, entered: dict[str, str]
) -> HTMLResponse:
    """The page with ``error`` beside its field; a recording this person may not see
    gets the error itself (the page would be "not found" and say less)."""
    try:
        return show(request, recording_id, error=error, entered=entered)
    except NotFound:
        raise error from None


def show(
    request: Request,
    recording_id: str,
    *,
    error: CallvaultError | None = None,
    entered: dict[str, str] | None = None,
) -> HTMLResponse:
    """The recording's page for the signed-in person (audited as they read it)."""
    services = services_of(request)
    ctx = request_context(request)
    rec = visible_recording(services, ctx, recording_id)
    may = services.permissions
    with services.engine.connect() as conn:
        covering = holds_covering(conn, [rec.id]).get(rec.id, [])
    shown_holds = covering if may.allowed(ctx.actor, HOLDS) else None
    trail_allowed = may.allowed(ctx.actor, TRAIL)
    grants = services.grants.for_recording(rec.id)
    trail_ids = [rec.id, *(grant.id for grant in grants)] if trail_allowed else []
    _audit_reading(services, ctx, rec.id, shown_holds or [], trail_ids)
    policy = services.policy.policy
    return render(
        request,
        "recording.html",
        status_code=error.http_status if error else 200,
        rec=_details(policy, rec, ctx),
        why=_why(policy, rec, services.catalog.decision_for_call(rec.call_id)),
        retention={"until": day_text(rec.retain_until), "held": bool(covering)},
        holds=shown_holds,
        trail=_trail(services, policy, trail_ids) if trail_allowed else None,
        grants=_own_grants(services, ctx, grants),
        purposes=_purposes(policy, ctx),
        may_propose=may.allowed(ctx.actor, "training:propose"),  # web/pages/training_pages.py
        entered=entered or dict.fromkeys(FORM_FIELDS, ""),
        error=error,
        error_field=error.field if error and error.field in FORM_FIELDS else None,
    )


def visible_recording(services: Services, ctx: RequestContext, recording_id: str) -> Recording:
    """The recording, if a search by this person could find it; NotFound otherwise (the
    same answer as for an id that does not exist, so nothing is given away)."""
    missing = NotFound(f"no recording {recording_id[:40]!r}", "recording_id")
    if not _ID.fullmatch(recording_id):
        raise missing
    found = select(recordings.c.id).where(
        recordings.c.id == recording_id, *visibility(ctx.actor.role)
    )
    with services.engine.connect() as conn:
        if conn.execute(found).first() is None:
            raise missing
    # A purged one is "not found" too, in the catalogue's words (when, and why).
    return services.catalog.get(recording_id)


def _audit_reading(
    services: Services,
    ctx: RequestContext,
    recording_id: str,
    holds: list[HoldRef],
    trail_ids: list[str],
) -> None:
    """One transaction, committed before anything is shown: the page was read, with each
    hold it names (its case as the entry's) and, where shown, the recording's trail (its
    own entries and its grants')."""
    with transaction(services.engine) as conn:
        services.audit.append(
            conn, ctx, "recording.viewed", object_type="recording", object_id=recording_id
        )
        for hold in holds:
            services.audit.append(
                conn,
                replace(ctx, purpose=hold.reason, case_ref=hold.case_ref),
                "hold.read",
                object_type="hold",
                object_id=hold.hold_id,
                details={"recording_id": recording_id},
            )
        if trail_ids:
            services.audit.append(
                conn,
                ctx,
                "audit.read",
                object_type="audit",
                details={
                    "object": recording_id,
                    "grants": trail_ids[1:],
                    "limit": TRAIL_SHOWN,
                    "newest": True,
                },
            )


def _details(policy: Policy, rec: Recording, ctx: RequestContext) -> dict[str, Any]:
    caller = rec.caller
    if ctx.actor.role in MASKED_CALLER_ROLES:
        caller = mask_number(caller)
    channels = sorted(rec.channel_map.items(), key=lambda item: item[1])
    return {
        "id": rec.id,
        "line": _line_name(policy, rec.line),
        "direction": rec.direction.capitalize(),
        "agent": rec.agent,
        "caller": caller,
        "started": when_text(rec.started_at),
        "started_iso": rec.started_at,
        "duration": duration_text(rec.duration_s),
        "channels": rec.channels,
        "channel_map": ", ".join(f"{who} on channel {index + 1}" for who, index in channels),
    }


def _why(policy: Policy, rec: Recording, decision: CallDecision | None) -> dict[str, Any]:
    """The decision kept with the call: which rule of which policy version recorded it."""
    line = _line_name(policy, rec.line)
    if decision is None:
        return {
            "decision": None,
            "announcement": rec.announcement_played,
            "notice_version": rec.notice_version,
            "flags": rec.flags,
        }
    if decision.rule.endswith(":outbound"):
        explained = f"An outbound call from the {line} line, which records its outbound calls."
    elif decision.rule.startswith("line:"):
        explained = f"A call to a number of the {line} line, whose calls are recorded."
    else:
        explained = f"The rule {decision.rule}."
    return {
        "decision": {
            "rule": decision.rule,
            "explained": explained,
            "policy_version": decision.policy_version,
            "current": decision.policy_version == policy.version,
            "decided": when_text(decision.decided_at),
            "dialled": decision.dialled if rec.direction == "inbound" else None,
        },
        "announcement": rec.announcement_played,
        "notice_version": rec.notice_version,
        "flags": rec.flags,
    }


def _trail(services: Services, policy: Policy, object_ids: list[str]) -> dict[str, Any]:
    """The latest entries about the recording and the grants that cover it, latest first,
    and how many there are in all."""
    latest, total = services.audit.latest_about(object_ids, TRAIL_SHOWN)
    purposes = {purpose.id: purpose.name for purpose in policy.purposes}
    return {"entries": [_trail_row(entry, purposes) for entry in latest], "total": total}


def _trail_row(entry: dict[str, Any], purposes: dict[str, str]) -> dict[str, Any]:
    """One entry as the trail shows it: its action and purpose in words."""
    purpose = entry.get("purpose") or ""
    action = ACTION_LABELS.get(entry["action"], entry["action"])
    details = entry.get("details") or {}
    if entry["action"] == "access.approved" and details.get("approver") == "auto":
        action = AUTO_APPROVED
    return {
        "when": when_text(entry["at"]),
        "at": entry["at"],
        "who": entry["actor"],
        "action": action,
        "code": entry["action"],
        "purpose": purposes.get(purpose, purpose),
        "case_ref": entry.get("case_ref"),
    }


def _own_grants(
    services: Services, ctx: RequestContext, covering: list[Grant]
) -> list[dict[str, Any]]:
    """This person's requests among those covering the recording, newest first, each with
    its state."""
    now = services.grants.now()
    mine = [grant for grant in covering if grant.requester == ctx.actor.name]
    shown = []
    for grant in reversed(mine):
        state = grant.status
        if state == "approved" and grant.expired(now):
            state = "expired"
        label, tone = STATUS_LABELS.get(state, (state, "warn"))
        shown.append(
            {
                "id": grant.id,
                "purpose": services.grants.purpose(grant.purpose).name,
                "case_ref": grant.case_ref,
                "requested": when_text(grant.requested_at),
                "status": label,
                "tone": tone,
                "until": when_text(grant.expires_at) if state == "approved" else "",
                "live": state == "approved",
            }
        )
    return shown


def _purposes(policy: Policy, ctx: RequestContext) -> list[dict[str, Any]]:
    """The purposes this person's role may use, with a case reference to copy the shape of."""
    return [
        {
            "id": purpose.id,
            "name": purpose.name,
            "second_approval": purpose.second_approval,
            "example": case_ref_example(purpose),
            "pattern": purpose.case_ref_pattern,
        }
        for purpose in policy.purposes
        if ctx.actor.role in purpose.roles
    ]


_DIGITS = re.compile(r"\\d\{(\d+)(?:,\d*)?\}|\\d\+?")


def case_ref_example(purpose: Purpose) -> str | None:
    """A case reference in the purpose's format (``CMP-2026-001`` for ``^CMP-\\d{4}-\\d{3,6}$``);
    None when the format is more than letters, digits and punctuation to copy."""
    body = purpose.case_ref_pattern.removeprefix("^").removesuffix("$")
    year = str(datetime.now(UK).year)  # four digits in a case reference are a year
    example = _DIGITS.sub(lambda m: _digits(int(m.group(1) or 1), year), body)
    if not re.fullmatch(purpose.case_ref_pattern, example):
        return None
    return example


def _digits(count: int, year: str) -> str:
    return year if count == 4 else "0" * (count - 1) + "1"


def _line_name(policy: Policy, line_id: str) -> str:
    return next((line.name for line in policy.lines if line.id == line_id), line_id)
