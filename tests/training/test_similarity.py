"""Speaker similarity with resemblyzer, for real, on espeak-ng voices as telephone audio.

Needs the ``eval`` extra (resemblyzer, torch: CI installs it) and espeak-ng with sox; the
encoder is loaded once for the module.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
import pytest

from callvault.errors import BadInput
from callvault.media.anonymise import anonymise_voice
from callvault.training.similarity import (
    PASS_THRESHOLD,
    Embedder,
    anonymity_label,
    assess_anonymity,
    load_embedder,
    similarity_available,
    speaker_similarity,
)
from speech_corpus import RATE, synthesise, tools_missing

pytest.importorskip("resemblyzer")
pytestmark = pytest.mark.skipif(tools_missing() is not None, reason=tools_missing() or "")

Audio = npt.NDArray[np.float32]
# Three voices with different variants and accents, each at its own rate; two sentences each.
VOICES = (("en-gb+m3", 150), ("en-us+f2", 170), ("en-gb-scotland+m7", 160))
SENTENCES = (
    "Hello, I'm ringing about my council tax bill, it went up again this month.",
    "My recycling wasn't collected on Tuesday and the bins are overflowing now.",
)


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    loaded = load_embedder()
    assert loaded is not None, "resemblyzer imports but the embedder did not load"
    return loaded


@pytest.fixture(scope="module")
def clips() -> list[list[Audio]]:
    """Per voice, its sentences as float audio, full scale ±1."""
    return [
        [(synthesise(text, voice, wpm) / 32768).astype(np.float32) for text in SENTENCES]
        for voice, wpm in VOICES
    ]


def test_measure_is_available() -> None:
    assert similarity_available()
    assert load_embedder() is load_embedder()  # loaded once


def test_genuine_pairs_score_higher_than_impostor_pairs(
    clips: list[list[Audio]], embedder: Embedder
) -> None:
    genuine = [speaker_similarity(a, b, RATE, embedder=embedder) for a, b in clips]
    impostor = [
        speaker_similarity(clips[v][0], clips[w][1], RATE, embedder=embedder)
        for v in range(len(clips))
        for w in range(len(clips))
        if v != w
    ]
    assert min(genuine) > max(impostor)
    assert all(0.0 <= score <= 1.0 + 1e-6 for score in genuine + impostor)


def test_altered_voice_scores_lower_than_the_voice_itself(
    clips: list[list[Audio]], embedder: Embedder
) -> None:
    for first, second in clips:
        genuine = speaker_similarity(first, second, RATE, embedder=embedder)
        altered = anonymise_voice(first, RATE, alpha=0.8, semitones=3.0)
        assert speaker_similarity(first, first.copy(), RATE, embedder=embedder) > 0.999
        assert speaker_similarity(altered, first, RATE, embedder=embedder) < genuine
        assert speaker_similarity(altered, second, RATE, embedder=embedder) < genuine


def test_unaltered_copy_is_pseudonymised(clips: list[list[Audio]]) -> None:
    original = clips[0][0]
    assessment = assess_anonymity(original, original.copy(), RATE)
    assert assessment.label == "pseudonymised"
    assert assessment.similarity is not None
    assert assessment.similarity > PASS_THRESHOLD
    assert anonymity_label(original, original.copy(), RATE) == "pseudonymised"


def test_strongly_altered_voice_is_anonymised(clips: list[list[Audio]]) -> None:
    for voice in clips:
        original = voice[0]
        altered = anonymise_voice(original, RATE, alpha=0.75, semitones=4.0)
        assessment = assess_anonymity(original, altered, RATE)
        assert assessment.label == "anonymised", assessment.reason
        assert assessment.similarity is not None
        assert assessment.similarity <= PASS_THRESHOLD


def test_label_follows_the_threshold(clips: list[list[Audio]], embedder: Embedder) -> None:
    original = clips[1][0]
    altered = anonymise_voice(original, RATE, alpha=0.85, semitones=-2.0)
    score = speaker_similarity(original, altered, RATE, embedder=embedder)
    at = anonymity_label(original, altered, RATE, threshold=score, embedder=embedder)
    below = anonymity_label(original, altered, RATE, threshold=score - 1e-4, embedder=embedder)
    assert (at, below) == ("anonymised", "pseudonymised")


def test_no_measure_means_pseudonymised(clips: list[list[Audio]]) -> None:
    original = clips[2][0]
    altered = anonymise_voice(original, RATE, alpha=0.75, semitones=4.0)
    assessment = assess_anonymity(original, altered, RATE, embedder=None)
    assert assessment.label == "pseudonymised"
    assert assessment.similarity is None
    assert "no measure, no claim" in assessment.reason
    assert anonymity_label(original, altered, RATE, embedder=None) == "pseudonymised"


def test_too_little_speech_means_pseudonymised(
    clips: list[list[Audio]], embedder: Embedder
) -> None:
    silence = np.zeros(RATE * 3, np.float32)
    short = clips[0][0][: RATE // 4]
    for altered in (silence, short):
        assessment = assess_anonymity(clips[0][0], altered, RATE, embedder=embedder)
        assert assessment.label == "pseudonymised"
        assert assessment.similarity is None
    with pytest.raises(BadInput) as caught:
        speaker_similarity(clips[0][0], silence, RATE, embedder=embedder)
    assert caught.value.field == "second"


@pytest.mark.parametrize(
    ("original", "altered", "rate", "threshold", "field"),
    [
        (np.zeros((2, 10), np.float32), np.zeros(10, np.float32), RATE, 0.7, "original"),
        (np.zeros(10, np.float32), np.zeros(10, np.int16), RATE, 0.7, "altered"),
        (np.zeros(10, np.float32), np.full(10, np.nan, np.float32), RATE, 0.7, "altered"),
        (np.zeros(10, np.float32), np.zeros(10, np.float32), 0, 0.7, "rate"),
        (np.zeros(10, np.float32), np.zeros(10, np.float32), RATE, 1.5, "threshold"),
        (np.zeros(10, np.float32), np.zeros(10, np.float32), RATE, math.nan, "threshold"),
    ],
)
def test_bad_input_names_the_field(
    original: Audio, altered: Audio, rate: int, threshold: float, field: str
) -> None:
    with pytest.raises(BadInput) as caught:
        assess_anonymity(original, altered, rate, threshold=threshold, embedder=None)
    assert caught.value.field == field
