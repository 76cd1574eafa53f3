"""``callvault report demand`` and ``callvault report demand-reindex``: the demand report, and
its facts derived again under the policy in force now (registered on the ``report`` group by
``cli/report.py``; docs/demand.md)."""

from __future__ import annotations

from typing import Any

import click

from callvault.analytics.demand import DemandWindow, demand_csv, demand_report_as
from callvault.analytics.demand_reindex import DemandReindexer, ReindexWindow
from callvault.bootstrap import build
from callvault.cli.access import optional_as_option, person_or_operator
from callvault.cli.output import emit, json_option


@click.command("demand")
@click.option(
    "--from", "from_",
    help="Window start: a UK day (2026-11-01, from midnight UK time) or an ISO time; "
    "default 28 days before --to.",
)  # fmt: skip
@click.option("--to", help="Window end, exclusive (a UK day or an ISO time); default now.")
@click.option(
    "--csv", "as_csv", is_flag=True,
    help="Print CSV: one row per line, UK day and hour with calls (ignored with --json).",
)  # fmt: skip
@optional_as_option
@json_option
def demand_command(
    from_: str | None, to: str | None, as_csv: bool, as_user: str | None, as_json: bool
) -> None:
    """Calls per line: out of hours, durations, repeat callers, topics, by hour, weekday,
    day and week, from demand facts only (no audio, no numbers)."""
    window = DemandWindow.parse(from_, to)
    services = build()
    report = demand_report_as(
        services.engine, services.audit, services.permissions, services.policy.policy,
        person_or_operator(services, as_user), window,
    )  # fmt: skip
    if as_csv and not as_json:
        click.echo(demand_csv(report), nl=False)
        return
    emit(as_json, report, lambda: demand_text(report))


def demand_text(report: dict[str, Any]) -> str:
    """The report as a table, one line of figures per service line."""
    rows = [
        f"demand {report['from'][:16]} to {report['to'][:16]} UTC (days and hours in UK time; "
        f"policy {report['policy_version']})",
        _row("line", "calls", "out of hours", "mean s", "median s", "p90 s", "repeat",
             "transcribed", "unclassified"),
    ]  # fmt: skip
    for line in [*report["lines"], {**report, "line": "all lines"}]:
        durations = line["duration_s"]
        rows.append(
            _row(
                line["line"], line["calls"],
                f"{line['out_of_hours']} ({line['out_of_hours_share']:.0%})",
                durations["mean"], durations["median"], durations["p90"],
                line["repeat_callers"], line["transcribed"], line["unclassified"],
            )
        )  # fmt: skip
    topics = [f"{t['topic']} {t['calls']}" for t in report["topics"] if t["calls"]]
    rows.append("topics: " + (", ".join(topics) or "none found"))
    if report["not_indexed"]:
        rows.append(
            f"{report['not_indexed']} call(s) in the window are not indexed yet "
            "(the demand.index job runs every 15 minutes): figures may lag"
        )
    return "\n".join(rows)


def _row(*cells: object) -> str:
    line, *figures = cells
    widths = (8, 14, 8, 9, 8, 7, 12, 13)
    return f"{line!s:<24}" + "".join(
        f"{cell!s:>{w}}" for cell, w in zip(figures, widths, strict=True)
    )


@click.command("demand-reindex")
@click.option(
    "--from", "from_",
    help="Calls from: a UK day (2026-11-01, from midnight UK time) or an ISO time; "
    "default the first call.",
)  # fmt: skip
@click.option("--to", help="Calls to, exclusive (a UK day or an ISO time); default the last.")
@click.option("--dry-run", is_flag=True, help="Count what would change; write nothing.")
@optional_as_option
@json_option
def reindex_command(
    from_: str | None, to: str | None, dry_run: bool, as_user: str | None, as_json: bool
) -> None:
    """Derive the demand facts of the calls in the window again under the policy in force
    now (its topics and opening hours), after the council changed them. Purged calls keep
    their topics and no caller hash is made again. Audited, with counts only."""
    window = ReindexWindow.parse(from_, to)
    services = build()
    ctx = person_or_operator(services, as_user)
    done = DemandReindexer.for_services(services).run(ctx, window, dry_run=dry_run)
    emit(as_json, done, lambda: reindex_text(done))


def reindex_text(done: dict[str, Any]) -> str:
    span = f"from {(done['from'] or 'the first call')[:16]} to {(done['to'] or 'the last')[:16]}"
    verb = "would re-derive" if done["dry_run"] else "re-derived"
    return (
        f"{verb} the demand facts of {done['reindexed']} call(s) {span} under policy "
        f"{done['policy_version']}; {done['unchanged']} unchanged; {done['purged']} purged "
        "call(s) among them kept their topics"
    )


COMMANDS = [demand_command, reindex_command]
