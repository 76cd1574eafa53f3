"""``callvault export GRANT_ID --out FILE [--recording ID ...] --as USER``; the signing key."""

from __future__ import annotations

from pathlib import Path

import click

from callvault.access.export import Exporter
from callvault.access.export_signing import verify_export
from callvault.bootstrap import build
from callvault.cli.access import acting_as
from callvault.cli.output import emit, json_option
from callvault.errors import BadInput


@click.command("export")
@click.argument("grant_id", required=False)
@click.option(
    "--out",
    "out_path",
    type=click.Path(path_type=Path),
    help="A new file for the zip (mode 0600).",
)
@click.option(
    "--recording",
    "recording_ids",
    multiple=True,
    metavar="ID",
    help="Only these of the grant's recordings (repeat); default: all of them.",
)
@click.option("--as", "as_user", metavar="USER", help="The person you act for.")
@click.option(
    "--public-key", is_flag=True, help="Print the public key that verifies exports, and stop."
)
@click.option(
    "--verify",
    "verify_path",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    help="Check an export zip's signature and audio hashes, and stop.",
)
@click.option(
    "--key",
    "key_path",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    help="With --verify: the PEM public key (default: this home's).",
)
@json_option
def export_command(
    grant_id: str | None,
    out_path: Path | None,
    recording_ids: tuple[str, ...],
    as_user: str | None,
    public_key: bool,
    verify_path: Path | None,
    key_path: Path | None,
    as_json: bool,
) -> None:
    """Export a grant's recordings as a zip with a signed manifest (the purpose must allow
    export). Audited before any audio is written; record where it goes with
    `callvault disclosure add`."""
    services = build()
    exporter = Exporter.for_services(services)
    if verify_path:
        pem = key_path.read_bytes() if key_path else exporter.public_key()["public_key"].encode()
        manifest = verify_export(verify_path, pem)
        found = {"ok": True, "export_id": manifest["export_id"]}
        emit(as_json, found, f"{verify_path}: signature and audio hashes verify")
        return
    if public_key:
        key = exporter.public_key()
        emit(as_json, key, key["public_key"].rstrip())
        return
    if not (grant_id and out_path and as_user):
        raise BadInput("name GRANT_ID, --out FILE and --as USER (or --public-key)", "grant_id")
    ctx = acting_as(services, as_user)
    result = exporter.export(ctx, grant_id, out_path, recording_ids)
    emit(as_json, result, f"wrote {result['path']} (export {result['export_id']})")


COMMANDS = [export_command]
