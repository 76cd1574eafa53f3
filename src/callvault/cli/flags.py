"""``callvault flags list/review``: recordings the speech job flagged for a person to check."""

from __future__ import annotations

from typing import Any

import click

from callvault.bootstrap import build
from callvault.cli.access import optional_as_option, person_or_operator
from callvault.cli.output import emit, json_option
from callvault.speech.flags import KINDS, OUTCOMES, FlagQuery


def _line(flag: dict[str, Any]) -> str:
    state = f"reviewed: {flag['outcome']}" if flag["reviewed_at"] else "open"
    where = f"{flag['line']:<14} {flag['speaker']:<7} at {flag['start_s']:7.1f} s"
    what = f"{flag['kind']:<8} {flag['rule']:<36} {flag['recording_id']}"
    return f"{flag['id']}  {what} {where}  {state}"


@click.group("flags")
def flags_group() -> None:
    """Recordings flagged for review: abusive or threatening language, or card digits."""


@flags_group.command("list")
@click.option("--kind", type=click.Choice(KINDS), help="Only this kind of flag.")
@click.option("--all", "all_", is_flag=True, help="Reviewed flags too (default: open only).")
@click.option("--limit", type=int, default=100, show_default=True)
@optional_as_option
@json_option
def list_command(
    kind: str | None, all_: bool, limit: int, as_user: str | None, as_json: bool
) -> None:
    """The flags you review, newest first."""
    services = build()
    ctx = person_or_operator(services, as_user)
    flags = services.flags.list(ctx, FlagQuery(kind=kind, open_only=not all_, limit=limit))
    emit(as_json, {"flags": flags}, "\n".join(_line(f) for f in flags) or "no flags")


@flags_group.command("review")
@click.argument("flag_id")
@click.option("--outcome", type=click.Choice(OUTCOMES), required=True, help="What you found.")
@click.option("--note", default="", help="Anything the next reader needs to know.")
@optional_as_option
@json_option
def review_command(
    flag_id: str, outcome: str, note: str, as_user: str | None, as_json: bool
) -> None:
    """Close a flag with what you found (nothing happens to the recording by itself)."""
    services = build()
    ctx = person_or_operator(services, as_user)
    result = services.flags.review(ctx, flag_id, outcome, note)
    emit(as_json, result, f"flag {flag_id} reviewed: {outcome}")


COMMANDS = [flags_group]
