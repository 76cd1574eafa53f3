"""``callvault evidence bundle`` (make a signed bundle and enter its disclosure) and
``callvault evidence verify`` (the recipient's offline check: no home folder needed)."""

from __future__ import annotations

from pathlib import Path

import click

from callvault.access.disclosures import METHODS
from callvault.bootstrap import build
from callvault.cli.access import acting_as
from callvault.cli.output import emit, json_option
from callvault.errors import IntegrityFailure
from callvault.evidence.service import EvidenceService
from callvault.evidence.verify import verify_bundle


@click.group("evidence")
def evidence_group() -> None:
    """Signed evidence bundles for complaints, ombudsmen, courts and the police."""


@evidence_group.command("bundle")
@click.argument("recording_id")
@click.option("--grant", "grant_id", required=True, help="Your approved grant for the recording.")
@click.option(
    "--out",
    "out_path",
    required=True,
    type=click.Path(path_type=Path),
    help="A new file for the bundle (a zip, mode 0600).",
)
@click.option("--recipient", required=True, help="The person it goes to.")
@click.option("--organisation", required=True, help="Their organisation (e.g. the police force).")
@click.option("--reason", required=True, help="Why it is disclosed (the request, the law).")
@click.option("--method", type=click.Choice(METHODS), required=True, help="How it will be sent.")
@click.option("--as", "as_user", required=True, metavar="USER", help="The person you act for.")
@json_option
def bundle_command(
    recording_id: str,
    grant_id: str,
    out_path: Path,
    recipient: str,
    organisation: str,
    reason: str,
    method: str,
    as_user: str,
    as_json: bool,
) -> None:
    """Write a signed evidence bundle of a recording (audio, transcript, metadata, custody
    trail) under a grant whose purpose allows export, and enter it in the disclosure
    register as sent today. Audited before any byte is written."""
    services = build()
    ctx = acting_as(services, as_user)
    result = EvidenceService.for_services(services).bundle(
        ctx, recording_id, grant_id, out_path, recipient=recipient, organisation=organisation,
        reason=reason, method=method,
    )  # fmt: skip
    emit(
        as_json,
        result,
        f"wrote {result['path']} (bundle {result['bundle_id']}, disclosure "
        f"{result['disclosure_id']} to {organisation})",
    )


@evidence_group.command("verify")
@click.argument("bundle_path", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option(
    "--key",
    "key_path",
    required=True,
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    help="The council's export public key (PEM), as it gave it to you.",
)
@json_option
@click.pass_context
def verify_command(
    click_ctx: click.Context, bundle_path: Path, key_path: Path, as_json: bool
) -> None:
    """Check a bundle offline with only the public key: its seal, its manifest signature,
    every member's SHA-256 and the custody trail's hashes and signed head. Exit 1 if
    anything fails. Reads no home folder, database or setting."""
    try:
        report = verify_bundle(bundle_path, key_path.read_bytes())
    except IntegrityFailure as failure:
        emit(
            as_json,
            {"ok": False, "path": str(bundle_path), "problem": failure.message},
            f"{bundle_path}: FAILED: {failure.message}",
        )
        click_ctx.exit(1)
        return
    emit(
        as_json,
        report,
        f"{bundle_path}: verified (bundle {report['bundle_id']}, recording "
        f"{report['recording_id']}, {report['custody_entries']} custody entries)",
    )


COMMANDS = [evidence_group]
