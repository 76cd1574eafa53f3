"""``callvault report scope`` and ``callvault report ropa``: the scope proof and the Art. 30
record of processing (registered on the ``report`` group by ``cli/report.py``).

The record of processing is a report, not a flag of ``callvault notice``: the notice is a
public document anyone may print, the record is an internal one for the DPO, auditors and
administrators, checked like the other reports and run ``--as`` a person.
"""

from __future__ import annotations

from typing import Any

import click

from callvault.bootstrap import build
from callvault.catalog.scope import ScopeWindow, scope_report_as
from callvault.cli.access import optional_as_option, person_or_operator
from callvault.cli.output import emit, json_option
from callvault.notice.service import ropa_as, ropa_text


@click.command("scope")
@click.option("--from", "from_", help="Window start (date or ISO time, UTC); default 1 month ago.")
@click.option("--to", help="Window end (date or ISO time, UTC); default now.")
@optional_as_option
@json_option
@click.pass_context
def scope_command(
    click_ctx: click.Context, from_: str | None, to: str | None, as_user: str | None, as_json: bool
) -> None:
    """Per line: calls recorded (live and purged) and declined; declined calls by rule; and
    the proof that no call outside the policy was kept. Exit 1 if any was (docs/retention.md)."""
    window = ScopeWindow.parse(from_, to)
    services = build()
    report = scope_report_as(
        services.engine, services.audit, services.permissions, services.policy.policy,
        person_or_operator(services, as_user), window,
    )  # fmt: skip
    emit(as_json, report, lambda: _scope_text(report))
    if not report["ok"]:
        click_ctx.exit(1)


@click.command("ropa")
@click.option(
    "--format", "fmt", type=click.Choice(["md", "csv"]), default="md", show_default=True,
    help="Markdown, or CSV with one row per purpose (ignored with --json).",
)  # fmt: skip
@optional_as_option
@json_option
def ropa_command(fmt: str, as_user: str | None, as_json: bool) -> None:
    """The record of processing (UK GDPR Art. 30), one entry per purpose, generated from the
    live policy (docs/notice.md)."""
    services = build()
    record = ropa_as(
        services.engine, services.audit, services.permissions,
        person_or_operator(services, as_user), services.policy.policy,
    )  # fmt: skip
    if as_json:
        emit(True, record, "")
    else:
        click.echo(ropa_text(record, fmt), nl=False)


def _scope_text(report: dict[str, Any]) -> str:
    verdict = "OK: nothing kept outside the policy" if report["ok"] else (
        f"FAILED: {len(report['violations'])} recording(s) kept outside the policy")  # fmt: skip
    rows = [
        f"scope {report['from'][:19]} to {report['to'][:19]} (policy {report['policy_version']})"
        f": {report['checked']} recordings checked; {verdict}",
        f"{'line':<24} {'recorded':>8} {'live':>6} {'purged':>6} {'declined':>8} "
        f"{'other ver.':>10}  recorder down / outbound",
    ]
    for line in report["lines"]:
        rows.append(
            f"{line['line']:<24} {line['recorded']:>8} {line['recorded_live']:>6} "
            f"{line['recorded_purged']:>6} {line['declined']:>8} "
            f"{line['decided_under_other_versions']:>10}  {line['when_recorder_down'] or '-'}"
            f" / {'recorded' if line['record_outbound'] else 'not recorded'}"
        )
    rows.append("declined by rule:")
    rows += [f"  {item['rule']:<36} {item['calls']:>8}" for item in report["declined"]] or [
        "  none"
    ]
    for item in report["other_versions"]:
        rows.append(
            f"decided under policy {item['policy_version']}: {item['recordings']} "
            f"(the current policy: {item['current_rule']})"
        )
    for bad in report["violations"]:
        rows.append(f"VIOLATION {bad['recording_id']} {bad['problem']}: {bad['detail']}")
    return "\n".join(rows)


COMMANDS = [scope_command, ropa_command]
