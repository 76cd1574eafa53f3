"""Turn overlapping detections on one stream into non-overlapping findings per segment.

Every word takes the kind of the most specific detection that covers it (CARD beats DIGITS,
POSTCODE beats ADDRESS, ADDRESS beats a NAME spaCy saw in a street name); consecutive words of
the same kind become one item, so overlapping or touching detections of one kind merge. An
item that crosses a segment boundary is cut into one Finding per segment, so redaction can
replace the words of each segment.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from callvault.speech.model import Finding
from callvault.speech.pd_stream import Hit, SpeakerStream

# Most specific first. Payment data outranks everything: a card number must be muted as CARD
# even where a phone or date rule also matched part of it. A date of birth outranks sort code
# and account: the date parser saw a calendar date, the digit rules only saw digits.
PRIORITY = (
    "CARD",
    "SECURITY_CODE",
    "NI_NUMBER",
    "DATE_OF_BIRTH",
    "SORT_CODE",
    "ACCOUNT_NUMBER",
    "PHONE",
    "EMAIL",
    "POSTCODE",
    "ADDRESS",
    "NAME",
    "DIGITS",
)
_RANK = {kind: rank for rank, kind in enumerate(PRIORITY)}


def rank(kind: str) -> int:
    """Lower is more specific; kinds this module does not know rank last."""
    return _RANK.get(kind, len(PRIORITY))


@dataclass(frozen=True, slots=True)
class _Item:
    kind: str
    first: int
    last: int
    best: Hit  # the strongest detection inside the item names the detector and score


def _paint(hits: Sequence[Hit], length: int) -> list[Hit | None]:
    """For each word position, the most specific (then highest-scoring) hit covering it."""
    painted: list[Hit | None] = [None] * length
    for hit in sorted(hits, key=lambda h: (rank(h.kind), -h.score)):
        for position in range(max(hit.first, 0), min(hit.last, length - 1) + 1):
            if painted[position] is None:
                painted[position] = hit
    return painted


def _items(painted: Sequence[Hit | None]) -> list[_Item]:
    items: list[_Item] = []
    for position, hit in enumerate(painted):
        if hit is None:
            continue
        previous = items[-1] if items else None
        if previous is not None and previous.kind == hit.kind and previous.last == position - 1:
            best = hit if hit.score > previous.best.score else previous.best
            items[-1] = _Item(hit.kind, previous.first, position, best)
        else:
            items.append(_Item(hit.kind, position, position, hit))
    return items


def _per_segment(stream: SpeakerStream, item: _Item) -> list[Finding]:
    findings: list[Finding] = []
    start = item.first
    for position in range(item.first, item.last + 1):
        at_end = position == item.last
        if at_end or stream.words[position + 1].segment != stream.words[position].segment:
            findings.append(_finding(stream, item, start, position))
            start = position + 1
    return findings


def _finding(stream: SpeakerStream, item: _Item, first: int, last: int) -> Finding:
    head, tail = stream.words[first], stream.words[last]
    return Finding(
        kind=item.kind,
        speaker=stream.speaker,
        start_s=head.word.start_s,
        end_s=tail.word.end_s,
        detector=item.best.detector,
        score=item.best.score,
        segment=head.segment,
        first_word=head.index,
        last_word=tail.index,
    )


def merge_hits(stream: SpeakerStream, hits: Sequence[Hit]) -> list[Finding]:
    """Non-overlapping findings for one stream, one per (item, segment)."""
    items = _items(_paint(hits, len(stream.words)))
    return [finding for item in items for finding in _per_segment(stream, item)]
