import io
import subprocess
import sys
import wave
from pathlib import Path

import av
import numpy as np
import pytest

import callvault
from audiofixtures import AGENT_BAND, CALLER_BAND, FORMATS, make_call_audio
from callvault.errors import BadInput
from callvault.media.decode import decode_to_pcm
from callvault.media.encode import transcode_to_opus


class WriteOnly:
    """The shape of the lead's encrypting writer: write() and nothing else."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []

    def write(self, data: bytes) -> int:
        self.chunks.append(bytes(data))
        return len(data)

    def value(self) -> bytes:
        return b"".join(self.chunks)


def _decoded_seconds(ogg: bytes) -> tuple[float, int, str]:
    with av.open(io.BytesIO(ogg), "r") as src:
        stream = src.streams.audio[0]
        samples = sum(frame.samples for frame in src.decode(stream))
        return samples / stream.sample_rate, stream.channels, stream.codec_context.name


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("channels", [1, 2])
def test_every_format_encodes_to_ogg_opus(tmp_path: Path, fmt: str, channels: int) -> None:
    path = make_call_audio(tmp_path / f"call.{fmt}", fmt=fmt, channels=channels, seconds=2.5)
    sink = WriteOnly()
    encoded = transcode_to_opus(path, sink)
    ogg = sink.value()
    assert ogg[:4] == b"OggS"
    assert encoded.bytes_written == len(ogg)
    assert (encoded.codec, encoded.container, encoded.channels) == ("opus", "ogg", channels)
    assert encoded.sample_rate == 8000
    seconds, decoded_channels, codec = _decoded_seconds(ogg)
    assert (decoded_channels, codec) == (channels, "opus")
    assert abs(seconds - 2.5) <= 0.06
    assert abs(encoded.duration_s - 2.5) <= 0.06
    assert encoded.channel_map == (("caller", "agent") if channels == 2 else ("mixed",))


def test_16k_input_stays_wideband_and_44k_mp3_becomes_16k(tmp_path: Path) -> None:
    wide = transcode_to_opus(make_call_audio(tmp_path / "a.wav", rate=16000), WriteOnly())
    assert wide.sample_rate == 16000
    mp3 = make_call_audio(tmp_path / "b.mp3", fmt="mp3", rate=44100, seconds=1.0)
    assert transcode_to_opus(mp3, WriteOnly()).sample_rate == 16000


def _tone_left_only(path: Path, rate: int) -> Path:
    t = np.arange(rate * 3) / rate
    left = (0.5 * 32767 * np.sin(2 * np.pi * 440 * t)).astype(np.int16)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(np.stack([left, np.zeros_like(left)]).T.tobytes())
    return path


@pytest.mark.parametrize("rate", [8000, 16000])
def test_a_left_only_tone_does_not_leak_right(tmp_path: Path, rate: int) -> None:
    sink = WriteOnly()
    transcode_to_opus(_tone_left_only(tmp_path / "tone.wav", rate), sink)
    pcm, _ = decode_to_pcm(sink.value())
    level = np.sqrt(np.mean(pcm.astype(float) ** 2, axis=1))
    assert 20 * np.log10(max(level[1], 1e-3) / level[0]) < -30


def _band_energy(x: np.ndarray, rate: int, band: tuple[float, float]) -> float:
    spectrum = np.abs(np.fft.rfft(x.astype(float))) ** 2
    freqs = np.fft.rfftfreq(len(x), 1 / rate)
    return float(spectrum[(freqs >= band[0]) & (freqs <= band[1])].sum())


def test_caller_and_agent_stay_on_their_channels(tmp_path: Path) -> None:
    sink = WriteOnly()
    transcode_to_opus(make_call_audio(tmp_path / "call.wav", seconds=6.0), sink)
    pcm, rate = decode_to_pcm(sink.value())
    caller, agent = pcm
    # Each channel carries its own speaker's band at least 30 dB above the other's.
    assert _band_energy(caller, rate, CALLER_BAND) > 1000 * _band_energy(caller, rate, AGENT_BAND)
    assert _band_energy(agent, rate, AGENT_BAND) > 1000 * _band_energy(agent, rate, CALLER_BAND)


def test_opus_round_trip_keeps_the_signal(tmp_path: Path) -> None:
    path = make_call_audio(tmp_path / "call.wav", seconds=3.0)
    original, _ = decode_to_pcm(path)
    sink = WriteOnly()
    transcode_to_opus(path, sink)
    decoded, rate = decode_to_pcm(sink.value())
    assert rate == 8000
    assert decoded.shape == original.shape
    for a, b in zip(original.astype(float), decoded.astype(float), strict=True):
        # Opus is lossy and may shift phase; the envelope must follow the original closely.
        env_a = np.convolve(np.abs(a), np.ones(160) / 160, "same")
        env_b = np.convolve(np.abs(b), np.ones(160) / 160, "same")
        assert np.corrcoef(env_a, env_b)[0, 1] > 0.95


def test_longer_than_the_limit_is_refused(tmp_path: Path) -> None:
    path = make_call_audio(tmp_path / "call.wav", seconds=3.0)
    with pytest.raises(BadInput, match="longest we take is 2 s") as caught:
        transcode_to_opus(path, WriteOnly(), max_duration_s=2.0)
    assert caught.value.field == "audio"


def test_sink_errors_propagate(tmp_path: Path) -> None:
    class Full:
        def write(self, data: bytes) -> int:
            raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        transcode_to_opus(make_call_audio(tmp_path / "call.wav"), Full())


# VmHWM, not ru_maxrss: Linux carries the parent's peak RSS into ru_maxrss across exec, so under
# a big pytest-xdist worker ru_maxrss measures the worker, not this child.
_CHILD = """
import sys
from pathlib import Path
from callvault.media.encode import transcode_to_opus
class Null:
    def write(self, data): return len(data)
transcode_to_opus(Path(sys.argv[1]), Null())
hwm = next(l for l in Path("/proc/self/status").read_text().splitlines() if l.startswith("VmHWM:"))
print(int(hwm.split()[1]) // 1024)
"""


def _peak_rss_mb(path: Path) -> int:
    src = str(Path(callvault.__file__).resolve().parents[1])
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, str(path)],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": src},
    )
    return int(done.stdout.split()[-1])


def test_memory_does_not_grow_with_call_length(tmp_path: Path) -> None:
    short = _peak_rss_mb(make_call_audio(tmp_path / "short.wav", seconds=30))
    long = _peak_rss_mb(make_call_audio(tmp_path / "long.wav", seconds=600))
    print(f"peak RSS: 30 s call {short} MB, 10 min call {long} MB")
    # Holding 10 minutes decoded would add ~20 MB (s16) to ~90 MB (float at 48 kHz).
    assert long - short < 10
    assert long < 200
