"""The project's own labelled test calls for speech recognition and personal-data redaction.

Scripted council calls are spoken by espeak-ng in several voices and made into telephone audio
with sox: band-limited to 300-3400 Hz, 8 kHz, through µ-law and back. The turns are laid out on
a two-channel 8 kHz WAV (caller on channel 0, agent on channel 1, the idle channel carrying
-60 dBFS noise so it is never digital silence), with the ingest metadata JSON beside it
(docs/ingest.md). All the data is fictitious: Ofcom drama numbers (07700 900xxx, 020 7946 0xxx),
test card numbers, National Insurance numbers with the never-issued prefix QQ.

Personal data is marked inside the turn text, so labels cannot drift from the words::

    "My card number is {CARD:four nine two nine, one two three four, ...}"

``{KIND:words}`` with KIND one of ``callvault.speech.model.KINDS``; conduct (for the abusive
caller detector) is marked the same way with ``THREAT`` or ``ABUSE`` and kept apart
(``CorpusCall.conduct``). The parser gives the plain spoken text and the labelled items.

espeak-ng gives no word times, so an item's ``start_s``/``end_s`` are those of the turn it is in.
The bench judges an item as muted by transcribing the redacted audio again and checking that the
item's words no longer appear.

Word error rate compares words in one canonical form (``normalise_words``): lower case, no
punctuation, and every number spelled one digit at a time with "zero" for 0: "4929", "four nine
two nine", "forty-nine twenty-nine" and "four nine two nine" all become
``four nine two nine``; "oh" and "nought" are "zero", "double four" is "four four". So the
scripts never use "oh" as an exclamation.

Run ``python tests/speech_corpus.py OUT_DIR`` to write the whole corpus and print its figures.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
import time
import wave
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from callvault.speech.model import KINDS

RATE = 8000  # Hz: the telephone rate of every corpus file
SPEAKERS = ("caller", "agent")
CHANNEL_MAP = {"caller": 0, "agent": 1}
CONDUCT_KINDS = ("THREAT", "ABUSE")
ENCODINGS = ("mulaw", "pcm16")
NOISE_DBFS = -60.0  # the idle channel's noise floor, and the gaps'
SPEECH_PEAK_DBFS = -6.0  # each turn is normalised to this peak before µ-law
LEAD_S = 0.3  # noise before the first turn
TAIL_S = 0.5  # noise after the last turn
GAP_S = (0.4, 0.9)  # pause between turns, drawn per gap from the seed
RATES_WPM = (150, 175)  # speaking rate, drawn per speaker from the seed
STARTED_BASE = datetime(2026, 11, 16, 9, 0, tzinfo=UTC)  # a past Monday morning

# espeak-ng voices (language + variant) present in Debian's espeak-ng 1.51: several accents,
# male and female variants. Caller and agent always differ.
VOICES = (
    "en-gb",
    "en-gb+f2",
    "en-gb+m3",
    "en-gb-x-rp+f2",
    "en-us+m5",
    "en-gb-scotland+f4",
    "en-gb-x-gbclan",
    "en-gb-x-gbcwmd+f3",
    "en-029+m2",
    "en-us-nyc+f5",
)
VOICE_PAIRS = tuple(
    (VOICES[i], VOICES[(i + 3) % len(VOICES)]) for i in range(len(VOICES))
)  # (caller, agent), in the order make_corpus uses them

_MARK = re.compile(r"\{([A-Z_]+):([^{}]*)\}")


# --- scripts and markup ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Script:
    """A scripted call: the line it was made to, and who says what (with marked-up data)."""

    name: str
    line: str  # the line's id in the example policy
    dialled: str  # the number dialled, as written in the example policy
    turns: tuple[tuple[str, str], ...]  # (speaker, text with {KIND:...} marks)
    tags: frozenset[str] = frozenset()  # "payment", "abusive", "no_personal_data"
    description: str = ""


@dataclass(frozen=True, slots=True)
class Mark:
    """One marked span in a turn's plain text: ``plain[start:end] == text``."""

    kind: str
    text: str
    start: int
    end: int


def parse_markup(text: str) -> tuple[str, list[Mark]]:
    """The plain spoken text and its marked items; raises ValueError on bad markup."""
    plain: list[str] = []
    marks: list[Mark] = []
    pos = length = 0
    for match in _MARK.finditer(text):
        before = text[pos : match.start()]
        _check_no_braces(before, text)
        plain.append(before)
        length += len(before)
        kind, inner = match.group(1), match.group(2).strip()
        if kind not in KINDS and kind not in CONDUCT_KINDS:
            raise ValueError(f"unknown kind {kind!r} in {text!r}; use one of {KINDS}")
        if not inner:
            raise ValueError(f"empty {kind} item in {text!r}")
        marks.append(Mark(kind, inner, length, length + len(inner)))
        plain.append(inner)
        length += len(inner)
        pos = match.end()
    _check_no_braces(text[pos:], text)
    plain.append(text[pos:])
    return "".join(plain), marks


def _check_no_braces(fragment: str, text: str) -> None:
    if "{" in fragment or "}" in fragment:
        raise ValueError(f"unbalanced or malformed markup in {text!r}; write {{KIND:words}}")


def _script(
    name: str,
    line: str,
    dialled: str,
    description: str,
    *turns: tuple[str, str],
    tags: tuple[str, ...] = (),
) -> Script:
    return Script(name, line, dialled, tuple(turns), frozenset(tags), description)


PARKING, RENT, REPAIRS = "020 7371 5678", "020 8753 6032", "0800 023 4499"
RESIDENT, ASC, CLEANER = "020 8753 6681", "0800 145 6095", "020 8753 1100"
HOUSING_ADVICE, HOMEBUY, ELECTORAL = "020 8753 4321", "020 8753 6164", "020 8753 4466"
ENVIRONMENTAL, CARELINE, LEASEHOLD = "020 8753 1081", "020 8741 2403", "020 8753 4500"
REGISTRARS = "020 8753 2140"

C, A = "caller", "agent"

SCRIPTS: tuple[Script, ...] = (
    _script(
        "parking_permit_card",
        "parking",
        PARKING,
        "Resident parking permit renewal paid by card.",
        (A, "Parking services, you're speaking to {NAME:Sam}. How can I help?"),
        (C, "Hi, I'd like to renew my resident parking permit please."),
        (A, "Of course. Can I take your full name and the first line of your address?"),
        (C, "It's {NAME:Daniel Kowalski}, {ADDRESS:forty two Munster Road}."),
        (A, "Thank you. And the postcode?"),
        (C, "{POSTCODE:S W six, five R H}."),
        (
            A,
            "Lovely. The permit is one hundred and twenty pounds for the year. "
            "What's the long number on the card?",
        ),
        (
            C,
            "{CARD:four nine two nine, one two three four, "
            "five six seven eight, nine zero one two}.",
        ),
        (A, "And the three digit security code on the back?"),
        (C, "{SECURITY_CODE:seven three one}."),
        (A, "That's gone through. You'll get the permit by email within two working days."),
        tags=("payment",),
    ),
    _script(
        "pcn_appeal",
        "parking",
        PARKING,
        "Challenge to a penalty charge notice; reference, name and email.",
        (A, "Parking services, how can I help you today?"),
        (C, "I got a parking ticket on Lillie Road and I want to challenge it."),
        (A, "I can help with that. What's the penalty charge notice number?"),
        (C, "It's H F {DIGITS:six one two four, eight eight three, five zero}."),
        (A, "Thank you. And your name please?"),
        (C, "{NAME:Priya Shah}."),
        (A, "What's the reason for the challenge, {NAME:Ms Shah}?"),
        (C, "The bay was suspended but the sign was hidden behind scaffolding."),
        (A, "Please send photos of the sign. What email address should we reply to?"),
        (C, "{EMAIL:priya dot shah at example dot com}."),
        (A, "Thanks. The ticket is on hold while we look at your challenge."),
    ),
    _script(
        "housing_repair",
        "housing_repairs",
        REPAIRS,
        "Tenant reports a leak; name, address, postcode, mobile number.",
        (A, "Housing repairs, can I have your name please?"),
        (C, "Yes, it's {NAME:Margaret Okafor}."),
        (A, "And the address of the property?"),
        (C, "{ADDRESS:Flat seven, Bramber Court, Fulham Palace Road}, {POSTCODE:W six, nine P D}."),
        (A, "What's the problem?"),
        (C, "Water is coming through the kitchen ceiling from the flat above."),
        (A, "I'll book an emergency visit today. What's the best number to reach you on?"),
        (C, "{PHONE:zero seven seven zero zero, nine zero zero, four five six}."),
        (A, "Thank you. An engineer will call you before they arrive."),
    ),
    _script(
        "council_tax_direct_debit",
        "resident_services",
        RESIDENT,
        "Council tax direct debit set-up; account number, sort code, bank account.",
        (A, "Resident services, how can I help?"),
        (C, "I want to pay my council tax by direct debit."),
        (A, "Can I have your council tax account number?"),
        (C, "It's {ACCOUNT_NUMBER:six zero zero four, one two three, eight eight}."),
        (A, "And your name and address?"),
        (C, "{NAME:Thomas Whitfield}, {ADDRESS:eleven Askew Road}, {POSTCODE:W twelve, nine B H}."),
        (A, "Thank you. What's the sort code of the bank account?"),
        (C, "{SORT_CODE:four zero, one one, two two}."),
        (A, "And the account number?"),
        (C, "{ACCOUNT_NUMBER:three one nine two, six four zero seven}."),
        (A, "The direct debit will start on the first of next month."),
    ),
    _script(
        "adult_social_care_referral",
        "adult_social_care",
        ASC,
        "Daughter refers her mother; names, date of birth, address, phone numbers.",
        (A, "Adult social care, you're through to {NAME:Jordan}. How can I help?"),
        (C, "I'm worried about my mother. She's had two falls this month and lives alone."),
        (A, "I'm sorry to hear that. What's your mother's name?"),
        (C, "{NAME:Eileen Murphy}."),
        (A, "And her date of birth?"),
        (C, "{DATE_OF_BIRTH:the third of March, nineteen forty one}."),
        (A, "What's her address?"),
        (C, "{ADDRESS:twenty three Greyhound Road}, {POSTCODE:W six, eight N X}."),
        (A, "Is there a phone number for her?"),
        (C, "Her landline is {PHONE:zero two zero, seven nine four six, zero one two three}."),
        (A, "And can I take your name and a number for you?"),
        (
            C,
            "I'm {NAME:Siobhan Murphy}, on "
            "{PHONE:zero seven seven zero zero, nine zero zero, seven eight nine}.",
        ),
        (A, "Thank you. A social worker will ring you within two working days."),
    ),
    _script(
        "missed_bin",
        "cleaner_greener",
        CLEANER,
        "Missed recycling collection; address and name.",
        (A, "Cleaner greener, how can I help?"),
        (C, "My recycling wasn't collected yesterday."),
        (A, "Sorry about that. What's the address?"),
        (C, "{ADDRESS:fifty six Dawes Road}, {POSTCODE:S W six, seven E J}."),
        (A, "And your name?"),
        (C, "{NAME:Grace Mensah}."),
        (A, "I've logged it. The crew will come back within forty eight hours."),
    ),
    _script(
        "abusive_caller",
        "housing_advice",
        HOUSING_ADVICE,
        "Abusive caller: swearing and a threat to staff; gives his name.",
        (A, "Housing advice, how can I help?"),
        (C, "{ABUSE:You lot are fucking useless}. I've been waiting six months for a transfer."),
        (A, "I understand you're frustrated. Can I take your name?"),
        (C, "It's {NAME:Kevin Doyle}, and I want to speak to a manager now."),
        (A, "I can ask a manager to call you back, but please don't swear at me."),
        (C, "{ABUSE:Don't tell me what to do, you stupid cow}."),
        (
            C,
            "{THREAT:If nothing happens I'm coming down to the office "
            "and I'll smash your face in}.",
        ),
        (A, "That is a threat and this call is recorded. I'm ending the call now."),
        tags=("abusive",),
    ),
    _script(
        "rent_payment_card",
        "rent_income",
        RENT,
        "Tenant pays rent arrears by card; rent account, card number, security code.",
        (A, "Rent income, how can I help?"),
        (C, "I'd like to pay some rent arrears by card."),
        (A, "Can I have your rent account number?"),
        (C, "{ACCOUNT_NUMBER:two zero one four, five five seven, nine}."),
        (A, "Thank you. And your name and the first line of the address?"),
        (C, "{NAME:Aisha Rahman}, {ADDRESS:flat two, nine Uxbridge Road}."),
        (A, "How much would you like to pay?"),
        (C, "Two hundred pounds please."),
        (A, "Please read me the card number."),
        (
            C,
            "{CARD:five five five five, five five five five, five five five five, "
            "four four four four}.",
        ),
        (A, "And the security code?"),
        (C, "{SECURITY_CODE:two eight six}."),
        (A, "Thank you, the payment has been taken."),
        tags=("payment",),
    ),
    _script(
        "homebuy_ni_dob",
        "homebuy",
        HOMEBUY,
        "Shared ownership application; National Insurance number and date of birth.",
        (A, "Homebuy, how can I help?"),
        (C, "I'm applying for shared ownership and the form wants my details checked."),
        (A, "Can I have your full name?"),
        (C, "{NAME:Joseph Bennett}."),
        (A, "Your National Insurance number?"),
        (C, "{NI_NUMBER:Q Q, one two, three four, five six, C}."),
        (A, "And your date of birth?"),
        (C, "{DATE_OF_BIRTH:the fourteenth of July, nineteen eighty eight}."),
        (A, "Thank you, that all matches. The panel meets next Tuesday."),
    ),
    _script(
        "electoral_email",
        "electoral_services",
        ELECTORAL,
        "Electoral register change; name, address and an email address spelt out.",
        (A, "Electoral services, how can I help?"),
        (C, "I've moved house and need to update the electoral register."),
        (A, "What's your name and new address?"),
        (
            C,
            "{NAME:Hannah Lewis}, {ADDRESS:eighty Bishop's Park Road}, "
            "{POSTCODE:S W six, six D Y}.",
        ),
        (A, "And an email address for the confirmation?"),
        (C, "{EMAIL:hannah dot lewis eighty four at example dot co dot uk}."),
        (A, "Thank you. You'll get a confirmation email today."),
    ),
    _script(
        "recycling_centre_hours",
        "environmental_services",
        ENVIRONMENTAL,
        "General enquiry with no personal data at all.",
        (A, "Environmental services, how can I help?"),
        (C, "What time does the recycling centre open on Sundays?"),
        (A, "It opens at eight in the morning and closes at four in the afternoon."),
        (C, "Can I bring garden waste and an old fridge?"),
        (A, "Yes, garden waste is free. Fridges are taken at the main gate."),
        (C, "Great, thank you very much."),
        (A, "You're welcome. Have a good day."),
        tags=("no_personal_data",),
    ),
    _script(
        "careline_alarm",
        "careline",
        CARELINE,
        "Careline pendant alarm check; name, address, date of birth.",
        (A, "Careline, this is {NAME:Nadia}. Are you all right?"),
        (C, "Yes love, I pressed the button by mistake."),
        (A, "No problem. Can you confirm your name for me?"),
        (C, "{NAME:Albert Hughes}."),
        (A, "And your date of birth please?"),
        (C, "{DATE_OF_BIRTH:the twenty second of November, nineteen thirty eight}."),
        (A, "Are you still at {ADDRESS:four Melrose Terrace}?"),
        (C, "That's right, {POSTCODE:W six, seven R L}."),
        (A, "Lovely. I'll log it as a false alarm. Take care."),
    ),
    _script(
        "leaseholder_service_charge",
        "leaseholders",
        LEASEHOLD,
        "Leaseholder sets up service charge payments; sort code and account number.",
        (A, "Leaseholder services, how can I help?"),
        (C, "I'd like to pay my service charge in monthly instalments."),
        (A, "Can I have your name and the address of the flat?"),
        (
            C,
            "{NAME:Marek Nowak}, {ADDRESS:flat fifteen, Charecroft Way}, "
            "{POSTCODE:W fourteen, zero E H}.",
        ),
        (A, "Which bank account should we collect from? I need the sort code first."),
        (C, "{SORT_CODE:six zero, nine one, four three}."),
        (A, "And the account number?"),
        (C, "{ACCOUNT_NUMBER:five five one eight, two zero three six}."),
        (A, "Thank you. The first payment will be taken on the fifteenth."),
    ),
    _script(
        "registrars_birth",
        "registrars",
        REGISTRARS,
        "Booking a birth registration; names, baby's date of birth, mobile, email.",
        (A, "Registrars, how can I help?"),
        (C, "I need to book an appointment to register my daughter's birth."),
        (A, "Congratulations. What's the baby's name and date of birth?"),
        (C, "{NAME:Layla Hussain}, born {DATE_OF_BIRTH:the ninth of November, twenty twenty six}."),
        (A, "And your name?"),
        (C, "{NAME:Fatima Hussain}."),
        (A, "A mobile number for the reminder text?"),
        (C, "{PHONE:zero seven seven zero zero, nine zero zero, three one four}."),
        (A, "And an email address?"),
        (C, "{EMAIL:fatima dot hussain at example dot org}."),
        (A, "You're booked for Thursday at ten at the town hall."),
    ),
    _script(
        "housing_advice_callback",
        "housing_advice",
        HOUSING_ADVICE,
        "Homelessness advice; name, temporary address, phone number said with doubles.",
        (A, "Housing advice, you're speaking to {NAME:Chris}."),
        (C, "Hello, my landlord has given me notice and I need help."),
        (A, "I'm sorry to hear that. Can I take your name?"),
        (C, "{NAME:Sean Doherty}."),
        (A, "Where are you staying at the moment?"),
        (
            C,
            "With my sister at {ADDRESS:thirty one North End Road}, "
            "{POSTCODE:W fourteen, nine S T}.",
        ),
        (A, "And a number to call you back?"),
        (C, "{PHONE:zero seven seven zero zero, nine zero zero, double five two}."),
        (A, "An officer will call you back this afternoon."),
    ),
)

SHORT_CLIPS: dict[str, tuple[str, str]] = {
    # kind -> (caller, agent): one sentence each, a few seconds of audio
    "CARD": ("My card number is {CARD:four nine two nine, one two three four, five six seven "
             "eight, nine zero one two}.", "Thank you."),
    "SECURITY_CODE": ("The security code is {SECURITY_CODE:four one seven}.", "Thank you."),
    "PHONE": ("My number is {PHONE:zero seven seven zero zero, nine zero zero, one two three}.",
              "Thank you."),
    "POSTCODE": ("The postcode is {POSTCODE:S W six, five R H}.", "Thank you."),
    "NAME": ("My name is {NAME:Daniel Kowalski}.", "Thank you."),
    "ADDRESS": ("I live at {ADDRESS:forty two Munster Road}.", "Thank you."),
    "NI_NUMBER": ("It's {NI_NUMBER:Q Q, one two, three four, five six, C}.", "Thank you."),
    "DATE_OF_BIRTH": ("I was born on {DATE_OF_BIRTH:the third of March, nineteen forty one}.",
                      "Thank you."),
    "EMAIL": ("It's {EMAIL:priya dot shah at example dot com}.", "Thank you."),
    "SORT_CODE": ("The sort code is {SORT_CODE:four zero, one one, two two}.", "Thank you."),
    "ACCOUNT_NUMBER": ("The account number is {ACCOUNT_NUMBER:three one nine two, six four zero "
                       "seven}.", "Thank you."),
    "NONE": ("What time does the recycling centre open?", "It opens at eight."),
    "ABUSE": ("{ABUSE:You lot are fucking useless}.", "Please don't swear at me."),
}  # fmt: skip


# --- the corpus --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Turn:
    speaker: str
    text: str  # plain spoken text, no markup
    start_s: float
    end_s: float


@dataclass(frozen=True, slots=True)
class CorpusItem:
    """One labelled item; ``start_s``/``end_s`` bound the turn that contains it."""

    kind: str
    text: str
    speaker: str
    turn: int  # index into CorpusCall.turns
    start_s: float
    end_s: float
    char_start: int = 0  # where the item is in its turn's plain text
    char_end: int = 0


@dataclass(slots=True)
class CorpusCall:
    name: str
    wav_path: Path
    meta_path: Path
    meta: dict[str, Any]
    duration_s: float
    turns: list[Turn]
    items: list[CorpusItem]  # personal and payment data (KINDS)
    reference: dict[str, str]  # speaker -> everything that speaker said
    conduct: list[CorpusItem] = field(default_factory=list)  # THREAT / ABUSE spans
    script: Script | None = None
    voices: dict[str, str] = field(default_factory=dict)  # speaker -> espeak-ng voice
    rates: dict[str, int] = field(default_factory=dict)  # speaker -> words a minute


def espeak_available() -> bool:
    return shutil.which("espeak-ng") is not None


def sox_available() -> bool:
    return shutil.which("sox") is not None


def tools_missing() -> str | None:
    """Why the corpus cannot be made here, or None; for ``pytest.mark.skipif`` reasons."""
    missing = [name for name, ok in (("espeak-ng", espeak_available()), ("sox", sox_available()))
               if not ok]  # fmt: skip
    if not missing:
        return None
    return f"{' and '.join(missing)} not installed (apt-get install espeak-ng sox)"


def synthesise(text: str, voice: str, rate_wpm: int) -> npt.NDArray[np.int16]:
    """One turn as telephone audio: espeak-ng, then sox to 8 kHz, 300-3400 Hz, µ-law and back.

    sox runs without dither (-D) and in repeatable mode (-R), so the same text, voice and rate
    give the same samples.
    """
    spoken = subprocess.run(
        ["espeak-ng", "-v", voice, "-s", str(rate_wpm), "--stdout", text],
        capture_output=True,
        check=True,
    ).stdout
    # Band-limit at the source rate, resample, normalise the peak, then quantise to µ-law.
    ulaw = subprocess.run(
        ["sox", "-D", "-R", "-V1", "-t", "wav", "-",
         "-t", "raw", "-e", "u-law", "-b", "8", "-c", "1", "-r", str(RATE), "-",
         "sinc", "300-3400", "rate", str(RATE), "gain", "-n", str(SPEECH_PEAK_DBFS)],
        input=spoken,
        capture_output=True,
        check=True,
    ).stdout  # fmt: skip
    return ulaw_decode(np.frombuffer(ulaw, dtype=np.uint8))


def ulaw_decode(codes: npt.NDArray[np.uint8]) -> npt.NDArray[np.int16]:
    """G.711 µ-law bytes to 16-bit samples."""
    u = ~codes.astype(np.int32) & 0xFF
    magnitude = (((u & 0x0F) << 3) + 0x84) << ((u >> 4) & 0x07)
    return np.where(u & 0x80, 0x84 - magnitude, magnitude - 0x84).astype(np.int16)


def ulaw_encode(samples: npt.NDArray[np.int16]) -> npt.NDArray[np.uint8]:
    """16-bit samples to G.711 µ-law bytes (the inverse of ``ulaw_decode`` on its values)."""
    x = samples.astype(np.int32)
    sign = np.where(x < 0, 0x80, 0)
    magnitude = np.minimum(np.abs(x), 32635) + 0x84
    exponent = np.clip(np.floor(np.log2(magnitude)).astype(np.int32) - 7, 0, 7)
    mantissa = (magnitude >> (exponent + 3)) & 0x0F
    codes: npt.NDArray[np.uint8] = (~(sign | (exponent << 4) | mantissa) & 0xFF).astype(np.uint8)
    return codes


def _write_wav(path: Path, audio: npt.NDArray[np.int16], encoding: str) -> None:
    """(channels, samples) int16 as 16-bit PCM or µ-law WAV at 8 kHz."""
    channels, frames = audio.shape
    interleaved = np.ascontiguousarray(audio.T)
    if encoding == "pcm16":
        with wave.open(str(path), "wb") as w:
            w.setnchannels(channels)
            w.setsampwidth(2)
            w.setframerate(RATE)
            w.writeframes(interleaved.astype("<i2").tobytes())
        return
    if encoding != "mulaw":
        raise ValueError(f"unknown encoding {encoding!r}; use one of {ENCODINGS}")
    data = ulaw_encode(interleaved).tobytes()
    # WAVE_FORMAT_MULAW (7): a fmt chunk with cbSize 0, and the fact chunk non-PCM WAV carries.
    fmt = (
        (7).to_bytes(2, "little")
        + channels.to_bytes(2, "little")
        + RATE.to_bytes(4, "little")
        + (RATE * channels).to_bytes(4, "little")
        + channels.to_bytes(2, "little")
        + (8).to_bytes(2, "little")
        + (0).to_bytes(2, "little")
    )
    chunks = (
        b"fmt " + len(fmt).to_bytes(4, "little") + fmt
        + b"fact" + (4).to_bytes(4, "little") + frames.to_bytes(4, "little")
        + b"data" + len(data).to_bytes(4, "little") + data + b"\0" * (len(data) & 1)
    )  # fmt: skip
    path.write_bytes(b"RIFF" + (4 + len(chunks)).to_bytes(4, "little") + b"WAVE" + chunks)


def make_call(
    script: Script,
    out_dir: Path,
    *,
    caller_voice: str,
    agent_voice: str,
    seed: int = 0,
    call_id: str | None = None,
    encoding: str = "mulaw",
    caller_rate: int | None = None,
    agent_rate: int | None = None,
) -> CorpusCall:
    """Speak ``script`` into ``out_dir/<call_id>.wav`` with its ingest metadata ``.json``.

    The seed picks the speaking rates (unless given), the gaps between turns, the noise, the
    caller's number, the agent and the start time: the same inputs give the same bytes.
    """
    if caller_voice == agent_voice:
        raise ValueError("caller and agent need different voices")
    rng = np.random.default_rng([seed, _stable_hash(script.name)])
    drawn = [int(r) for r in rng.integers(RATES_WPM[0], RATES_WPM[1] + 1, size=2)]
    rates = {"caller": caller_rate or drawn[0], "agent": agent_rate or drawn[1]}
    voices = {"caller": caller_voice, "agent": agent_voice}
    call_id = call_id or f"corpus-{script.name.replace('_', '-')}-{seed}"

    turns: list[Turn] = []
    items: list[CorpusItem] = []
    conduct: list[CorpusItem] = []
    clips: list[tuple[int, int, npt.NDArray[np.int16]]] = []  # channel, first sample, audio
    cursor = round(LEAD_S * RATE)
    for index, (speaker, marked) in enumerate(script.turns):
        if speaker not in CHANNEL_MAP:
            raise ValueError(f"{script.name}: unknown speaker {speaker!r}")
        if index:
            cursor += round(float(rng.uniform(*GAP_S)) * RATE)
        plain, marks = parse_markup(marked)
        audio = synthesise(plain, voices[speaker], rates[speaker])
        start_s, end_s = cursor / RATE, (cursor + audio.size) / RATE
        clips.append((CHANNEL_MAP[speaker], cursor, audio))
        turns.append(Turn(speaker, plain, start_s, end_s))
        for mark in marks:
            item = CorpusItem(
                mark.kind, mark.text, speaker, index, start_s, end_s, mark.start, mark.end
            )
            (conduct if mark.kind in CONDUCT_KINDS else items).append(item)
        cursor += audio.size
    total = cursor + round(TAIL_S * RATE)

    noise_rms = 32768.0 * 10 ** (NOISE_DBFS / 20)
    mix = rng.normal(0.0, noise_rms, size=(2, total))
    for channel, first, audio in clips:
        mix[channel, first : first + audio.size] += audio
    pcm = np.clip(np.rint(mix), -32768, 32767).astype(np.int16)

    out_dir.mkdir(parents=True, exist_ok=True)
    wav_path, meta_path = out_dir / f"{call_id}.wav", out_dir / f"{call_id}.json"
    _write_wav(wav_path, pcm, encoding)
    duration_s = total / RATE
    started = STARTED_BASE + timedelta(minutes=7 * (seed % 10_000))
    meta = {
        "call_id": call_id,
        "direction": "inbound",
        "dialled": script.dialled,
        "caller": f"07700 900{int(rng.integers(0, 1000)):03d}",
        "agent": f"agent-{int(rng.integers(1, 100)):02d}",
        "started_at": _iso(started),
        "ended_at": _iso(started + timedelta(seconds=round(duration_s))),
        "announcement_played": True,
        "channel_map": dict(CHANNEL_MAP),
    }
    meta_path.write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    reference = {
        speaker: " ".join(t.text for t in turns if t.speaker == speaker) for speaker in SPEAKERS
    }
    return CorpusCall(
        name=script.name,
        wav_path=wav_path,
        meta_path=meta_path,
        meta=meta,
        duration_s=duration_s,
        turns=turns,
        items=items,
        reference=reference,
        conduct=conduct,
        script=script,
        voices=voices,
        rates=rates,
    )


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _stable_hash(text: str) -> int:
    """A hash that does not change between runs (``hash()`` of a str does)."""
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "little")


def make_corpus(
    out_dir: Path, *, limit: int | None = None, encoding: str = "mulaw"
) -> list[CorpusCall]:
    """Every script (the first ``limit``), each with the next voice pair and its index as seed."""
    calls: list[CorpusCall] = []
    for index, script in enumerate(SCRIPTS[:limit]):
        caller_voice, agent_voice = VOICE_PAIRS[index % len(VOICE_PAIRS)]
        calls.append(
            make_call(
                script,
                out_dir,
                caller_voice=caller_voice,
                agent_voice=agent_voice,
                seed=index,
                encoding=encoding,
            )
        )
    return calls


def short_clip(
    out_dir: Path,
    kind_or_text: str = "CARD",
    *,
    agent_text: str = "Thank you.",
    seed: int = 0,
    caller_voice: str = "en-gb",
    agent_voice: str = "en-gb-x-rp+f2",
    encoding: str = "mulaw",
) -> CorpusCall:
    """A few seconds: the caller says one sentence, the agent answers.

    ``kind_or_text`` is a key of ``SHORT_CLIPS`` (a kind such as "CARD", or "NONE", "ABUSE")
    or the caller's own sentence with markup, which the agent answers with ``agent_text``.
    Rates are fixed at 170 words a minute to keep the clip short.
    """
    if kind_or_text in SHORT_CLIPS:
        caller_text, agent_text = SHORT_CLIPS[kind_or_text]
        name = f"clip_{kind_or_text.lower()}"
    else:
        caller_text = kind_or_text
        name = f"clip_{_stable_hash(kind_or_text) % 10**8:08d}"
    script = Script(name, "parking", PARKING, ((C, caller_text), (A, agent_text)))
    return make_call(
        script,
        out_dir,
        caller_voice=caller_voice,
        agent_voice=agent_voice,
        seed=seed,
        call_id=f"{name.replace('_', '-')}-{seed}",
        encoding=encoding,
        caller_rate=170,
        agent_rate=170,
    )


def items_by_kind(calls: list[CorpusCall]) -> Counter[str]:
    return Counter(item.kind for call in calls for item in call.items)


# --- word error rate ---------------------------------------------------------------------

_DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
_UNITS = {word: n for n, word in enumerate(_DIGIT_WORDS)} | {"oh": 0, "nought": 0}
_TEENS = {
    word: 10 + n
    for n, word in enumerate(
        (
            *("ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen"),
            *("seventeen", "eighteen", "nineteen"),
        )
    )
}
_TENS = {
    word: 10 * n
    for n, word in enumerate(
        ("twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"), start=2
    )
}
_REPEATS = {"double": 2, "triple": 3}
_ORDINALS = (
    *("first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth"),
    *("tenth", "eleventh", "twelfth", "thirteenth", "fourteenth", "fifteenth", "sixteenth"),
    *("seventeenth", "eighteenth", "nineteenth", "twentieth"),
)
# Spellings that mean the same word: each maps to one form.
EQUIVALENT = {
    "ok": "okay",
    "alright": "all right",
    "mr": "mister",
    "mrs": "missus",
    "ms": "miz",
    "dr": "doctor",
    "rd": "road",
    "&": "and",
    "cos": "because",
    "cause": "because",
    "till": "until",
    "til": "until",
    "postcode": "post code",
    "email": "e mail",
    "e-mail": "e mail",
    "instalments": "installments",
    "colour": "color",
    "towards": "toward",
    "%": "percent",
}


def _ordinal_words(n: int) -> str:
    """21 -> "twenty first"; only the small ordinals dates use."""
    if n <= 20:
        return _ORDINALS[n - 1]
    tens, unit = divmod(n, 10)
    tens_word = next(w for w, v in _TENS.items() if v == tens * 10)
    if not unit:
        return tens_word[:-1] + "ieth"
    return f"{tens_word} {_ORDINALS[unit - 1]}"


def _pre_tokens(text: str) -> list[str]:
    """Text to tokens before number handling; original case kept for spelled-out capitals."""
    text = re.sub(r"£(\d+)(?:\.(\d\d))?", lambda m: f"{m[1]} pounds {m[2] or ''}", text)
    text = re.sub(
        r"\b(\d{1,2})(st|nd|rd|th)\b",
        lambda m: _ordinal_words(int(m[1])) if 0 < int(m[1]) <= 39 else m[1],
        text,
        flags=re.IGNORECASE,
    )
    text = text.replace("@", " at ").replace("%", " % ").replace("&", " & ")
    text = re.sub(r"(?<=\d)[,](?=\d{3}\b)", "", text)  # 1,234 -> 1234
    text = re.sub(r"(?<=\d)\.(?=\d)", " point ", text)
    text = re.sub(r"(?<=[A-Za-z0-9])\.(?=[A-Za-z0-9])", " dot ", text)
    text = re.sub(r"(?<=[A-Za-z])(?=\d)|(?<=\d)(?=[A-Za-z])", " ", text)  # SW6 -> SW 6
    text = text.replace("-", " ").replace("'", "").replace("\u2019", "")
    text = re.sub(r"[^\w\s&%]", " ", text)
    tokens: list[str] = []
    for raw in text.split():
        lower = raw.lower()
        if lower in EQUIVALENT:
            tokens.extend(EQUIVALENT[lower].split())
        elif raw.isalpha() and raw.isupper() and 2 <= len(raw) <= 4:
            tokens.extend(lower)  # spelled capitals: "SW" -> "s w", "QQ" -> "q q"
        else:
            tokens.append(lower)
    return tokens


def _small_number(tokens: list[str], i: int) -> tuple[int, int] | None:
    """A number below 100 spelled at tokens[i]: (value, tokens used), or None."""
    word = tokens[i] if i < len(tokens) else ""
    if word in _TENS:
        nxt = tokens[i + 1] if i + 1 < len(tokens) else ""
        if nxt in _UNITS and _UNITS[nxt] > 0 and nxt != "oh":
            return _TENS[word] + _UNITS[nxt], 2
        return _TENS[word], 1
    if word in _TEENS:
        return _TEENS[word], 1
    if word in _UNITS:
        return _UNITS[word], 1
    return None


def _number_at(tokens: list[str], i: int) -> tuple[str, int] | None:
    """The digits of a spelled number starting at tokens[i], and tokens used; or None."""
    word = tokens[i]
    if word.isdigit():
        return word, 1
    if word in _REPEATS and i + 1 < len(tokens):
        nxt = tokens[i + 1]
        if nxt in _UNITS or (nxt.isdigit() and len(nxt) == 1):
            digit = str(_UNITS[nxt]) if nxt in _UNITS else nxt
            return digit * _REPEATS[word], 2
        return None
    small = _small_number(tokens, i)
    if small is None:
        return None
    value, used = small
    scale = tokens[i + used] if i + used < len(tokens) else ""
    if used == 1 and 0 < value < 10 and scale in ("hundred", "thousand"):
        value *= 1000 if scale == "thousand" else 100
        used += 1
        if scale == "thousand":  # "two thousand [three hundred] [and] [twenty]"
            hundreds = _small_number(tokens, i + used)
            if hundreds and i + used + 1 < len(tokens) and tokens[i + used + 1] == "hundred":
                value += 100 * hundreds[0]
                used += 2
        rest_at = i + used + (1 if i + used < len(tokens) and tokens[i + used] == "and" else 0)
        rest = _small_number(tokens, rest_at) if rest_at < len(tokens) else None
        if rest is not None and (rest_at > i + used or tokens[rest_at] not in _UNITS):
            value += rest[0]
            used = rest_at - i + rest[1]
    return str(value), used


def normalise_words(text: str) -> list[str]:
    """Words in the canonical form both sides of a WER comparison are put in.

    Lower case; punctuation dropped ("@" is "at", "." inside a word is "dot", between digits
    "point"); letters next to digits split ("SW6" is "s w six"); capitals of two to four
    letters spelled ("QQ" is "q q"); "£25" is "two five pounds"; "5th" is "fifth"; every number,
    whether written in digits or words ("forty-nine", "nineteen forty one", "three hundred",
    "double five"), becomes its digits one word each, "zero" for 0 ("oh" and "nought" too);
    ``EQUIVALENT`` spellings become one form ("ok" is "okay").
    """
    tokens = _pre_tokens(text)
    out: list[str] = []
    i = 0
    while i < len(tokens):
        if tokens[i] in _REPEATS and i + 1 < len(tokens) and len(tokens[i + 1]) == 1:
            out.extend([tokens[i + 1]] * _REPEATS[tokens[i]])  # "double a" -> "a a"
            i += 2
            continue
        number = _number_at(tokens, i)
        if number is None:
            out.append(tokens[i])
            i += 1
            continue
        digits, used = number
        out.extend(_DIGIT_WORDS[int(d)] for d in digits)
        i += used
    return out


def edit_distance(reference: list[str], hypothesis: list[str]) -> int:
    """Levenshtein distance between two word lists (substitutions, insertions, deletions)."""
    previous = list(range(len(hypothesis) + 1))
    for r, ref_word in enumerate(reference, start=1):
        current = [r]
        for h, hyp_word in enumerate(hypothesis, start=1):
            current.append(
                min(previous[h] + 1, current[h - 1] + 1, previous[h - 1] + (ref_word != hyp_word))
            )
        previous = current
    return previous[-1]


def word_error_rate(reference: str, hypothesis: str) -> float:
    """Word edits to turn the hypothesis into the reference, over the reference's words.

    Both are normalised first (``normalise_words``). An empty reference scores 0.0 against an
    empty hypothesis and 1.0 against anything else.
    """
    ref, hyp = normalise_words(reference), normalise_words(hypothesis)
    if not ref:
        return 0.0 if not hyp else 1.0
    return edit_distance(ref, hyp) / len(ref)


def main(argv: list[str]) -> int:
    """Write the whole corpus to argv[0] and print its size, timing and items per kind."""
    if len(argv) != 1:
        print("usage: python tests/speech_corpus.py OUT_DIR", file=sys.stderr)
        return 2
    reason = tools_missing()
    if reason:
        print(reason, file=sys.stderr)
        return 1
    began = time.perf_counter()
    calls = make_corpus(Path(argv[0]))
    took = time.perf_counter() - began
    minutes = sum(c.duration_s for c in calls) / 60
    print(f"{len(calls)} calls, {minutes:.1f} min of audio, made in {took:.1f} s")
    for call in calls:
        kinds = Counter(item.kind for item in call.items)
        listed = ", ".join(f"{k} {n}" for k, n in sorted(kinds.items())) or "none"
        print(f"  {call.name}: {call.duration_s:.1f} s, {listed}")
    print("items per kind:", dict(sorted(items_by_kind(calls).items())))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
