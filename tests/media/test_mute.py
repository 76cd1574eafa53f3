"""Muting spans: nothing of the original inside, bit-identical outside, no click at the edges."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from callvault.errors import BadInput
from callvault.media.mute import Span, mute_spans

RATE = 8000
RAMP = 40  # 5 ms at 8 kHz


def _talk(channels: int = 2, seconds: float = 3.0) -> npt.NDArray[np.int16]:
    """Loud noise on every channel: any sample left of it in a muted span would show."""
    rng = np.random.default_rng(11)
    pcm = rng.integers(-20000, 20000, size=(channels, round(seconds * RATE)), dtype=np.int16)
    pcm.setflags(write=False)  # the input must come back untouched
    return pcm


def _samples(start_s: float, end_s: float) -> slice:
    return slice(round(start_s * RATE), round(end_s * RATE))


def _untouched_outside(
    out: npt.NDArray[np.int16], pcm: npt.NDArray[np.int16], channel: int, muted: slice
) -> None:
    assert muted.start is not None and muted.stop is not None
    before, after = max(0, muted.start - RAMP), muted.stop + RAMP
    assert np.array_equal(out[channel, :before], pcm[channel, :before])
    assert np.array_equal(out[channel, after:], pcm[channel, after:])


def test_silence_inside_identical_outside() -> None:
    pcm = _talk()
    out, applied = mute_spans(pcm, RATE, [Span(None, 1.0, 1.5)], pad_s=0.15)
    muted = _samples(0.85, 1.65)
    assert applied == [Span(None, 0.85, 1.65)]
    for channel in (0, 1):
        assert not out[channel, muted].any()
        _untouched_outside(out, pcm, channel, muted)
    assert out is not pcm


def test_ramps_are_outside_the_span_and_smooth() -> None:
    pcm = np.full((1, RATE), 10000, np.int16)
    out, _ = mute_spans(pcm, RATE, [Span(0, 0.5, 0.6)], pad_s=0.0)
    fade_out = out[0, 4000 - RAMP : 4000].astype(int)
    fade_in = out[0, 4800 : 4800 + RAMP].astype(int)
    assert (np.diff(fade_out) < 0).all() and (np.diff(fade_in) > 0).all()
    assert 0 < fade_out[-1] < 500 and fade_out[0] > 9500  # eases into and out of the cut
    assert np.abs(np.diff(out[0].astype(int))).max() < 10000 * np.pi / RAMP  # no step
    assert not out[0, 4000:4800].any()


def _spectrum_peak(signal: npt.NDArray[np.int16]) -> tuple[float, float]:
    """Frequency of the strongest bin and the share of all power within 20 Hz of it."""
    power = np.abs(np.fft.rfft(signal * np.hanning(len(signal)))) ** 2
    freqs = np.fft.rfftfreq(len(signal), 1 / RATE)
    peak = float(freqs[power.argmax()])
    near = np.abs(freqs - peak) <= 20
    return peak, float(power[near].sum() / power.sum())


def test_bleep_is_a_pure_tone_at_about_minus_18_dbfs() -> None:
    pcm = _talk()
    out, applied = mute_spans(pcm, RATE, [Span(1, 1.0, 2.0)], mode="bleep", pad_s=0.1)
    assert applied == [Span(1, 0.9, 2.1)]
    bleep = out[1, _samples(0.9, 2.1)]
    peak_hz, share = _spectrum_peak(bleep)
    assert peak_hz == pytest.approx(1000, abs=10)
    assert share > 0.999  # nothing of the noise underneath
    rms_dbfs = 20 * np.log10(np.sqrt(np.mean(bleep.astype(float) ** 2)) * np.sqrt(2) / 32767)
    assert rms_dbfs == pytest.approx(-18, abs=0.5)
    _untouched_outside(out, pcm, 1, _samples(0.9, 2.1))
    assert np.array_equal(out[0], pcm[0])  # the other channel is not touched at all


def test_bleeps_that_merge_are_one_continuous_tone() -> None:
    pcm = _talk(channels=1)
    out, applied = mute_spans(
        pcm, RATE, [Span(0, 1.0, 1.2), Span(0, 1.3, 1.5)], mode="bleep", pad_s=0.05
    )
    assert applied == [Span(None, 0.95, 1.55)]
    _, share = _spectrum_peak(out[0, _samples(0.95, 1.55)])
    assert share > 0.999


def test_channel_spans_leave_the_other_channel_alone() -> None:
    pcm = _talk()
    out, applied = mute_spans(pcm, RATE, [Span(0, 0.5, 0.7), Span(1, 2.0, 2.2)], pad_s=0.0)
    assert applied == [Span(0, 0.5, 0.7), Span(1, 2.0, 2.2)]
    assert not out[0, _samples(0.5, 0.7)].any()
    assert not out[1, _samples(2.0, 2.2)].any()
    _untouched_outside(out, pcm, 0, _samples(0.5, 0.7))
    _untouched_outside(out, pcm, 1, _samples(2.0, 2.2))


def test_overlapping_adjacent_and_close_spans_merge() -> None:
    pcm = _talk()
    spans = [
        Span(None, 0.5, 0.8),
        Span(None, 0.7, 1.0),  # overlaps the first
        Span(None, 1.0, 1.1),  # touches it
        Span(None, 1.108, 1.2),  # 8 ms later: less than two ramps
        Span(None, 2.0, 2.1),  # far enough to stay apart
    ]
    out, applied = mute_spans(pcm, RATE, spans, pad_s=0.0)
    assert applied == [Span(None, 0.5, 1.2), Span(None, 2.0, 2.1)]
    for channel in (0, 1):
        assert not out[channel, _samples(0.5, 1.2)].any()
        assert np.array_equal(out[channel, _samples(1.3, 1.9)], pcm[channel, _samples(1.3, 1.9)])


def test_partly_shared_spans_are_reported_per_channel() -> None:
    pcm = _talk()
    out, applied = mute_spans(pcm, RATE, [Span(None, 1.0, 1.2), Span(0, 1.1, 1.5)], pad_s=0.0)
    assert applied == [Span(None, 1.0, 1.2), Span(0, 1.2, 1.5)]
    assert not out[0, _samples(1.0, 1.5)].any()
    assert np.array_equal(out[1, _samples(1.3, 2.0)], pcm[1, _samples(1.3, 2.0)])


def test_edges_at_the_start_and_end_of_the_audio() -> None:
    pcm = _talk(seconds=2.0)
    out, applied = mute_spans(pcm, RATE, [Span(None, 0.0, 0.1), Span(None, 1.9, 2.5)])
    assert applied == [Span(None, 0.0, 0.25), Span(None, 1.75, 2.0)]
    assert not out[:, : _samples(0, 0.25).stop].any()
    assert not out[:, _samples(1.75, 2.0).start :].any()
    middle = slice(round(0.25 * RATE) + RAMP, round(1.75 * RATE) - RAMP)
    assert np.array_equal(out[:, middle], pcm[:, middle])


def test_a_ramp_cut_short_by_the_edge() -> None:
    pcm = _talk(channels=1)
    out, applied = mute_spans(pcm, RATE, [Span(0, 0.002, 0.1)], pad_s=0.0)
    assert applied == [Span(None, 0.002, 0.1)]
    assert not out[0, 16:800].any()
    assert np.array_equal(out[0, 800 + RAMP :], pcm[0, 800 + RAMP :])


def test_spans_outside_the_audio_and_no_spans() -> None:
    pcm = _talk()
    out, applied = mute_spans(pcm, RATE, [Span(None, 10.0, 11.0)])
    assert applied == []
    assert np.array_equal(out, pcm)
    out, applied = mute_spans(pcm, RATE, [])
    assert applied == [] and np.array_equal(out, pcm) and out is not pcm


@pytest.mark.parametrize(
    ("call", "field"),
    [
        ({"mode": "beep"}, "mode"),
        ({"pad_s": -0.1}, "pad_s"),
        ({"pad_s": float("nan")}, "pad_s"),
        ({"spans": [Span(2, 0.1, 0.2)]}, "spans[0].channel"),
        ({"spans": [Span(None, 0.1, 0.2), Span(-1, 0.1, 0.2)]}, "spans[1].channel"),
        ({"spans": [Span(None, 0.3, 0.2)]}, "spans[0]"),
        ({"pcm": np.zeros(RATE, np.int16)}, "pcm"),
        ({"pcm": np.zeros((1, RATE), np.float32)}, "pcm"),
        ({"pcm": np.zeros((0, RATE), np.int16)}, "pcm"),
        ({"sample_rate": 0}, "sample_rate"),
    ],
)
def test_bad_input_names_the_field(call: dict[str, object], field: str) -> None:
    arguments: dict[str, object] = {
        "pcm": _talk(),
        "sample_rate": RATE,
        "spans": [Span(None, 0.1, 0.2)],
        "mode": "silence",
        "pad_s": 0.15,
    } | call
    with pytest.raises(BadInput) as raised:
        mute_spans(**arguments)  # type: ignore[arg-type]
    assert raised.value.field == field
    assert (
        "use" in raised.value.message
        or "must" in raised.value.message
        or "need" in raised.value.message
    )
