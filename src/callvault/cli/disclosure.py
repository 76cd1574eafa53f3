"""``callvault disclosure add/list``: the register of exports sent outside the council."""

from __future__ import annotations

import click

from callvault.access.disclosures import METHODS, DisclosureRegister
from callvault.bootstrap import build
from callvault.cli.access import acting_as, as_option, person_or_operator
from callvault.cli.output import emit, json_option


@click.group("disclosure")
def disclosure_group() -> None:
    """Record and read where exports were sent."""


@disclosure_group.command("add")
@click.argument("export_id")
@click.option("--recipient", required=True, help="The person it was sent to.")
@click.option("--organisation", required=True, help="Their organisation (e.g. the police force).")
@click.option("--reason", required=True, help="Why it was disclosed (the request, the law).")
@click.option("--method", type=click.Choice(METHODS), required=True, help="How it was sent.")
@click.option("--sent-on", required=True, metavar="YYYY-MM-DD", help="The day it was sent.")
@as_option
@json_option
def add_command(
    export_id: str,
    recipient: str,
    organisation: str,
    reason: str,
    method: str,
    sent_on: str,
    as_user: str,
    as_json: bool,
) -> None:
    """Enter that an export was sent to someone; the person who exported it records it."""
    services = build()
    ctx = acting_as(services, as_user)
    row = DisclosureRegister.for_services(services).record(
        ctx, export_id, recipient=recipient, organisation=organisation, reason=reason,
        method=method, sent_on=sent_on,
    )  # fmt: skip
    emit(as_json, row, f"disclosure {row['id']}: export {export_id} to {organisation}")


@disclosure_group.command("list")
@click.option("--from", "from_", metavar="YYYY-MM-DD", help="Sent on or after this day.")
@click.option("--to", metavar="YYYY-MM-DD", help="Sent on or before this day.")
@click.option("--as", "as_user", metavar="USER", help="A DPO or auditor (default: the operator).")
@json_option
def list_command(from_: str | None, to: str | None, as_user: str | None, as_json: bool) -> None:
    """The disclosure register (DPO, auditors, the operator); every reading is audited."""
    services = build()
    ctx = person_or_operator(services, as_user)
    rows = DisclosureRegister.for_services(services).entries(ctx, from_, to)
    emit(
        as_json,
        {"disclosures": rows},
        lambda: (
            "\n".join(
                f"{r['sent_on']}  {r['organisation']:<24} {r['recipient']:<20} {r['method']:<15} "
                f"export {r['export_id']} ({r['purpose']} {r['case_ref']})"
                for r in rows
            )
            or "no disclosures"
        ),
    )


COMMANDS = [disclosure_group]
