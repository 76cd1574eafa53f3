"""One speaker's words as one text, and the conversation around any moment of it.

Items of personal data straddle Whisper's segment boundaries (a card number read over two
segments), so detectors see each speaker's words joined into one text with single spaces. A
``SpeakerStream`` keeps every word's character offsets, so a character span found in that text
maps back exactly to (segment, word) positions and times. A ``Conversation`` holds all words of
both speakers in time order: the agent's question ("and the security code?") is the context
for the caller's answer.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass

from callvault.speech.model import Segment, Word
from callvault.speech.spoken_numbers import FILLERS, MULTIPLIERS, NUMBER_WORDS, clean


@dataclass(frozen=True, slots=True)
class StreamWord:
    segment: int  # index into the transcript's segments
    index: int  # index into that segment's words
    word: Word
    start_char: int  # offsets of the word in the stream's text
    end_char: int


@dataclass(frozen=True, slots=True)
class Hit:
    """A detection on one stream: a kind over stream word positions first..last inclusive."""

    kind: str
    detector: str
    score: float
    first: int
    last: int


class SpeakerStream:
    """All words of one speaker, in order, joined into ``text`` with single spaces."""

    def __init__(self, speaker: str, words: Sequence[StreamWord]) -> None:
        self.speaker = speaker
        self.words = tuple(words)
        self.text = " ".join(w.word.text for w in self.words)
        self._starts = [w.start_char for w in self.words]

    @classmethod
    def build_all(cls, segments: Sequence[Segment]) -> list[SpeakerStream]:
        """One stream per speaker, in order of first appearance."""
        by_speaker: dict[str, list[tuple[int, int, Word]]] = {}
        for seg_index, segment in enumerate(segments):
            for word_index, word in enumerate(segment.words):
                by_speaker.setdefault(segment.speaker, []).append((seg_index, word_index, word))
        return [cls._joined(speaker, items) for speaker, items in by_speaker.items()]

    @classmethod
    def _joined(cls, speaker: str, items: Sequence[tuple[int, int, Word]]) -> SpeakerStream:
        words: list[StreamWord] = []
        offset = 0
        for seg_index, word_index, word in items:
            end = offset + len(word.text)
            words.append(StreamWord(seg_index, word_index, word, offset, end))
            offset = end + 1  # the joining space
        return cls(speaker, words)

    @property
    def texts(self) -> list[str]:
        return [w.word.text for w in self.words]

    def positions(self, start_char: int, end_char: int) -> tuple[int, int] | None:
        """The first and last word positions a character span touches, or None."""
        if end_char <= start_char or not self.words:
            return None
        first = max(bisect.bisect_right(self._starts, start_char) - 1, 0)
        if self.words[first].end_char <= start_char:
            first += 1  # the span starts in the space after a word
        last = bisect.bisect_left(self._starts, end_char) - 1
        if first >= len(self.words) or last < first:
            return None
        return first, last

    def start_s(self, position: int) -> float:
        return self.words[position].word.start_s


@dataclass(frozen=True, slots=True)
class _Spoken:
    start_s: float
    speaker: str
    text: str


class Conversation:
    """Every word of every speaker in time order, for looking up what was just said."""

    # How far back a question still frames an answer: an agent's "and the security code?"
    # is answered within a few seconds and a dozen words.
    WINDOW_S = 25.0
    WINDOW_WORDS = 24

    def __init__(self, segments: Sequence[Segment]) -> None:
        spoken = [
            _Spoken(word.start_s, segment.speaker, clean(word.text).lower())
            for segment in segments
            for word in segment.words
        ]
        spoken.sort(key=lambda s: s.start_s)
        self._spoken = spoken
        self._times = [s.start_s for s in spoken]

    def said_between(self, after_s: float, before_s: float, other_than: str) -> int:
        """How many words, not numbers, others than ``other_than`` said between two moments.

        Numbers do not count: a caller reading digits between the agent's read-back groups
        is not a change of subject.
        """
        begin = bisect.bisect_right(self._times, after_s)
        end = bisect.bisect_left(self._times, before_s)
        return sum(
            1 for s in self._spoken[begin:end] if s.speaker != other_than and not _is_number(s.text)
        )

    def before(self, time_s: float, scale: int = 1) -> str:
        """The words said (by anyone) shortly before ``time_s``, lower-cased, space-joined.

        ``scale`` widens the window for cues that frame a whole exchange ("card").
        """
        end = bisect.bisect_left(self._times, time_s)
        begin = bisect.bisect_left(self._times, time_s - self.WINDOW_S * scale)
        begin = max(begin, end - self.WINDOW_WORDS * scale)
        return " ".join(s.text for s in self._spoken[begin:end] if s.text)


def _is_number(text: str) -> bool:
    """A number word, a written number, or a filler said between numbers."""
    parts = text.split("-")
    spoken = all(p in NUMBER_WORDS or p in MULTIPLIERS for p in parts)
    return spoken or text in FILLERS or text.replace(",", "").isdigit()


def following_text(stream: SpeakerStream, position: int, count: int) -> str:
    """The next ``count`` words of the same speaker after ``position``, lower-cased."""
    return " ".join(clean(w.word.text).lower() for w in stream.words[position + 1 :][:count])
