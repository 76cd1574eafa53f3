"""``callvault init [--demo]``: create a home folder."""

from __future__ import annotations

import secrets
from pathlib import Path

import click

from callvault.access.signin import SignInService
from callvault.cli.output import emit, json_option, operator_context
from callvault.config import home_from_env
from callvault.maintenance.service import InitResult, init_home


@click.command("init")
@click.option("--demo", is_flag=True, help="Also ingest sample calls to try things with.")
@click.option(
    "--policy",
    "policy_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Policy YAML to start from (default: the shipped council example).",
)
@json_option
def init_command(demo: bool, policy_file: Path | None, as_json: bool) -> None:
    """Create the home folder ($CALLVAULT_HOME, default ./callvault-home)."""
    ctx = operator_context()
    services = init_home(ctx, home_from_env(), policy_file)
    password = services.access.add_person(ctx, "admin", "administrator")
    # Administrators sign in with a second factor (they create accounts): enrol it now, so
    # the first sign-in needs no second operator step.
    totp = SignInService.for_services(services).enrol_totp(ctx, "admin")
    token = services.access.add_service(ctx, "pbx-upload", "ingest")
    result = InitResult(services.settings.home, "admin", password, "pbx-upload", token)
    demo_lines = ""
    if demo:
        from callvault.demo import (
            add_demo_people,
            ingest_demo_calls,
            ingest_demo_history,
            open_demo_request,
            prepare_demo_figures,
            write_demo_accounts,
        )

        result.demo = ingest_demo_calls(services, ctx)
        result.demo |= ingest_demo_history(services, ctx)
        result.demo |= prepare_demo_figures(services)
        demo_password = secrets.token_urlsafe(12)
        people = add_demo_people(services, ctx, demo_password)
        accounts = write_demo_accounts(services.settings.home, demo_password, people)
        result.demo["people"] = [person.username for person in people]
        result.demo["rights_request"] = open_demo_request(services)
        result.demo["accounts_file"] = str(accounts)
        demo_lines = (
            f"\ndemo: {result.demo['recorded']} sample calls recorded, "
            f"{result.demo['not_recorded']} to staff extensions declined; "
            f"{result.demo['history_recorded']} short calls of the last four weeks for the "
            f"demand figures; last month's quality sample: {result.demo['quality_sampled']} calls"
            f"\ndemo people ({', '.join(p.username for p in people)}), password "
            f"{demo_password}; their second factors are in {accounts}"
        )
    payload = {**result.as_dict(), "admin_totp_uri": totp.uri}
    emit(
        as_json,
        payload,
        lambda: (
            f"created {result.home}\n"
            f"administrator: admin / {password}   (shown once: keep it safe)\n"
            f"admin's second factor: add {totp.uri} to an authenticator app (shown once)\n"
            f"PBX upload token (pbx-upload): {token}   (shown once)" + demo_lines
        ),
    )


COMMANDS = [init_command]
