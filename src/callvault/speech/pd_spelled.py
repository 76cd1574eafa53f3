"""Items read out character by character: card, phone, sort code, account, NI, postcode.

Each speaker stream is cut into spelled runs (``spoken_numbers``). Letter-bearing patterns
(postcodes, National Insurance numbers, names spelled letter by letter) are searched in a
run's characters; every maximal stretch of digits is then classified by its length, its shape
and what was said just before it by either speaker. Whatever no rule can name but is six or
more digits long becomes DIGITS: ASR garbles digit strings most, so any long run is muted.
The digit rules themselves live in ``pd_digit_rules``.
"""

from __future__ import annotations

import itertools
import re

from callvault.speech.pd_digit_rules import Cues, classify_digits
from callvault.speech.pd_stream import Conversation, Hit, SpeakerStream
from callvault.speech.spoken_numbers import SpelledRun, clean, spelled_runs

# London postcodes and the rest of the UK: outward code, then digit and two letters.
_POSTCODE = re.compile(r"[A-PR-UWYZ][A-HK-Y]?[0-9][A-HJKMNPR-Y0-9]?[0-9][ABD-HJLNP-UW-Z]{2}")
_OUTWARD_CODE = re.compile(
    r"[A-PR-UWYZ][A-HK-Y]?[0-9][A-HJKMNPR-Y0-9]?(?P<inward>[0-9][ABD-HJLNP-UW-Z]?)?(?![0-9])"
)
# Two letters, six digits and the suffix letter; the prefix rules are not checked because the
# example number callers read ("QQ 12 34 56 C") breaks them and ASR mishears letters.
_NI_NUMBER = re.compile(r"[A-Z]{2}[0-9]{6}[A-D]?(?![0-9])")
_DIGITS = re.compile(r"[0-9]+")
# Back-channels ("mm-hmm", "yes, go on") are shorter than this; a question is not.
_REAL_TURN_WORDS = 4


_Stretch = tuple[SpelledRun, int, int]  # a run and the character range of its digits
# Words that may separate digit groups read as one number ("4929, yes, got that, 1234").
_GROUP_GAP_WORDS = 4


def _stretches(runs: list[SpelledRun]) -> list[_Stretch]:
    """Every digit stretch of two or more digits: a lone "three" is a word, not a group."""
    return [
        (run, *match.span())
        for run in runs
        for match in _DIGITS.finditer(run.chars)
        if match.end() - match.start() >= 2
    ]


def _named_specifically(hits: list[Hit], first: int, last: int) -> bool:
    """Whether some hit other than DIGITS already covers part of these words."""
    return any(h.kind != "DIGITS" and h.first <= last and first <= h.last for h in hits)


class SpelledFinder:
    """Finds read-out identifiers in one speaker stream."""

    def __init__(self, stream: SpeakerStream, conversation: Conversation) -> None:
        self._stream = stream
        self._conversation = conversation
        self._texts = stream.texts

    def hits(self) -> list[Hit]:
        runs = spelled_runs(self._texts)
        lettered = [hit for run in runs for hit in self._letter_hits(run)]
        digits = [hit for run in runs for hit in self._digit_hits(run)]
        return [*lettered, *digits, *self._grouped_hits(runs, lettered, digits)]

    def _grouped_hits(
        self, runs: list[SpelledRun], lettered: list[Hit], digits: list[Hit]
    ) -> list[Hit]:
        """Digit groups with a few words between them, named together when alone they are not.

        An agent reading a card back ("4929, yes, 1234, got that, 5678 ...") or a caller
        correcting themselves says each group as its own run; no group is a card, but the
        groups together are. Digits inside a postcode or NI number take no part, a real turn
        of the other speaker ends a group, and only a specific name (CARD, PHONE...) is
        shared out, to the groups that have none: never DIGITS, because "books of ten or
        twenty, open 9 to 5" is not one number.
        """
        free = [
            (run, start, end)
            for run, start, end in _stretches(runs)
            if not _named_specifically(lettered, run.owners[start], run.owners[end - 1])
        ]
        hits: list[Hit] = []
        for group in self._nearby_groups(free):
            said = "".join(run.chars[start:end] for run, start, end in group)
            first_run, first_start, _ = group[0]
            named = classify_digits(said, self._context_at(first_run.owners[first_start]))
            if named is None or named[0] == "DIGITS":
                continue
            hits.extend(
                self._hit(run, start, end, *named)
                for run, start, end in group
                if not _named_specifically(digits, run.owners[start], run.owners[end - 1])
            )
        return hits

    def _nearby_groups(self, stretches: list[_Stretch]) -> list[list[_Stretch]]:
        """Consecutive stretches a few words apart with no turn between, two or more a group."""
        groups: list[list[_Stretch]] = []
        for stretch in stretches:
            if groups:
                last_run, _, last_end = groups[-1][-1]
                run, start, _ = stretch
                previous, current = last_run.owners[last_end - 1], run.owners[start]
                near = current - previous - 1 <= _GROUP_GAP_WORDS
                if near and not self._turn_between(previous, current):
                    groups[-1].append(stretch)
                    continue
            groups.append([stretch])
        return [group for group in groups if len(group) > 1]

    def _context_at(self, position: int) -> Cues:
        return Cues.at(self._conversation, self._stream.start_s(position))

    def _hit(self, run: SpelledRun, start: int, end: int, kind: str, detector: str,
             score: float) -> Hit:  # fmt: skip
        return Hit(kind, detector, score, run.owners[start], run.owners[end - 1])

    def _letter_hits(self, run: SpelledRun) -> list[Hit]:
        hits: list[Hit] = []
        for match in _POSTCODE.finditer(run.chars):
            hits.append(self._hit(run, *match.span(), "POSTCODE", "uk:postcode", 0.85))
        for match in _NI_NUMBER.finditer(run.chars):
            context = self._context_at(run.owners[match.start()])
            if match.group().endswith(tuple("ABCD")) or context.has("ni"):
                hits.append(self._hit(run, *match.span(), "NI_NUMBER", "uk:ni-number", 0.85))
        if not hits and re.search(r"[A-Z]", run.chars):
            hits.extend(self._partial_postcode(run))
        hits.extend(self._spelled_name(run))
        return hits

    def _partial_postcode(self, run: SpelledRun) -> list[Hit]:
        """Part of a postcode whose rest ASR lost: "W12 8..." alone, or "W12" when asked for one.

        An outward code followed by the inward digit is postcode-shaped enough on its own.
        """
        hits = []
        for match in _OUTWARD_CODE.finditer(run.chars):
            has_inward = match.group("inward") is not None
            if has_inward or self._context_at(run.owners[match.start()]).has("postcode"):
                hits.append(self._hit(run, *match.span(), "POSTCODE", "uk:postcode", 0.6))
        return hits

    def _spelled_name(self, run: SpelledRun) -> list[Hit]:
        """Three or more single letters in a row spell a word: a name, or part of an email."""
        hits = []
        for match in re.finditer(r"[A-Z]{3,}", run.chars):
            owners = run.owners[match.start() : match.end()]
            single = all(len(clean(self._texts[o])) == 1 for o in owners)
            if single and len(set(owners)) == len(owners):
                hits.append(self._hit(run, *match.span(), "NAME", "uk:spelled-letters", 0.7))
        return hits

    def _digit_hits(self, run: SpelledRun) -> list[Hit]:
        hits = []
        for match in _DIGITS.finditer(run.chars):
            hits.extend(self._stretch_hits(run, *match.span()))
        return hits

    def _stretch_hits(self, run: SpelledRun, start: int, end: int) -> list[Hit]:
        """Name a stretch of digits piece by piece, the pieces cut where the other side spoke.

        A caller's year of birth and, after the agent's next question, their card number are
        two items; but a card read in groups while the agent says "yes, go on" is one. So
        each piece is named on its own, and a piece its own rules cannot name (or only as
        DIGITS) takes the name of the whole stretch.
        """
        whole = self._classify(run, start, end)
        hits = []
        for piece_start, piece_end in self._pieces(run, start, end):
            named = self._classify(run, piece_start, piece_end)
            if named is None or (named[0] == "DIGITS" and whole is not None):
                named = whole
            if named is not None:
                hits.append(self._hit(run, piece_start, piece_end, *named))
        return hits

    def _classify(self, run: SpelledRun, start: int, end: int) -> tuple[str, str, float] | None:
        return classify_digits(run.chars[start:end], self._context_at(run.owners[start]))

    def _pieces(self, run: SpelledRun, start: int, end: int) -> list[tuple[int, int]]:
        """Character ranges of the stretch between turns of the other speaker."""
        cuts = [start]
        for k in range(start + 1, end):
            previous, current = run.owners[k - 1], run.owners[k]
            if previous != current and self._turn_between(previous, current):
                cuts.append(k)
        cuts.append(end)
        return list(itertools.pairwise(cuts))

    def _turn_between(self, previous: int, current: int) -> bool:
        """Whether someone else took a real turn (not "mm-hmm", "yes, go on") between words."""
        words = self._stream.words
        spoken = self._conversation.said_between(
            words[previous].word.start_s, words[current].word.start_s, self._stream.speaker
        )
        return spoken >= _REAL_TURN_WORDS
