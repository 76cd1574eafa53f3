"""``callvault notice [--staff] [--format md|html] [--out FILE] [--policy FILE]``.

Prints (or writes) the fair processing notice generated from the live policy. A notice with an
empty field is refused (exit 2, the field named) and nothing is written: with ``--out`` the
file is replaced only once the whole notice is ready, so a published copy is never left
half-written or empty.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import click

from callvault.access.actions import require
from callvault.bootstrap import build
from callvault.cli.output import emit, json_option, operator_context
from callvault.errors import BadInput
from callvault.notice.render import FORMATS
from callvault.notice.service import NOTICE, Published, publish
from callvault.policy.loader import load_policy


@click.command("notice")
@click.option("--staff", is_flag=True, help="The notice for staff instead of the public one.")
@click.option(
    "--format", "fmt", type=click.Choice(FORMATS), default="md", show_default=True,
    help="Markdown for a website's editor, or a complete HTML page.",
)  # fmt: skip
@click.option(
    "--out", type=click.Path(dir_okay=False, path_type=Path),
    help="Write the notice to FILE (replaced whole, only when complete).",
)  # fmt: skip
@click.option(
    "--policy", "policy_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Build it from this policy file (a draft to review) instead of the home's.",
)  # fmt: skip
@json_option
def notice_command(
    staff: bool, fmt: str, out: Path | None, policy_file: Path | None, as_json: bool
) -> None:
    """The fair processing notice, generated from the live policy, with its notice and policy
    versions and content hash. Refused, naming the field, if a field it needs is empty."""
    require(operator_context().actor, NOTICE)
    policy = load_policy(policy_file) if policy_file else build().policy.policy
    published = publish(policy, "staff" if staff else "public", fmt)
    if out is not None:
        _replace_whole(out, published.text)
    if as_json:
        emit(True, {**published.as_dict(), "path": str(out) if out else None}, "")
    elif out is not None:
        click.echo(_summary(published, out))
    else:
        click.echo(published.text, nl=False)


def _replace_whole(path: Path, text: str) -> None:
    """Write ``text`` beside ``path`` and rename it over: readers see the old or the new."""
    try:
        handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise BadInput(f"cannot write the notice to {path}: {exc.strerror}", "out") from exc
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as sink:
            sink.write(text)
        Path(temp).replace(path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def _summary(published: Published, out: Path) -> str:
    data = published.as_dict()
    return (
        f"wrote the {data['audience']} notice {data['notice_version']} (policy "
        f"{data['policy_version']}, sha256 {data['sha256'][:12]}) to {out}"
    )


COMMANDS = [notice_command]
