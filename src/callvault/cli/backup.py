"""``callvault backup OUT_DIR`` and ``callvault restore BACKUP_DIR | --ledger-only``."""

from __future__ import annotations

from pathlib import Path

import click

from callvault.access.actions import require
from callvault.bootstrap import build
from callvault.cli.output import emit, json_option, operator_context
from callvault.maintenance.backup import BackupResult, backup_home
from callvault.maintenance.restore import RestoreResult, reapply_ledger, restore_home


@click.command("backup")
@click.argument("out_dir", type=click.Path(file_okay=False, path_type=Path))
@json_option
def backup_command(out_dir: Path, as_json: bool) -> None:
    """Copy the database, the encrypted blobs of recordings and training clips, the settings
    and the policy into a new folder under OUT_DIR, while callvault runs. Key files are never
    included: keep them apart (docs/backup.md). Embedded homes only (SQLite and files)."""
    ctx = operator_context()
    require(ctx.actor, "store:backup")
    result = backup_home(build(), ctx, out_dir)
    emit(as_json, result.as_dict(), lambda: _describe_backup(result))


@click.command("restore")
@click.argument(
    "backup_dir", required=False, type=click.Path(file_okay=False, exists=True, path_type=Path)
)
@click.option(
    "--ledger-only",
    is_flag=True,
    help="Restore nothing: erase again what the erasure ledger lists, in the database and "
    "blob store as they stand (after restoring PostgreSQL or S3 with their own tools).",
)
@json_option
def restore_command(backup_dir: Path | None, ledger_only: bool, as_json: bool) -> None:
    """Restore a backup into this home, then erase again every recording erased, and remove
    every training clip removed, since it was made (the erasure ledger). Stop `serve` and
    every `worker` first."""
    if ledger_only == (backup_dir is not None):
        raise click.UsageError("give either BACKUP_DIR or --ledger-only")
    ctx = operator_context()
    require(ctx.actor, "store:restore")
    services = build()
    if backup_dir is None:
        result = RestoreResult(restored=False, reapplied=reapply_ledger(services, ctx))
    else:
        result = restore_home(services, ctx, backup_dir)
    emit(as_json, result.as_dict(), lambda: _describe_restore(result))


def _describe_backup(result: BackupResult) -> str:
    data = result.as_dict()
    return (
        f"backed up {data['recordings']} recording(s), {data['blobs']} blob(s), "
        f"{data['bytes']} bytes to {data['path']} (key files not included)"
    )


def _describe_restore(result: RestoreResult) -> str:
    data = result.as_dict()
    lines = [f"erased again {data['reapplied']} recording(s) the erasure ledger lists"]
    if result.restored:
        lines.insert(
            0,
            f"restored the backup of {data['created_at']}: {data['recordings']} recording(s), "
            f"{data['blobs']} blob(s)",
        )
        if data["orphan_blobs"]:
            lines.append(
                f"{data['orphan_blobs']} blob(s) of recordings made after the backup are "
                "unreadable now (their keys were not in it); `callvault check --repair` "
                "removes them"
            )
    return "\n".join(lines)


COMMANDS = [backup_command, restore_command]
