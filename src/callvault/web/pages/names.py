"""Names that tell things apart on a page: short ids, and distinct accessible names for
repeated buttons and fields."""

from __future__ import annotations

from collections.abc import Sequence

_SHORT_ID = 8  # recording, grant and hold ids are 32 hex digits; 8 tell them apart on a page


def short_id(value: str) -> str:
    return value[:_SHORT_ID]


def distinct_names(parts: Sequence[Sequence[str]]) -> list[str]:
    """For each item's describing parts (most telling first, the last unique): the fewest
    leading parts, joined, that no other item shares, so repeated buttons have distinct
    accessible names without every name carrying an id."""
    names = []
    for index, mine in enumerate(parts):
        for size in range(1, len(mine) + 1):
            name = ", ".join(mine[:size])
            others = (", ".join(o[:size]) for i, o in enumerate(parts) if i != index)
            if name not in others:
                break
        names.append(name)
    return names
