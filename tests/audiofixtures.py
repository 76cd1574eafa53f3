"""Synthetic call audio for tests: speech-like, two identifiable channels, any accepted format.

Channel 0 is the caller (formant-ish bursts at 300-900 Hz), channel 1 the agent (1000-2500 Hz);
they take turns with pauses, so a test can tell the channels apart and see if one leaks into the
other. Audio is rendered in blocks so a two-hour file costs no more memory than a short one.
"""

from __future__ import annotations

import io
import struct
import wave
from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np
import numpy.typing as npt

FORMATS = ("wav_pcm16", "wav_mulaw", "wav_alaw", "mp3", "flac", "opus")
CALLER_BAND = (300.0, 900.0)
AGENT_BAND = (1000.0, 2500.0)
_BLOCK_S = 10  # seconds rendered at a time
# (format, codec) per PyAV-written fixture format
_AV_FORMATS = {
    "wav_mulaw": ("wav", "pcm_mulaw"),
    "wav_alaw": ("wav", "pcm_alaw"),
    "mp3": ("mp3", "libmp3lame"),
    "flac": ("flac", "flac"),
    "opus": ("ogg", "libopus"),
}

Burst = tuple[float, float, int, tuple[float, ...]]  # start s, length s, channel, frequencies


def _schedule(seconds: float, channels: int, seed: int) -> list[Burst]:
    """Turn-taking talk bursts: one speaker at a time, 0.2-0.6 s pauses between turns."""
    rng = np.random.default_rng(seed)
    bursts: list[Burst] = []
    t, speaker = 0.1, 0
    while t < seconds:
        length = float(rng.uniform(0.3, 1.2))
        low, high = CALLER_BAND if speaker == 0 else AGENT_BAND
        freqs = tuple(float(f) for f in np.sort(rng.uniform(low, high, size=3)))
        bursts.append((t, length, speaker, freqs))
        t += length + float(rng.uniform(0.2, 0.6))
        speaker = (speaker + 1) % channels
    return bursts


def _render(bursts: list[Burst], start: int, count: int, rate: int, channels: int) -> np.ndarray:
    """Samples [start, start+count) as float64 (channels, count), amplitude below 0.5."""
    out = np.zeros((channels, count))
    t0, t1 = start / rate, (start + count) / rate
    for b_start, length, speaker, freqs in bursts:
        if b_start >= t1 or b_start + length <= t0:
            continue
        t = np.arange(start, start + count) / rate - b_start
        inside = (t >= 0) & (t < length)
        envelope = np.sin(np.pi * np.clip(t / length, 0, 1)) ** 2 * inside  # soft syllable
        tone = sum(np.sin(2 * np.pi * f * t) / (i + 1) for i, f in enumerate(freqs))
        out[speaker % channels] += 0.25 * envelope * tone
    return out


def call_blocks(
    *, rate: int, channels: int, seconds: float, seed: int = 0
) -> Iterator[npt.NDArray[np.int16]]:
    """The synthetic call as int16 blocks of shape (channels, n), at most 10 s each."""
    total = round(seconds * rate)
    bursts = _schedule(seconds, max(channels, 2), seed)
    if channels == 1:  # mono: the mix of both speakers, as a PBX without stereo would record
        bursts = [(s, n, 0, f) for s, n, _, f in bursts]
    for start in range(0, total, _BLOCK_S * rate):
        count = min(_BLOCK_S * rate, total - start)
        block = _render(bursts, start, count, rate, channels)
        yield np.round(block * 32767).astype(np.int16)


def _write_wav_pcm16(path: Path, blocks: Iterator[np.ndarray], rate: int, channels: int) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        for block in blocks:
            w.writeframes(np.ascontiguousarray(block.T).astype("<i2").tobytes())


def _write_av(path: Path, fmt: str, blocks: Iterator[np.ndarray], rate: int, channels: int) -> None:
    container, codec = _AV_FORMATS[fmt]
    layout = "stereo" if channels == 2 else "mono"
    with av.open(str(path), "w", format=container) as out:
        stream = out.add_stream(codec, rate=rate, layout=layout)
        # codec is a plain str here, so the stub returns any stream kind; every codec is audio
        assert isinstance(stream, av.AudioStream)
        if codec == "libmp3lame":
            stream.bit_rate = 32000 * channels
        pts = 0
        for block in blocks:
            step = rate // 50  # 20 ms frames suit every codec here, Opus included
            for i in range(0, block.shape[1], step):
                chunk = np.ascontiguousarray(block[:, i : i + step].T).reshape(1, -1)
                frame = av.AudioFrame.from_ndarray(chunk, format="s16", layout=layout)
                frame.sample_rate, frame.pts = rate, pts
                pts += chunk.shape[1] // channels
                out.mux(stream.encode(frame))
        out.mux(stream.encode(None))


def make_call_audio(
    path: Path,
    *,
    fmt: str = "wav_pcm16",
    rate: int = 8000,
    channels: int = 2,
    seconds: float = 3.0,
    seed: int = 0,
) -> Path:
    """Write a synthetic call to ``path`` in ``fmt`` (one of FORMATS) and return ``path``."""
    if fmt not in FORMATS:
        raise ValueError(f"fmt must be one of {FORMATS}, not {fmt!r}")
    blocks = call_blocks(rate=rate, channels=channels, seconds=seconds, seed=seed)
    if fmt == "wav_pcm16":
        _write_wav_pcm16(path, blocks, rate, channels)
    else:
        _write_av(path, fmt, blocks, rate, channels)
    return path


def _wav_bytes(rate: int, channels: int, seconds: float, sampwidth: int = 2) -> bytes:
    """A PCM WAV in memory with arbitrary width (wave writes 8/16/24/32-bit PCM)."""
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(sampwidth)
        w.setframerate(rate)
        w.writeframes(b"\x00" * sampwidth * round(rate * seconds) * channels)
    return buf.getvalue()


def _float_wav_bytes(rate: int, channels: int, seconds: float) -> bytes:
    """An IEEE-float WAV (format tag 3), which the stdlib wave module cannot write."""
    samples = np.zeros(round(rate * seconds) * channels, dtype="<f4").tobytes()
    fmt = struct.pack("<HHIIHH", 3, channels, rate, rate * channels * 4, channels * 4, 32)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
    body += b"data" + struct.pack("<I", len(samples)) + samples
    return b"RIFF" + struct.pack("<I", len(body)) + body


def _video_only_bytes(path: Path) -> bytes:
    """A short Matroska file holding one video stream and no audio."""
    with av.open(str(path), "w", format="matroska") as out:
        stream = out.add_stream("mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for i in range(5):
            frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), i * 40, np.uint8), "rgb24")
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path.read_bytes()


def make_bad_files(directory: Path) -> dict[str, Path]:
    """Files callvault must refuse, by name: each maps to a path under ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    good = make_call_audio(directory / "good.wav", seconds=3.0)
    whole = good.read_bytes()
    contents: dict[str, bytes] = {
        "empty.wav": b"",
        "text.wav": b"Call notes: caller asked about council tax.\n" * 20,
        "truncated.wav": whole[: 44 + (len(whole) - 44) * 2 // 5],  # header still says 3 s
        "rate_44k.wav": _wav_bytes(44100, 2, 0.5),
        "rate_4k.wav": _wav_bytes(4000, 2, 0.5),
        "three_channels.wav": _wav_bytes(8000, 3, 0.5),
        "pcm24.wav": _wav_bytes(8000, 2, 0.5, sampwidth=3),
        "float32.wav": _float_wav_bytes(8000, 2, 0.5),
        "zero_samples.wav": _wav_bytes(8000, 2, 0.0),
        "photo.jpg": b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
        + bytes(np.random.default_rng(1).integers(0, 256, 4000, dtype=np.uint8))
        + b"\xff\xd9",
    }
    good.unlink()
    contents["video_only.mkv"] = _video_only_bytes(directory / "video_only.mkv")
    paths = {}
    for name, data in contents.items():
        path = directory / name
        path.write_bytes(data)
        paths[name.split(".")[0]] = path
    return paths
