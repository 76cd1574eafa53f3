"""``callvault audit verify`` and ``callvault audit show``."""

from __future__ import annotations

import click

from callvault.access.actions import require
from callvault.bootstrap import build
from callvault.cli.output import emit, json_option, operator_context


@click.group("audit")
def audit_group() -> None:
    """The tamper-evident audit trail."""


@audit_group.command("verify")
@json_option
@click.pass_context
def verify_command(click_ctx: click.Context, as_json: bool) -> None:
    """Check the whole hash chain and its signed checkpoints. Exit 1 if anything is wrong."""
    require(operator_context().actor, "audit:verify")
    result = build().audit.verify()
    text = (
        f"audit trail intact: {result.entries} entries"
        if result.ok
        else f"audit trail BROKEN at entry {result.first_bad}: {result.problem}"
    )
    emit(as_json, result.as_dict(), text)
    if not result.ok:
        click_ctx.exit(1)


@audit_group.command("show")
@click.option("--object", "object_id", help="Only entries about this object id.")
@click.option("--limit", type=click.IntRange(1, 100_000), default=100, help="At most this many.")
@click.option("--after", type=click.IntRange(0), default=0, help="Entries after this sequence.")
@json_option
def show_command(object_id: str | None, limit: int, after: int, as_json: bool) -> None:
    """List audit entries in order."""
    require(operator_context().actor, "audit:read")
    entries = build().audit.show(object_id=object_id, limit=limit, after=after)
    emit(
        as_json,
        {"entries": entries},
        lambda: "\n".join(
            f"{e['seq']:>6} {e['at']} {e['actor']:<24} {e['action']:<22} {e['object_id'] or ''}"
            for e in entries
        ),
    )


COMMANDS = [audit_group]
