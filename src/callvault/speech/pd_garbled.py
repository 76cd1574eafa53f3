"""Safety nets for numbers the recogniser garbled, where the spelled-run rules see nothing.

Telephone-band speech defeats Whisper most on digits: "is four nine two nine" comes back as
"in port I-2-I-1234," and "nine" as "I". The spelled-run rules (``pd_spelled``) need clean
digit words; these rules need only a hint:

- **Card context.** Once anyone mentions a card ("card number", "expiry", "security code"...),
  the digit-bearing words either party says in the next ``WINDOW_S`` seconds, and up to two
  words just before the first of them (the garbled start of the number), are CARD. A card
  number lost to garbling must still never be kept (PCI DSS 3.3.1.2, 3.5.1), so this errs
  towards muting: a phone number given right after a card was mentioned is muted as card data.
- **Postcode districts.** A London outward code as Whisper writes it ("W14", "SW6", "double
  U14") is a postcode even when the rest was garbled ("W14, mirror EH" for "W14 0EH"): it and
  the two words after it are POSTCODE.
- **Digit stretches.** Six or more digits across nearby words, counting the digits inside
  mixed tokens such as "I-2-I-1234" and bridging a word or two heard in place of a digit, are
  DIGITS (the general safety net); a stretch of eight or more takes in the words around it.
"""

from __future__ import annotations

import re

from callvault.speech.pd_stream import Hit, SpeakerStream, StreamWord
from callvault.speech.spoken_numbers import MULTIPLIERS, NUMBER_WORDS, clean

WINDOW_S = 20.0
# A pause this long in one speaker's words ends the number they were reading.
PAUSE_S = 2.5
LEAD_WORDS = 2
# Outside a card context a number is read without long pauses: a shorter bridge.
BRIDGE_S = 1.5
# Digits that make a stretch most of a card number (16), and how far around it to widen.
CARD_LIKE = 8
AROUND_WORDS = 4
_CARD_CUE = re.compile(
    r"\b(card|cards|debit|credit|visa|mastercard|maestro|amex|long number|expiry|expires|"
    r"security code|security number|cvv|cv2|cvc|back of the card)\b"
)
_DIGIT = re.compile(r"\d")


def digit_count(word: StreamWord) -> int:
    """Digits a word stands for: written digits, or one for a number word."""
    text = clean(word.word.text).lower()
    written = len(_DIGIT.findall(text))
    if written:
        return written
    parts = [p for p in text.split("-") if p]
    if parts and all(p in NUMBER_WORDS or p in MULTIPLIERS for p in parts):
        return len(parts)
    return 0


def card_cue_times(streams: list[SpeakerStream]) -> list[float]:
    """When anyone finished mentioning a card, in time order."""
    times = []
    for stream in streams:
        lowered = stream.text.lower()
        for match in _CARD_CUE.finditer(lowered):
            position = stream.positions(match.start(), match.end())
            if position is not None:
                times.append(stream.words[position[1]].word.end_s)
    return sorted(times)


def card_context_hits(stream: SpeakerStream, cues: list[float], claimed: set[int]) -> list[Hit]:
    """CARD over the digit-bearing words ``stream``'s speaker said soon after a card cue,
    except words already named as payment data (``claimed`` positions)."""
    hits = []
    for cue in cues:
        window = [i for i, w in enumerate(stream.words) if cue <= w.word.start_s <= cue + WINDOW_S]
        for first, last in _numbered_stretches(stream, window):
            lead = first
            if _garbled(stream.words[first]):
                # "is four nine..." heard as "in port I-2-I...": the words just before the
                # first garbled one may be the number's start.
                while (
                    lead > 0
                    and first - lead < LEAD_WORDS
                    and stream.words[lead - 1].word.start_s >= cue
                ):
                    lead -= 1
            hits += [
                Hit("CARD", "card-context", 0.6, a, b) for a, b in _unclaimed(lead, last, claimed)
            ]
    return hits


def _garbled(word: StreamWord) -> bool:
    """Letters and digits mixed in one word ("I-2-I-1234"), as no one writes a number."""
    text = clean(word.word.text)
    return bool(_DIGIT.search(text)) and any(c.isalpha() for c in text)


def _unclaimed(first: int, last: int, claimed: set[int]) -> list[tuple[int, int]]:
    runs: list[tuple[int, int]] = []
    for i in range(first, last + 1):
        if i in claimed:
            continue
        if runs and runs[-1][1] == i - 1:
            runs[-1] = (runs[-1][0], i)
        else:
            runs.append((i, i))
    return runs


def _numbered_stretches(
    stream: SpeakerStream, window: list[int], bridge_s: float = PAUSE_S
) -> list[tuple[int, int]]:
    """Stretches of digit-bearing words, bridging at most ``LEAD_WORDS`` other words (a
    garbled digit heard as a word) and no long pause."""
    stretches: list[tuple[int, int]] = []
    for i in window:
        if digit_count(stream.words[i]) == 0:
            continue
        if stretches:
            first, last = stretches[-1]
            gap = stream.words[i].word.start_s - stream.words[last].word.end_s
            if gap < bridge_s and i - last - 1 <= LEAD_WORDS:
                stretches[-1] = (first, i)
                continue
        stretches.append((i, i))
    return stretches


def digit_stretch_hits(stream: SpeakerStream, named: set[int], minimum: int = 6) -> list[Hit]:
    """DIGITS over stretches holding ``minimum`` digits or more, counting the digits inside
    words ("I-2-I-1234") and bridging up to ``LEAD_WORDS`` other words between digits ("one
    two three four, I'm six seven eight": "nine" heard as "I'm"). A stretch long enough to be
    most of a card number (``CARD_LIKE`` digits) also takes in the words just around it,
    where the garbled rest of the number usually is. Words another detector ``named`` are
    left to it: they neither join a stretch nor are taken in."""
    free = [i for i in range(len(stream.words)) if i not in named]
    hits = []
    for first, last in _numbered_stretches(stream, free, bridge_s=BRIDGE_S):
        if any(i in named for i in range(first, last + 1)):
            continue  # bridged over a named item: two separate numbers, not one
        digits = sum(digit_count(w) for w in stream.words[first : last + 1])
        if digits < minimum:
            continue
        start, end = first, last
        if digits >= CARD_LIKE:
            start = _widen(stream, first, -1, AROUND_WORDS, named)
            end = _widen(stream, last, +1, AROUND_WORDS // 2, named)
        hits.append(Hit("DIGITS", "digit-stretch", 0.5, start, end))
    return hits


def _widen(stream: SpeakerStream, position: int, step: int, words: int, named: set[int]) -> int:
    """Move ``position`` up to ``words`` words in ``step``'s direction, without crossing a
    pause of ``BRIDGE_S`` (the speaker stopped reading) or a named item."""
    for _ in range(words):
        nxt = position + step
        if not 0 <= nxt < len(stream.words) or nxt in named:
            break
        earlier, later = sorted((stream.words[position], stream.words[nxt]), key=_start)
        if later.word.start_s - earlier.word.end_s > BRIDGE_S:
            break
        position = nxt
    return position


def _start(word: StreamWord) -> float:
    return word.word.start_s


# An outward code as one written token: one or two capitals, one or two digits, maybe a letter.
_OUTWARD = re.compile(r"[A-Z]{1,2}\d{1,2}[A-Z]?")
# "double U14": Whisper glues the district's digits to the spelled W.
_DOUBLE_U = re.compile(r"[Uu]\d{1,2}[A-Za-z]?")
INWARD_WORDS = 2


def outward_code_hits(stream: SpeakerStream, named: set[int]) -> list[Hit]:
    """POSTCODE over an outward code no other detector named, and the words just after it
    (the inward code, however it was heard)."""
    hits = []
    for i, word in enumerate(stream.words):
        if i in named:
            continue
        text = clean(word.word.text)
        first = i
        if (
            _DOUBLE_U.fullmatch(text)
            and i > 0
            and clean(stream.words[i - 1].word.text).lower() == "double"
        ):
            first = i - 1
        elif not _OUTWARD.fullmatch(text):
            continue
        last = _widen(stream, i, +1, INWARD_WORDS, named)
        hits.append(Hit("POSTCODE", "postcode-district", 0.5, first, last))
    return hits
