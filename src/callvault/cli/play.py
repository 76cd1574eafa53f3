"""``callvault play RECORDING_ID --grant G --out FILE [--rendition ...] --as USER``."""

from __future__ import annotations

from pathlib import Path

import click

from callvault.bootstrap import build
from callvault.cli.access import acting_as, as_option, rendition_option
from callvault.cli.output import emit, json_option


@click.command("play")
@click.argument("recording_id")
@click.option("--grant", "grant_id", required=True, help="An approved grant for this recording.")
@click.option(
    "--out",
    "out_path",
    required=True,
    type=click.Path(path_type=Path),
    help="A new file for the audio (Ogg Opus, mode 0600).",
)
@rendition_option("The audio")
@as_option
@json_option
def play_command(
    recording_id: str, grant_id: str, out_path: Path, rendition: str, as_user: str, as_json: bool
) -> None:
    """Write a recording's audio to a file under a grant; the listen is audited first."""
    services = build()
    ctx = acting_as(services, as_user)
    result = services.player.play(ctx, recording_id, grant_id, out_path, rendition)
    emit(as_json, result, f"wrote {result['path']} (sha256 {result['sha256']})")


COMMANDS = [play_command]
