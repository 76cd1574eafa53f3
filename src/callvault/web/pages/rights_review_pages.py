"""The review step and the response package of a subject access request, in the web UI.

``/rights/{ref}/recordings/{recording_id}/review`` shows one recording of the request as the
reviewer decides it (``rights.review``): the mutes the speech job proposes, each kept unless
the DPO unticks it (the requester's own details are theirs to have), the card data muted when
the call was stored (silent in every copy; nothing to decide), the spans muted now, spans to
add (a third party's voice the recogniser could not find) and the outcome: released, or
withheld with a reason code. Listening stays on the listening page, under a subject access
grant for the request; this page links to the recording's page, where such a grant is asked for.

Reading the item is audited by the service (``rights.item_viewed``). A review with a mistake
comes back on its page, naming the field, with what was entered, and changes nothing; unlike
the request's other forms it cannot come back alone (its checkboxes are the proposals), so the
item is read, and audited, again.

``/rights/{ref}/package`` makes the response package (``rights.package``) and sends it as a
download; the file is made in a folder of its own, removed before the first byte goes out (the
open file outlives its name), so nothing stays on the server whatever the browser does.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response, StreamingResponse
from starlette.datastructures import FormData

from callvault.errors import BadInput, CallvaultError, Conflict
from callvault.rights.package import Packager
from callvault.rights.review import ItemReview, Proposal, ReviewService
from callvault.rights.review_terms import CHANNEL_NAMES, REASON_CODES
from callvault.web.pages.names import short_id
from callvault.web.pages.render import NO_STORE, form_text, page, redirect, render
from callvault.web.pages.rights_pages import (
    MANAGE,
    OUTCOME_NAMES,
    READ,
    RECORDING_PATH,
    REF_PATH,
    Problem,
    count_words,
    request_path,
    rights_of,
)
from callvault.web.security import request_context, services_of

router = APIRouter()

EMPTY_ROWS = 3  # spans to add: a few empty rows under those already added
MAX_ROWS = 100  # rows read from a post (the service allows 500 spans; a page shows fewer)
# review.py's words for a kept proposal's mute: the spans not ending so are the reviewer's own,
# shown again in the rows so that saving a review again keeps them.
CONFIRMED = "(found automatically, confirmed on review)"
FIELDS = {"outcome": 16, "reason_code": 64, "note": 4000}
SPAN_FIELDS = {"channel": 16, "start": 32, "end": 32, "reason": 400}
OUTCOMES = [
    ("released", "Released: sent, with other people's voices and details muted"),
    ("withheld", "Withheld: not sent, for the reason below"),
]
CHANNELS = [("caller", "Caller (left)"), ("agent", "Staff (right)"), ("both", "Both")]
KEPT_NAMES = {True: "Muted", False: "Not muted (the requester's own)"}
MAX_PROPOSALS = 5000  # proposal ids read from a post
_BLOCK = 1 << 16
_SPAN_FIELD = re.compile(r"mutes\[(\d+)\](?:\.(\w+))?")


# -- words ------------------------------------------------------------------------------------
def clock_text(seconds: float) -> str:
    """A time in the call as people read it: ``m:ss.s``."""
    tenths = round(seconds * 10)
    return f"{tenths // 600}:{tenths % 600 / 10:04.1f}"


def time_value(seconds: float) -> str:
    """A time to put back in a field, to the millisecond: ``0:20.5``, ``1:02``."""
    millis = round(seconds * 1000)
    secs = f"{millis % 60_000 / 1000:06.3f}".rstrip("0").rstrip(".")
    return f"{millis // 60_000}:{secs}"


@dataclass(frozen=True, slots=True)
class ProposalRow:
    id: int
    what: str
    speaker: str
    start: str
    end: str
    detector: str
    decided: str


@dataclass(frozen=True, slots=True)
class MuteRow:
    channel: str
    start: str
    end: str
    reason: str
    added_by: str


def _proposal_row(view: ItemReview, proposal: Proposal, decided: str = "") -> ProposalRow:
    what = proposal.describe().split(" said by ")[0]
    kept = view.kept(proposal)
    if not decided:
        outcome = view.item.outcome
        decided = (
            KEPT_NAMES[kept]
            if kept is not None
            else ("Not sent: the recording is withheld" if outcome == "withheld" else "Not decided")
        )
    return ProposalRow(
        id=proposal.id,
        what=what[:1].upper() + what[1:],
        speaker=proposal.speaker,
        start=clock_text(proposal.start_s),
        end=clock_text(proposal.end_s),
        detector=proposal.detector,
        decided=decided,
    )


def _entered_now(view: ItemReview) -> dict[str, Any]:
    """The form as the decision so far fills it: proposals kept unless dropped, the spans
    the reviewer added, and a few empty rows."""
    item = view.item
    added = [m for m in view.mutes if not m.reason.endswith(CONFIRMED)]
    spans = [
        {"channel": CHANNEL_NAMES[m.channel], "start": time_value(m.start_s),
         "end": time_value(m.end_s), "reason": m.reason}
        for m in added
    ] + [{"channel": "both", "start": "", "end": "", "reason": ""}] * EMPTY_ROWS  # fmt: skip
    return {
        "outcome": item.outcome if item.outcome != "pending" else "",
        "reason_code": item.reason_code or "",
        "note": item.note or "",
        "keep": {p.id for p in view.proposals if view.kept(p) is not False},
        "spans": spans,
    }


def _review_page(
    request: Request,
    view: ItemReview,
    entered: dict[str, Any] | None = None,
    problem: Problem | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    services = services_of(request)
    ctx = request_context(request)
    item = view.item
    found = rights_of(request).get(ctx, view.ref, audited=False)  # read above, audited there
    base = request_path(found.ref, found.id)
    law = REASON_CODES.get(item.reason_code or "", ("", ""))[0]
    return render(
        request,
        "rights_review.html",
        status_code=status_code,
        view=view,
        item=item,
        short=short_id(item.recording_id),
        base=base,
        action=f"{base}/recordings/{item.recording_id}/review",
        outcome=OUTCOME_NAMES.get(item.outcome, item.outcome),
        reason=f"{item.reason_code}: {law}" if item.reason_code else "",
        length=clock_text(item.duration_s),
        proposals=[_proposal_row(view, p) for p in view.proposals],
        at_capture=[_proposal_row(view, p, "Silent in every copy") for p in view.at_capture],
        mutes=[
            MuteRow(
                CHANNEL_NAMES[m.channel],
                clock_text(m.start_s),
                clock_text(m.end_s),
                m.reason,
                m.added_by,
            )
            for m in view.mutes
        ],
        may_review=services.permissions.allowed(ctx.actor, MANAGE) and found.state == "open",
        may_open_recordings=services.permissions.allowed(ctx.actor, "recordings:search"),
        entered=entered or _entered_now(view),
        problem=problem,
        choices={
            "outcomes": OUTCOMES,
            "reason_codes": [
                (code, f"{code.replace('_', ' ')} ({law})")
                for code, (law, _) in REASON_CODES.items()
            ],
            "channels": CHANNELS if item.channels > 1 else CHANNELS[-1:],
        },
    )


def _item(request: Request, ref: str, recording_id: str) -> ItemReview:
    return ReviewService.for_services(services_of(request)).item(
        request_context(request), ref, recording_id
    )


@router.get("/rights/{ref}/recordings/{recording_id}/review", **page(READ))
def review_page(
    request: Request, ref: str = REF_PATH, recording_id: str = RECORDING_PATH
) -> HTMLResponse:
    """One recording of a subject access request: the proposed mutes and the decision so
    far; the DPO's form to decide it. Audited."""
    return _review_page(request, _item(request, ref, recording_id))


# -- the review form --------------------------------------------------------------------------
def _entered(form: FormData) -> tuple[dict[str, Any], list[int]]:
    """What was posted, bounded (BadInput naming a field longer than its bound), and the
    form row of each span that is not empty."""
    entered: dict[str, Any] = {
        name: form_text(form, name, limit, required=False) for name, limit in FIELDS.items()
    }
    entered["keep"] = {int(v) for v in form.getlist("keep") if isinstance(v, str) and v.isdigit()}
    entered["shown"] = [v for v in form.getlist("shown") if isinstance(v, str)][:MAX_PROPOSALS]
    spans, rows = [], []
    for row in range(MAX_ROWS):
        if f"mute_{row}_start" not in form and f"mute_{row}_channel" not in form:
            break
        span = {
            name: form_text(form, f"mute_{row}_{name}", limit, required=False)
            for name, limit in SPAN_FIELDS.items()
        }
        spans.append(span)
        if span["start"] or span["end"] or span["reason"]:
            rows.append(row)
    entered["spans"] = spans
    return entered, rows


def _as_posted(form: FormData) -> dict[str, Any]:
    """What was posted, cut to the bounds, to show again after a field too long."""

    def cut(name: str, limit: int) -> str:
        value = form.get(name)
        return value[:limit] if isinstance(value, str) else ""

    spans = []
    for row in range(MAX_ROWS):
        if f"mute_{row}_start" not in form and f"mute_{row}_channel" not in form:
            break
        spans.append({n: cut(f"mute_{row}_{n}", lim) for n, lim in SPAN_FIELDS.items()})
    keep = {int(v) for v in form.getlist("keep") if isinstance(v, str) and v.isdigit()}
    return {**{n: cut(n, lim) for n, lim in FIELDS.items()}, "keep": keep, "spans": spans}


def _problem(error: CallvaultError, rows: list[int]) -> Problem:
    """The field of the form the service's error names; its words as the form says them."""
    field = error.field or ""
    message = error.message
    found = _SPAN_FIELD.fullmatch(field)
    if found and int(found.group(1)) < len(rows):
        row = rows[int(found.group(1))]
        part = found.group(2) or "end"  # "ends ... not after its start": the end to change
        message = _SPAN_FIELD.sub(
            lambda m: f"span {row + 1}" + (f" {m.group(2)}" if m.group(2) else ""), message
        )
        return Problem(message, f"review-mute_{row}_{part}")
    if field in FIELDS or re.fullmatch(r"mute_\d+_\w+", field):
        return Problem(message, f"review-{field}")
    return Problem(message, None)


def _save(request: Request, ref: str, recording_id: str, entered: Mapping[str, Any],
          rows: list[int]) -> ItemReview:  # fmt: skip
    """The review as posted; the outcome's fields only (a withheld recording is not sent, so
    the mutes on the form do not apply to it)."""
    released = entered["outcome"] == "released"
    drop = [v for v in entered["shown"] if not v.isdigit() or int(v) not in entered["keep"]]
    spans = [entered["spans"][row] for row in rows]
    return ReviewService.for_services(services_of(request)).review(
        request_context(request), ref, recording_id, outcome=entered["outcome"] or None,
        drop=drop if released else (), mutes=spans if released else (),
        reason_code=None if released else entered["reason_code"] or None,
        note=entered["note"] or None,
    )  # fmt: skip


def _reviewed(view: ItemReview) -> str:
    item = view.item
    done = f"Recording {item.number} of {view.ref} is reviewed: "
    if item.outcome == "released":
        done += f"released, with {count_words(len(view.mutes), 'span')} muted."
    else:
        done += f"withheld ({item.reason_code})."
    if view.package_stale:
        done += " The last response package is out of date: make it again."
    return done


@router.post("/rights/{ref}/recordings/{recording_id}/review", **page(MANAGE))
async def review_recording(
    request: Request, ref: str = REF_PATH, recording_id: str = RECORDING_PATH
) -> Response:
    """Decide one recording: released with the kept proposals and the added spans muted, or
    withheld with a reason code and a note. Replaces an earlier decision."""
    form = await request.form()
    rows: list[int] = []
    try:
        entered, rows = _entered(form)
        view = await run_in_threadpool(_save, request, ref, recording_id, entered, rows)
    except (BadInput, Conflict) as error:
        if error.field in {"ref", "recording_id"}:
            raise  # the request or recording is wrong, not the form: the error page says so
        shown = await run_in_threadpool(_item, request, ref, recording_id)
        return await run_in_threadpool(
            _review_page, request, shown, _as_posted(form), _problem(error, rows),
            error.http_status,
        )  # fmt: skip
    return redirect(request, f"/rights/{quote(ref, safe='')}", _reviewed(view))


# -- the response package ---------------------------------------------------------------------
@router.post("/rights/{ref}/package", **page(MANAGE))
async def make_package(request: Request, ref: str = REF_PATH) -> Response:
    """Make the response package and send it as a download; refused while a recording is
    not reviewed or the request is closed."""
    packager = Packager.for_services(services_of(request))
    folder = Path(tempfile.mkdtemp(prefix="callvault-package-"))
    try:
        made = await run_in_threadpool(
            packager.package, request_context(request), ref, folder / "package.zip"
        )
        # The open file outlives its name: nothing is left on disk whatever the client does.
        file = Path(made["path"]).open("rb")  # noqa: SIM115 (closed by _chunks)
    except (BadInput, Conflict) as error:
        return render(
            request,
            "rights_review_problem.html",
            status_code=error.http_status,
            ref=ref,
            base=f"/rights/{quote(ref, safe='')}",
            problem=Problem(error.message, None),
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    name = re.sub(r"[^A-Za-z0-9_-]", "-", made["ref"])[:80]
    headers = {
        **NO_STORE,
        "Content-Disposition": f'attachment; filename="{name}-response.zip"',
        "X-Package-Sha256": made["sha256"],
    }
    return StreamingResponse(_chunks(file), media_type="application/zip", headers=headers)


def _chunks(file: BinaryIO) -> Iterator[bytes]:
    with file:
        while block := file.read(_BLOCK):
            yield block
