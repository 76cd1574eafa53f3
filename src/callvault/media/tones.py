"""Find DTMF key presses in recorded audio, so card numbers keyed on the phone can be muted.

A caller paying by card may key the number; a PBX recording carries those tones, and they are
payment card data (PCI DSS) just as the spoken digits are. ``find_dtmf`` reports each key
press with its time; muting is ``mute.py``'s job.

Method: the Goertzel power of the eight DTMF frequencies in 25 ms blocks (200 samples at
8 kHz: 40 Hz resolution separates the closest pair, 697 and 770 Hz, 73 Hz apart), stepped
every 5 ms so onsets are timed to a few milliseconds. Goertzel is a single-bin DFT; we compute
the same number without a per-sample loop: one matrix product gives each 5 ms step's DFT at
the eight frequencies, and a block's DFT is the sum of its five steps', each turned by the
phase its frequency advances in a step. An hour at 8 kHz takes well under a second.

A block holds a digit when (after common receiver practice, ITU-T Q.24 and spandsp's
defaults):

- one row tone and one column tone each stand ``_RELATIVE_PEAK_DB`` above the others in
  their group (a chord or speech spreads its energy over several);
- the twist is within limits: the row (low group) tone may be up to 8 dB louder than the
  column (high group) tone, which is what line loss does to high frequencies; the column may
  be up to 4 dB louder, the keypad's own pre-emphasis plus margin;
- the two tones carry at least ``_MIN_TONE_SHARE`` of the block's power (speech and music
  spread theirs over other frequencies too);
- each tone is above ``_MIN_LEVEL_DBFS`` (about -35 dBm0);

then runs of blocks with the same digit are merged, a run broken for less than ``_BRIDGE_S``
is one press (a dropout, not a new key), and a press shorter than ``_MIN_DURATION_S`` is
dropped (Q.24: 40 ms must count).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from callvault.errors import BadInput

ROW_HZ = (697.0, 770.0, 852.0, 941.0)
COLUMN_HZ = (1209.0, 1336.0, 1477.0, 1633.0)
KEYPAD = ("123A", "456B", "789C", "*0#D")  # KEYPAD[row][column]

_STEP_S = 0.005
_STEPS_PER_BLOCK = 5  # 25 ms blocks
_RELATIVE_PEAK_DB = 8.0
_MAX_ROW_OVER_COLUMN_DB = 8.0
_MAX_COLUMN_OVER_ROW_DB = 4.0
# Share of the block's power in the two tones. A block only partly inside a tone has a share
# about equal to the part inside, so this also sets where onsets and ends are placed.
_MIN_TONE_SHARE = 0.6
# Per tone, relative to a full-scale sine. 0 dBm0 is -3.14 dBFS in G.711, so this is ~-35 dBm0.
_MIN_LEVEL_DBFS = -38.0
_MIN_DURATION_S = 0.032  # as estimated: a 40 ms tone measures 35-45 ms, a 30 ms one is not seen
_BRIDGE_S = 0.02  # a 40 ms pause between two presses of one key measures 40 ± 5 ms
_MIN_RATE = 8000

# float32 in practice; numpy's stubs widen float32 arithmetic to float64.
Floats = npt.NDArray[np.floating[Any]]


@dataclass(frozen=True, slots=True)
class Tone:
    digit: str  # "0".."9", "*", "#", "A".."D"
    start_s: float
    end_s: float


def find_dtmf(pcm: npt.NDArray[np.int16], sample_rate: int) -> list[Tone]:
    """Every DTMF key press in one channel of audio, in order."""
    _check_input(pcm, sample_rate)
    step = round(_STEP_S * sample_rate)
    block = step * _STEPS_PER_BLOCK
    if len(pcm) < block:
        return []
    row_power, column_power, block_power = _block_powers(pcm, sample_rate, step)
    digits = _block_digits(row_power, column_power, block_power)
    presses = _runs(digits, block, step, sample_rate, len(pcm))
    return [tone for tone in _bridge(presses) if tone.end_s - tone.start_s >= _MIN_DURATION_S]


def _check_input(pcm: npt.NDArray[np.int16], sample_rate: int) -> None:
    if pcm.ndim != 1:
        raise BadInput(
            f"DTMF detection takes one channel (a 1-D array), not an array of shape {pcm.shape}",
            "pcm",
        )
    if sample_rate < _MIN_RATE:
        raise BadInput(
            f"audio sampled at {sample_rate} Hz cannot carry DTMF; it must be at least 8000 Hz",
            "sample_rate",
        )


def _sub_block_basis(step: int, sample_rate: int) -> Floats:
    """Columns: cosine then sine at each DTMF frequency over one step, then ones (for DC)."""
    n = np.arange(step)[:, None]
    omega = 2 * np.pi * np.array(ROW_HZ + COLUMN_HZ) / sample_rate
    return np.hstack((np.cos(omega * n), np.sin(omega * n), np.ones((step, 1)))).astype(np.float32)


def _block_powers(
    pcm: npt.NDArray[np.int16], sample_rate: int, step: int
) -> tuple[Floats, Floats, Floats]:
    """Mean power of each row tone, each column tone, and of the whole block (less DC).

    Powers are relative to full scale (a full-scale sine has mean power 0.5). A block is
    ``_STEPS_PER_BLOCK`` steps, so each step's single-bin DFT is computed once (one matrix
    product over the audio viewed as rows of one step) and a block's is the sum of its
    steps', each turned by the phase the frequency advances between steps.
    """
    steps = len(pcm) // step
    rows = pcm[: steps * step].astype(np.float32).reshape(steps, step) * np.float32(1 / 32768)
    projected = rows @ _sub_block_basis(step, sample_rate)
    step_dft = np.empty((steps, 8), np.complex64)
    step_dft.real, step_dft.imag = projected[:, :8], -projected[:, 8:16]
    # (blocks, 8, steps per block): a view; einsum sums each block's steps without copying.
    windows = np.lib.stride_tricks.sliding_window_view(step_dft, _STEPS_PER_BLOCK, axis=0)
    omega = 2 * np.pi * np.array(ROW_HZ + COLUMN_HZ) / sample_rate
    turns = np.exp(-1j * np.outer(omega, step * np.arange(_STEPS_PER_BLOCK)))
    block_dft = np.einsum("bfm,fm->bf", windows, turns.astype(np.complex64))
    block = step * _STEPS_PER_BLOCK
    # A sine of amplitude a gives |DFT| = a*block/2 at its frequency, and mean power a²/2.
    tones = 2 * (block_dft.real**2 + block_dft.imag**2) / block**2
    blocks = len(block_dft)
    energy = _block_sums(np.einsum("ij,ij->i", rows, rows), blocks)
    mean = _block_sums(projected[:, 16], blocks) / block
    total = np.maximum(energy / block - mean**2, 0).astype(np.float32)
    return tones[:, :4], tones[:, 4:], total


def _block_sums(per_step: Floats, blocks: int) -> Floats:
    cumulative = np.concatenate(([0.0], np.cumsum(per_step, dtype=np.float64)))
    return np.asarray(
        cumulative[_STEPS_PER_BLOCK : _STEPS_PER_BLOCK + blocks] - cumulative[:blocks]
    )


def _block_digits(
    row_power: Floats,
    column_power: Floats,
    block_power: Floats,
) -> npt.NDArray[np.int8]:
    """Per block, the keypad index (row * 4 + column) it holds, or -1 for none."""
    row, column = row_power.argmax(axis=1), column_power.argmax(axis=1)
    row_peak, column_peak = row_power.max(axis=1), column_power.max(axis=1)
    valid = (
        _stands_out(row_power, row_peak)
        & _stands_out(column_power, column_peak)
        & (row_peak <= column_peak * _ratio(_MAX_ROW_OVER_COLUMN_DB))
        & (column_peak <= row_peak * _ratio(_MAX_COLUMN_OVER_ROW_DB))
        & (row_peak + column_peak >= _MIN_TONE_SHARE * block_power)
        & (np.minimum(row_peak, column_peak) >= 0.5 * _ratio(_MIN_LEVEL_DBFS))
    )
    return np.where(valid, row * 4 + column, -1).astype(np.int8)


def _ratio(db: float) -> float:
    return float(10 ** (db / 10))


def _stands_out(group_power: Floats, peak: Floats) -> npt.NDArray[np.bool_]:
    """Whether the group's strongest tone is far enough above its second strongest."""
    return np.asarray(_second_largest(group_power) * _ratio(_RELATIVE_PEAK_DB) <= peak)


def _second_largest(group_power: Floats) -> Floats:
    """Per row of four: the larger of the two pairs' smaller maxima and larger minima (a
    sorting network; several times faster than sorting each row)."""
    first, second, third, fourth = group_power.T
    high_a, low_a = np.maximum(first, second), np.minimum(first, second)
    high_b, low_b = np.maximum(third, fourth), np.minimum(third, fourth)
    return np.asarray(np.maximum(np.minimum(high_a, high_b), np.maximum(low_a, low_b)))


def _runs(
    digits: npt.NDArray[np.int8], block: int, step: int, sample_rate: int, samples: int
) -> list[Tone]:
    """Runs of blocks holding the same digit, timed as the tone itself.

    A block is accepted once about ``_MIN_TONE_SHARE`` of it is tone, so a run's first block
    starts (1 - share) of a block before the onset, give or take half a step; likewise at
    the end. A run touching either end of the audio is taken to start or end there.
    """
    change = np.flatnonzero(np.diff(digits) != 0) + 1
    starts = np.concatenate(([0], change))
    ends = np.concatenate((change, [len(digits)]))
    lead = (1 - _MIN_TONE_SHARE) * block - step / 2
    last_block = len(digits) - 1
    tones: list[Tone] = []
    for first, stop in zip(starts.tolist(), ends.tolist(), strict=True):
        code = int(digits[first])
        if code < 0:
            continue
        onset = 0.0 if first == 0 else first * step + lead
        offset = samples if stop - 1 == last_block else (stop - 1) * step + block - lead
        tones.append(Tone(KEYPAD[code // 4][code % 4], onset / sample_rate, offset / sample_rate))
    return tones


def _bridge(tones: list[Tone]) -> list[Tone]:
    """Merge presses of one key split by a dropout shorter than a real pause between keys."""
    merged: list[Tone] = []
    for tone in tones:
        previous = merged[-1] if merged else None
        if (
            previous is not None
            and previous.digit == tone.digit
            and tone.start_s - previous.end_s < _BRIDGE_S
        ):
            merged[-1] = Tone(tone.digit, previous.start_s, tone.end_s)
        else:
            merged.append(tone)
    return merged
