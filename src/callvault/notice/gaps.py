"""Refusing to publish: every field a notice needs is checked before a word of it is rendered.

The loader already refuses empty required texts; this guard also covers what the policy format
leaves optional but a notice cannot do without (a purpose's description, the purposes and
recipients lists) and a ``Policy`` built by other means. It names every empty field at once, so
one edit of the policy file fixes them all.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from callvault.errors import ConfigError

_T = TypeVar("_T")


class NoticeIncomplete(ConfigError):
    """A field the notice needs is empty: nothing is published.

    HTTP 503, not 4xx or 500: the reader asked for nothing wrong, and the server is not
    broken; the page is unavailable until the policy file is completed and reloaded. The
    CLI exits 2 like any other invalid policy (``ConfigError``).
    """

    http_status = 503


class Gaps:
    """Collects the empty fields met while a notice is built; ``check`` refuses if any."""

    def __init__(self, what: str) -> None:
        self.what = what
        self.fields: list[str] = []

    def text(self, value: str, field: str) -> str:
        """``value`` stripped; an empty one is recorded as a gap at ``field``."""
        if not value.strip():
            self.fields.append(field)
        return value.strip()

    def items(self, values: Sequence[_T], field: str) -> Sequence[_T]:
        """``values``; an empty list is recorded as a gap at ``field``."""
        if not values:
            self.fields.append(field)
        return values

    def check(self) -> None:
        """Raise ``NoticeIncomplete`` naming every gap (the first as ``field``)."""
        if not self.fields:
            return
        named = ", ".join(f"`{field}`" for field in self.fields)
        raise NoticeIncomplete(
            f"the {self.what} is not published: the policy leaves {named} empty; fill "
            f"{'it' if len(self.fields) == 1 else 'them'} in the policy file "
            "(docs/policy-format.md) and restart callvault",
            field=self.fields[0],
        )
