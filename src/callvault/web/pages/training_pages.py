"""``/training``: the training clip library, the staff member's decision on clips of their own
calls, the reviewer's checklist, and proposing a clip from a recording's page.

Every step is the training service's (``training/service.py``), which the API calls too: who
may propose, that only the staff member on the call agrees, refuses or withdraws (from their
own sign-in: a page session is exactly that), that the reviewer is someone else and confirms
every motivated-intruder check, and the audit trail. A refusal is its error, shown as the
error page; a form with a mistake comes back with the message beside the field it names.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response

from callvault.context import RequestContext
from callvault.errors import BadInput
from callvault.training.model import CHECKLIST, CONSENT_STANDS, MADE, PROPOSED, PUBLISHED, Clip
from callvault.training.service import LIBRARY_DAYS, PROPOSE, REVIEW, TrainingService
from callvault.web.pages.names import distinct_names, short_id
from callvault.web.pages.render import as_entered, form_text, page, redirect, render
from callvault.web.pages.when import duration_text, when_text
from callvault.web.security import request_context, services_of

router = APIRouter()

# The state names in words, with the tag's tone, in the order a clip passes through them.
STATES = {
    "proposed": ("Waiting for the staff member", "warn"),
    "consented": ("Agreed: being made", "warn"),
    "made": ("Made: waiting for review", "warn"),
    "published": ("In the library", "ok"),
    "refused": ("Refused by the staff member", "bad"),
    "rejected": ("Rejected at review", "bad"),
    "withdrawn": ("Consent withdrawn", "bad"),
    "removed": ("Removed", "bad"),
}
REVIEW_IDS = {"checks": "checks", "note": "note", "decision": "decision"}
_MAX_TEXT = 2000  # training/service.py: what a clip teaches; a reviewer's note
_MAX_TIME = 16
# A moment in the call as people type it: m:ss or h:mm:ss (a fraction allowed), or seconds.
# Not review_terms.parse_seconds: that takes 1:75 and 1:60:00 and refuses 100:00.
_CLOCK = re.compile(r"(?:(\d{1,2}):)?(\d{1,3}):(\d{2}(?:\.\d+)?)|(\d{1,5}(?:\.\d+)?)")
# The proposal form's fields, with the longest value read.
PROPOSE_FIELDS = {"start_s": _MAX_TIME, "end_s": _MAX_TIME, "why": _MAX_TEXT}


@dataclass(frozen=True, slots=True)
class ClipRow:
    """A clip as these pages show it."""

    clip: Clip
    line: str
    span: str
    duration: str
    proposed_at: str
    state: str
    tone: str
    # What its buttons and player add to their visible text, unique on the page.
    name: str


def _training(request: Request) -> TrainingService:
    return TrainingService.for_services(services_of(request))


def _rows(request: Request, clips: list[Clip]) -> list[ClipRow]:
    lines = {line.id: line.name for line in services_of(request).policy.policy.lines}
    names = distinct_names(
        [
            (f"clip: {clip.why[:60]}", f"of {when_text(clip.proposed_at)}", short_id(clip.id))
            for clip in clips
        ]
    )
    return [
        ClipRow(
            clip=clip,
            line=lines.get(clip.line, clip.line),
            span=f"{duration_text(clip.start_s)} to {duration_text(clip.end_s, up=True)}",
            duration=duration_text(clip.duration_s or clip.end_s - clip.start_s, up=True),
            proposed_at=when_text(clip.proposed_at),
            state=STATES.get(clip.state, (clip.state, "warn"))[0],
            tone=STATES.get(clip.state, (clip.state, "warn"))[1],
            name=name,
        )
        for clip, name in zip(clips, names, strict=True)
    ]


def _may(request: Request, ctx: RequestContext, action: str) -> bool:
    return services_of(request).permissions.allowed(ctx.actor, action)


# -- the library and the decisions -----------------------------------------------------------
@router.get("/training", **page("training:read"))
def training_home(request: Request) -> HTMLResponse:
    """Clips of the signed-in person's calls awaiting their decision, their own clips, the
    library; for proposers and reviewers, every clip not in the library, by state."""
    ctx = request_context(request)
    found = _training(request).list(ctx, library=False)
    rows = _rows(request, found)
    me = ctx.actor.name
    overseer = _may(request, ctx, PROPOSE) or _may(request, ctx, REVIEW)
    order = list(STATES)
    in_progress = [row for row in rows if row.clip.state != PUBLISHED]
    in_progress.sort(key=lambda row: order.index(row.clip.state) if row.clip.state in order else 99)
    return render(
        request,
        "training.html",
        awaiting=[row for row in rows if row.clip.agent == me and row.clip.state == PROPOSED],
        own=[row for row in rows if row.clip.agent == me and row.clip.state in CONSENT_STANDS],
        library=[row for row in rows if row.clip.state == PUBLISHED],
        in_progress=in_progress if overseer else None,
        may_review=_may(request, ctx, REVIEW),
        me=me,
        made=MADE,
        library_years=LIBRARY_DAYS // 365,
    )


@router.get("/training/{clip_id}", **page("training:read"))
def clip_page(request: Request, clip_id: str) -> HTMLResponse:
    return _clip_page(request, clip_id)


def _clip_page(
    request: Request,
    clip_id: str,
    error: BadInput | None = None,
    entered: dict[str, Any] | None = None,
) -> HTMLResponse:
    """A clip's page: what it is and where it stands; the staff member's decision or
    withdrawal; for a reviewer of a made clip, the player and the checklist."""
    ctx = request_context(request)
    training = _training(request)
    clip = training.get(ctx, clip_id)
    (row,) = _rows(request, [clip])
    me = ctx.actor.name
    may_review = _may(request, ctx, REVIEW)
    # Those who take part see the call's side of the clip; a trainee sees the library's.
    insider = me == clip.agent or _may(request, ctx, PROPOSE) or may_review
    reviewer = may_review and clip.state == MADE and me not in {clip.proposed_by, clip.agent}
    return render(
        request,
        "training_clip.html",
        status_code=error.http_status if error else 200,
        row=row,
        clip=clip,
        me=me,
        insider=insider,
        may_search=_may(request, ctx, "recordings:search"),
        playable=clip.state == PUBLISHED or (clip.state == MADE and may_review),
        reviewer=reviewer,
        own_review=may_review and clip.state == MADE and not reviewer,
        checklist=list(CHECKLIST.items()),
        answers=[(CHECKLIST.get(k, k), v) for k, v in (clip.checklist or {}).items()],
        threshold=training.threshold,
        library_years=LIBRARY_DAYS // 365,
        entered=entered or {"checks": [], "note": ""},
        error=error,
        error_id=REVIEW_IDS.get(error.field or "") if error else None,
        made=MADE,
        proposed=PROPOSED,
        consent_stands=CONSENT_STANDS,
    )


@router.post("/training/{clip_id}/consent", **page("training:consent"))
async def consent(request: Request, clip_id: str) -> Response:
    """The staff member on the call agrees (the clip is then made) or refuses."""
    form = await request.form()
    answer = form.get("agree")
    if answer not in ("yes", "no"):
        error = BadInput("agree must be yes (agree) or no (refuse)", "agree")
        return await run_in_threadpool(_clip_page, request, clip_id, error)
    training = _training(request)
    ctx = request_context(request)
    await run_in_threadpool(lambda: training.consent(ctx, clip_id, agree=answer == "yes"))
    if answer == "yes":
        message = (
            "You agreed. The clip is being made: the caller's details muted and their voice "
            "altered. A reviewer checks it before it goes into the library. You can withdraw "
            "at any time from this page."
        )
    else:
        message = "You refused. No clip is made from your call."
    return redirect(request, "/training", message)


@router.post("/training/{clip_id}/withdraw", **page("training:consent"))
async def withdraw(request: Request, clip_id: str) -> Response:
    """The staff member withdraws their consent: the clip stops playing now and is deleted."""
    training = _training(request)
    await run_in_threadpool(training.withdraw, request_context(request), clip_id)
    return redirect(
        request,
        "/training",
        "Consent withdrawn. The clip no longer plays and is being deleted.",
    )


@router.post("/training/{clip_id}/review", **page("training:review"))
async def review(request: Request, clip_id: str) -> Response:
    """The reviewer's sign-off: publish (every check confirmed) or reject (with a note)."""
    form = await request.form()
    checks = [value for value in form.getlist("checks") if isinstance(value, str)]
    # The boxes shown ticked again are those the service was given, every one.
    entered = {**as_entered(form, {"note": _MAX_TEXT}), "checks": checks}
    decision = form.get("decision")
    training = _training(request)
    ctx = request_context(request)
    try:
        note = form_text(form, "note", _MAX_TEXT, required=False)
        if decision not in ("publish", "reject"):
            raise BadInput("decision must be publish or reject: use one of the buttons", "decision")
        answers = dict.fromkeys(checks, True)
        await run_in_threadpool(
            lambda: training.review(
                ctx, clip_id, checks=answers, approve=decision == "publish", note=note
            )
        )
    except BadInput as error:
        return await run_in_threadpool(_clip_page, request, clip_id, error, entered)
    if decision == "publish":
        message = "Published: the clip is in the training library."
    else:
        message = "Rejected: the clip is not published, and is being deleted."
    return redirect(request, f"/training/{clip_id}", message)


# -- proposing a clip from a recording's page ------------------------------------------------
@router.post("/recordings/{recording_id}/training", **page("training:propose"))
async def propose(request: Request, recording_id: str) -> Response:
    """Propose a clip of the recording (start, end, why); its staff member then decides."""
    form = await request.form()
    entered = as_entered(form, PROPOSE_FIELDS)
    training = _training(request)
    ctx = request_context(request)
    try:
        start = _seconds(form, "start_s", "start")
        end = _seconds(form, "end_s", "end")
        why = form_text(form, "why", _MAX_TEXT, required=False)
        clip = await run_in_threadpool(
            lambda: training.propose(ctx, recording_id, start_s=start, end_s=end, why=why)
        )
    except BadInput as error:
        if error.field not in PROPOSE_FIELDS:
            raise
        return render(
            request,
            "training_propose.html",
            status_code=error.http_status,
            recording_id=recording_id,
            entered=entered,
            error=error,
        )
    return redirect(
        request,
        f"/training/{clip.id}",
        f"Clip proposed. {clip.agent}, the staff member on the call, decides whether to agree.",
    )


def _seconds(form: Mapping[str, Any], name: str, label: str) -> float:
    """A moment in the call from the form: m:ss, h:mm:ss or seconds; BadInput naming it."""
    text = form_text(form, name, _MAX_TIME, required=False)
    if not text:
        raise BadInput(f"fill in {label}: a time in the call, as m:ss (1:05) or seconds", name)
    found = _CLOCK.fullmatch(text)
    if found is None:
        raise BadInput(f"{label} must be a time in the call, as m:ss (1:05) or seconds (65)", name)
    if found.group(4) is not None:
        return float(found.group(4))
    hours, minutes, seconds = int(found.group(1) or 0), int(found.group(2)), float(found.group(3))
    if seconds >= 60 or (found.group(1) is not None and minutes >= 60):
        raise BadInput(f"{label} must be a time in the call, as m:ss (1:05) or seconds (65)", name)
    return hours * 3600 + minutes * 60 + seconds
