"""``callvault retention run``: purge what the retention schedule says is due.

The daily job does this on its own; the command is for the operator (a first purge after
installing, a preview with ``--dry-run``, a drill with ``--now``). ``--now`` may go back to
the last run's time but not before it, and not ahead of the clock except in a dry run.
"""

from __future__ import annotations

from datetime import datetime

import click

from callvault.bootstrap import build
from callvault.cli.output import emit, json_option, operator_context
from callvault.errors import BadInput
from callvault.retention.purge import RunReport


@click.group("retention")
def retention_group() -> None:
    """Purge recordings whose retention period has ended."""


@retention_group.command("run")
@click.option("--now", "now_text", metavar="ISO-TIME", help="Purge as of this time (default: now).")
@click.option("--dry-run", is_flag=True, help="Only say what would be purged; change nothing.")
@json_option
def run_command(now_text: str | None, dry_run: bool, as_json: bool) -> None:
    """Shred, delete and certify every expired recording no legal hold covers; delete the
    quality evaluations and closed incidents the policy keeps no longer."""
    now = _parse_now(now_text) if now_text else None
    report = build().retention.run(operator_context(), now=now, dry_run=dry_run)
    emit(as_json, report.as_dict(), lambda: _describe(report))


def _parse_now(text: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise BadInput(
            f"--now {text!r} is not an ISO 8601 time; use e.g. 2027-01-31T00:00:00Z", "now"
        ) from None
    if parsed.tzinfo is None:
        raise BadInput(f"--now {text!r} has no time zone; add Z or an offset like +00:00", "now")
    return parsed


def _describe(report: RunReport) -> str:
    counts = report.counts
    verb = "would purge" if report.dry_run else "purged"
    lines = [
        f"as of {report.as_of}: {verb} {counts.purged}, held {counts.held}, kept {counts.kept}"
        + (f", pending {counts.pending}" if counts.pending else "")
    ]
    lines += [
        f"retention of line {c['line']} changed to {c['to']}: {c['recordings']} dates moved"
        for c in report.recomputed
    ]
    gone = report.expired
    if any(gone.values()):
        verb = "would delete" if report.dry_run else "deleted"
        lines.append(
            f"kept long enough, {verb}: {gone['evaluations_expired']} quality evaluations, "
            f"{gone['quality_samples_expired']} sampled calls, {gone['incidents_expired']} "
            f"closed incidents ({gone['incidents_held']} more kept by a hold)"
        )
    return "\n".join(lines)


COMMANDS = [retention_group]
