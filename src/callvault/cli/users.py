"""``callvault user add/list/disable/totp/unlock``: people, managed by the local operator
(or an administrator, ``--as``)."""

from __future__ import annotations

import sys

import click

from callvault.access.actions import require
from callvault.access.signin import SignInService
from callvault.bootstrap import Services, build
from callvault.cli.access import acting_as
from callvault.cli.output import emit, json_option, operator_context
from callvault.context import RequestContext
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


def _manager(services: Services, as_user: str | None) -> RequestContext:
    """The operator, or the administrator they act for; either may manage users."""
    ctx = acting_as(services, as_user) if as_user else operator_context()
    require(ctx.actor, "users:manage")
    return ctx


_as_admin = click.option(
    "--as", "as_user", metavar="USER", help="The administrator you act for (default: you)."
)


@user_group.command("totp")
@click.argument("name")
@_as_admin
@json_option
def totp_command(name: str, as_user: str | None, as_json: bool) -> None:
    """Enrol NAME for one-time codes: prints the otpauth:// URI and the secret, once.

    Roles that can hear audio, and administrators, cannot sign in without it. Enrolling
    again replaces the old secret (the old app entry stops working)."""
    services = build()
    ctx = _manager(services, as_user)
    enrolment = SignInService.for_services(services).enrol_totp(ctx, name)
    emit(
        as_json,
        {"user": name, "otpauth_uri": enrolment.uri, "secret": enrolment.secret},
        f"TOTP for {name} (shown once; scan or type it into an authenticator app)\n"
        f"  uri:    {enrolment.uri}\n  secret: {enrolment.secret}",
    )


@user_group.command("unlock")
@click.argument("name")
@_as_admin
@json_option
def unlock_command(name: str, as_user: str | None, as_json: bool) -> None:
    """Unlock NAME after repeated failed sign-ins (clears the failure count)."""
    services = build()
    ctx = _manager(services, as_user)
    SignInService.for_services(services).unlock(ctx, name)
    emit(as_json, {"user": name, "unlocked": True}, f"unlocked {name}")


COMMANDS = [user_group]
