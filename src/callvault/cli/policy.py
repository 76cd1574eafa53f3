"""``callvault policy check NUMBER`` and ``callvault policy show``."""

from __future__ import annotations

import click

from callvault.access.actions import require
from callvault.bootstrap import build
from callvault.cli.output import emit, json_option, operator_context


@click.group("policy")
def policy_group() -> None:
    """The recording policy."""


@policy_group.command("check")
@click.argument("number")
@click.option("--direction", type=click.Choice(["inbound", "outbound"]), default="inbound")
@json_option
def check_command(number: str, direction: str, as_json: bool) -> None:
    """Would a call to NUMBER be recorded, and by which rule?"""
    require(operator_context().actor, "policy:read")
    decision = build().policy.decide(number, direction=direction)
    data = decision.as_dict()
    verdict = "RECORDED" if decision.record else "NOT recorded"
    emit(
        as_json,
        data,
        f"{data['number']}: {verdict} ({decision.rule}, policy {decision.policy_version})",
    )


@policy_group.command("show")
@json_option
def show_command(as_json: bool) -> None:
    """Print the loaded policy."""
    require(operator_context().actor, "policy:read")
    data = build().policy.show()
    emit(as_json, data, lambda: _summary(data))


def _summary(data: dict[str, object]) -> str:
    lines = data.get("lines", [])
    rows = [f"policy {data.get('version')}"]
    for line in lines if isinstance(lines, list) else []:
        rows.append(f"  {line['id']:<28} {', '.join(line['numbers'])}  keep {line['retention']}")
    return "\n".join(rows)


COMMANDS = [policy_group]
