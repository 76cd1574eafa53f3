"""Conduct flags: threats and directed abuse found, figures of speech and idle swearing not."""

from __future__ import annotations

import pytest

from callvault.speech import conduct
from callvault.speech.conduct import ConductFlag, find_conduct
from callvault.speech.model import Segment, Word

WORD_S = 0.3  # each fixture word takes 0.25 s, starting every 0.3 s


def _segment(text: str, *, speaker: str = "caller", start_s: float = 10.0) -> Segment:
    """A segment as Whisper writes it: words with punctuation attached, and word times."""
    words = tuple(
        Word(start_s + i * WORD_S, start_s + i * WORD_S + 0.25, token)
        for i, token in enumerate(text.split())
    )
    return Segment(speaker, start_s, words[-1].end_s, " " + text, words)


def _rules(*texts: str) -> list[str]:
    return [flag.rule for flag in find_conduct([_segment(text) for text in texts])]


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("I'll KILL you!", "threat:kill-you"),
        # The corpus's abusive caller as Whisper base heard it on a telephone line.
        ("You lot can't fucking use this.", "abuse:swearing-at-you"),
        ("You lot are fucking useless.", "abuse:you-are-useless"),
        ("I swear to God I will fucking kill you.", "threat:kill-you"),
        ("I'm going to hurt you.", "threat:hurt-you"),
        ("I'd strangle him if I could.", "threat:hurt-you"),
        ("I'll punch you in the face.", "threat:hurt-you"),
        ("I'll knock you out.", "threat:hurt-you"),
        ("I'll beat the shit out of you.", "threat:beat-you-up"),
        ("We're gonna do you over.", "threat:beat-you-up"),
        ("I'll smash your face in.", "threat:smash-your-face"),
        ("I know where you live.", "threat:know-where-you-live"),
        ("We know where your kids go to school.", "threat:know-where-you-live"),
        ("I'll come down there and smash the place up.", "threat:come-down-there"),
        ("I'm gonna come round there and sort you out.", "threat:come-down-there"),
        ("Someone should burn the place down.", "threat:burn-the-place-down"),
        ("I'll set fire to your office.", "threat:burn-the-place-down"),
        ("You'll regret it.", "threat:regret"),
        ("You're going to regret this, mate.", "threat:regret"),
        ("Watch your back.", "threat:watch-your-back"),
        ("I'll find you.", "threat:find-you"),
        ("We'll hunt you down.", "threat:find-you"),
        ("You'll get what's coming to you.", "threat:you-will-get-hurt"),
        ("You're dead meat.", "threat:you-will-get-hurt"),
        ("I've got a knife.", "threat:weapon"),
        ("Fuck off!", "abuse:fuck-off"),
        ("Oh, piss off.", "abuse:fuck-off"),
        ("Go fuck yourself.", "abuse:fuck-you"),
        ("Shove it up your arse.", "abuse:shove-it"),
        ("Shut the fuck up.", "abuse:shut-up"),
        ("You stupid bitch.", "abuse:you-insult"),
        ("You idiot.", "abuse:you-insult"),
        ("You're a useless cunt.", "abuse:you-insult"),
        ("Listen, you absolute wanker.", "abuse:you-insult"),
        ("You're useless, all of you.", "abuse:you-are-useless"),
        ("You're a fucking joke.", "abuse:you-are-useless"),
        ("Useless cunt.", "abuse:insult-address"),
        ("Stupid knob-head!", "abuse:insult-address"),
        ("Your mum's a whore.", "abuse:your-family"),
    ],
)
def test_flags(text: str, rule: str) -> None:
    assert _rules(text) == [rule]


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("F*** off!", "abuse:fuck-off"),
        ("You stupid b****.", "abuse:you-insult"),
        ("Useless c***.", "abuse:insult-address"),
        ("You f***ing idiots.", "abuse:you-insult"),
        ("I\u2019ll kill you.", "threat:kill-you"),  # a curly apostrophe
    ],
)
def test_masked_and_curly_spellings(text: str, rule: str) -> None:
    assert _rules(text) == [rule]


@pytest.mark.parametrize(
    "text",
    [
        "I could kill for a coffee.",
        "This form is killing me.",
        "You can kill the engine now.",
        "I'll kill time at the library.",
        "Bloody hell, the bus was late again.",
        "It was a bloody nightmare.",
        "Oh shit, I dropped it.",
        "What the fuck is this form?",
        "Fucking hell.",
        "That really pissed me off.",
        "I'm a bloody idiot, I forgot my reference.",
        "He's a lying bastard.",
        "That stupid idiot next door parked on my drive.",
        "You lucky bastard!",
        "I'll find you a flat in Hackney.",
        "We'll find you somewhere to stay.",
        "I'll find you the form.",
        "I'll shoot you an email.",
        "I'll shoot you through to housing.",
        "I'll get you booked in.",
        "I'll come down there and bring the papers.",
        "Mind you don't break your neck on those stairs.",
        "I won't hurt you.",
        "I would never hurt you.",
        "I don't want to hurt her feelings.",
        "We'll break the payments up.",
        "I'm not going to fuck you about.",
        "You won't regret it.",
        "You'll be sorry to hear the office is closed.",
        "I know where you're coming from.",
        "You joke, but it's true.",
        "Thank you so much, you've been brilliant.",
        "The idiot-proof version of the form.",
        "Can I have a fag break?",
    ],
)
def test_does_not_flag(text: str) -> None:
    assert _rules(text) == []


def test_times_phrase_and_speaker_come_from_the_words() -> None:
    [flag] = find_conduct([_segment("Right, I'll KILL you!", speaker="caller", start_s=20.0)])
    assert flag == ConductFlag(
        kind="threat",
        speaker="caller",
        start_s=20.0 + WORD_S,
        end_s=20.0 + 3 * WORD_S + 0.25,
        phrase="I'll KILL you!",
        rule="threat:kill-you",
    )


def test_a_phrase_split_across_segments() -> None:
    segments = [
        _segment("Listen to me. I'm going to", start_s=5.0),
        _segment("sorry, can you say that again?", speaker="agent", start_s=6.6),
        _segment("kill you.", start_s=7.2),
    ]
    [flag] = find_conduct(segments)
    assert (flag.rule, flag.speaker, flag.phrase) == (
        "threat:kill-you",
        "caller",
        "I'm going to kill you.",
    )
    assert (flag.start_s, flag.end_s) == (5.0 + 3 * WORD_S, 7.2 + WORD_S + 0.25)


def test_not_across_a_long_pause() -> None:
    segments = [_segment("I will find", start_s=1.0), _segment("you.", start_s=30.0)]
    assert find_conduct(segments) == []


def test_other_speakers_words_do_not_join_a_phrase() -> None:
    segments = [_segment("Fuck", speaker="caller"), _segment("off", speaker="agent", start_s=10.3)]
    assert find_conduct(segments) == []


def test_staff_are_checked_too_and_flags_come_in_time_order() -> None:
    segments = [
        _segment("You useless cow.", speaker="agent", start_s=40.0),
        _segment("Fuck off.", speaker="caller", start_s=12.0),
        _segment("I'll come down there and kill you.", speaker="caller", start_s=50.0),
    ]
    flags = find_conduct(segments)
    assert [(f.speaker, f.kind, f.start_s) for f in flags] == [
        ("caller", "abuse", 12.0),
        ("agent", "abuse", 40.0),
        ("caller", "threat", 50.0),
    ]


def test_threat_and_abuse_in_one_breath_are_both_flagged_once() -> None:
    rules = _rules("I'll fucking kill you, you fucking cunt!")
    assert rules == ["threat:kill-you", "abuse:you-insult"]


def test_a_segment_without_word_times_uses_its_text() -> None:
    segment = Segment("mixed", 3.0, 5.0, " Watch your back.", ())
    [flag] = find_conduct([segment])
    assert (flag.rule, flag.phrase, flag.start_s, flag.end_s) == (
        "threat:watch-your-back",
        "Watch your back.",
        3.0,
        5.0,
    )


def test_nothing_to_check() -> None:
    assert find_conduct([]) == []
    assert find_conduct([Segment("caller", 0.0, 1.0, "", ())]) == []
    assert find_conduct([_segment("... !")]) == []


def test_every_lexicon_entry_is_written_as_the_normaliser_leaves_words() -> None:
    """A phrase with a capital, a contraction or punctuation in it could never match."""
    for name, phrases in conduct._PHRASES.items():
        for phrase in phrases:
            assert conduct._normalise(phrase) == phrase.split(), (name, phrase)
    for rule in conduct._RULES:
        for slot in rule.pattern.split():
            for option in slot.lstrip("!").rstrip("?*+").split("|"):
                if option != "..." and not option.startswith("{"):
                    words = option.replace("_", " ")
                    assert conduct._normalise(words) == words.split(), (rule.name, option)
