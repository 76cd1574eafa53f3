"""``callvault user add/list/disable``: people, managed by the local operator."""

from __future__ import annotations

import sys

import click

from callvault.access.actions import require
from callvault.bootstrap import build
from callvault.cli.output import emit, json_option, operator_context
from callvault.errors import BadInput


@click.group("user")
def user_group() -> None:
    """People who may sign in, with their role from the policy file."""


@user_group.command("add")
@click.argument("name")
@click.option("--role", required=True, help="A role id from the policy file's roles.")
@click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the password from stdin (else one is generated and printed once).",
)
@json_option
def add_command(name: str, role: str, password_stdin: bool, as_json: bool) -> None:
    """Add a person."""
    ctx = operator_context()
    require(ctx.actor, "users:manage")
    given = None
    if password_stdin:
        given = sys.stdin.readline().rstrip("\r\n")
        if not given:
            raise BadInput("no password on stdin", "password")
    password = build().access.add_person(ctx, name, role, given)
    result = {"user": name, "role": role}
    if given is None:
        result["password"] = password
    shown = "" if given is not None else f" (password: {password})"
    emit(as_json, result, f"added {name} as {role}{shown}")


@user_group.command("list")
@json_option
def list_command(as_json: bool) -> None:
    """List people and service accounts."""
    require(operator_context().actor, "users:manage")
    people = build().access.list_users()
    emit(
        as_json,
        {"users": people},
        lambda: "\n".join(
            f"{p['user']:<24} {p['role']:<20} {p['kind']:<8}{' disabled' if p['disabled'] else ''}"
            for p in people
        ),
    )


@user_group.command("disable")
@click.argument("name")
@json_option
def disable_command(name: str, as_json: bool) -> None:
    """Disable an account: it can no longer act or use its grants."""
    ctx = operator_context()
    require(ctx.actor, "users:manage")
    build().access.disable(ctx, name)
    emit(as_json, {"user": name, "disabled": True}, f"disabled {name}")


COMMANDS = [user_group]
