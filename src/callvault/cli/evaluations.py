"""``callvault quality evaluate/evaluations/mine/calibrate/calibration``: scoring sampled calls
and comparing evaluators (registered on the ``quality`` group by ``cli/quality.py``).

An advisor's response to an evaluation is their own, so it is given signed in on the web page,
never by an operator ``--as`` them.
"""

from __future__ import annotations

from typing import Any

import click

from callvault.analytics.evaluations import EvaluationService
from callvault.bootstrap import build
from callvault.cli.access import acting_as, as_option, optional_as_option, person_or_operator
from callvault.cli.output import emit, json_option
from callvault.errors import BadInput


def _scores(pairs: tuple[str, ...]) -> dict[str, int]:
    scores: dict[str, int] = {}
    for pair in pairs:
        item, sep, points = pair.partition("=")
        if not sep or not points.strip().lstrip("-").isdigit():
            raise BadInput(f"--score {pair!r}: write QUESTION=POINTS, e.g. greeting=2", "scores")
        scores[item.strip()] = int(points)
    return scores


def _evaluation_line(found: dict[str, Any]) -> str:
    answer = ""
    if found["responded_at"]:
        answer = "  response: " + ("agrees" if found["agrees"] else "disagrees")
    who = f"{found['case_ref']:<14} {found['agent']:<12} by {found['evaluator']:<12}"
    return f"{found['id']}  {who} {found['total']:>3}/{found['max_total']}{answer}"


def _calibration_text(session: dict[str, Any]) -> str:
    names = ", ".join(session["evaluators"])
    rows = [f"calibration {session['id']} on {session['case_ref']}: {names}"]
    results = session["results"]
    if results is None:
        waiting = ", ".join(session["waiting_for"])
        rows.append(f"  blind until all have scored; waiting for {waiting}")
        return "\n".join(rows)
    for item in results["items"]:
        marks = ", ".join(f"{n} {p}" for n, p in item["by_evaluator"].items())
        rows.append(f"  {item['item']:<16} spread {item['spread']}  ({marks})")
    totals = ", ".join(f"{n} {t}" for n, t in results["totals"].items())
    rows.append(f"  totals: {totals}; to discuss: {', '.join(results['to_discuss']) or '-'}")
    return "\n".join(rows)


@click.command("evaluate")
@click.argument("case_ref")
@click.option("--score", "scores", multiple=True, metavar="QUESTION=POINTS",
              help="Points for one question of the scorecard (repeat for each).")  # fmt: skip
@click.option("--comment", default="", help="What the advisor should hear about the call.")
@click.option("--calibration", "calibration_id", help="Score within this calibration session.")
@as_option
@json_option
def evaluate_command(
    case_ref: str,
    scores: tuple[str, ...],
    comment: str,
    calibration_id: str | None,
    as_user: str,
    as_json: bool,
) -> None:
    """Score a sampled call you listened to under the quality purpose."""
    services = build()
    found = EvaluationService.for_services(services).evaluate(
        acting_as(services, as_user), case_ref, _scores(scores), comment,
        calibration_id=calibration_id,
    )  # fmt: skip
    emit(as_json, found, lambda: _evaluation_line(found))


@click.command("evaluations")
@click.option("--case", "case_ref", help="Only this sampled call.")
@click.option("--agent", help="Only this advisor's calls.")
@optional_as_option
@json_option
def evaluations_command(
    case_ref: str | None, agent: str | None, as_user: str | None, as_json: bool
) -> None:
    """Evaluations of record, newest first, with the advisors' responses."""
    services = build()
    found = EvaluationService.for_services(services).evaluations(
        person_or_operator(services, as_user), case_ref=case_ref, agent=agent
    )
    emit(as_json, {"evaluations": found},
         "\n".join(_evaluation_line(f) for f in found) or "no evaluations")  # fmt: skip


@click.command("mine")
@as_option
@json_option
def mine_command(as_user: str, as_json: bool) -> None:
    """The evaluations of your own calls."""
    services = build()
    found = EvaluationService.for_services(services).mine(acting_as(services, as_user))
    emit(as_json, {"evaluations": found},
         "\n".join(_evaluation_line(f) for f in found) or "no evaluations")  # fmt: skip


@click.command("calibrate")
@click.argument("case_ref")
@click.option("--evaluator", "evaluators", multiple=True, help="An evaluator (repeat, 2 to 12).")
@as_option
@json_option
def calibrate_command(
    case_ref: str, evaluators: tuple[str, ...], as_user: str, as_json: bool
) -> None:
    """Open a blind calibration session: several evaluators score the same sampled call."""
    services = build()
    session = EvaluationService.for_services(services).calibrate(
        acting_as(services, as_user), case_ref, evaluators
    )
    emit(as_json, session, lambda: _calibration_text(session))


@click.command("calibration")
@click.argument("calibration_id")
@click.option("--close", "note", help="Close the session, with what the team agreed.")
@as_option
@json_option
def calibration_command(calibration_id: str, note: str | None, as_user: str, as_json: bool) -> None:
    """A calibration session: who has scored, then each question's spread."""
    services = build()
    evaluations, ctx = EvaluationService.for_services(services), acting_as(services, as_user)
    session = (evaluations.calibration(ctx, calibration_id) if note is None
               else evaluations.close_calibration(ctx, calibration_id, note))  # fmt: skip
    emit(as_json, session, lambda: _calibration_text(session))


COMMANDS = [
    evaluate_command, evaluations_command, mine_command, calibrate_command, calibration_command
]  # fmt: skip
