"""The DPO's forms on one rights request (``/rights/{ref}/...``): stop and restart the clock,
extend the deadline, search again, close, and decide the recordings of an erasure or objection
request. Split from ``rights_pages`` (the register and the request's page), whose words, form
bounds and problems these share.

Each form posts to the service the API and the CLI call, and goes back to the request with a
message (post/redirect/get); a form with a mistake comes back alone, naming the field, and
changes nothing (the request is not read again: that would be another reading to audit).
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from callvault.context import RequestContext
from callvault.errors import BadInput, CallvaultError
from callvault.rights.erasure import ErasureDecisions
from callvault.web.pages.forms import Entered, act_on_form
from callvault.web.pages.names import short_id
from callvault.web.pages.render import page, render
from callvault.web.pages.rights_pages import (
    FORM_TITLES,
    FORMS,
    MANAGE,
    OUTCOME_NAMES,
    RECORDING_PATH,
    REF_PATH,
    STATE_NAMES,
    WAITING_FOR,
    count_words,
    deadline_text,
    form_choices,
    form_problem,
    phones_of,
    rights_of,
)
from callvault.web.pages.when import day_text
from callvault.web.security import services_of

router = APIRouter()


# -- the DPO's forms on a request --------------------------------------------------------------
Act = Callable[[RequestContext, dict[str, str]], str]


async def _act(
    request: Request, ref: str, form_name: str, act: Act, recording_id: str | None = None
) -> Response:
    """Run ``act`` with the form's fields and go back to the request with the message it
    returns; on bad input (or a conflict with the request's state), the form again alone."""
    base = f"/rights/{quote(ref, safe='')}"
    form_id = f"decide-{recording_id}" if recording_id else form_name

    def to_request(ctx: RequestContext, fields: dict[str, str]) -> tuple[str, str]:
        return base, act(ctx, fields)

    def again(entered: dict[str, Entered], error: CallvaultError) -> HTMLResponse:
        if error.field in {"ref", "recording_id"}:
            raise error  # the request or recording is wrong, not the form: the error page says so
        return render(
            request,
            "rights_form.html",
            status_code=error.http_status,
            form_name=form_name,
            title=FORM_TITLES[form_name],
            ref=ref,
            base=base,
            recording_id=recording_id or "",
            entered=entered,
            problem=form_problem(form_id, form_name, error),
            choices=form_choices(),
        )

    return await act_on_form(request, form_id, FORMS[form_name], to_request, again)


def _months(text: str) -> int | None:
    if not text:
        return None  # the service says months is required
    if not text.isdigit():
        raise BadInput("months must be 1 or 2", "months")
    return int(text)


@router.post("/rights/{ref}/pause", **page(MANAGE))
async def pause_clock(request: Request, ref: str = REF_PATH) -> Response:
    """Stop the clock while the council waits for identity or clarification (Art. 12A)."""

    def act(ctx: RequestContext, fields: dict[str, str]) -> str:
        done = rights_of(request).pause(ctx, ref, reason=fields["reason"] or None,
                                      on=fields["on"] or None, note=fields["note"])  # fmt: skip
        pause = done.pauses[-1]
        return (
            f"The clock of {done.ref} is stopped from {day_text(pause.start)} while waiting "
            f"for {WAITING_FOR.get(pause.reason, pause.reason).lower()}. Restart it when the "
            "answer comes."
        )

    return await _act(request, ref, "pause", act)


@router.post("/rights/{ref}/resume", **page(MANAGE))
async def resume_clock(request: Request, ref: str = REF_PATH) -> Response:
    def act(ctx: RequestContext, fields: dict[str, str]) -> str:
        done = rights_of(request).resume(ctx, ref, on=fields["on"] or None)
        return (
            f"The clock of {done.ref} is running again. "
            f"Answer by {deadline_text(done.clock.deadline)}."
        )

    return await _act(request, ref, "resume", act)


@router.post("/rights/{ref}/extend", **page(MANAGE))
async def extend_deadline(request: Request, ref: str = REF_PATH) -> Response:
    """Extend a complex request by one or two months (Art. 12(3))."""

    def act(ctx: RequestContext, fields: dict[str, str]) -> str:
        done = rights_of(request).extend(ctx, ref, months=_months(fields["months"]),
                                       reason=fields["reason"],
                                       told_on=fields["told_on"] or None)  # fmt: skip
        months = count_words(done.extension.months if done.extension else 0, "month")
        return (
            f"{done.ref} is extended by {months}. Answer by {deadline_text(done.clock.deadline)}."
        )

    return await _act(request, ref, "extend", act)


@router.post("/rights/{ref}/search", **page(MANAGE))
async def search_again(request: Request, ref: str = REF_PATH) -> Response:
    """Search again: new numbers after clarification, or another period."""

    def act(ctx: RequestContext, fields: dict[str, str]) -> str:
        done = rights_of(request).search(ctx, ref, phones=phones_of(fields["phones"]),
                                       started_from=fields["from"] or None,
                                       started_to=fields["to"] or None)  # fmt: skip
        new = done.searches[-1]["matched"] if done.searches else 0
        held = " and held" if done.kind == "access" and new else ""
        return f"Searched again for {done.ref}: {count_words(new, 'more recording')} found{held}."

    return await _act(request, ref, "search", act)


@router.post("/rights/{ref}/close", **page(MANAGE))
async def close_request(request: Request, ref: str = REF_PATH) -> Response:
    """Close the request; the holds it placed are released."""

    def act(ctx: RequestContext, fields: dict[str, str]) -> str:
        done = rights_of(request).close(ctx, ref, outcome=fields["outcome"] or None,
                                      note=fields["note"] or None)  # fmt: skip
        released = " The holds it placed are released." if done.hold_ids else ""
        return f"{done.ref} is closed: {STATE_NAMES.get(done.state, done.state)}.{released}"

    return await _act(request, ref, "close", act)


@router.post("/rights/{ref}/recordings/{recording_id}/decision", **page(MANAGE))
async def decide_recording(
    request: Request, ref: str = REF_PATH, recording_id: str = RECORDING_PATH
) -> Response:
    """Erase one recording of an erasure or objection request now, or keep it under an
    exemption; the reason code says which law the decision rests on."""

    def act(ctx: RequestContext, fields: dict[str, str]) -> str:
        decisions = ErasureDecisions.for_services(services_of(request))
        item = decisions.decide(ctx, ref, recording_id, decision=fields["decision"] or None,
                                reason_code=fields["reason_code"] or None,
                                note=fields["note"] or None)  # fmt: skip
        name = f"Recording {short_id(item.recording_id)}"
        if item.outcome == "erased":
            seq = item.certificate_seq
            return f"{name} is erased; its disposal certificate is audit entry {seq}."
        outcome = OUTCOME_NAMES.get(item.outcome, item.outcome).lower()
        return f"{name} is {outcome} ({item.reason_code})."

    return await _act(request, ref, "decide", act, recording_id)
