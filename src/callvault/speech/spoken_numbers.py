"""Read digits and spelled letters out of Whisper words, spoken or written.

Callers read card numbers, phone numbers, postcodes and National Insurance numbers aloud, and
Whisper writes them back in any mix of forms: "4929," "four" "double" "oh" "forty-nine" "SW6"
"Q". This module turns each word into the characters it stands for ("double four" gives "44",
"nineteen seventy five" gives "1975", "S" "W" "six" gives "SW6") and cuts a word list into
*spelled runs*: maximal stretches of such words, allowing only fillers ("and", "dash", "uh",
bare punctuation) between them. Every character of a run remembers the word it came from, so
a pattern found in the run's characters maps straight back to words and times.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum, auto

UNITS = {
    "zero": 0, "oh": 0, "o": 0, "nought": 0, "nil": 0,
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5,
    "six": 6, "seven": 7, "eight": 8, "nine": 9,
}  # fmt: skip
TEENS = {
    "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14,
    "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19,
}  # fmt: skip
TENS = {
    "twenty": 2, "thirty": 3, "forty": 4, "fifty": 5,
    "sixty": 6, "seventy": 7, "eighty": 8, "ninety": 9,
}  # fmt: skip
MULTIPLIERS = {"double": 2, "triple": 3, "treble": 3}
NUMBER_WORDS = frozenset(UNITS) | frozenset(TEENS) | frozenset(TENS) | {"hundred", "thousand"}

# Words a caller may say between digit groups without ending the number.
FILLERS = frozenset(
    {"and", "dash", "hyphen", "uh", "um", "er", "erm", "ah", "hmm", "mm", "mhm", "mm-hmm"}
)
# Letter names Whisper writes as words.
LETTER_NAMES = {"zed": "Z"}

_EDGE_PUNCTUATION = ".,?!;:\"'()[]{}…“”‘’"  # noqa: RUF001 (curly quotes are what Whisper writes)
_GROUP_END = re.compile(r"[.,;:?!]$")
_WRITTEN_DIGITS = re.compile(r"\+?\d[\d,./()-]*")
_ORDINAL_OR_TIME = re.compile(r"\d+(st|nd|rd|th|s|am|pm|k)", re.IGNORECASE)
_MIXED = re.compile(r"(?=[A-Za-z]*\d)(?=\d*[A-Za-z])[A-Za-z\d]{2,10}")
_CAPITALS = re.compile(r"[A-Z]{2,4}")


def clean(text: str) -> str:
    """The word without the punctuation Whisper hangs on either side of it."""
    return text.strip().strip(_EDGE_PUNCTUATION)


class AtomKind(Enum):
    DIGIT = auto()
    TEEN = auto()
    TENS = auto()
    HUNDRED = auto()
    THOUSAND = auto()
    MULTIPLIER = auto()
    CHARS = auto()  # already-spelled characters: "4929", "SW6", "Q"
    WEAK_LETTER = auto()  # "I" and "a": letters only inside a run, never at its edge
    FILLER = auto()
    OTHER = auto()


@dataclass(frozen=True, slots=True)
class Atom:
    word: int
    kind: AtomKind
    value: str = ""  # the digit(s) or letters; for TEEN/TENS/MULTIPLIER the number
    ends_group: bool = False  # the word ended in punctuation: "twenty," is not "twenty one"


# Every number word, with the atom kind it makes and the value it carries.
_NUMBER_VOCABULARY: dict[str, tuple[AtomKind, str]] = {
    **{word: (AtomKind.DIGIT, str(value)) for word, value in UNITS.items()},
    **{word: (AtomKind.TEEN, str(value)) for word, value in TEENS.items()},
    **{word: (AtomKind.TENS, str(value)) for word, value in TENS.items()},
    **{word: (AtomKind.MULTIPLIER, str(value)) for word, value in MULTIPLIERS.items()},
    "hundred": (AtomKind.HUNDRED, ""),
    "thousand": (AtomKind.THOUSAND, ""),
}


def _number_atom(index: int, part: str, ends_group: bool) -> Atom | None:
    known = _NUMBER_VOCABULARY.get(part)
    return None if known is None else Atom(index, known[0], known[1], ends_group)


def _is_not_an_identifier(word: str) -> bool:
    """Money, percentages, ordinals and clock times are said as digits but identify no one."""
    return (
        word[0] in "£$€"
        or word[-1] == "%"
        or ":" in word
        or _ORDINAL_OR_TIME.fullmatch(word) is not None
    )


def _spelled_chars(word: str) -> str | None:
    """The characters a written word spells ("4929," "SW6" "Q" "zed"), or None."""
    if _WRITTEN_DIGITS.fullmatch(word):
        return re.sub(r"\D", "", word)
    if word.lower() in LETTER_NAMES:
        return LETTER_NAMES[word.lower()]
    if len(word) == 1 and word.isalpha():
        return word.upper()
    squeezed = re.sub(r"[.\-]", "", word)  # "S.W.6", "Q.Q" are spelled letters too
    if _MIXED.fullmatch(squeezed) or _CAPITALS.fullmatch(squeezed):
        return squeezed.upper()
    return None


def _written_atom(index: int, word: str, ends_group: bool) -> Atom:
    """A word that is not a number word: written digits, letters, a filler or plain text."""
    if not word or word.lower() in FILLERS or not any(c.isalnum() for c in word):
        return Atom(index, AtomKind.FILLER)
    if _is_not_an_identifier(word):
        return Atom(index, AtomKind.OTHER)
    if word in {"I", "a", "i"}:
        return Atom(index, AtomKind.WEAK_LETTER, word.upper(), ends_group)
    chars = _spelled_chars(word)
    if chars is None:
        return Atom(index, AtomKind.OTHER)
    return Atom(index, AtomKind.CHARS, chars, ends_group)


def _is_double_you(lowers: Sequence[str], index: int) -> bool:
    """ "double you" is how a caller spells W (Whisper may glue the digits on: "U14")."""
    following = lowers[index + 1] if index + 1 < len(lowers) else ""
    return lowers[index] == "double" and bool(_YOU.fullmatch(following))


_YOU = re.compile(r"you|u(?P<rest>\d{1,2}[a-z]?)?")


def atomise(words: Sequence[str]) -> list[Atom]:
    """Classify each word; hyphenated number words ("twenty-one") give one atom per part."""
    lowers = [clean(raw).lower() for raw in words]
    atoms: list[Atom] = []
    for index, raw in enumerate(words):
        word = clean(raw)
        ends_group = bool(_GROUP_END.search(raw.strip()))
        # "double" carries the W so that a postcode starting "double you" covers both words.
        if _is_double_you(lowers, index):
            atoms.append(Atom(index, AtomKind.CHARS, "W"))
            continue
        if index > 0 and _is_double_you(lowers, index - 1):
            glued = _YOU.fullmatch(lowers[index])
            rest = glued["rest"] if glued else None
            atoms.append(
                Atom(index, AtomKind.CHARS, rest.upper(), ends_group)
                if rest
                else Atom(index, AtomKind.FILLER)
            )
            continue
        parts = lowers[index].split("-")
        numbered = [_number_atom(index, part, ends_group) for part in parts]
        if word and all(atom is not None for atom in numbered):
            atoms.extend(atom for atom in numbered if atom is not None)
        else:
            atoms.append(_written_atom(index, word, ends_group))
    return atoms


# Atoms that say how many hundreds or thousands follow ("two hundred", "twelve hundred").
_COUNTS = frozenset({AtomKind.DIGIT, AtomKind.TEEN, AtomKind.TENS})


def _next_index(atoms: Sequence[Atom], i: int, skip_fillers: bool = False) -> int | None:
    j = i + 1
    while skip_fillers and j < len(atoms) and atoms[j].kind is AtomKind.FILLER:
        j += 1
    return j if j < len(atoms) else None


def _next_atom(atoms: Sequence[Atom], i: int, skip_fillers: bool = False) -> Atom | None:
    j = _next_index(atoms, i, skip_fillers)
    return None if j is None else atoms[j]


def _is_nonzero_unit(atom: Atom | None) -> bool:
    return atom is not None and atom.kind is AtomKind.DIGIT and atom.value != "0"


def _tens_chars(atoms: Sequence[Atom], i: int) -> str:
    # "forty nine" is 49, but "forty, nine" (Whisper heard a pause) is 40 then 9.
    follows = _next_atom(atoms, i)
    if not atoms[i].ends_group and _is_nonzero_unit(follows):
        return atoms[i].value
    return atoms[i].value + "0"


def _hundred_chars(atoms: Sequence[Atom], i: int) -> str:
    before = atoms[i - 1] if i > 0 else None
    lead = "" if before is not None and before.kind in _COUNTS else "1"
    follows = _next_atom(atoms, i, skip_fillers=True)
    if follows is not None and follows.kind in {AtomKind.TEEN, AtomKind.TENS}:
        return lead
    if _is_nonzero_unit(follows):
        return lead + "0"
    return lead + "00"


def _thousand_chars(atoms: Sequence[Atom], i: int) -> str:
    before = atoms[i - 1] if i > 0 else None
    lead = "" if before is not None and before.kind in _COUNTS else "1"
    j = _next_index(atoms, i, skip_fillers=True)
    follows = None if j is None else atoms[j]
    after_that = None if j is None else _next_atom(atoms, j)
    if _is_nonzero_unit(follows) and after_that is not None and after_that.kind is AtomKind.HUNDRED:
        return lead  # "two thousand three hundred": the hundred pads the rest
    if follows is not None and follows.kind in {AtomKind.TEEN, AtomKind.TENS}:
        return lead + "0"
    if _is_nonzero_unit(follows):
        return lead + "00"
    return lead + "000"


def _multiplier_chars(atoms: Sequence[Atom], i: int) -> str | None:
    follows = _next_atom(atoms, i)
    if follows is None:
        return None
    if follows.kind is AtomKind.DIGIT or (
        follows.kind is AtomKind.CHARS and len(follows.value) == 1
    ):
        return follows.value * (int(atoms[i].value) - 1)
    return None  # "a double room": not a number


# Atoms whose characters depend on their neighbours ("forty nine", "two hundred", "double").
_CONTEXTUAL: dict[AtomKind, Callable[[Sequence[Atom], int], str | None]] = {
    AtomKind.TENS: _tens_chars,
    AtomKind.HUNDRED: _hundred_chars,
    AtomKind.THOUSAND: _thousand_chars,
    AtomKind.MULTIPLIER: _multiplier_chars,
}
_AS_WRITTEN = frozenset({AtomKind.DIGIT, AtomKind.TEEN, AtomKind.CHARS, AtomKind.WEAK_LETTER})


def atom_chars(atoms: Sequence[Atom], i: int) -> str | None:
    """The characters atom ``i`` contributes, or None when it ends a spelled run."""
    kind = atoms[i].kind
    if kind in _AS_WRITTEN:
        return atoms[i].value
    if kind is AtomKind.FILLER:
        return ""
    contextual = _CONTEXTUAL.get(kind)
    return None if contextual is None else contextual(atoms, i)


@dataclass(frozen=True, slots=True)
class SpelledWord:
    chars: str | None  # None: this word ends any run
    weak: bool = False  # only a letter when inside a run ("I", "a")
    filler: bool = False


def spell_words(words: Sequence[str]) -> list[SpelledWord]:
    """What each word contributes to a spelled run."""
    atoms = atomise(words)
    result: list[SpelledWord] = []
    cursor = 0
    for index in range(len(words)):
        own = []
        while cursor < len(atoms) and atoms[cursor].word == index:
            own.append(cursor)
            cursor += 1
        pieces = [atom_chars(atoms, i) for i in own]
        if not own or any(piece is None for piece in pieces):
            result.append(SpelledWord(None))
            continue
        kinds = {atoms[i].kind for i in own}
        result.append(
            SpelledWord(
                "".join(piece for piece in pieces if piece is not None),
                weak=kinds == {AtomKind.WEAK_LETTER},
                filler=kinds == {AtomKind.FILLER},
            )
        )
    return result


@dataclass(frozen=True, slots=True)
class SpelledRun:
    """Characters read out over consecutive words, each character tagged with its word."""

    chars: str
    owners: tuple[int, ...]  # owners[k] is the index of the word that said chars[k]

    @property
    def first_word(self) -> int:
        return self.owners[0]

    @property
    def last_word(self) -> int:
        return self.owners[-1]


def _trim(run: list[int], spelled: Sequence[SpelledWord]) -> list[int]:
    """Drop fillers and weak letters from the run's edges ("I", "and" never start a number)."""
    while run and (spelled[run[0]].filler or spelled[run[0]].weak):
        run = run[1:]
    while run and (spelled[run[-1]].filler or spelled[run[-1]].weak):
        run = run[:-1]
    return run


def _as_run(indices: Sequence[int], spelled: Sequence[SpelledWord]) -> SpelledRun | None:
    chars: list[str] = []
    owners: list[int] = []
    for index in indices:
        text = spelled[index].chars or ""
        chars.append(text)
        owners.extend([index] * len(text))
    return SpelledRun("".join(chars), tuple(owners)) if owners else None


def spelled_runs(words: Sequence[str]) -> list[SpelledRun]:
    """Every maximal run of spelled words, fillers allowed only between them."""
    spelled = spell_words(words)
    runs: list[SpelledRun] = []
    current: list[int] = []
    for index, item in enumerate([*spelled, SpelledWord(None)]):
        if item.chars is not None:
            current.append(index)
            continue
        run = _as_run(_trim(current, spelled), spelled)
        if run is not None:
            runs.append(run)
        current = []
    return runs


def spoken_number(words: Sequence[str]) -> str | None:
    """The digits a short phrase says ("nineteen seventy five" gives "1975"), or None."""
    runs = spelled_runs(words)
    if len(runs) != 1 or runs[0].first_word != 0 or runs[0].last_word != len(words) - 1:
        return None
    return runs[0].chars if runs[0].chars.isdigit() else None
