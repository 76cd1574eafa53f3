"""``callvault quality draw/draws/samples/verify``: the monthly sample quality evaluators hear;
the evaluations and calibration commands come from ``cli/evaluations.py``."""

from __future__ import annotations

from typing import Any

import click

from callvault.analytics.sampling import QualitySampler
from callvault.bootstrap import build
from callvault.cli import evaluations
from callvault.cli.access import optional_as_option, person_or_operator
from callvault.cli.output import emit, json_option
from callvault.context import RequestContext


def _sampler(as_user: str | None) -> tuple[RequestContext, QualitySampler]:
    services = build()
    return person_or_operator(services, as_user), QualitySampler.for_services(services)


def _drawn_text(draw: dict[str, Any]) -> str:
    if draw["draw_id"] is None:
        return f"{draw['month']}: no eligible calls; nothing drawn"
    advisors = len({s["agent"] for s in draw["samples"]})
    again = f", superseding {draw['superseded_draw_id']}" if draw["superseded_draw_id"] else ""
    early = ", early: calls uploaded from now on are not in it" if draw["early"] else ""
    lines = [
        f"drew {draw['month']} (attempt {draw['attempt']}{again}{early}): {draw['drawn']} calls "
        f"for {advisors} advisors from {draw['eligible']} eligible",
        f"draw {draw['draw_id']}  seed {draw['seed']}",
    ]
    lines += [f"  {s['case_ref']}  {s['agent']:<20} {s['recording_id']}" for s in draw["samples"]]
    return "\n".join(lines)


def _draw_line(draw: dict[str, Any]) -> str:
    state = "current" if draw["current"] else f"superseded {draw['superseded_at']}"
    why = f"  reason: {draw['reason']}" if draw["reason"] else ""
    return (
        f"{draw['month']} #{draw['attempt']}  {draw['id']}  {draw['drawn']:>4} of "
        f"{draw['eligible']:<5} by {draw['drawn_by']} at {draw['drawn_at']}  {state}{why}"
    )


def _sample_line(sample: dict[str, Any]) -> str:
    gone = "  (purged)" if sample["purged"] else ""
    return (
        f"{sample['case_ref']:<14} {sample['agent']:<20} {sample['line']:<20} "
        f"{sample['started_at'][:16]}  {sample['recording_id']}{gone}"
    )


def _verify_text(report: dict[str, Any]) -> str:
    head = "intact" if report["ok"] else "NOT INTACT"
    lines = [
        f"draw {report['draw_id']} ({report['month']}): {head}; expected {report['expected']}, "
        f"found {report['found']}"
    ]
    lines += [f"  problem: {problem}" for problem in report["problems"]]
    lines += [f"  missing: {rid}" for rid in report["missing"]]
    lines += [f"  unexpected: {rid}" for rid in report["unexpected"]]
    if report["note"]:
        lines.append(f"  note: {report['note']}")
    return "\n".join(lines)


@click.group("quality")
def quality_group() -> None:
    """Quality monitoring: the calls the system samples each month for each advisor."""


@quality_group.command("draw")
@click.option(
    "--month", required=True, metavar="YYYY-MM",
    help="A UK month that is over and whose draw day has come (or pass --early).",
)  # fmt: skip
@click.option("--reason", help="Why a month already drawn is drawn again (at least 10 characters).")
@click.option(
    "--early", is_flag=True,
    help="Draw before the month's draw day (the policy's quality.draw_on_day of the next "
    "month): calls uploaded after now are left out, and the audit entry says early.",
)  # fmt: skip
@optional_as_option
@json_option
def draw_command(
    month: str, reason: str | None, early: bool, as_user: str | None, as_json: bool
) -> None:
    """Draw a month's sample (the daily job draws each month by itself on its draw day). A
    month is drawn once; drawing it again needs --reason and keeps the first draw, superseded."""
    ctx, sampler = _sampler(as_user)
    draw = sampler.draw(ctx, month, reason, early=early)
    emit(as_json, draw, lambda: _drawn_text(draw))


@quality_group.command("draws")
@click.option("--month", metavar="YYYY-MM", help="Only this month's draws.")
@optional_as_option
@json_option
def draws_command(month: str | None, as_user: str | None, as_json: bool) -> None:
    """Every draw, superseded ones too, with the reason for each redraw."""
    ctx, sampler = _sampler(as_user)
    found = sampler.draws(ctx, month)
    emit(as_json, {"draws": found}, lambda: "\n".join(map(_draw_line, found)) or "no draws")


@quality_group.command("samples")
@click.option("--month", metavar="YYYY-MM", help="Only this month's sample.")
@click.option("--agent", help="Only this advisor's calls.")
@optional_as_option
@json_option
def samples_command(
    month: str | None, agent: str | None, as_user: str | None, as_json: bool
) -> None:
    """The sampled calls of current draws, with the case reference a quality grant names."""
    ctx, sampler = _sampler(as_user)
    found = sampler.samples(ctx, month, agent)
    emit(as_json, {"samples": found}, lambda: "\n".join(map(_sample_line, found)) or "none")


@quality_group.command("verify")
@click.argument("draw_id")
@optional_as_option
@json_option
@click.pass_context
def verify_command(
    click_ctx: click.Context, draw_id: str, as_user: str | None, as_json: bool
) -> None:
    """Re-draw a draw from the seed in its audit entry and compare with what is stored.
    Exit 1 if they differ."""
    ctx, sampler = _sampler(as_user)
    report = sampler.verify(ctx, draw_id)
    emit(as_json, report, lambda: _verify_text(report))
    if not report["ok"]:
        click_ctx.exit(1)


for _command in evaluations.COMMANDS:
    quality_group.add_command(_command)

COMMANDS = [quality_group]
