"""Digits and letters read out of Whisper words: what each run of words spells."""

from __future__ import annotations

import pytest

from callvault.speech.spoken_numbers import clean, spelled_runs, spoken_number


def runs(text: str) -> list[tuple[str, str, str]]:
    """(characters, first word, last word) of each spelled run in ``text``."""
    words = text.split()
    return [(r.chars, words[r.first_word], words[r.last_word]) for r in spelled_runs(words)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("four nine two nine, one two three four", [("49291234", "four", "four")]),
        ("4929 1234 five six 78", [("492912345678", "4929", "78")]),
        ("4,929 1234.", [("49291234", "4,929", "1234.")]),
        (
            "4929-1234-5678-9012",
            [("4929123456789012", "4929-1234-5678-9012", "4929-1234-5678-9012")],
        ),
        ("double four triple seven", [("44777", "double", "seven")]),
        ("oh seven seven double oh nine", [("077009", "oh", "nine")]),
        ("zero nought nil", [("000", "zero", "nil")]),
        ("forty-nine twenty nine", [("4929", "forty-nine", "nine")]),
        ("twenty, one", [("201", "twenty,", "one")]),
        ("nineteen seventy five", [("1975", "nineteen", "five")]),
        ("two thousand and five", [("2005", "two", "five")]),
        ("two hundred and twelve", [("212", "two", "twelve")]),
        ("three hundred", [("300", "three", "hundred")]),
        ("S W six, one A A.", [("SW61AA", "S", "A.")]),
        ("sw61aa", [("SW61AA", "sw61aa", "sw61aa")]),
        ("Q Q one two three four five six C", [("QQ123456C", "Q", "C")]),
        ("double you one zed", [("W1Z", "double", "zed")]),
        ("S double you six", [("SW6", "S", "six")]),
        ("one two three and four five six", [("123456", "one", "six")]),
        ("one two three, uh, four five six", [("123456", "one", "six")]),
        ("+44 20 7371 5678", [("442073715678", "+44", "5678")]),
    ],
)
def test_runs_spell_what_was_said(text: str, expected: list[tuple[str, str, str]]) -> None:
    assert runs(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "I'll be there in a moment",
        "it costs £1,250.50 a year",
        "at 10:30 on the 3rd",
        "a double room",
        "I think so",
    ],
)
def test_ordinary_words_spell_nothing(text: str) -> None:
    assert runs(text) == []


def test_fillers_and_weak_letters_never_start_or_end_a_run() -> None:
    assert runs("and uh one two three um I") == [("123", "one", "three")]
    assert runs("S M I T H") == [("SMITH", "S", "H")]


def test_money_and_times_break_a_run() -> None:
    assert runs("one two £30 four five") == [("12", "one", "two"), ("45", "four", "five")]


def test_spoken_number_reads_a_whole_phrase_or_nothing() -> None:
    assert spoken_number(["nineteen", "seventy", "five"]) == "1975"
    assert spoken_number(["seventy-five"]) == "75"
    assert spoken_number(["march"]) is None
    assert spoken_number(["five", "and"]) is None  # the run does not reach the last word
    assert spoken_number(["S", "W"]) is None


def test_clean_strips_whisper_punctuation() -> None:
    assert clean(" 4929, ") == "4929"
    assert clean("“Smith.”") == "Smith"
    assert clean("O'Brien,") == "O'Brien"
