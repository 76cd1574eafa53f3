"""``callvault ingest AUDIO --meta META.json``."""

from __future__ import annotations

from pathlib import Path

import click

from callvault.access.actions import require
from callvault.bootstrap import build
from callvault.capture.ingest import AudioInput
from callvault.cli.output import emit, json_option, operator_context
from callvault.errors import BadInput


@click.command("ingest")
@click.argument("audio", type=click.Path(path_type=Path))
@click.option(
    "--meta",
    "meta_path",
    required=True,
    type=click.Path(path_type=Path),
    help="The call's metadata JSON (docs/ingest.md).",
)
@json_option
def ingest_command(audio: Path, meta_path: Path, as_json: bool) -> None:
    """Ingest a call recorded by a PBX: kept only if the policy covers it."""
    ctx = operator_context()
    require(ctx.actor, "recordings:ingest")
    try:
        meta = meta_path.read_bytes()
    except OSError as exc:
        raise BadInput(f"cannot read metadata file {meta_path}: {exc.strerror}", "meta") from exc
    if not audio.is_file():
        raise BadInput(f"audio file {audio} does not exist or is not a file", "audio")
    result = build().ingest.ingest(ctx, AudioInput(path=audio), meta)
    emit(
        as_json,
        result.as_dict(),
        f"{result.status}: {result.recording_id or '-'} ({result.reason})",
    )


COMMANDS = [ingest_command]
