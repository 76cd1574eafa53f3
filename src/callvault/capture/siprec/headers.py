"""SIP headers: ordered, repeatable, compared without case, compact forms expanded."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from callvault.capture.siprec.errors import SipError
from callvault.capture.siprec.grammar import has_control_characters, is_token, split_commas

# RFC 3261 §7.3.3 and later RFCs (3265, 3515, 3841, 4028, 4474): one-letter compact forms.
COMPACT_FORMS = {
    "a": "Accept-Contact",
    "b": "Referred-By",
    "c": "Content-Type",
    "d": "Request-Disposition",
    "e": "Content-Encoding",
    "f": "From",
    "i": "Call-ID",
    "j": "Reject-Contact",
    "k": "Supported",
    "l": "Content-Length",
    "m": "Contact",
    "n": "Identity-Info",
    "o": "Event",
    "r": "Refer-To",
    "s": "Subject",
    "t": "To",
    "u": "Allow-Events",
    "v": "Via",
    "x": "Session-Expires",
    "y": "Identity",
}

# Spellings that simple title-casing gets wrong, and the common ones, so that a header
# received as "call-id" or "CSEQ" goes out the way other stacks expect to read it.
_CANONICAL = {
    name.lower(): name
    for name in (
        *COMPACT_FORMS.values(),
        "Accept",
        "Accept-Encoding",
        "Accept-Language",
        "Alert-Info",
        "Allow",
        "Authorization",
        "Call-Info",
        "Content-Disposition",
        "Content-Language",
        "CSeq",
        "Date",
        "Error-Info",
        "Expires",
        "History-Info",
        "In-Reply-To",
        "Max-Forwards",
        "MIME-Version",
        "Min-Expires",
        "Min-SE",
        "Organization",
        "P-Asserted-Identity",
        "P-Preferred-Identity",
        "Path",
        "Priority",
        "Proxy-Authenticate",
        "Proxy-Authorization",
        "Proxy-Require",
        "RAck",
        "Reason",
        "Record-Route",
        "Reply-To",
        "Require",
        "Retry-After",
        "Route",
        "RSeq",
        "Server",
        "Service-Route",
        "Timestamp",
        "Unsupported",
        "User-Agent",
        "Warning",
        "WWW-Authenticate",
    )
}

# Headers whose grammar is a comma-separated list (RFC 3261 §7.3.1), so "Via: a, b" is two
# values. Others (Date, WWW-Authenticate, Subject) may hold commas that are not separators.
LIST_HEADERS = frozenset(
    name.lower()
    for name in (
        "Accept",
        "Accept-Encoding",
        "Accept-Language",
        "Alert-Info",
        "Allow",
        "Allow-Events",
        "Call-Info",
        "Contact",
        "Content-Encoding",
        "Content-Language",
        "Error-Info",
        "History-Info",
        "In-Reply-To",
        "P-Asserted-Identity",
        "Path",
        "Proxy-Require",
        "Reason",
        "Record-Route",
        "Require",
        "Route",
        "Service-Route",
        "Supported",
        "Unsupported",
        "Via",
        "Warning",
    )
)


def canonical_name(name: str) -> str:
    """``v`` -> ``Via``, ``call-id`` -> ``Call-ID``; unknown names keep their spelling."""
    stripped = name.strip()
    lowered = stripped.lower()
    if lowered in COMPACT_FORMS:
        return COMPACT_FORMS[lowered]
    return _CANONICAL.get(lowered, stripped)


class Headers:
    """The header fields of one message, in order, each as (canonical name, value)."""

    __slots__ = ("_fields",)

    def __init__(self, fields: Iterable[tuple[str, str]] = ()) -> None:
        self._fields: list[tuple[str, str]] = []
        for name, value in fields:
            self.add(name, value)

    def add(self, name: str, value: str) -> None:
        self._fields.append((canonical_name(name), value.strip()))

    def replace(self, name: str, value: str) -> None:
        """Replace every field of this name by one, where the first one was (or at the end)."""
        key = canonical_name(name).lower()
        at = next((i for i, (n, _) in enumerate(self._fields) if n.lower() == key), None)
        self.remove(name)
        field = (canonical_name(name), value.strip())
        if at is None:
            self._fields.append(field)
        else:
            self._fields.insert(at, field)

    def remove(self, name: str) -> None:
        key = canonical_name(name).lower()
        self._fields = [(n, v) for n, v in self._fields if n.lower() != key]

    def get(self, name: str) -> str | None:
        """The first field of this name as written, or ``None``."""
        key = canonical_name(name).lower()
        return next((v for n, v in self._fields if n.lower() == key), None)

    def fields(self, name: str) -> list[str]:
        """Every field of this name as written (one entry per header line)."""
        key = canonical_name(name).lower()
        return [v for n, v in self._fields if n.lower() == key]

    def values(self, name: str) -> list[str]:
        """Every value of a list header, whether repeated or comma-joined, in order."""
        lines = self.fields(name)
        if canonical_name(name).lower() not in LIST_HEADERS:
            return lines
        return [item for line in lines for item in split_commas(line)]

    def option_tags(self, name: str) -> set[str]:
        """Require/Supported/Proxy-Require option tags, lower-cased (``{"siprec", "timer"}``)."""
        return {tag.lower() for tag in self.values(name)}

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.get(name) is not None

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(list(self._fields))

    def __len__(self) -> int:
        return len(self._fields)

    def __repr__(self) -> str:
        return f"Headers({self._fields!r})"

    def copy(self) -> Headers:
        return Headers(self._fields)


def parse_header_block(lines: list[str]) -> Headers:
    """Header lines (CRLF or bare LF already split off) into :class:`Headers`.

    Folded lines (RFC 3261 §7.3.1: a line starting with whitespace continues the one before)
    are joined with one space; blank lines are skipped.
    """
    unfolded: list[list[str]] = []  # pieces joined once at the end: linear in the input
    for raw in lines:
        line = raw.rstrip("\r")
        if line[:1] in {" ", "\t"}:
            if not unfolded:
                raise SipError(
                    "the first header line starts with whitespace (a continuation of nothing)",
                    reason="Bad Header Folding",
                )
            unfolded[-1].append(line.strip())
        elif line:
            unfolded.append([line])
    headers = Headers()
    for pieces in unfolded:
        line = " ".join(pieces)
        if has_control_characters(line):
            # A stray CR or NUL copied into a response (Via, From) could split it in two.
            raise SipError(
                f"header line {line[:40]!r} has control characters", reason="Bad Header Line"
            )
        name, sep, value = line.partition(":")
        if not sep or not is_token(name.rstrip(" \t")):
            raise SipError(
                f"header line {line[:80]!r} is not 'Name: value'", reason="Bad Header Line"
            )
        headers.add(name.rstrip(" \t"), value)
    return headers
