"""Alter a caller's voice for a training clip: McAdams-coefficient anonymisation and a pitch shift.

The McAdams transformation (Patino, Tomashenko, Todisco, Nautsch and Evans, "Speaker
anonymisation using the McAdams coefficient", Interspeech 2021; the VoicePrivacy 2020/2022
baseline B2) moves the formants, the resonances of the speaker's vocal tract. The signal is cut
into 20 ms frames (10 ms hop, square-root Hann windows for analysis and synthesis, whose product
overlap-adds to exactly one). Each frame gets a linear-prediction (LPC) filter; every complex pole
at angle φ in (0, π) is moved to φ**alpha with its radius kept, its conjugate mirrored and real
poles left alone. The frame's LPC residual (what the old filter leaves) is sent through the new
filter and brought back to the frame's energy. With alpha < 1, angles below 1 rad rise and angles
above fall: formants are pulled towards fs / 2π Hz (1273 Hz at 8 kHz).

The pitch, which the residual carries, is shifted in the residual: stretched in time by WSOLA,
then resampled back to its own length, so the formants are left to the McAdams step and the
output has exactly the input's sample count.

``alpha`` and ``semitones`` are the secret of a clip: with them the change can largely be undone
(alpha → 1/alpha, -semitones). ``draw_parameters`` draws them per clip; they must never be stored
with the clip or in its metadata (docs/voice-anonymisation.md).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from callvault.errors import BadInput

# VoicePrivacy's range for the random McAdams coefficient (B2 draws alpha per speaker from it):
# below 0.75 the voice turns robotic, above 0.9 it is barely changed.
ALPHA_RANGE = (0.75, 0.90)
# Pitch shift magnitude, in semitones, with a random sign: 2 is beyond a caller's everyday
# variation from call to call; past 4 the voice sounds processed and harder to follow.
SEMITONE_RANGE = (2.0, 4.0)
MAX_SEMITONES = 12.0
MIN_RATE, MAX_RATE = 4000, 96000

_FRAME_S = 0.020  # LPC frame; the hop is half of it
_WSOLA_FRAME_S = 0.032  # two periods of a low (60 Hz) voice
_WSOLA_SEARCH_S = 0.008  # ± half the longest period, enough to line up any pitch pulse
_WHITE_NOISE = 1e-4  # -40 dB added to lag 0: keeps the LPC filters away from the unit circle
_SILENT_POWER = 1e-12  # mean square below -120 dBFS: a frame with nothing to analyse


@dataclass(frozen=True, slots=True)
class VoiceChange:
    """One clip's secret voice change. repr hides the values so logs and tracebacks cannot leak
    them."""

    alpha: float = field(repr=False)
    semitones: float = field(repr=False)


def draw_parameters(rng: random.Random | np.random.Generator) -> VoiceChange:
    """A voice change drawn at random: alpha uniform in ALPHA_RANGE, a pitch shift uniform in
    SEMITONE_RANGE with a random sign. Use ``random.SystemRandom()`` for real clips: the values
    are a secret and a seeded generator's are predictable."""
    if isinstance(rng, np.random.Generator):
        alpha = float(rng.uniform(*ALPHA_RANGE))
        size = float(rng.uniform(*SEMITONE_RANGE))
        down = bool(rng.random() < 0.5)
    else:
        alpha = rng.uniform(*ALPHA_RANGE)
        size = rng.uniform(*SEMITONE_RANGE)
        down = rng.random() < 0.5
    return VoiceChange(alpha=alpha, semitones=-size if down else size)


def anonymise_voice(
    samples: npt.NDArray[np.floating], rate: int, *, alpha: float, semitones: float
) -> npt.NDArray[np.float32]:
    """``samples`` (mono float, full scale ±1) with the formants moved by the McAdams coefficient
    ``alpha`` and the pitch shifted by ``semitones``.

    The output has the input's length, is finite, lies in [-1, 1], and is the same for the same
    inputs; digital silence stays silent.
    """
    _check_arguments(samples, rate, alpha, semitones)
    if samples.size == 0:
        return np.zeros(0, np.float32)
    hop = max(1, round(_FRAME_S * rate / 2))
    window = np.sqrt(_hann(2 * hop))
    padded, count = _pad_for_frames(samples.astype(np.float64), hop)
    frames = _frames(padded, hop, count) * window
    order = 2 + rate // 1000
    old, voiced = _lpc(frames, order)
    residual = _inverse_filter(old, frames)
    if semitones != 0:
        shifted = _shift_pitch(_overlap_add(residual * window, hop), rate, semitones)
        residual = _frames(shifted, hop, count) * window
    altered = _synthesis_filter(_mcadams(old, alpha), residual)
    altered *= _energy_gain(frames, altered, voiced)[:, None]
    out = _overlap_add(altered * window, hop)[hop : hop + samples.size]
    return np.clip(out, -1.0, 1.0).astype(np.float32)


def check_voice(samples: npt.NDArray[np.floating], field: str, what: str = "voice audio") -> None:
    """BadInput naming ``field`` unless ``samples`` is one channel of finite float audio."""
    if (
        not isinstance(samples, np.ndarray)
        or samples.ndim != 1
        or not np.issubdtype(samples.dtype, np.floating)
    ):
        shape, dtype = getattr(samples, "shape", None), getattr(samples, "dtype", None)
        raise BadInput(
            f"{what} must be a one-dimensional float array, not {dtype} shaped {shape}; "
            "pass one channel as float32 scaled to ±1 (int16 / 32768)",
            field,
        )
    if not bool(np.all(np.isfinite(samples))):
        raise BadInput(f"{what} holds NaN or infinite samples; pass finite values", field)


def _check_arguments(
    samples: npt.NDArray[np.floating], rate: int, alpha: float, semitones: float
) -> None:
    check_voice(samples, "samples")
    if isinstance(rate, bool) or not isinstance(rate, int) or not MIN_RATE <= rate <= MAX_RATE:
        raise BadInput(
            f"the sample rate must be a whole number of Hz from {MIN_RATE} to {MAX_RATE}, "
            f"not {rate}; telephone audio is 8000",
            "rate",
        )
    if not (math.isfinite(alpha) and 0.5 < alpha < 1.0):
        raise BadInput(
            f"the McAdams coefficient must lie strictly between 0.5 and 1.0, not {alpha}; "
            f"draw it from {ALPHA_RANGE} with draw_parameters",
            "alpha",
        )
    if not (math.isfinite(semitones) and abs(semitones) <= MAX_SEMITONES):
        raise BadInput(
            f"the pitch shift must be finite and at most {MAX_SEMITONES:g} semitones either "
            f"way, not {semitones}; use e.g. ±{SEMITONE_RANGE[0]:g} to ±{SEMITONE_RANGE[1]:g}",
            "semitones",
        )


def _hann(length: int) -> npt.NDArray[np.float64]:
    """The periodic Hann window: copies a half-length apart add up to exactly one."""
    return 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(length) / length)


def _pad_for_frames(x: npt.NDArray[np.float64], hop: int) -> tuple[npt.NDArray[np.float64], int]:
    """``x`` with a hop of zeros before and enough after that two frames cover every sample,
    and the number of frames."""
    count = (hop + x.size - 1) // hop + 1
    tail = (count + 1) * hop - hop - x.size
    return np.concatenate([np.zeros(hop), x, np.zeros(tail)]), count


def _frames(x: npt.NDArray[np.float64], hop: int, count: int) -> npt.NDArray[np.float64]:
    """``count`` frames of two hops each, a hop apart, as rows."""
    index = np.arange(count)[:, None] * hop + np.arange(2 * hop)[None, :]
    frames: npt.NDArray[np.float64] = x[index]
    return frames


def _overlap_add(frames: npt.NDArray[np.float64], hop: int) -> npt.NDArray[np.float64]:
    """The inverse of ``_frames`` for windowed frames: each frame added at its place."""
    count = frames.shape[0]
    out = np.zeros((count + 1) * hop)
    out[: count * hop] += frames[:, :hop].ravel()
    out[hop:] += frames[:, hop:].ravel()
    return out


def _lpc(
    frames: npt.NDArray[np.float64], order: int
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_]]:
    """Per frame, the prediction polynomial [1, a1, ..., a_order] (autocorrelation method), and
    whether the frame had sound; a silent frame gets the polynomial 1."""
    length = frames.shape[1]
    lags = [np.einsum("fn,fn->f", frames[:, : length - k], frames[:, k:]) for k in range(order + 1)]
    autocorrelation = np.stack(lags, axis=1)
    voiced = autocorrelation[:, 0] > _SILENT_POWER * length
    autocorrelation[~voiced] = 0.0
    autocorrelation[~voiced, 0] = 1.0
    autocorrelation[:, 0] *= 1.0 + _WHITE_NOISE
    return _levinson(autocorrelation, order), voiced


def _levinson(r: npt.NDArray[np.float64], order: int) -> npt.NDArray[np.float64]:
    """Levinson-Durbin recursion on every row of autocorrelations at once."""
    a = np.zeros((r.shape[0], order + 1))
    a[:, 0] = 1.0
    error = r[:, 0].copy()
    for i in range(1, order + 1):
        acc = r[:, i] + np.einsum("fj,fj->f", a[:, 1:i], r[:, i - 1 : 0 : -1])
        reflection = -acc / error
        a[:, 1:i] += reflection[:, None] * a[:, i - 1 : 0 : -1]
        a[:, i] = reflection
        error = np.maximum(error * (1.0 - reflection**2), 1e-300)
    return a


def _mcadams(a: npt.NDArray[np.float64], alpha: float) -> npt.NDArray[np.float64]:
    """Each polynomial with its complex roots moved from angle φ to φ**alpha, radius kept."""
    count, order = a.shape[0], a.shape[1] - 1
    companion = np.zeros((count, order, order))
    companion[:, 0, :] = -a[:, 1:]
    companion[:, np.arange(1, order), np.arange(order - 1)] = 1.0
    poles = np.linalg.eigvals(companion)
    angle = np.angle(poles)
    # LAPACK returns exact conjugate pairs for a real matrix, so moving |φ| and keeping its sign
    # keeps them pairs; real poles (angle 0 or π) stay where they are.
    moved = np.sign(angle) * np.abs(angle) ** alpha
    new_poles = np.where(poles.imag != 0, np.abs(poles) * np.exp(1j * moved), poles)
    polynomial = np.zeros((count, order + 1), complex)
    polynomial[:, 0] = 1.0
    for k in range(order):
        polynomial[:, 1:] = polynomial[:, 1:] - new_poles[:, k : k + 1] * polynomial[:, :-1]
    return polynomial.real


def _inverse_filter(
    a: npt.NDArray[np.float64], frames: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    """Each frame through its own FIR filter A(z), starting at rest: the LPC residual."""
    out = frames * a[:, :1]
    for k in range(1, a.shape[1]):
        out[:, k:] += a[:, k : k + 1] * frames[:, :-k]
    return out


def _synthesis_filter(
    a: npt.NDArray[np.float64], excitation: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    """Each row through its own all-pole filter 1/A(z), starting at rest; one step per sample,
    every frame at once."""
    order = a.shape[1] - 1
    backwards = a[:, :0:-1]  # a_order ... a_1, lined up with y[n-order] ... y[n-1]
    y = np.zeros((excitation.shape[0], order + excitation.shape[1]))
    for n in range(excitation.shape[1]):
        y[:, order + n] = excitation[:, n] - np.einsum("fk,fk->f", backwards, y[:, n : n + order])
    return y[:, order:]


def _energy_gain(
    reference: npt.NDArray[np.float64],
    altered: npt.NDArray[np.float64],
    voiced: npt.NDArray[np.bool_],
) -> npt.NDArray[np.float64]:
    """Per frame, the gain that gives ``altered`` the energy of ``reference``; 0 where silent."""
    wanted = np.einsum("fn,fn->f", reference, reference)
    have = np.einsum("fn,fn->f", altered, altered)
    usable = voiced & (have > 0) & np.isfinite(have)
    return np.where(usable, np.sqrt(wanted / np.where(usable, have, 1.0)), 0.0)


def _shift_pitch(
    x: npt.NDArray[np.float64], rate: int, semitones: float
) -> npt.NDArray[np.float64]:
    """``x`` with every frequency scaled by 2**(semitones/12) and its length kept: stretched in
    time by that factor, then resampled back to its own length."""
    factor = 2.0 ** (semitones / 12.0)
    return _resample(_stretch(x, factor, rate), x.size)


def _stretch(x: npt.NDArray[np.float64], factor: float, rate: int) -> npt.NDArray[np.float64]:
    """``x`` made ``factor`` times longer at the same pitch (WSOLA: Hann frames taken near their
    nominal place, each where it best continues the frame before)."""
    length = round(x.size * factor)
    hop = max(2, round(_WSOLA_FRAME_S * rate / 2))
    frame, search = 2 * hop, max(1, round(_WSOLA_SEARCH_S * rate))
    window = _hann(frame)
    count = length // hop + 2
    margin = frame + search
    source = np.concatenate([np.zeros(margin), x, np.zeros(margin + 3 * frame)])
    out = np.zeros((count + 1) * hop)  # out[i] is output time i - hop
    previous = 0
    for k in range(count):
        nominal = round(k * hop / factor) - hop + margin
        start = nominal
        if k > 0:
            natural = source[previous + hop : previous + hop + frame]
            region = source[nominal - search : nominal + search + frame]
            fit = np.correlate(region, natural, "valid")
            if fit.max() > 0:
                start = nominal - search + int(np.argmax(fit))
        out[k * hop : k * hop + frame] += window * source[start : start + frame]
        previous = start
    return out[hop : hop + length]


def _resample(x: npt.NDArray[np.float64], length: int) -> npt.NDArray[np.float64]:
    """``x`` band-limited and resampled to ``length`` samples over the same span (FFT method)."""
    spectrum = np.fft.rfft(x)
    bins = length // 2 + 1
    if spectrum.size >= bins:
        spectrum = spectrum[:bins]
    else:
        spectrum = np.concatenate([spectrum, np.zeros(bins - spectrum.size, complex)])
    return np.fft.irfft(spectrum, length) * (length / x.size)
