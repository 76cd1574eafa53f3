"""One HTTP byte range (RFC 9110 section 14): what a browser's audio element asks for.

Only a single range is served. A header that is malformed, names another unit or lists
several ranges is ignored, as the RFC allows, and the whole recording is sent: media
players never send those, and answering them in full is simpler than multipart bodies.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from callvault.errors import BadInput

_SINGLE = re.compile(r"bytes=(\d{0,18})-(\d{0,18})")


class RangeNotSatisfiable(BadInput):
    """The range starts past the end of the audio (HTTP 416, with the size to retry)."""

    http_status = 416

    def __init__(self, wanted: str, size: int) -> None:
        super().__init__(
            f"range {wanted!r} is outside the {size}-byte audio; ask for bytes 0-{size - 1}",
            "range",
        )
        self.size = size


@dataclass(frozen=True, slots=True)
class ByteRange:
    """``bytes=first-last``, ``bytes=first-`` (``last`` None) or ``bytes=-suffix``."""

    first: int | None
    last: int | None
    suffix: int | None = None

    @classmethod
    def parse(cls, header: str | None) -> ByteRange | None:
        """The range a ``Range`` header asks for; None when there is none to honour."""
        match = _SINGLE.fullmatch((header or "").strip().replace(" ", ""))
        if match is None:
            return None
        first, last = match.groups()
        if not first:
            return cls(None, None, int(last)) if last else None
        if last and int(last) < int(first):
            return None  # invalid: ignored, the whole audio is sent
        return cls(int(first), int(last) if last else None)

    def resolve(self, size: int) -> tuple[int, int]:
        """``(start, end)``, end exclusive, within ``size`` bytes; ``RangeNotSatisfiable``
        when it starts at or past the end (or is an empty suffix)."""
        if self.suffix is not None:
            if self.suffix == 0 or size == 0:
                raise RangeNotSatisfiable(self.header(), size)
            return max(size - self.suffix, 0), size
        assert self.first is not None  # a range is a suffix or has a first byte
        if self.first >= size:
            raise RangeNotSatisfiable(self.header(), size)
        end = size if self.last is None else min(self.last + 1, size)
        return self.first, end

    def header(self) -> str:
        if self.suffix is not None:
            return f"bytes=-{self.suffix}"
        return f"bytes={self.first}-{'' if self.last is None else self.last}"
