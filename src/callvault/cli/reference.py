"""docs/cli.md, generated from the commands' own ``--help`` so the two never disagree.

Regenerate with ``python -m callvault.cli.reference > docs/cli.md``; a test fails when stale.
"""

from __future__ import annotations

import click

from callvault.cli.main import cli

HEADER = """# Command reference

Generated from `--help` by `python -m callvault.cli.reference > docs/cli.md`; do not edit.
Exit codes: 0 done (also "not recorded"), 1 a check failed, 2 bad input or usage, 3 refused.
With `--json`, a command prints one JSON document on stdout and errors go to stderr as
`{"error": "...", "field": "..."|null}`.
"""


def _commands(group: click.Group, prefix: str) -> list[tuple[str, click.Command]]:
    found: list[tuple[str, click.Command]] = []
    for name in sorted(group.commands):
        command = group.commands[name]
        path = f"{prefix} {name}"
        if isinstance(command, click.Group):
            found.extend(_commands(command, path))
        else:
            found.append((path, command))
    return found


def render_reference() -> str:
    parts = [HEADER]
    for path, command in _commands(cli, "callvault"):
        # A fixed width, so the page does not depend on the terminal it was made in.
        ctx = click.Context(command, info_name=path, terminal_width=88, max_content_width=88)
        parts.append(f"## `{path}`\n\n```text\n{command.get_help(ctx)}\n```\n")
    return "\n".join(parts)


if __name__ == "__main__":
    click.echo(render_reference(), nl=False)
