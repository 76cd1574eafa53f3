"""``callvault access request/approve/deny/revoke``: purpose-bound grants, ``--as`` a person."""

from __future__ import annotations

import getpass
from collections.abc import Callable
from typing import Any

import click

from callvault.access.grants import Grant, GrantService
from callvault.access.playback import RENDITIONS
from callvault.bootstrap import Services, build
from callvault.cli.output import emit, json_option, operator_context
from callvault.context import RequestContext


def acting_as(services: Services, username: str) -> RequestContext:
    """The local operator acting for ``username`` (who must exist and not be disabled);
    the audit entry records both."""
    actor = services.access.person(username, operator=f"operator:{getpass.getuser()}")
    return RequestContext(actor=actor, origin="cli")


def as_option(func: Any) -> Any:
    return click.option(
        "--as", "as_user", required=True, metavar="USER", help="The person you act for."
    )(func)


def optional_as_option(func: Any) -> Any:
    """``--as USER`` for commands the operator may also run as themselves."""
    return click.option(
        "--as", "as_user", metavar="USER", help="A person to act for (default: the operator)."
    )(func)


def person_or_operator(services: Services, as_user: str | None) -> RequestContext:
    """The operator acting for ``as_user``, or as themselves when none is given."""
    return acting_as(services, as_user) if as_user else operator_context()


def _checked_flow(
    as_user: str, action: str, object_id: str | None
) -> tuple[RequestContext, GrantService]:
    """The context for ``as_user`` and the grant flow, once ``action`` is allowed (a refusal
    is audited)."""
    services = build()
    ctx = acting_as(services, as_user)
    flow = services.grants
    flow.require(ctx, action, object_id)
    return ctx, flow


def _emit(as_json: bool, grant: Grant) -> None:
    emit(
        as_json,
        {"grant_id": grant.id, "status": grant.status, "recording_ids": list(grant.recording_ids)},
        f"grant {grant.id}: {grant.status}"
        + (f" until {grant.expires_at}" if grant.status == "approved" else ""),
    )


@click.group("access")
def access_group() -> None:
    """Ask for, decide and withdraw grants to listen to a recording."""


@access_group.command("request")
@click.argument("recording_ids", nargs=-1, required=True, metavar="RECORDING_ID...")
@click.option("--purpose", help="A purpose id from the policy file (e.g. complaint).")
@click.option("--case", "case_ref", help="The case reference, in the purpose's format.")
@click.option("--reason", default="", help="Why this recording is needed.")
@as_option
@json_option
def request_command(
    recording_ids: tuple[str, ...],
    purpose: str | None,
    case_ref: str | None,
    reason: str,
    as_user: str,
    as_json: bool,
) -> None:
    """Ask to listen to one or more recordings for a purpose and case."""
    ctx, flow = _checked_flow(as_user, "recordings:request", None)
    _emit(as_json, flow.request(ctx, recording_ids, purpose, case_ref, reason))


@access_group.command("approve")
@click.argument("grant_id")
@as_option
@json_option
def approve_command(grant_id: str, as_user: str, as_json: bool) -> None:
    """Approve a pending grant (a different person from the one who asked)."""
    ctx, flow = _checked_flow(as_user, "recordings:approve", grant_id)
    _emit(as_json, flow.approve(ctx, grant_id))


@access_group.command("deny")
@click.argument("grant_id")
@as_option
@json_option
def deny_command(grant_id: str, as_user: str, as_json: bool) -> None:
    """Deny a pending grant."""
    ctx, flow = _checked_flow(as_user, "recordings:approve", grant_id)
    _emit(as_json, flow.deny(ctx, grant_id))


@access_group.command("revoke")
@click.argument("grant_id")
@click.option("--reason", required=True, help="Why the grant is withdrawn.")
@as_option
@json_option
def revoke_command(grant_id: str, reason: str, as_user: str, as_json: bool) -> None:
    """Withdraw a pending or approved grant."""
    ctx, flow = _checked_flow(as_user, "recordings:revoke", grant_id)
    _emit(as_json, flow.revoke(ctx, grant_id, reason))


COMMANDS = [access_group]


def rendition_option(what: str) -> Callable[[Any], Any]:
    """``--rendition original|redacted`` for a command that gives out ``what``."""
    return click.option(
        "--rendition",
        type=click.Choice(RENDITIONS),
        default="original",
        show_default=True,
        help=f"{what} as stored, or with the personal data found muted or replaced (some "
        "purposes may have only the redacted one).",
    )
