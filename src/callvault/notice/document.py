"""A notice as plain data: sections of paragraphs, bullet lists and tables of text.

The notices are built as this data first and only then rendered (``render.py``), so Markdown
and HTML say the same thing, every policy string passes through one escaping function per
format, and the content hash names what was said, not how it was laid out: the same notice
carries the same hash in either format.
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass
from typing import Any

import orjson


@dataclass(frozen=True, slots=True)
class Link:
    """A link; only our own fixed text makes these (the ICO's page), never a policy string."""

    text: str
    href: str


Inline = str | Link


@dataclass(frozen=True, slots=True)
class Para:
    parts: tuple[Inline, ...]


@dataclass(frozen=True, slots=True)
class Bullets:
    items: tuple[Para, ...]


@dataclass(frozen=True, slots=True)
class Table:
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


Block = Para | Bullets | Table


@dataclass(frozen=True, slots=True)
class Section:
    heading: str
    blocks: tuple[Block, ...]


@dataclass(frozen=True, slots=True)
class Document:
    """One notice. ``about`` is shown under the title (controller, versions); ``versions``
    closes the document, beside the content hash."""

    kind: str  # "public", "staff" or "ropa"
    title: str
    about: tuple[tuple[str, str], ...]
    sections: tuple[Section, ...]
    versions: tuple[tuple[str, str], ...]

    def as_data(self) -> dict[str, Any]:
        """JSON-able data, each block tagged with its type (``para``, ``bullets``, ``table``)."""
        data: dict[str, Any] = _data(self)
        return data

    @property
    def sha256(self) -> str:
        """SHA-256 of the content as canonical JSON: changes when, and only when, the words do."""
        canonical = orjson.dumps(self.as_data(), option=orjson.OPT_SORT_KEYS)
        return hashlib.sha256(canonical).hexdigest()


def para(*parts: Inline) -> Para:
    return Para(tuple(parts))


def bullets(*items: str | Para) -> Bullets:
    return Bullets(tuple(item if isinstance(item, Para) else para(item) for item in items))


def _data(value: object) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: _data(getattr(value, f.name)) for f in dataclasses.fields(value)}
        return {"type": type(value).__name__.lower(), **fields}
    if isinstance(value, tuple | list):
        return [_data(item) for item in value]
    return value
