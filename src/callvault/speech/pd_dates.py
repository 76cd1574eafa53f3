"""Dates of birth: a calendar date said just after (or just before) "date of birth" or "born".

Dates alone are not personal ("Monday the third", "the tenth of March" for an appointment), so
a date only counts when a birth cue is near it in the conversation. Understood forms, in words
or digits: "3rd of March 1975", "the third of March nineteen seventy five", "March the 3rd, 75",
"March 1975", "03/03/1975". Digit-only forms read out ("oh three oh three seventy five") are
left to the digit-run classifier, which knows the same cue.
"""

from __future__ import annotations

import re

from callvault.speech.pd_stream import Conversation, Hit, SpeakerStream, following_text
from callvault.speech.spoken_numbers import TENS, UNITS, clean, spoken_number

MONTHS = frozenset({
    "january", "february", "march", "april", "may", "june", "july", "august", "september",
    "october", "november", "december",
    "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec",
})  # fmt: skip
_ORDINAL_WORDS = {
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7,
    "eighth": 8, "ninth": 9, "tenth": 10, "eleventh": 11, "twelfth": 12, "thirteenth": 13,
    "fourteenth": 14, "fifteenth": 15, "sixteenth": 16, "seventeenth": 17, "eighteenth": 18,
    "nineteenth": 19, "twentieth": 20, "thirtieth": 30,
}  # fmt: skip
_NUMERIC_DAY = re.compile(r"([0-9]{1,2})(st|nd|rd|th)?")
_NUMERIC_DATE = re.compile(r"[0-9]{1,2}[/.-][0-9]{1,2}[/.-]([0-9]{2}|[0-9]{4})")
_BIRTH_CUE = re.compile(r"\b(date of birth|birth ?date|born|d ?o ?b|birthday)\b")
# How many words a day, a month and a year may take when spoken ("twenty-first",
# "two thousand and five").
_MAX_YEAR_WORDS = 4


class _Tokens:
    """Lower-cased, punctuation-stripped words of one stream, with date-part parsers.

    Each parser takes a position and returns the position just after the part, or None.
    """

    def __init__(self, texts: list[str]) -> None:
        self.words = [clean(t).lower() for t in texts]

    def _word(self, i: int) -> str:
        return self.words[i] if 0 <= i < len(self.words) else ""

    def day(self, i: int) -> int | None:
        if self._word(i) == "the":
            i += 1
        word = self._word(i)
        if word in _ORDINAL_WORDS:
            return i + 1
        if word in TENS and self._word(i + 1) in _ORDINAL_WORDS:
            return i + 2  # "twenty first"
        if "-" in word and all(p in TENS or p in _ORDINAL_WORDS for p in word.split("-")):
            return i + 1  # "twenty-first"
        match = _NUMERIC_DAY.fullmatch(word)
        if match and 1 <= int(match.group(1)) <= 31:
            return i + 1
        if word in UNITS and word not in {"oh", "o", "zero", "nought", "nil"}:
            return i + 1  # "March three", only taken next to a month
        return None

    def month(self, i: int) -> int | None:
        return i + 1 if self._word(i) in MONTHS else None

    def year(self, i: int) -> int | None:
        word = self._word(i)
        if re.fullmatch(r"'?[0-9]{2}|[0-9]{4}", word):
            return i + 1
        for length in range(_MAX_YEAR_WORDS, 0, -1):
            digits = spoken_number(self.words[i : i + length])
            if i + length <= len(self.words) and digits and len(digits) in {2, 4}:
                return i + length
        return None

    def optional(self, i: int, *words: str) -> int:
        return i + 1 if self._word(i) in words else i

    def date(self, i: int) -> int | None:
        """A date starting at word ``i``: day-month-year, month-day-year or month-year."""
        if _NUMERIC_DATE.fullmatch(self._word(i)):
            return i + 1
        return self._day_first(i) or self._month_first(i)

    def _day_first(self, i: int) -> int | None:
        after_day = self.day(i)
        if after_day is None:
            return None
        after_month = self.month(self.optional(after_day, "of"))
        if after_month is None:
            return None
        return self.year(after_month) or after_month

    def _month_first(self, i: int) -> int | None:
        after_month = self.month(i)
        if after_month is None:
            return None
        after_day = self.day(after_month)
        if after_day is not None:
            return self.year(after_day) or after_day
        return self.year(after_month)


def birth_date_hits(stream: SpeakerStream, conversation: Conversation) -> list[Hit]:
    """Dates in the stream with a birth cue shortly before, or right after in the same voice."""
    tokens = _Tokens(stream.texts)
    hits: list[Hit] = []
    i = 0
    while i < len(tokens.words):
        end = tokens.date(i)
        if end is None:
            i += 1
            continue
        if _has_birth_cue(stream, conversation, i, end - 1):
            hits.append(Hit("DATE_OF_BIRTH", "uk:date-of-birth", 0.85, i, end - 1))
        elif _birth_year(tokens.words[i:end]):
            # The cue is often what the recogniser garbled ("when were you born" heard as
            # "but when did that come on"); a date in a year nobody calls about is a birth.
            hits.append(Hit("DATE_OF_BIRTH", "uk:dated-birth-year", 0.5, i, end - 1))
        i = end
    return hits


# Years a date in a council call names only as someone's birth: before these, a call is
# about a person's age, not a bin collection or a parking ticket.
_BIRTH_YEARS = range(1900, 2011)


def _birth_year(words: list[str]) -> bool:
    """Whether the date's last words say a year in ``_BIRTH_YEARS``."""
    for length in range(min(_MAX_YEAR_WORDS, len(words)), 0, -1):
        tail = words[-length:]
        digits = tail[0] if length == 1 and tail[0].isdigit() else spoken_number(tail)
        if digits is not None and len(digits) == 4:
            return int(digits) in _BIRTH_YEARS
    return False


def _has_birth_cue(
    stream: SpeakerStream, conversation: Conversation, first: int, last: int
) -> bool:
    before = conversation.before(stream.start_s(first))
    # "the third of March 1975, that's my date of birth"
    after = following_text(stream, last, 6)
    return bool(_BIRTH_CUE.search(before) or _BIRTH_CUE.search(after))
