"""Mute spans of call audio: silence or a bleep where personal or payment data was said.

Each span is widened by ``pad_s`` on both sides (word times from a recogniser are a little
early or late) and clipped to the audio; inside the widened span nothing of the original is
left. Outside it, a 5 ms raised-cosine ramp crossfades from the original to the fill and back,
so the cut does not click; beyond the ramps every sample is the input's, bit for bit.

Spans overlapping, touching or closer than two ramps merge: a sliver of original shorter than
that could only fade in and straight out again, which is itself a click. The merged, widened
spans are returned for the redaction log: those muted on every channel with ``channel=None``,
the rest with their channel.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from callvault.errors import BadInput

MODES = ("silence", "bleep")
_RAMP_S = 0.005
_BLEEP_HZ = 1000.0
_BLEEP_DBFS = -18.0  # loud enough to be heard as deliberate, not so loud it startles
_TOLERANCE = 1e-6  # of a sample

Interval = tuple[int, int]  # [start, end) in samples


@dataclass(frozen=True, slots=True)
class Span:
    channel: int | None  # None = every channel
    start_s: float
    end_s: float


def mute_spans(
    pcm: npt.NDArray[np.int16],
    sample_rate: int,
    spans: Sequence[Span],
    *,
    mode: str = "silence",
    pad_s: float = 0.15,
) -> tuple[npt.NDArray[np.int16], list[Span]]:
    """A copy of ``pcm`` (channels, samples) with ``spans`` muted, and the spans muted."""
    _check_arguments(pcm, sample_rate, mode, pad_s)
    channels, samples = pcm.shape
    ramp = max(1, round(_RAMP_S * sample_rate))
    wanted: list[list[Interval]] = [[] for _ in range(channels)]
    for index, span in enumerate(spans):
        interval = _padded_interval(span, index, channels, samples, sample_rate, pad_s)
        if interval is None:
            continue
        for channel in range(channels) if span.channel is None else [span.channel]:
            wanted[channel].append(interval)
    muted = [_merge(intervals, join_within=2 * ramp) for intervals in wanted]
    out = pcm.copy()
    for channel, intervals in enumerate(muted):
        for start, end in intervals:
            _mute_one(out[channel], pcm[channel], start, end, ramp, sample_rate, mode)
    return out, _as_spans(muted, sample_rate)


def _check_arguments(pcm: npt.NDArray[np.int16], sample_rate: int, mode: str, pad_s: float) -> None:
    if (
        not isinstance(pcm, np.ndarray)
        or pcm.ndim != 2
        or pcm.dtype != np.int16
        or pcm.shape[0] == 0
    ):
        shape = getattr(pcm, "shape", None)
        raise BadInput(
            f"audio to mute must be an int16 array shaped (channels, samples), not {shape}; "
            "for one channel pass pcm[None, :]",
            "pcm",
        )
    if sample_rate <= 0:
        raise BadInput(f"the sample rate must be positive, not {sample_rate}", "sample_rate")
    if mode not in MODES:
        raise BadInput(f"mute mode {mode!r} is unknown; use 'silence' or 'bleep'", "mode")
    if not math.isfinite(pad_s) or pad_s < 0:
        raise BadInput(f"padding must be zero or more seconds, not {pad_s}; use e.g. 0.15", "pad_s")


def _padded_interval(
    span: Span, index: int, channels: int, samples: int, sample_rate: int, pad_s: float
) -> Interval | None:
    """The span widened by ``pad_s`` and clipped to the audio, in samples; None if outside."""
    if span.channel is not None and not 0 <= span.channel < channels:
        raise BadInput(
            f"span {index} is on channel {span.channel}, but the audio has {channels} "
            f"channel(s); use 0 to {channels - 1}, or None for every channel",
            f"spans[{index}].channel",
        )
    if not (math.isfinite(span.start_s) and math.isfinite(span.end_s)) or (
        span.end_s < span.start_s
    ):
        raise BadInput(
            f"span {index} runs from {span.start_s} to {span.end_s} s; a span needs finite "
            "times with the end not before the start",
            f"spans[{index}]",
        )
    # The tolerance keeps a time meant to fall on a sample (1.9 s - 0.15 s) from rounding a
    # whole sample out because of binary fractions.
    start = max(0, math.floor((span.start_s - pad_s) * sample_rate + _TOLERANCE))
    end = min(samples, math.ceil((span.end_s + pad_s) * sample_rate - _TOLERANCE))
    return (start, end) if start < end else None


def _merge(intervals: list[Interval], *, join_within: int) -> list[Interval]:
    """Sorted, disjoint intervals; any closer than ``join_within`` samples become one."""
    merged: list[Interval] = []
    for start, end in sorted(intervals):
        if merged and start - merged[-1][1] < join_within:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _mute_one(
    out: npt.NDArray[np.int16],
    original: npt.NDArray[np.int16],
    start: int,
    end: int,
    ramp: int,
    sample_rate: int,
    mode: str,
) -> None:
    """Fill [start, end) and crossfade the ``ramp`` samples either side, in place on ``out``."""
    out[start:end] = _fill(start, end, sample_rate, mode)
    steps = np.arange(1, ramp + 1) / (ramp + 1)
    fading_out = 0.5 * (1 + np.cos(np.pi * steps))  # from the original (1) towards the fill
    before = max(0, start - ramp)
    _crossfade(
        out, original, before, start, fading_out[ramp - (start - before) :], sample_rate, mode
    )
    after = min(len(out), end + ramp)
    _crossfade(out, original, end, after, fading_out[::-1][: after - end], sample_rate, mode)


def _crossfade(
    out: npt.NDArray[np.int16],
    original: npt.NDArray[np.int16],
    start: int,
    end: int,
    keep: npt.NDArray[np.float64],
    sample_rate: int,
    mode: str,
) -> None:
    """Samples [start, end): ``keep`` of the original plus the rest of the fill."""
    if start >= end:
        return
    mixed = original[start:end] * keep + _fill(start, end, sample_rate, mode) * (1 - keep)
    out[start:end] = np.clip(np.round(mixed), -32768, 32767)


def _fill(start: int, end: int, sample_rate: int, mode: str) -> npt.NDArray[np.float64]:
    """What replaces samples [start, end): zeros, or the bleep in phase with sample 0, so
    neighbouring spans join without a jump."""
    if mode == "silence":
        return np.zeros(end - start)
    amplitude = 32767 * 10 ** (_BLEEP_DBFS / 20)
    return np.round(amplitude * np.sin(2 * np.pi * _BLEEP_HZ * np.arange(start, end) / sample_rate))


def _as_spans(muted: list[list[Interval]], sample_rate: int) -> list[Span]:
    """Intervals muted on every channel as channel None, the rest per channel, by time."""
    everywhere = muted[0]
    for intervals in muted[1:]:
        everywhere = _intersect(everywhere, intervals)
    spans = [Span(None, start / sample_rate, end / sample_rate) for start, end in everywhere]
    for channel, intervals in enumerate(muted):
        spans += [
            Span(channel, start / sample_rate, end / sample_rate)
            for start, end in _subtract(intervals, everywhere)
        ]
    return sorted(spans, key=lambda s: (s.start_s, -1 if s.channel is None else s.channel))


def _intersect(first: list[Interval], second: list[Interval]) -> list[Interval]:
    """Where both sorted, disjoint interval lists cover."""
    out: list[Interval] = []
    i = j = 0
    while i < len(first) and j < len(second):
        start, end = max(first[i][0], second[j][0]), min(first[i][1], second[j][1])
        if start < end:
            out.append((start, end))
        if first[i][1] < second[j][1]:
            i += 1
        else:
            j += 1
    return out


def _subtract(intervals: list[Interval], removed: list[Interval]) -> list[Interval]:
    """What of the sorted, disjoint ``intervals`` is not covered by ``removed``."""
    out: list[Interval] = []
    for start, end in intervals:
        at = start
        for cut_start, cut_end in removed:
            if cut_end <= at or cut_start >= end:
                continue
            if cut_start > at:
                out.append((at, cut_start))
            at = max(at, cut_end)
        if at < end:
            out.append((at, end))
    return out
