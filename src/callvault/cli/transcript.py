"""``callvault transcript RECORDING_ID --grant G [--rendition original|redacted] --as USER``."""

from __future__ import annotations

import click

from callvault.bootstrap import build
from callvault.cli.access import acting_as, as_option, rendition_option
from callvault.cli.output import emit, json_option


@click.command("transcript")
@click.argument("recording_id")
@click.option("--grant", "grant_id", required=True, help="An approved grant for this recording.")
@rendition_option("The words (card data always replaced)")
@as_option
@json_option
def transcript_command(
    recording_id: str, grant_id: str, rendition: str, as_user: str, as_json: bool
) -> None:
    """Print a recording's transcript under a grant; the reading is audited first."""
    services = build()
    ctx = acting_as(services, as_user)
    result = services.speech.transcript(ctx, recording_id, grant_id, rendition)
    lines = [
        f"[{s['start']:7.2f}-{s['end']:7.2f}] {s['speaker']}: {s['text']}"
        for s in result["segments"]
    ]
    emit(as_json, result, "\n".join(lines) or "(no speech)")


COMMANDS = [transcript_command]
