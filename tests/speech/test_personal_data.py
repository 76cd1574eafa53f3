"""The personal-data finder on Whisper-like transcripts, and redaction of what it finds.

Segments are written by hand the way Whisper writes them (punctuation hung on words, digits
sometimes as figures, sometimes as words); word times are synthetic: 0.3 s a word, 0.5 s
between segments.
"""

from __future__ import annotations

import random
import re
import socket
from collections.abc import Iterator, Sequence
from typing import Any

import pytest

from callvault.speech import uk_recognisers
from callvault.speech.model import KINDS, Finding, Segment, Word
from callvault.speech.personal_data import PersonalDataFinder, redact_segments

WORD_S = 0.3
GAP_S = 0.5


def transcript(*lines: tuple[str, str], start_s: float = 0.0) -> tuple[Segment, ...]:
    """Segments from (speaker, text) lines, one word every 0.3 s."""
    segments = []
    time_s = start_s
    for speaker, text in lines:
        words = []
        for token in text.split():
            words.append(Word(round(time_s, 3), round(time_s + WORD_S - 0.05, 3), token))
            time_s += WORD_S
        segments.append(Segment(speaker, words[0].start_s, words[-1].end_s, text, tuple(words)))
        time_s += GAP_S
    return tuple(segments)


def said(segments: Sequence[Segment], finding: Finding) -> str:
    """The words a finding covers, as spoken."""
    words = segments[finding.segment].words[finding.first_word : finding.last_word + 1]
    return " ".join(word.text for word in words)


def of_kind(findings: Sequence[Finding], kind: str) -> list[Finding]:
    return [f for f in findings if f.kind == kind]


def redacted_text(segments: Sequence[Segment], findings: Sequence[Finding]) -> str:
    return " ".join(segment.text for segment in redact_segments(segments, findings))


@pytest.fixture(scope="module")
def finder() -> PersonalDataFinder:
    return PersonalDataFinder()


# --- every kind, spoken and written ------------------------------------------------------
# (lines of the call, kind expected, the words it must cover exactly, in the last line)
CASES: list[tuple[list[tuple[str, str]], str, str]] = [
    ([("caller", "Hi, my name is John Smith and I'm calling about my permit.")], "NAME",
     "John Smith"),
    ([("agent", "Good morning, this is Dana speaking, how can I help?")], "NAME", "Dana"),
    ([("agent", "Thank you Mrs Okafor, I'll just check that.")], "NAME", "Okafor,"),
    ([("caller", "My surname is Patel, that's P A T E L.")], "NAME", "P A T E L."),
    ([("caller", "I live at twelve Fulham Palace Road and it's the drain.")], "ADDRESS",
     "twelve Fulham Palace Road"),
    ([("caller", "It's flat 4, 27 Lillie Road, the one by the park.")], "ADDRESS",
     "flat 4, 27 Lillie Road,"),
    ([("caller", "My postcode is SW6 1AA.")], "POSTCODE", "SW6 1AA."),
    ([("caller", "the postcode is sw61aa thanks")], "POSTCODE", "sw61aa"),
    ([("caller", "It's S W six, one A A.")], "POSTCODE", "S W six, one A A."),
    ([("agent", "And the postcode?"), ("caller", "W12 8 something, I can't remember.")],
     "POSTCODE", "W12 8"),
    ([("caller", "You can reach me on 07700 900123 any time.")], "PHONE", "07700 900123"),
    ([("caller", "The office is 020 8753 6032.")], "PHONE", "020 8753 6032."),
    ([("caller", "From abroad it's +44 20 7371 5678.")], "PHONE", "+44 20 7371 5678."),
    ([("caller", "My mobile is oh seven seven double oh nine oh oh one two three.")], "PHONE",
     "oh seven seven double oh nine oh oh one two three."),
    ([("caller", "It's john dot smith at gmail dot com, all lower case.")], "EMAIL",
     "john dot smith at gmail dot com,"),
    ([("caller", "Send it to john.smith@gmail.com please.")], "EMAIL", "john.smith@gmail.com"),
    ([("caller", "My national insurance number is QQ 12 34 56 C.")], "NI_NUMBER",
     "QQ 12 34 56 C."),
    ([("caller", "It's Q Q one two three four five six C.")], "NI_NUMBER",
     "Q Q one two three four five six C."),
    ([("agent", "Can I take your date of birth?"), ("caller", "Yes, 3rd of March 1975.")],
     "DATE_OF_BIRTH", "3rd of March 1975."),
    ([("agent", "And your date of birth?"),
      ("caller", "It's the third of March nineteen seventy five.")],
     "DATE_OF_BIRTH", "the third of March nineteen seventy five."),
    ([("caller", "I was born on 03/03/1975 if that helps.")], "DATE_OF_BIRTH", "03/03/1975"),
    ([("caller", "The card number is 4929 1234 5678 9012.")], "CARD", "4929 1234 5678 9012."),
    ([("caller", "It's four nine two nine, one two three four, five six seven eight, nine oh "
      "one two.")], "CARD",
     "four nine two nine, one two three four, five six seven eight, nine oh one two."),
    ([("caller", "Card is 4929 one two three four 5678 double nine oh two thanks.")], "CARD",
     "4929 one two three four 5678 double nine oh two"),
    ([("agent", "And the security code on the back?"), ("caller", "One two three.")],
     "SECURITY_CODE", "One two three."),
    ([("agent", "What's the CVV?"), ("caller", "It's 456.")], "SECURITY_CODE", "456."),
    ([("agent", "The card's expiry date?"), ("caller", "Oh three twenty seven.")], "CARD",
     "Oh three twenty seven."),
    ([("agent", "And the sort code?"), ("caller", "Two oh, oh oh, oh oh.")], "SORT_CODE",
     "Two oh, oh oh, oh oh."),
    ([("caller", "Sort code 20 00 00 and then the rest.")], "SORT_CODE", "20 00 00"),
    ([("agent", "And the account number?"),
      ("caller", "One two three four five six seven eight.")], "ACCOUNT_NUMBER",
     "One two three four five six seven eight."),
    ([("caller", "My reference is 7 3 1 dash 9 9 2 4 from the letter.")], "DIGITS",
     "7 3 1 dash 9 9 2 4"),
    ([("caller", "It's nine eight seven, uh, six five four.")], "DIGITS",
     "nine eight seven, uh, six five four."),
]  # fmt: skip


@pytest.mark.parametrize(("lines", "kind", "covered"), CASES, ids=[c[2][:30] for c in CASES])
def test_finds_each_kind(
    finder: PersonalDataFinder, lines: list[tuple[str, str]], kind: str, covered: str
) -> None:
    segments = transcript(*lines)
    findings = finder.find(segments)
    last = len(segments) - 1
    found = [said(segments, f) for f in findings if f.kind == kind and f.segment == last]
    assert covered in found, [(f.kind, said(segments, f)) for f in findings]
    assert all(f.kind in KINDS and f.kind != "DTMF" for f in findings)


@pytest.mark.parametrize(("lines", "kind", "covered"), CASES, ids=[c[2][:30] for c in CASES])
def test_redaction_leaves_nothing_of_the_item(
    finder: PersonalDataFinder, lines: list[tuple[str, str]], kind: str, covered: str
) -> None:
    segments = transcript(*lines)
    text = redact_segments(segments, finder.find(segments))[-1].text
    assert f"[{kind}]" in text
    for word in covered.split():
        core = word.strip(".,?")
        if len(core) > 1 and core.lower() not in {"the", "of", "and", "dash", "uh", "dot", "at"}:
            assert not re.search(rf"(?<!\w){re.escape(core)}(?!\w)", text), (core, text)


# --- streams, segments, speakers and times -----------------------------------------------
def test_card_read_over_two_segments_is_one_finding_per_segment(
    finder: PersonalDataFinder,
) -> None:
    segments = transcript(
        ("agent", "Can I take the long number on the card please?"),
        ("caller", "Yes, it's four nine two nine, one two three four,"),
        ("agent", "Mm-hmm."),
        ("caller", "five six seven eight, nine oh one two."),
    )
    cards = of_kind(finder.find(segments), "CARD")
    assert [(f.segment, f.speaker) for f in cards] == [(1, "caller"), (3, "caller")]
    first, second = cards
    assert said(segments, first) == "four nine two nine, one two three four,"
    assert said(segments, second) == "five six seven eight, nine oh one two."
    assert first.start_s == segments[1].words[2].start_s
    assert first.end_s == segments[1].words[-1].end_s
    assert second.start_s == segments[3].words[0].start_s
    assert second.end_s == segments[3].words[-1].end_s
    assert first.detector == second.detector == "uk:card-number"
    text = redacted_text(segments, cards)
    assert not re.search(r"\d|\b(one|two|three|four|five|six|seven|eight|nine|oh)\b", text)


def test_postcode_and_name_split_across_segments(finder: PersonalDataFinder) -> None:
    segments = transcript(
        ("caller", "My name is Sarah O'Brien and the postcode is S W six,"),
        ("caller", "one A A."),
    )
    findings = finder.find(segments)
    postcodes = [(f.segment, said(segments, f)) for f in of_kind(findings, "POSTCODE")]
    assert postcodes == [(0, "S W six,"), (1, "one A A.")]
    assert [said(segments, f) for f in of_kind(findings, "NAME")] == ["Sarah O'Brien"]
    text = redacted_text(segments, findings)
    assert text == "My name is [NAME] and the postcode is [POSTCODE], [POSTCODE]."


def test_a_mono_recording_is_one_stream(finder: PersonalDataFinder) -> None:
    segments = transcript(
        ("mixed", "Can I take the card number? Yes, it's 4929 1234"),
        ("mixed", "Mm-hmm."),
        ("mixed", "5678 9012."),
    )
    findings = finder.find(segments)
    # The filler between the groups is inside the number, so it is muted with it.
    assert [(f.segment, f.kind, f.speaker) for f in findings] == [
        (0, "CARD", "mixed"),
        (1, "CARD", "mixed"),
        (2, "CARD", "mixed"),
    ]
    assert said(segments, findings[0]) == "4929 1234"


def test_both_speakers_and_the_agent_question_as_context(finder: PersonalDataFinder) -> None:
    segments = transcript(
        ("agent", "Let me read that back: 4929 1234 5678 9012. And the three digits on the back?"),
        ("caller", "That's right. Seven eight nine."),
    )
    findings = finder.find(segments)
    assert [(f.speaker, f.kind) for f in findings] == [
        ("agent", "CARD"),
        ("caller", "SECURITY_CODE"),
    ]
    assert said(segments, findings[1]) == "Seven eight nine."


def test_agent_reading_the_card_back_in_groups_is_card(finder: PersonalDataFinder) -> None:
    segments = transcript(
        ("caller", "It's a Visa, four nine two nine,"),
        ("agent", "Four nine two nine, yep."),
        ("caller", "one two three four"),
        ("agent", "One two three four, got it, go on."),
        ("caller", "five six seven eight, nine oh one two."),
        ("agent", "Five six seven eight, nine oh one two. Lovely."),
    )
    findings = finder.find(segments)
    assert [(f.segment, f.kind) for f in findings] == [(i, "CARD") for i in range(6)]
    text = redacted_text(segments, findings)
    assert not re.search(r"\b(one|two|three|four|five|six|seven|eight|nine|oh)\b", text.lower())


def test_a_number_broken_by_a_correction_keeps_its_kind(finder: PersonalDataFinder) -> None:
    segments = transcript(("caller", "My mobile is 07700, sorry, 900123."))
    findings = finder.find(segments)
    assert [(f.kind, said(segments, f)) for f in findings] == [
        ("PHONE", "07700,"),
        ("PHONE", "900123."),
    ]


def test_a_whole_payment_call(finder: PersonalDataFinder) -> None:
    segments = transcript(
        ("agent", "Council tax, you're speaking to Priya. Can I take your name?"),
        ("caller", "Yes, it's Mr Daniel Hughes, 41 Askew Road, W12 9AX."),
        ("agent", "Thank you. And your date of birth for security?"),
        ("caller", "Fourteenth of July, nineteen eighty two."),
        ("agent", "Lovely. Paying by card today? The long number please."),
        ("caller", "5412 7534 8890 1234, expiry oh five twenty eight,"),
        ("caller", "and the code on the back is three three one."),
        ("agent", "Thank you, that's gone through. Anything else?"),
        ("caller", "No, thanks, bye."),
    )
    findings = finder.find(segments)
    kinds = [f.kind for f in findings]
    assert kinds == [
        "NAME", "NAME", "ADDRESS", "POSTCODE", "DATE_OF_BIRTH", "CARD", "SECURITY_CODE"
    ]  # fmt: skip
    text = redacted_text(segments, findings)
    for secret in ("Priya", "Daniel", "Hughes", "41", "Askew", "W12", "9AX", "Fourteenth",
                   "5412", "1234", "oh five", "three three one"):  # fmt: skip
        assert secret not in text
    # The card-context net joins the number and its expiry date, "expiry" with them.
    assert "[CARD], and the code on the back is [SECURITY_CODE]." in text


def test_findings_are_time_ordered_and_within_their_words(finder: PersonalDataFinder) -> None:
    segments = transcript(
        ("caller", "My number is 07700 900123 and my email is jo at hotmail dot co dot uk."),
        start_s=100.0,
    )
    for finding in finder.find(segments):
        words = segments[finding.segment].words
        assert finding.start_s == words[finding.first_word].start_s
        assert finding.end_s == words[finding.last_word].end_s
        assert 0 < finding.score <= 1


# --- what must not be found -------------------------------------------------------------
def test_an_ordinary_parking_permit_call_has_nothing(finder: PersonalDataFinder) -> None:
    segments = transcript(
        ("agent", "Hello, you're through to parking services. How can I help you today?"),
        ("caller", "Oh hi, yes, I wanted to ask about renewing my resident parking permit."),
        ("agent", "No problem. One moment while I bring that up, I'll be two minutes."),
        ("caller", "Is it still around a hundred and twenty pounds for a year?"),
        ("agent", "It depends on the car. Most are between 90 and 200 pounds a year."),
        ("caller", "Okay. I could come in on Monday the third at ten thirty."),
        ("agent", "Visitor vouchers are sold in books of ten or twenty. We're open 9 to 5."),
        ("caller", "Great, the zone is three or four I think. Thanks a lot, bye."),
    )
    assert finder.find(segments) == []


def test_dates_without_a_birth_cue_are_not_dates_of_birth(finder: PersonalDataFinder) -> None:
    segments = transcript(("caller", "The repair was booked for the tenth of March 2025."))
    assert of_kind(finder.find(segments), "DATE_OF_BIRTH") == []


# --- merging and redaction ---------------------------------------------------------------
def test_card_beats_digits_and_same_kind_overlaps_merge(finder: PersonalDataFinder) -> None:
    segments = transcript(("caller", "It's 4929 1234 5678 9012 thanks."))
    findings = finder.find(segments)
    assert [(f.kind, f.first_word, f.last_word) for f in findings] == [("CARD", 1, 4)]
    overlapping = [
        Finding("DIGITS", "caller", 0, 1, "spoken-digits", 0.6, 0, 1, 3),
        Finding("CARD", "caller", 0, 1, "uk:card-number", 0.9, 0, 2, 4),
    ]
    redacted = redact_segments(segments, overlapping)[0]
    assert redacted.text == "It's [CARD] thanks."
    assert [w.text for w in redacted.words] == ["It's", "[CARD]", "thanks."]


def test_redaction_collapses_words_and_keeps_times(finder: PersonalDataFinder) -> None:
    segments = transcript(
        ("caller", "My card number is 4929 1234 5678 9012 and the code is 123."),
    )
    findings = [*finder.find(segments)]
    findings.append(Finding("DTMF", "caller", 1.0, 1.2, "goertzel", 1.0))  # no words: ignored
    segment = redact_segments(segments, findings)[0]
    assert segment.text == "My card number is [CARD] and the code is [SECURITY_CODE]."
    card = segment.words[4]
    assert (card.text, card.start_s, card.end_s) == (
        "[CARD]",
        segments[0].words[4].start_s,
        segments[0].words[7].end_s,
    )
    assert (segment.start_s, segment.end_s, segment.speaker) == (
        segments[0].start_s,
        segments[0].end_s,
        "caller",
    )


def test_redacting_nothing_returns_the_segments_unchanged() -> None:
    segments = transcript(("caller", "Nothing here."))
    assert redact_segments(segments, []) == segments


# --- offline -----------------------------------------------------------------------------
def test_builds_and_finds_without_any_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("network access attempted")

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    # A fresh suffix-list reader, so that its first (lazy) load happens with the network off.
    monkeypatch.setattr(uk_recognisers, "_OFFLINE_TLD", uk_recognisers.offline_tld_extractor())
    offline = PersonalDataFinder()
    segments = transcript(
        ("caller", "I'm Maria Lopez, email maria.lopez@outlook.com or maria at gmail dot com."),
    )
    findings = offline.find(segments)
    assert {f.kind for f in findings} == {"NAME", "EMAIL"}
    assert "presidio:EMAIL_ADDRESS" in {f.detector for f in findings}
    assert uk_recognisers.OfflineEmailRecognizer().validate_result("maria.lopez@outlook.com")


# --- property: any card read any way is found whole --------------------------------------
_DIGIT_WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
_TENS_WORDS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty",
               "ninety"]  # fmt: skip
_TEENS_WORDS = ["ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen",
                "seventeen", "eighteen", "nineteen"]  # fmt: skip


def _zero(rng: random.Random) -> str:
    return rng.choice(["oh", "oh", "zero", "nought", "0"])


def _digit_word(digit: str, rng: random.Random) -> str:
    if digit == "0":
        return _zero(rng)
    return rng.choice([_DIGIT_WORDS[int(digit)], _DIGIT_WORDS[int(digit)], digit])


def _pair_words(pair: str, rng: random.Random) -> list[str] | None:
    """ "49" as "forty-nine" / "forty nine", "17" as "seventeen"; None when not sayable so."""
    tens, unit = int(pair[0]), int(pair[1])
    if tens == 1:
        return [_TEENS_WORDS[unit]]
    if tens >= 2 and unit != 0:
        word = _TENS_WORDS[tens]
        return rng.choice([[f"{word}-{_DIGIT_WORDS[unit]}"], [word, _DIGIT_WORDS[unit]]])
    return None


def _group_words(group: str, rng: random.Random) -> Iterator[str]:
    """One group of a card number, as a caller might say it and Whisper write it."""
    if rng.random() < 0.25:
        yield group  # Whisper wrote the group in figures
        return
    i = 0
    while i < len(group):
        run = len(group[i:]) - len(group[i:].lstrip(group[i]))
        pair = _pair_words(group[i : i + 2], rng) if i + 1 < len(group) else None
        if run >= 3 and rng.random() < 0.6:
            yield "triple"
            yield _digit_word(group[i], rng)
            i += 3
        elif run >= 2 and rng.random() < 0.6:
            yield "double"
            yield _digit_word(group[i], rng)
            i += 2
        elif pair is not None and rng.random() < 0.2:
            yield from pair
            i += 2
        else:
            yield _digit_word(group[i], rng)
            i += 1


def _say_card(number: str, rng: random.Random) -> list[str]:
    sizes = rng.choice([[4, 4, 4, 4], [4, 6, 6], [2, 2, 4, 4, 4], [3, 3, 3, 3, 4], [16]])
    groups, at = [], 0
    for size in sizes:
        groups.append(number[at : at + size])
        at += size
    words: list[str] = []
    for group in groups:
        spoken = list(_group_words(group, rng))
        if words and rng.random() < 0.15:
            words.append(rng.choice(["uh", "um", "and", "dash"]))
        words.extend(spoken)
        if rng.random() < 0.5:
            words[-1] += rng.choice([",", ".", ""])
    return words


def test_any_card_read_any_way_is_found_as_card(finder: PersonalDataFinder) -> None:
    rng = random.Random(20261101)
    for _ in range(200):
        number = str(rng.choice([3, 4, 5, 6])) + "".join(
            rng.choice("0123456789") for _ in range(15)
        )
        card_words = _say_card(number, rng)
        split = rng.randrange(0, len(card_words) + 1)
        lines = (
            ("agent", "Can I take the card number please?"),
            ("caller", " ".join(["Yes", "it's", *card_words[:split]])),
            ("caller", " ".join([*card_words[split:], "and", "that's", "it."])),
        )
        segments = transcript(*lines)
        findings = finder.find(segments)
        assert all(f.kind == "CARD" for f in findings), (card_words, findings)
        covered = {(f.segment, i) for f in findings for i in range(f.first_word, f.last_word + 1)}
        expected = {(1, 2 + i) for i in range(split)} | {
            (2, i) for i in range(len(card_words) - split)
        }
        assert covered == expected, (card_words, [said(segments, f) for f in findings])


def test_a_card_number_the_recogniser_garbled_is_still_card(finder: PersonalDataFinder) -> None:
    # What Whisper base made of "My card number is four nine two nine, one two three four,
    # five six seven eight, nine zero one two" in espeak's en-gb voice on a telephone line.
    segments = transcript(
        ("caller", "My card number in port I-2-I-1234, I-6-08, I-012."),
        ("agent", "Thank you."),
    )
    findings = finder.find(segments)
    assert [(f.kind, f.detector) for f in findings] == [("CARD", "card-context")]
    text = redacted_text(segments, findings)
    assert text.startswith("My card number [CARD]") and not any(c.isdigit() for c in text)


def test_digits_inside_words_are_a_digit_run(finder: PersonalDataFinder) -> None:
    segments = transcript(("caller", "The reference is 1-b-2345, c-67."))
    found = [(f.kind, f.detector) for f in finder.find(segments)]
    assert ("DIGITS", "digit-stretch") in found, found
    assert not any(c.isdigit() for c in redacted_text(segments, finder.find(segments)))


def test_a_number_with_digits_heard_as_words_is_one_digit_run(finder: PersonalDataFinder) -> None:
    # Whisper base on "four nine two nine, one two three four, five six seven eight, nine zero
    # one two" after Opus: the nines became "either" and "I'm".
    segments = transcript(
        ("caller", "I can't number import either food, either."),
        ("caller", "One, two, three, four."),
        ("caller", "I'm six, seven, eight."),
        ("caller", "I'm zero, one, two."),
    )
    findings = finder.find(segments)
    assert {f.kind for f in findings} == {"DIGITS"}
    text = redacted_text(segments, findings)
    for heard in ("import", "either", "food", "One", "six", "zero", "two"):
        assert heard not in text, text


@pytest.mark.parametrize(
    ("line", "kind", "item"),
    [
        # The house number garbled ("twenty three" heard as "the free"): the street remains.
        ("and the free Greyhound Road, please.", "ADDRESS", "Greyhound Road,"),
        # "When were you born?" garbled away; March 1941 is still nobody's bin day.
        ("It's March, nineteen forty one.", "DATE_OF_BIRTH", "March, nineteen forty one."),
        # spaCy's small model saw no person; a common surname, capitalised mid-sentence.
        ("yes I'm in Murphy, that's right", "NAME", "Murphy,"),
    ],
)
def test_what_survives_a_garbled_cue(
    finder: PersonalDataFinder, line: str, kind: str, item: str
) -> None:
    segments = transcript(("caller", line))
    found = [(f.kind, said(segments, f)) for f in finder.find(segments)]
    assert (kind, item) in found, found


def test_recent_dates_without_a_birth_cue_are_left(finder: PersonalDataFinder) -> None:
    segments = transcript(("caller", "It was missed on the third of March, twenty twenty six."))
    assert of_kind(finder.find(segments), "DATE_OF_BIRTH") == []


def test_double_you_with_the_district_glued_on_is_w(finder: PersonalDataFinder) -> None:
    # "W fourteen, oh E H" as Whisper wrote it: "double U14, oh EH".
    segments = transcript(("caller", "It's double U14, oh EH."))
    assert [(f.kind, said(segments, f)) for f in finder.find(segments)] == [
        ("POSTCODE", "double U14, oh EH.")
    ]


@pytest.mark.parametrize(
    ("line", "kind", "item"),
    [
        # "flat fifteen, Charecroft Way, W14 0EH" as Whisper heard it from the stored Opus.
        ("slack 15, carecroftway, and that's it", "ADDRESS", "15, carecroftway,"),
        ("It's double U14, mirror EH thanks.", "POSTCODE", "double U14, mirror EH"),
        ("It's SW6, the rest I forget.", "POSTCODE", "SW6, the rest"),
    ],
)
def test_what_survives_a_garbled_postcode_or_street(
    finder: PersonalDataFinder, line: str, kind: str, item: str
) -> None:
    segments = transcript(("caller", line))
    found = [(f.kind, said(segments, f)) for f in finder.find(segments)]
    assert (kind, item) in found, found
