"""Name a stretch of digits from its length, its shape and what was just asked for.

ASR turns a caller's digits into any mix of figures and words; what they *are* (a card, a
sort code, a security code) is told by the conversation: the agent asked for it, or the caller
announced it, a few seconds before. ``Cues`` records which of those cues were heard, and how
recently; ``classify_digits`` applies the rules, most specific first, down to DIGITS for any
unnamed run of six or more.

Expiry dates are reported as CARD (detector ``uk:card-expiry``): PCI DSS counts them as
cardholder data when kept with the card number, so they are muted with it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from callvault.speech.pd_stream import Conversation

# What was just said that tells us what the digits are. Searched in the lower-cased,
# punctuation-stripped words of the last few seconds of conversation.
_CONTEXT = {
    "card": re.compile(
        r"\b(card|visa|mastercard|maestro|amex|american express|debit|credit|long number)\b"
    ),
    "security": re.compile(
        r"\b(security (code|number|digits)|cvv|cvc|csc|cv2|(three|3|four|4)[ -]digits?\b"
        r"|digits on the back|back of (the|your) card|last (three|3|four|4)"
        r"|(?<!sort )(?<!post)\bcode is|(?<!sort )\bthe code\b)"
    ),
    "expiry": re.compile(
        r"\b(expiry|expires|expiration|expire|valid (until|to|thru|through)|end date)\b"
    ),
    "sort": re.compile(r"\bsort ?code"),
    "account": re.compile(r"\b(account (number|no)|bank account)\b"),
    "phone": re.compile(
        r"\b(phone|mobile|landline|telephone|contact number|call (you|me)|ring (you|me)"
        r"|best number|reach (you|me))\b"
    ),
    "postcode": re.compile(r"\bpost ?code\b"),
    "ni": re.compile(r"\b(national insurance|n ?i number|nino)\b"),
    "dob": re.compile(r"\b(date of birth|birth ?date|born|d ?o ?b|birthday)\b"),
}

# Cues that frame a whole exchange: the card is mentioned once, then the number, expiry and
# code follow over half a minute or more. Other cues only frame the answer right after them.
_WIDE_CUES = frozenset({"card"})
_WIDE_SCALE = 3


@dataclass(frozen=True, slots=True)
class Cues:
    """Which cues were heard, and how recently (characters from the end; smaller is nearer)."""

    distance: dict[str, int]

    @classmethod
    def at(cls, conversation: Conversation, time_s: float) -> Cues:
        near = conversation.before(time_s)
        wide = conversation.before(time_s, scale=_WIDE_SCALE)
        found: dict[str, int] = {}
        for name, pattern in _CONTEXT.items():
            text = wide if name in _WIDE_CUES else near
            matches = list(pattern.finditer(text))
            if matches:
                found[name] = len(text) - matches[-1].end()
        return cls(found)

    def has(self, name: str) -> bool:
        return name in self.distance

    def nearer(self, name: str, other: str) -> bool:
        return self.has(name) and self.distance[name] <= self.distance.get(other, 1 << 30)


def _phone_shaped(digits: str) -> bool:
    """A UK number: 0 and ten digits (ASR may drop one), or 44 and ten digits (maybe 44 0)."""
    n = len(digits)
    return (digits.startswith("0") and n in {10, 11}) or (digits.startswith("44") and n in {12, 13})


def _short_code(digits: str, context: Cues) -> tuple[str, str] | None:
    """Three or four digits are only named by what was asked for just before."""
    if not 3 <= len(digits) <= 4:
        return None
    if context.has("expiry") and context.has("card") and context.nearer("expiry", "security"):
        return "CARD", "uk:card-expiry"
    if context.has("security"):
        return "SECURITY_CODE", "uk:security-code"
    if context.has("dob") and len(digits) == 4:
        return "DATE_OF_BIRTH", "uk:date-of-birth"
    return None


def classify_digits(digits: str, context: Cues) -> tuple[str, str, float] | None:
    """The kind, detector and score for a stretch of digits, or None to leave it."""
    n = len(digits)
    short = _short_code(digits, context)
    if short is not None:
        return short[0], short[1], 0.8
    if context.has("expiry") and context.has("card") and n in {5, 6}:
        return "CARD", "uk:card-expiry", 0.8
    rules: list[tuple[bool, str, str, float]] = [
        (context.has("sort") and n == 6, "SORT_CODE", "uk:sort-code", 0.85),
        (
            context.nearer("account", "dob") and 7 <= n <= 10 and not _phone_shaped(digits),
            "ACCOUNT_NUMBER",
            "uk:account-number",
            0.85,
        ),
        (n >= 13 and not _phone_shaped(digits), "CARD", "uk:card-number", 0.95),
        (_phone_shaped(digits), "PHONE", "uk:phone", 0.9),
        (context.has("phone") and 6 <= n <= 13, "PHONE", "uk:phone", 0.75),
        (context.has("card") and n >= 10, "CARD", "uk:card-number", 0.8),
        (context.has("dob") and 4 <= n <= 8, "DATE_OF_BIRTH", "uk:date-of-birth", 0.75),
        (n >= 6, "DIGITS", "spoken-digits", 0.6),
    ]
    for applies, kind, detector, score in rules:
        if applies:
            return kind, detector, score
    return None
