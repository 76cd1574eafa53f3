"""``callvault db grant-app-role ROLE``."""

from __future__ import annotations

import click

from callvault.access.actions import require
from callvault.bootstrap import build
from callvault.cli.output import emit, json_option, operator_context
from callvault.maintenance.roles import grant_app_role


@click.group("db")
def db_group() -> None:
    """The database (PostgreSQL deployments)."""


@db_group.command("grant-app-role")
@click.argument("role")
@json_option
def grant_command(role: str, as_json: bool) -> None:
    """Let ROLE run callvault: read and write its tables, append to the audit trail, and
    never UPDATE or DELETE audit entries. Run as the owner that ran the migrations."""
    ctx = operator_context()
    require(ctx.actor, "db:grant")
    result = grant_app_role(build(), ctx, role)
    emit(as_json, result, f"granted {role}: append-only on {', '.join(result['append_only'])}")


COMMANDS = [db_group]
