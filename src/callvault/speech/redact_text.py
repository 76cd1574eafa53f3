"""Replace the words of each finding with its label, e.g. "[CARD]", keeping word times.

The consecutive words of one finding collapse into a single word carrying the label, timed
from the first word's start to the last word's end, so the audio muting and the redacted text
agree. Punctuation that ends the last redacted word ("9012." -> "[CARD].") is kept so the text
still reads as sentences; no other character of a redacted word survives.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from callvault.speech.model import Finding, Segment, Word
from callvault.speech.pd_merge import rank

_TRAILING_PUNCTUATION = re.compile(r"[.,?!;:]+$")


def _spans(findings: Sequence[Finding], word_count: int) -> list[tuple[int, int, str]]:
    """The segment's finding ranges, overlaps joined under the most specific kind."""
    ranges = sorted(
        (max(f.first_word, 0), min(f.last_word, word_count - 1), f.kind)
        for f in findings
        if f.first_word >= 0 and f.last_word >= f.first_word and f.first_word < word_count
    )
    joined: list[tuple[int, int, str]] = []
    for first, last, kind in ranges:
        if joined and first <= joined[-1][1]:
            prev_first, prev_last, prev_kind = joined[-1]
            best = kind if rank(kind) < rank(prev_kind) else prev_kind
            joined[-1] = (prev_first, max(prev_last, last), best)
        else:
            joined.append((first, last, kind))
    return joined


def _label_word(words: Sequence[Word], first: int, last: int, kind: str) -> Word:
    trailing = _TRAILING_PUNCTUATION.search(words[last].text.strip())
    label = f"[{kind}]" + (trailing.group() if trailing else "")
    return Word(words[first].start_s, words[last].end_s, label, words[first].probability)


def redact_segment(segment: Segment, findings: Sequence[Finding]) -> Segment:
    """One segment with the words of ``findings`` (all for this segment) replaced."""
    spans = _spans(findings, len(segment.words))
    if not spans:
        return segment
    words: list[Word] = []
    cursor = 0
    for first, last, kind in spans:
        words.extend(segment.words[cursor:first])
        words.append(_label_word(segment.words, first, last, kind))
        cursor = last + 1
    words.extend(segment.words[cursor:])
    text = " ".join(word.text.strip() for word in words if word.text.strip())
    return Segment(segment.speaker, segment.start_s, segment.end_s, text, tuple(words))


def redact_segments(
    segments: Sequence[Segment], findings: Sequence[Finding]
) -> tuple[Segment, ...]:
    """Every segment, with the words each finding covers replaced by its ``[KIND]`` label.

    Findings without words (DTMF, segment -1) change no text.
    """
    by_segment: dict[int, list[Finding]] = {}
    for finding in findings:
        if 0 <= finding.segment < len(segments):
            by_segment.setdefault(finding.segment, []).append(finding)
    return tuple(
        redact_segment(segment, by_segment.get(index, [])) for index, segment in enumerate(segments)
    )
