"""Small pieces of RFC 3261 grammar: lists, parameters, name-addr, media types.

Every splitter here walks its input once, so hostile header values cost linear time.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from callvault.capture.siprec.errors import SipError

# RFC 3261 §25.1 token characters (method names, header names, parameter names).
TOKEN_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.!%*_+`'~")


def is_token(text: str) -> bool:
    return bool(text) and all(char in TOKEN_CHARS for char in text)


_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


def has_control_characters(text: str) -> bool:
    """Any ASCII control character but tab (CR and LF included)."""
    return _CONTROL.search(text) is not None


def parse_digits(text: str, *, max_digits: int = 10) -> int | None:
    """A plain ASCII decimal number, or ``None``; bounded so a hostile length stays cheap."""
    if not text or len(text) > max_digits or not (text.isascii() and text.isdigit()):
        return None
    return int(text)


def split_outside_quotes(value: str, separator: str, *, angles: bool = True) -> list[str]:
    """Split on ``separator`` except inside "quoted strings" and (when ``angles``) <...>.

    Items are stripped and empty ones dropped. An unterminated quote or bracket simply runs
    to the end: the caller validates the items it needs.
    """
    items: list[str] = []
    current: list[str] = []
    depth = 0
    for _index, char, quoted in _scan_quotes(value):
        if not quoted:
            if angles and char == "<":
                depth += 1
            elif angles and char == ">" and depth:
                depth -= 1
            elif char == separator and not depth:
                items.append("".join(current).strip())
                current = []
                continue
        current.append(char)
    items.append("".join(current).strip())
    return [item for item in items if item]


def _scan_quotes(text: str) -> Iterator[tuple[int, str, bool]]:
    """Each character with its index and whether it belongs to a "quoted string" (its quote
    marks and backslash escapes included), for the splitters and finders that skip them."""
    in_quotes = escaped = False
    for index, char in enumerate(text):
        if in_quotes:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_quotes = False
            yield index, char, True
        elif char == '"':
            in_quotes = True
            yield index, char, True
        else:
            yield index, char, False


def split_commas(value: str) -> list[str]:
    """Split a comma-joined header (``Via: a, b``) without breaking "a, b" or <sip:a,b>."""
    return split_outside_quotes(value, ",")


def unquote(text: str) -> str:
    """``"Jo \\"J\\" Smith"`` -> ``Jo "J" Smith``; text that is not quoted comes back as is."""
    text = text.strip()
    if len(text) < 2 or text[0] != '"' or text[-1] != '"':
        return text
    out: list[str] = []
    escaped = False
    for char in text[1:-1]:
        if escaped:
            out.append(char)
            escaped = False
        elif char == "\\":
            escaped = True
        else:
            out.append(char)
    return "".join(out)


def parse_params(text: str) -> dict[str, str | None]:
    """``;tag=a;+sip.src;expires=60`` -> ``{"tag": "a", "+sip.src": None, "expires": "60"}``.

    Names are lower-cased (SIP compares them without case); values stay as written, so a
    quoted feature-tag value keeps its quotes. The first of a repeated name wins.
    """
    params: dict[str, str | None] = {}
    for item in split_outside_quotes(text, ";", angles=False):
        name, sep, value = item.partition("=")
        key = name.strip().lower()
        if key and key not in params:
            params[key] = value.strip() if sep else None
    return params


@dataclass(frozen=True, slots=True)
class NameAddr:
    """A From/To/Contact value: ``"Name" <sip:user@host;uri-param>;header-param``."""

    uri: str
    display_name: str | None = None
    params: dict[str, str | None] = field(default_factory=dict)

    @property
    def uri_params(self) -> dict[str, str | None]:
        """Parameters inside the URI (``;transport=tcp``), before any ``?headers``."""
        without_headers = self.uri.partition("?")[0]
        _, sep, rest = without_headers.partition(";")
        return parse_params(rest) if sep else {}


def parse_name_addr(value: str, *, header: str = "header") -> NameAddr:
    """Parse one name-addr or addr-spec; ``header`` names the header in the error."""
    text = value.strip()
    open_at = _find_unquoted(text, "<")
    if open_at < 0:
        # RFC 3261 §20.10: without <>, everything after the first ';' is a header parameter.
        uri, sep, rest = text.partition(";")
        if not uri.strip():
            raise SipError(f"{header} has no URI: {value!r}", reason=f"Bad {header} Header")
        return NameAddr(uri=uri.strip(), params=parse_params(rest) if sep else {})
    close_at = text.find(">", open_at)
    if close_at < 0:
        raise SipError(f"{header} has '<' without '>': {value!r}", reason=f"Bad {header} Header")
    display = unquote(text[:open_at]) or None
    uri = text[open_at + 1 : close_at].strip()
    if not uri:
        raise SipError(f"{header} has an empty URI: {value!r}", reason=f"Bad {header} Header")
    return NameAddr(uri=uri, display_name=display, params=parse_params(text[close_at + 1 :]))


def _find_unquoted(text: str, wanted: str) -> int:
    return next((i for i, char, quoted in _scan_quotes(text) if char == wanted and not quoted), -1)


def parse_media_type(value: str) -> tuple[str, dict[str, str]]:
    """``Multipart/Mixed; boundary="b1"`` -> ``("multipart/mixed", {"boundary": "b1"})``.

    The type is lower-cased with any spaces around its '/' removed; parameter values are
    unquoted (a boundary is case-sensitive, so values keep their case).
    """
    main, *rest = split_outside_quotes(value, ";", angles=False) or [""]
    media_type = "".join(main.split()).lower()
    params: dict[str, str] = {}
    for item in rest:
        name, sep, raw = item.partition("=")
        key = name.strip().lower()
        if key and sep and key not in params:
            params[key] = unquote(raw)
    return media_type, params
