"""``callvault report access-review`` and ``callvault report bulk-access``: oversight.

The local operator may run both; ``--as USER`` runs them for a person (a DPO, an auditor),
whose role is then checked and whose refusal is audited like any other.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import click

from callvault.access.bulk_access import alert_days, bulk_alerts_as
from callvault.access.oversight import UNUSED_DAYS, ReviewWindow, access_review_as
from callvault.bootstrap import build
from callvault.cli import compliance, demand
from callvault.cli.access import optional_as_option, person_or_operator
from callvault.cli.output import emit, json_option


@click.group("report")
def report_group() -> None:
    """Reports for the DPO, auditors and the six-monthly access review."""


# The scope proof and the record of processing (cli/compliance.py); demand (cli/demand.py).
for _command in (*compliance.COMMANDS, *demand.COMMANDS):
    report_group.add_command(_command)


@report_group.command("access-review")
@click.option("--from", "from_", help="Window start (date or ISO time, UTC); default 6 months ago.")
@click.option("--to", help="Window end (date or ISO time, UTC); default now.")
@click.option(
    "--unused-days",
    type=click.IntRange(1, 3660),
    default=UNUSED_DAYS,
    show_default=True,
    help="Flag listening roles unused for this many days.",
)
@optional_as_option
@json_option
def access_review_command(
    from_: str | None, to: str | None, unused_days: int, as_user: str | None, as_json: bool
) -> None:
    """Every account: role, disabled, created, last use, activity in the window, flags."""
    window = ReviewWindow.parse(from_, to)
    services = build()
    roles = frozenset(role.id for role in services.policy.policy.roles)
    report = access_review_as(
        services.engine, services.audit, services.permissions,
        person_or_operator(services, as_user), window, unused_days, roles,
    )  # fmt: skip
    emit(as_json, report, lambda: _review_table(report))


@report_group.command("bulk-access")
@click.option("--from", "from_", help="First day (YYYY-MM-DD, UTC); default 6 days before --to.")
@click.option("--to", help="Last day (YYYY-MM-DD, UTC); default today.")
@optional_as_option
@json_option
def bulk_access_command(
    from_: str | None, to: str | None, as_user: str | None, as_json: bool
) -> None:
    """People whose listening on a day ran far above their own usual (docs/oversight.md)."""
    days = alert_days(from_, to, datetime.now(UTC).date())
    services = build()
    ctx = person_or_operator(services, as_user)
    found = bulk_alerts_as(services.engine, services.audit, services.permissions, ctx, days)
    emit(as_json, found, lambda: _alerts_table(found))


def _review_table(report: dict[str, Any]) -> str:
    lines = [
        f"access review {report['from'][:10]} to {report['to'][:10]}",
        f"{'account':<20} {'role':<20} {'kind':<8} {'last used':<17} {'listens':>7} "
        f"{'searches':>8} {'requests':>8} {'approvals':>9}  flags",
    ]
    for row in report["accounts"]:
        used = (row["last_used_at"] or "never")[:16]
        lines.append(
            f"{row['user']:<20} {row['role']:<20} {row['kind']:<8} {used:<17} "
            f"{row['listens']:>7} {row['searches']:>8} {row['requests']:>8} "
            f"{row['approvals']:>9}  {' '.join(row['flags'])}"
        )
    return "\n".join(lines)


def _alerts_table(found: dict[str, Any]) -> str:
    head = f"bulk-access alerts {found['from']} to {found['to']}"
    if not found["alerts"]:
        return f"{head}: none"
    lines = [head, f"{'day':<11} {'person':<20} {'role':<20} {'recordings':>10} {'usual':>6}"]
    for alert in found["alerts"]:
        lines.append(
            f"{alert['day']:<11} {alert['user']:<20} {alert['role'] or '?':<20} "
            f"{alert['recordings']:>10} {alert['baseline']:>6.1f}"
            + ("" if alert["recorded"] else "  (not yet in the audit trail)")
        )
    return "\n".join(lines)


COMMANDS = [report_group]
