"""``callvault check [--repair]``."""

from __future__ import annotations

import click

from callvault.access.actions import require
from callvault.bootstrap import build
from callvault.cli.output import emit, json_option, operator_context
from callvault.maintenance.service import check_home


@click.command("check")
@click.option("--repair", is_flag=True, help="Fix what is safe to fix (orphan blobs, schema).")
@json_option
@click.pass_context
def check_command(click_ctx: click.Context, repair: bool, as_json: bool) -> None:
    """Validate settings, policy, keys, schema, audit trail, erasure ledger and stored blobs.
    Exit 1 on problems."""
    require(operator_context().actor, "store:check")
    result = check_home(build(), repair=repair)
    lines = [
        *(f"problem: {p}" for p in result.problems),
        *(f"repaired: {r}" for r in result.repaired),
    ]
    emit(as_json, result.as_dict(), "\n".join(lines) or "ok")
    if not result.ok:
        click_ctx.exit(1)


COMMANDS = [check_command]
