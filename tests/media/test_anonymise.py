"""McAdams voice anonymisation: shape, determinism, silence, and the formant and pitch moves.

The moves are checked on synthetic vowels (a pulse train through known resonators), measured by
an LPC fit written here with a plain Toeplitz solve, independent of the module's Levinson code.
"""

from __future__ import annotations

import math
import random

import numpy as np
import numpy.typing as npt
import pytest

from callvault.errors import BadInput
from callvault.media.anonymise import (
    ALPHA_RANGE,
    SEMITONE_RANGE,
    VoiceChange,
    anonymise_voice,
    draw_parameters,
)

RATE = 8000
FORMANTS = (500.0, 1800.0, 2500.0)  # below, and twice above, the fixed point fs/2π = 1273 Hz


def vowel(f0: float, formants: tuple[float, ...], seconds: float = 1.0) -> npt.NDArray[np.float32]:
    """A steady vowel: a pulse train at ``f0`` through a two-pole resonator per formant."""
    count = round(RATE * seconds)
    signal = np.zeros(count)
    signal[:: round(RATE / f0)] = 1.0
    for frequency in formants:
        radius, angle = math.exp(-math.pi * 80.0 / RATE), 2 * math.pi * frequency / RATE
        a1, a2 = -2 * radius * math.cos(angle), radius * radius
        out = np.zeros(count)
        for n in range(count):
            out[n] = signal[n] - a1 * out[n - 1] * (n >= 1) - a2 * out[n - 2] * (n >= 2)
        signal = out
    scaled: npt.NDArray[np.float32] = (0.5 * signal / np.abs(signal).max()).astype(np.float32)
    return scaled


def formant_frequencies(samples: npt.NDArray[np.float32]) -> list[float]:
    """Sharp resonances (bandwidth under 400 Hz) of an order-10 LPC fit, in Hz, ascending."""
    x = samples.astype(np.float64) * np.hanning(samples.size)
    order = 10
    r = np.array([x[: x.size - k] @ x[k:] for k in range(order + 1)])
    toeplitz = np.array([[r[abs(i - j)] for j in range(order)] for i in range(order)])
    roots = np.roots(np.concatenate([[1.0], -np.linalg.solve(toeplitz, r[1:])]))
    roots = roots[roots.imag > 0]
    bandwidth = -np.log(np.abs(roots)) * RATE / math.pi
    return sorted(float(f) for f in np.angle(roots[bandwidth < 400]) * RATE / (2 * math.pi))


def fundamental(samples: npt.NDArray[np.float32]) -> float:
    """The first autocorrelation peak within 80% of the highest between 60 and 400 Hz, refined
    by a parabola through it and its neighbours; the first such peak avoids octave errors."""
    x = samples.astype(np.float64) - samples.mean()
    ac = np.correlate(x, x, "full")[x.size - 1 :]
    low, high = RATE // 400, RATE // 60
    lag = low + int(np.argmax(ac[low:high] >= 0.8 * ac[low:high].max()))
    while ac[lag + 1] > ac[lag]:
        lag += 1
    before, at, after = ac[lag - 1], ac[lag], ac[lag + 1]
    return float(RATE / (lag + 0.5 * (before - after) / (before - 2 * at + after)))


def mcadams(frequency: float, alpha: float) -> float:
    """Where the McAdams transformation puts a resonance at ``frequency`` Hz."""
    return float(RATE / (2 * math.pi) * (2 * math.pi * frequency / RATE) ** alpha)


@pytest.fixture(scope="module")
def steady_vowel() -> npt.NDArray[np.float32]:
    return vowel(120.0, FORMANTS)


def test_shape_range_and_determinism(steady_vowel: npt.NDArray[np.float32]) -> None:
    noisy = steady_vowel + np.random.default_rng(1).normal(0, 0.05, steady_vowel.size)
    for samples in (steady_vowel, noisy.astype(np.float32), steady_vowel[:1234], np.ones(7)):
        first = anonymise_voice(samples, RATE, alpha=0.8, semitones=3.0)
        again = anonymise_voice(samples, RATE, alpha=0.8, semitones=3.0)
        assert first.shape == samples.shape
        assert first.dtype == np.float32
        assert np.all(np.isfinite(first))
        assert np.abs(first).max() <= 1.0
        assert np.array_equal(first, again)


def test_keeps_the_level_and_changes_the_signal(steady_vowel: npt.NDArray[np.float32]) -> None:
    out = anonymise_voice(steady_vowel, RATE, alpha=0.8, semitones=-2.0)
    level_in, level_out = np.sqrt(np.mean(steady_vowel**2)), np.sqrt(np.mean(out**2))
    assert level_out == pytest.approx(level_in, rel=0.2)
    assert np.abs(out - steady_vowel).max() > 0.1


def test_silence_stays_silent_and_empty_stays_empty() -> None:
    assert not np.any(anonymise_voice(np.zeros(RATE, np.float32), RATE, alpha=0.8, semitones=3))
    assert anonymise_voice(np.zeros(0, np.float32), RATE, alpha=0.8, semitones=3).size == 0


def test_silence_around_speech_stays_silent(steady_vowel: npt.NDArray[np.float32]) -> None:
    gap = np.zeros(RATE // 2, np.float32)
    out = anonymise_voice(np.concatenate([gap, steady_vowel, gap]), RATE, alpha=0.8, semitones=0)
    # Frames reach 10 ms (80 samples) either side of the speech, no further.
    assert not np.any(out[: gap.size - 80])
    assert not np.any(out[-(gap.size - 80) :])


@pytest.mark.parametrize("alpha", [0.75, 0.8, 0.9])
def test_formants_move_towards_one_radian_as_predicted(
    steady_vowel: npt.NDArray[np.float32], alpha: float
) -> None:
    measured_in = formant_frequencies(steady_vowel)
    assert measured_in == pytest.approx(FORMANTS, abs=30)
    measured_out = formant_frequencies(
        anonymise_voice(steady_vowel, RATE, alpha=alpha, semitones=0)
    )
    assert len(measured_out) == len(FORMANTS)
    for before, after, formant in zip(measured_in, measured_out, FORMANTS, strict=True):
        expected = mcadams(formant, alpha)
        # Below 1 rad (1273 Hz at 8 kHz) a formant rises, above it falls.
        assert (after > before) == (formant < RATE / (2 * math.pi))
        assert after == pytest.approx(expected, abs=40)


@pytest.mark.parametrize("semitones", [-4.0, -2.5, 2.0, 3.0, 4.0])
def test_pitch_shift_moves_the_fundamental(
    steady_vowel: npt.NDArray[np.float32], semitones: float
) -> None:
    before = fundamental(steady_vowel)
    after = fundamental(anonymise_voice(steady_vowel, RATE, alpha=0.85, semitones=semitones))
    assert 12 * math.log2(after / before) == pytest.approx(semitones, abs=0.15)


def test_pitch_shift_leaves_the_formants_to_mcadams(steady_vowel: npt.NDArray[np.float32]) -> None:
    plain = formant_frequencies(anonymise_voice(steady_vowel, RATE, alpha=0.8, semitones=0))
    shifted = formant_frequencies(anonymise_voice(steady_vowel, RATE, alpha=0.8, semitones=4))
    assert shifted[: len(plain)] == pytest.approx(plain, abs=60)


def test_draw_parameters_stays_in_range() -> None:
    draws = [draw_parameters(random.Random(seed)) for seed in range(200)]
    draws += [draw_parameters(np.random.default_rng(seed)) for seed in range(200)]
    assert all(ALPHA_RANGE[0] <= d.alpha <= ALPHA_RANGE[1] for d in draws)
    assert all(SEMITONE_RANGE[0] <= abs(d.semitones) <= SEMITONE_RANGE[1] for d in draws)
    assert {d.semitones > 0 for d in draws} == {True, False}
    assert len({d.alpha for d in draws}) > 300
    assert draw_parameters(random.Random(5)) == draw_parameters(random.Random(5))
    assert isinstance(draw_parameters(random.SystemRandom()), VoiceChange)


def test_voice_change_repr_hides_the_secret() -> None:
    change = VoiceChange(alpha=0.8123, semitones=-3.25)
    assert "0.8123" not in repr(change)
    assert "3.25" not in repr(change)


@pytest.mark.parametrize(
    ("samples", "rate", "alpha", "semitones", "field"),
    [
        (np.zeros((2, 100), np.float32), RATE, 0.8, 3.0, "samples"),
        (np.zeros(100, np.int16), RATE, 0.8, 3.0, "samples"),
        (np.array([0.0, np.nan], np.float32), RATE, 0.8, 3.0, "samples"),
        (np.array([0.0, np.inf], np.float32), RATE, 0.8, 3.0, "samples"),
        ([0.0, 0.1], RATE, 0.8, 3.0, "samples"),
        (np.zeros(100, np.float32), 0, 0.8, 3.0, "rate"),
        (np.zeros(100, np.float32), -8000, 0.8, 3.0, "rate"),
        (np.zeros(100, np.float32), 8000.0, 0.8, 3.0, "rate"),
        (np.zeros(100, np.float32), RATE, 0.5, 3.0, "alpha"),
        (np.zeros(100, np.float32), RATE, 1.0, 3.0, "alpha"),
        (np.zeros(100, np.float32), RATE, 1.2, 3.0, "alpha"),
        (np.zeros(100, np.float32), RATE, math.nan, 3.0, "alpha"),
        (np.zeros(100, np.float32), RATE, 0.8, 13.0, "semitones"),
        (np.zeros(100, np.float32), RATE, 0.8, math.inf, "semitones"),
    ],
)
def test_bad_input_names_the_field(
    samples: npt.NDArray[np.float32], rate: int, alpha: float, semitones: float, field: str
) -> None:
    with pytest.raises(BadInput) as caught:
        anonymise_voice(samples, rate, alpha=alpha, semitones=semitones)
    assert caught.value.field == field
