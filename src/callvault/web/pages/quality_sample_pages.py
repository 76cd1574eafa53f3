"""``/quality/samples/{case_ref}`` and ``/quality/calibrations/{id}``: one sampled call, its
evaluation of record and the scorecard to make it; a calibration session on it, blind until
every evaluator has scored.

To evaluate, an evaluator must have listened under the quality purpose: an approved grant of
theirs names the sample's case reference. Without one the evaluation service refuses (and
audits the refusal), and the page comes back saying where to ask for access instead of the
bare "Not allowed" page: nothing is wrong with what they did, a step is missing.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, Response

from callvault.analytics.evaluations import CALIBRATE, EVALUATE, READ
from callvault.context import Actor, RequestContext
from callvault.errors import BadInput, CallvaultError, Conflict, NotFound, Refused
from callvault.policy.analytics_model import Scorecard
from callvault.web.pages.forms import Entered, act_on_form, problem_of
from callvault.web.pages.quality_view import (
    MAX_TEXT,
    calibration_path,
    evaluations,
    line_names,
    listening,
    may,
    open_sessions,
    sample_path,
    samplers,
    scorecard,
    scored_items,
)
from callvault.web.pages.render import page, render
from callvault.web.pages.when import when_text
from callvault.web.security import request_context, services_of

router = APIRouter()

CASE_PATH = Path(max_length=32)  # QA-<year>-<n>; the services say what a reference looks like
CALIBRATION_PATH = Path(max_length=64)
SCORE = "scores."  # a score field's name is this and the question's id, the service's field
_MAX_SCORES, _SCORE_LENGTH = 50, 8  # bounds on what a post makes the server hold
CLOSE_FORM = {"note": MAX_TEXT}


# -- one sampled call -------------------------------------------------------------------------
@router.get("/quality/samples/{case_ref}", **page(READ))
def sample_page(request: Request, case_ref: str = CASE_PATH) -> HTMLResponse:
    """The sampled call, its evaluation of record, the scorecard form for evaluators and the
    calibration form for those who run sessions. Audited by the services."""
    return _sample_page(request, case_ref)


def _sample_page(
    request: Request,
    case_ref: str,
    entered: dict[str, Entered] | None = None,
    error: CallvaultError | None = None,
    form_id: str = "",
) -> HTMLResponse:
    ctx = request_context(request)
    sample = _sample(request, ctx, case_ref)
    policy = services_of(request).policy.policy
    card = policy.quality.scorecard_for(sample["line"])
    of_record = next(iter(evaluations(request).evaluations(ctx, case_ref=case_ref)), None)
    sessions = open_sessions(request, ctx, case_ref)
    me = ctx.actor.name
    # A seated evaluator who has not scored yet does not see a colleague's marks of the call,
    # so that the session stays blind (they would anchor on them).
    blind = of_record is not None and of_record["evaluator"] != me and any(
        me in s["evaluators"] and me not in s["scored"] for s in sessions
    )  # fmt: skip
    may_evaluate = (may(request, ctx, EVALUATE) and of_record is None and card is not None
                    and not sample["purged"] and sample["agent"] != me)  # fmt: skip
    may_calibrate = may(request, ctx, CALIBRATE) and card is not None and not sample["purged"]
    return render(
        request,
        "quality_sample.html",
        status_code=error.http_status if error else 200,
        **listening(request, ctx),
        sample=sample,
        line=line_names(request).get(sample["line"], sample["line"]),
        started=when_text(sample["started_at"]),
        card=card,
        of_record=_shown(request, of_record) if of_record and not blind else None,
        blind=blind,
        sessions=sessions,
        may_evaluate=may_evaluate,
        may_calibrate=may_calibrate,
        candidates=_candidates(request, sample["agent"]) if may_calibrate else [],
        base=sample_path(case_ref),
        **_problem(error, form_id, entered, card),
    )


def _sample(request: Request, ctx: RequestContext, case_ref: str) -> dict[str, Any]:
    """The sampled call of a current draw with this case reference."""
    found = samplers(request).samples(ctx, case_ref=case_ref)
    if not found:
        raise NotFound(f"no sampled call {case_ref!r} in a current draw: the quality page "
                       "lists them", "case_ref")  # fmt: skip
    return found[0]


def _shown(request: Request, evaluation: dict[str, Any]) -> dict[str, Any]:
    card = scorecard(request, evaluation["scorecard_id"])
    return {**evaluation, "items": scored_items(card, evaluation["scores"])}


def _candidates(request: Request, agent: str) -> list[tuple[str, str]]:
    """Who may sit in a calibration session: active people whose role may evaluate, the
    advisor on the call left out. (username, role in words)"""
    permissions = services_of(request).permissions
    return [
        (user["user"], str(user["role"]).replace("_", " "))
        for user in services_of(request).access.list_users()
        if user["kind"] == "person" and not user["disabled"] and user["user"] != agent
        and permissions.allowed(Actor(name=user["user"], role=user["role"]), EVALUATE)
    ]  # fmt: skip


def _problem(
    error: CallvaultError | None,
    form_id: str,
    entered: dict[str, Entered] | None,
    card: Scorecard | None,
) -> dict[str, Any]:
    """A refusal to evaluate (no quality grant) says where to ask for access; any other error
    is the form's problem, by its field where the form has it."""
    refused = error if isinstance(error, Refused) else None
    items = card.items if card is not None else ()
    fields = {
        "evaluate": ["comment", *(SCORE + item.id for item in items)],
        "calibrate": ["evaluators"],
        "close": list(CLOSE_FORM),
    }.get(form_id, [])
    problem = None
    if error is not None and refused is None:
        problem = problem_of(form_id, fields, error)
    return {"refused": refused, "problem": problem, "entered": entered or {}}


@router.post("/quality/samples/{case_ref}/evaluate", **page(EVALUATE))
async def evaluate(request: Request, case_ref: str = CASE_PATH) -> Response:
    """Score the sampled call on its line's scorecard: its evaluation of record, or (with a
    calibration_id) this evaluator's scores in a calibration session."""
    form = await request.form()
    session = form.get("calibration_id")
    calibration_id = session.strip() if isinstance(session, str) and session.strip() else None
    scores = [k for k in form if k.startswith(SCORE) and len(k) <= 80][:_MAX_SCORES]
    fields = {"comment": MAX_TEXT, **dict.fromkeys(scores, _SCORE_LENGTH)}

    def act(ctx: RequestContext, values: dict[str, str]) -> tuple[str, str]:
        # A score that is not a whole number is left out, so that the service names the
        # question and its range, as for a question not scored at all.
        points = {name.removeprefix(SCORE): int(value) for name, value in values.items()
                  if name.startswith(SCORE) and value.isdecimal()}  # fmt: skip
        made = evaluations(request).evaluate(ctx, case_ref, points, values["comment"],
                                             calibration_id=calibration_id)  # fmt: skip
        if calibration_id is not None:
            return calibration_path(calibration_id), (
                f"Your scores for {case_ref} are in. They stay hidden from the other "
                "evaluators, and theirs from you, until everyone has scored."
            )
        return sample_path(case_ref), (
            f"Evaluation of {case_ref} saved: {made['total']} of {made['max_total']}. "
            f"{made['agent']} can read it and respond."
        )

    def again(entered: dict[str, Entered], error: CallvaultError) -> HTMLResponse:
        if calibration_id is not None:
            return _calibration_page(request, calibration_id, entered, error, "evaluate")
        return _sample_page(request, case_ref, entered, error, "evaluate")

    shown = (BadInput, Conflict, Refused)
    return await act_on_form(request, "evaluate", fields, act, again, shown=shown)


@router.post("/quality/samples/{case_ref}/calibrate", **page(CALIBRATE))
async def calibrate(request: Request, case_ref: str = CASE_PATH) -> Response:
    """Open a blind calibration session on the sampled call for the evaluators chosen."""
    form = await request.form()
    chosen = [name for name in form.getlist("evaluators") if isinstance(name, str)][:100]

    def act(ctx: RequestContext, _values: dict[str, str]) -> tuple[str, str]:
        opened = evaluations(request).calibrate(ctx, case_ref, chosen)
        names = ", ".join(opened["evaluators"])
        return calibration_path(opened["id"]), (
            f"Calibration session on {case_ref} opened for {names}. Each asks for access with "
            "the case reference and scores the call here; nobody sees the others' scores "
            "until all have scored."
        )

    def again(entered: dict[str, Entered], error: CallvaultError) -> HTMLResponse:
        return _sample_page(request, case_ref, entered, error, "calibrate")

    return await act_on_form(request, "calibrate", {}, act, again, lists=["evaluators"])


# -- a calibration session --------------------------------------------------------------------
@router.get("/quality/calibrations/{calibration_id}", **page(READ))
def calibration_page(request: Request, calibration_id: str = CALIBRATION_PATH) -> HTMLResponse:
    """Who has scored; once all have (or the session is closed) each question's points by
    evaluator and the spread. An evaluator who has not scored gets the scorecard. Audited."""
    return _calibration_page(request, calibration_id)


def _calibration_page(
    request: Request,
    calibration_id: str,
    entered: dict[str, Entered] | None = None,
    error: CallvaultError | None = None,
    form_id: str = "",
) -> HTMLResponse:
    ctx = request_context(request)
    session = evaluations(request).calibration(ctx, calibration_id)
    sample = _sample(request, ctx, session["case_ref"])
    card = services_of(request).policy.policy.quality.scorecard_for(sample["line"])
    me, closed = ctx.actor.name, session["closed_at"] is not None
    seated = me in session["evaluators"] and me not in session["scored"] and not closed
    return render(
        request,
        "quality_calibration.html",
        status_code=error.http_status if error else 200,
        **listening(request, ctx),
        session=session,
        sample=sample,
        line=line_names(request).get(sample["line"], sample["line"]),
        started=when_text(sample["started_at"]),
        closed=closed,
        card=card,
        results=_results(session["results"], card),
        may_score=seated and card is not None and may(request, ctx, EVALUATE),
        may_close=not closed and may(request, ctx, CALIBRATE),
        base=calibration_path(calibration_id),
        sample_href=sample_path(session["case_ref"]),
        **_problem(error, form_id, entered, card),
    )


def _results(results: dict[str, Any] | None, card: Scorecard | None) -> dict[str, Any] | None:
    """The comparison with each evaluator's column in one order, and the most points."""
    if results is None:
        return None
    names = sorted(results["totals"])
    return {
        **results,
        "names": names,
        "max_total": card.max_points if card is not None else None,
        "rows": [
            {
                **item,
                "marks": [item["by_evaluator"].get(name) for name in names],
                "discuss": item["item"] in results["to_discuss"],
            }
            for item in results["items"]
        ],
    }


@router.post("/quality/calibrations/{calibration_id}/close", **page(CALIBRATE))
async def close_calibration(request: Request, calibration_id: str = CALIBRATION_PATH) -> Response:
    """End the session with what the team agreed; its scores then show to all."""

    def act(ctx: RequestContext, values: dict[str, str]) -> tuple[str, str]:
        closed = evaluations(request).close_calibration(ctx, calibration_id, values["note"])
        return calibration_path(calibration_id), (
            f"Calibration session on {closed['case_ref']} closed; every score given shows."
        )

    def again(entered: dict[str, Entered], error: CallvaultError) -> HTMLResponse:
        return _calibration_page(request, calibration_id, entered, error, "close")

    return await act_on_form(request, "close", CLOSE_FORM, act, again)
