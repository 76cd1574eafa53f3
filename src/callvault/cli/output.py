"""How every command prints: one JSON document with --json, readable text otherwise."""

from __future__ import annotations

import getpass
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click
import orjson

from callvault.context import Actor, RequestContext

F = TypeVar("F", bound=Callable[..., Any])


def json_option(func: F) -> F:
    """Adds ``--json`` to a command (every command a script would call has it)."""
    return click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")(func)


def emit(as_json: bool, data: Any, text: str | Callable[[], str]) -> None:
    if as_json:
        sys.stdout.write(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        click.echo(text() if callable(text) else text)


def operator_context(origin: str = "cli") -> RequestContext:
    """The local operator: whoever holds the home folder and runs the command."""
    user = getpass.getuser()
    return RequestContext(actor=Actor(name=f"operator:{user}", kind="operator"), origin=origin)
