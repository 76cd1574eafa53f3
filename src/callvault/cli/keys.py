"""``callvault keys rotate``."""

from __future__ import annotations

import click

from callvault.access.actions import require
from callvault.bootstrap import build
from callvault.cli.output import emit, json_option, operator_context
from callvault.maintenance.service import rotate_keys


@click.group("keys")
def keys_group() -> None:
    """Key-encryption keys."""


@keys_group.command("rotate")
@json_option
def rotate_command(as_json: bool) -> None:
    """Re-wrap every data key under a new key-encryption key (audio is not re-encrypted)."""
    ctx = operator_context()
    require(ctx.actor, "keys:rotate")
    count = rotate_keys(build(), ctx)
    emit(as_json, {"rewrapped": count}, f"re-wrapped {count} data key(s) under a new key")


COMMANDS = [keys_group]
