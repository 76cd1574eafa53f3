"""``callvault``: a click group whose commands parse, call one service, and print.

Exit codes (CLI.md): 0 done, 1 a check failed, 2 bad input or usage, 3 refused.
Errors go to stderr, as ``{"error", "field"}`` JSON when ``--json`` was given.
"""

from __future__ import annotations

import os
import sys

import click
import orjson

from callvault import __version__
from callvault.cli import (
    access,
    audit,
    backup,
    check,
    db,
    disclosure,
    evidence,
    export,
    flags,
    hold,
    incident,
    ingest,
    init,
    keys,
    notice,
    play,
    policy,
    quality,
    report,
    retention,
    rights,
    search,
    serve,
    siprec,
    transcript,
    users,
    worker,
)
from callvault.errors import CallvaultError


@click.group()
@click.version_option(__version__, prog_name="callvault")
def cli() -> None:
    """callvault: call recording that keeps a public body's recording policy."""


for module in (
    init,
    check,
    backup,
    policy,
    ingest,
    audit,
    keys,
    db,
    serve,
    siprec,
    worker,
    users,
    access,
    play,
    transcript,
    export,
    disclosure,
    evidence,
    hold,
    flags,
    incident,
    quality,
    search,
    report,
    retention,
    rights,
    notice,
):
    for command in module.COMMANDS:
        cli.add_command(command)


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    as_json = "--json" in args
    # Whatever callvault creates (database, WAL, settings, blobs) is for its owner alone.
    os.umask(0o077)
    code = 0
    try:
        # Non-standalone click returns the code a command passed to ctx.exit (e.g. 1 when a
        # check failed after printing its result).
        returned = cli.main(args=args, prog_name="callvault", standalone_mode=False)
        code = returned if isinstance(returned, int) else 0
    except CallvaultError as exc:
        _fail(exc.as_dict(), exc.exit_code, as_json)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.Abort:
        _fail({"error": "aborted", "field": None}, 2, as_json)
    except click.ClickException as exc:
        field = getattr(getattr(exc, "param", None), "name", None)
        _fail({"error": exc.format_message(), "field": field}, 2, as_json)
    sys.exit(code)


def _fail(error: dict[str, str | None], code: int, as_json: bool) -> None:
    if as_json:
        sys.stderr.write(orjson.dumps(error).decode() + "\n")
    else:
        where = f" ({error['field']})" if error.get("field") else ""
        sys.stderr.write(f"error{where}: {error['error']}\n")
    sys.exit(code)
