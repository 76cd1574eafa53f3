"""DTMF detection: every key found and timed, through the codecs calls arrive in; nothing in
speech, chords or single tones."""

from __future__ import annotations

import io
import shutil
import subprocess
import wave
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from callvault.errors import BadInput
from callvault.media import g711
from callvault.media.decode import decode_to_pcm
from callvault.media.live_encode import LiveOpusEncoder
from callvault.media.tones import COLUMN_HZ, KEYPAD, ROW_HZ, Tone, find_dtmf

ALL_KEYS = "123A456B789C*0#D"
ONSET_TOLERANCE_S = 0.03
LEAD_S = 0.3


def _frequencies(digit: str) -> tuple[float, float]:
    row = next(i for i, keys in enumerate(KEYPAD) if digit in keys)
    return ROW_HZ[row], COLUMN_HZ[KEYPAD[row].index(digit)]


def _sine(hz: float, seconds: float, rate: int, dbfs: float) -> npt.NDArray[np.float64]:
    t = np.arange(round(seconds * rate)) / rate
    return 10 ** (dbfs / 20) * np.sin(2 * np.pi * hz * t)


def _to_int16(signal: npt.NDArray[np.float64]) -> npt.NDArray[np.int16]:
    return np.asarray(np.round(np.clip(signal, -1, 1) * 32767), np.int16)


def _keyed(
    digits: str,
    rate: int,
    *,
    tone_s: float = 0.05,
    gap_s: float = 0.05,
    dbfs: float = -10.0,
    column_over_row_db: float = 0.0,
    noise_dbfs: float | None = None,
) -> tuple[npt.NDArray[np.int16], list[float]]:
    """Key presses (``dbfs`` per tone) after LEAD_S of silence; the audio and the onsets."""
    parts = [np.zeros(round(LEAD_S * rate))]
    onsets: list[float] = []
    at = len(parts[0])
    for digit in digits:
        row_hz, column_hz = _frequencies(digit)
        tone = _sine(row_hz, tone_s, rate, dbfs) + _sine(
            column_hz, tone_s, rate, dbfs + column_over_row_db
        )
        onsets.append(at / rate)
        parts += [tone, np.zeros(round(gap_s * rate))]
        at += len(tone) + round(gap_s * rate)
    parts.append(np.zeros(round(LEAD_S * rate)))
    signal = np.concatenate(parts)
    if noise_dbfs is not None:
        rng = np.random.default_rng(7)
        signal += rng.normal(0, 10 ** (noise_dbfs / 20) / np.sqrt(2), len(signal))
    return _to_int16(signal), onsets


def _assert_found(found: list[Tone], digits: str, onsets: list[float]) -> None:
    assert "".join(t.digit for t in found) == digits
    for tone, onset in zip(found, onsets, strict=True):
        assert abs(tone.start_s - onset) <= ONSET_TOLERANCE_S, (tone, onset)
        assert tone.end_s > tone.start_s


@pytest.mark.parametrize("rate", [8000, 16000, 48000])
@pytest.mark.parametrize(("tone_s", "gap_s"), [(0.05, 0.05), (0.1, 0.1), (0.04, 0.04)])
def test_every_key_found_and_timed(rate: int, tone_s: float, gap_s: float) -> None:
    pcm, onsets = _keyed(ALL_KEYS, rate, tone_s=tone_s, gap_s=gap_s)
    _assert_found(find_dtmf(pcm, rate), ALL_KEYS, onsets)


@pytest.mark.parametrize("dbfs", [-7.0, -20.0, -30.0, -35.0])
def test_levels_down_to_the_floor(dbfs: float) -> None:
    pcm, onsets = _keyed(ALL_KEYS, 8000, dbfs=dbfs)
    _assert_found(find_dtmf(pcm, 8000), ALL_KEYS, onsets)


def test_below_the_floor_is_not_a_key() -> None:
    pcm, _ = _keyed(ALL_KEYS, 8000, dbfs=-45.0)
    assert find_dtmf(pcm, 8000) == []


@pytest.mark.parametrize(("dbfs", "noise_dbfs"), [(-10.0, -40.0), (-20.0, -40.0), (-25.0, -35.0)])
def test_found_in_noise(dbfs: float, noise_dbfs: float) -> None:
    pcm, onsets = _keyed(ALL_KEYS, 8000, dbfs=dbfs, noise_dbfs=noise_dbfs)
    _assert_found(find_dtmf(pcm, 8000), ALL_KEYS, onsets)


@pytest.mark.parametrize("dbfs", [-7.0, -25.0])
def test_through_ulaw(dbfs: float) -> None:
    pcm, onsets = _keyed(ALL_KEYS, 8000, dbfs=dbfs, noise_dbfs=-50.0)
    companded = g711.ulaw_decode(g711.ulaw_encode(pcm))
    _assert_found(find_dtmf(companded, 8000), ALL_KEYS, onsets)


@pytest.mark.parametrize(("tone_s", "dbfs"), [(0.05, -10.0), (0.1, -25.0), (0.04, -15.0)])
def test_through_opus(tone_s: float, dbfs: float) -> None:
    pcm, onsets = _keyed(ALL_KEYS, 8000, tone_s=tone_s, gap_s=tone_s, dbfs=dbfs, noise_dbfs=-50.0)
    sink = io.BytesIO()
    encoder = LiveOpusEncoder(sink, sample_rate=8000, channels=1)
    encoder.write(pcm)
    encoder.close()
    decoded, rate = decode_to_pcm(sink.getvalue())
    assert rate == 8000
    _assert_found(find_dtmf(decoded[0], rate), ALL_KEYS, onsets)


@pytest.mark.parametrize(
    ("column_over_row_db", "found"), [(3.5, True), (-7.5, True), (6.0, False), (-11.0, False)]
)
def test_twist_limits(column_over_row_db: float, found: bool) -> None:
    pcm, _ = _keyed("5", 8000, tone_s=0.1, dbfs=-15.0, column_over_row_db=column_over_row_db)
    assert [t.digit for t in find_dtmf(pcm, 8000)] == (["5"] if found else [])


def test_a_held_key_is_one_press() -> None:
    pcm, onsets = _keyed("9", 8000, tone_s=2.0)
    [tone] = find_dtmf(pcm, 8000)
    assert abs(tone.start_s - onsets[0]) <= ONSET_TOLERANCE_S
    assert abs(tone.end_s - (onsets[0] + 2.0)) <= ONSET_TOLERANCE_S


@pytest.mark.parametrize(("gap_s", "presses"), [(0.005, 1), (0.015, 1), (0.04, 2), (0.05, 2)])
def test_a_pause_separates_presses_of_one_key(gap_s: float, presses: int) -> None:
    pcm, _ = _keyed("55", 8000, tone_s=0.1, gap_s=gap_s)
    assert [t.digit for t in find_dtmf(pcm, 8000)] == ["5"] * presses


@pytest.mark.parametrize(("tone_s", "found"), [(0.02, False), (0.025, False), (0.04, True)])
def test_minimum_duration(tone_s: float, found: bool) -> None:
    pcm, _ = _keyed("147", 8000, tone_s=tone_s, gap_s=0.1)
    assert len(find_dtmf(pcm, 8000)) == (3 if found else 0)


def test_tones_at_the_very_start_and_end() -> None:
    row_hz, column_hz = _frequencies("#")
    tone = _sine(row_hz, 0.2, 8000, -10) + _sine(column_hz, 0.2, 8000, -10)
    [tone_found] = find_dtmf(_to_int16(tone), 8000)
    assert tone_found == Tone("#", 0.0, 0.2)


@pytest.mark.parametrize(
    "chord_hz",
    [
        (1000.0,),  # the test tone a line or a bleep carries
        (440.0, 554.37),  # A and C sharp: a major third
        (523.25, 659.25, 783.99),  # a C major triad
        (659.25, 1318.5),  # an octave, each a little off DTMF frequencies
        (697.0,),  # one DTMF frequency alone
        (697.0, 770.0, 1209.0),  # two row tones at once
    ],
)
def test_chords_and_single_tones_are_not_keys(chord_hz: tuple[float, ...]) -> None:
    signal = sum(_sine(hz, 1.0, 8000, -12) for hz in chord_hz)
    assert find_dtmf(_to_int16(np.asarray(signal)), 8000) == []


def test_silence_and_noise_are_not_keys() -> None:
    assert find_dtmf(np.zeros(8000, np.int16), 8000) == []
    noise = np.random.default_rng(3).normal(0, 0.1, 80000)
    assert find_dtmf(_to_int16(noise), 8000) == []
    assert find_dtmf(np.zeros(10, np.int16), 8000) == []


SENTENCES = (
    "Seven, sixteen, seventy seven. Tuesday the seventeenth of September. "
    "Hello, you're through to the council, my name is Sophie, how can I help you today? "
    "Please read me the long number on the front of your card, then the three digits on "
    "the back. Sixty six Sussex Street. See you on Wednesday at seven thirty. "
    "Ooh, eee, wheee! Whistle while you work. Sixteen sixes is ninety six. "
    "She sells sea shells by the sea shore."
)
VOICES = ("en-gb", "en-gb+f3", "en-us+f4")  # a man's voice and two higher, whistlier ones


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> dict[int, list[npt.NDArray[np.int16]]]:
    """The sentences in each voice, resampled to 8 and 16 kHz and normalised to -1 dBFS."""
    espeak, sox = shutil.which("espeak-ng"), shutil.which("sox")
    if espeak is None or sox is None:
        pytest.skip("speech needs espeak-ng and sox installed (apt-get install espeak-ng sox)")
    folder = tmp_path_factory.mktemp("speech")
    out: dict[int, list[npt.NDArray[np.int16]]] = {8000: [], 16000: []}
    for number, voice in enumerate(VOICES):
        spoken = folder / f"{number}.wav"
        subprocess.run([espeak, "-v", voice, "-w", str(spoken), SENTENCES], check=True)
        for rate, clips in out.items():
            resampled = folder / f"{number}-{rate}.wav"
            subprocess.run([sox, str(spoken), "-r", str(rate), str(resampled)], check=True)
            clips.append(_normalised(_read_wav(resampled)))
    return out


def _read_wav(path: Path) -> npt.NDArray[np.int16]:
    with wave.open(str(path)) as wav:
        return np.frombuffer(wav.readframes(wav.getnframes()), np.int16)


def _normalised(pcm: npt.NDArray[np.int16]) -> npt.NDArray[np.int16]:
    return _to_int16(pcm / np.abs(pcm).max() * 10 ** (-1 / 20))


@pytest.mark.parametrize("rate", [8000, 16000])
def test_speech_is_not_keys(speech: dict[int, list[npt.NDArray[np.int16]]], rate: int) -> None:
    for clip in speech[rate]:
        assert len(clip) > 10 * rate  # the sentences really were spoken
        assert find_dtmf(clip, rate) == []


def test_speech_through_ulaw_is_not_keys(speech: dict[int, list[npt.NDArray[np.int16]]]) -> None:
    for clip in speech[8000]:
        assert find_dtmf(g711.ulaw_decode(g711.ulaw_encode(clip)), 8000) == []


def test_keys_between_speech(speech: dict[int, list[npt.NDArray[np.int16]]]) -> None:
    talk = speech[8000][1]
    keys, onsets = _keyed("4929", 8000, dbfs=-12.0)
    pcm = np.concatenate((talk, keys, talk))
    found = find_dtmf(pcm, 8000)
    _assert_found(found, "4929", [onset + len(talk) / 8000 for onset in onsets])


def test_refuses_what_it_cannot_read() -> None:
    with pytest.raises(BadInput) as stereo:
        find_dtmf(np.zeros((2, 8000), np.int16), 8000)
    assert stereo.value.field == "pcm"
    with pytest.raises(BadInput) as slow:
        find_dtmf(np.zeros(8000, np.int16), 4000)
    assert slow.value.field == "sample_rate"
