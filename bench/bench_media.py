"""Media encode speed and memory: the PyAV baseline against callvault's transcode_to_opus.

Run: .venv/bin/python bench/bench_media.py [--minutes 5] [--long-hours 2]

Prints (a) a bare PyAV decode+encode to Ogg Opus into a BytesIO, the baseline ingest is compared
against (``encode_baseline``); (b) ``transcode_to_opus`` into a null sink, with its checks; their
ratio; the peak RSS of a two-hour call encoded in a fresh process; and the channel leakage of a
tone in the left channel only, at the chosen settings and with coupled stereo for comparison.
"""

from __future__ import annotations

import argparse
import io
import subprocess
import sys
import tempfile
import time
import wave
from pathlib import Path

import av
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "tests")]

from audiofixtures import make_call_audio  # noqa: E402
from callvault.media.decode import decode_to_pcm  # noqa: E402
from callvault.media.encode import transcode_to_opus  # noqa: E402


class NullSink:
    """Counts bytes and drops them: timing without storage."""

    def __init__(self) -> None:
        self.written = 0

    def write(self, data: bytes) -> int:
        self.written += len(data)
        return len(data)


def encode_baseline(path: Path, *, same_codec_settings: bool = True) -> float:
    """Seconds for a plain PyAV decode → libopus → Ogg into a BytesIO, no checks.

    With ``same_codec_settings`` the encoder is set as transcode_to_opus sets it (voip, 12 or 16
    kbit/s per channel, independent channels), so the ratio measures our pipeline and checks,
    not the codec; without, libopus runs at its defaults (coupled stereo, audio mode).
    """
    start = time.perf_counter()
    with av.open(str(path)) as src:
        audio = src.streams.audio[0]
        layout = "stereo" if audio.channels == 2 else "mono"
        rate = 8000 if audio.sample_rate == 8000 else 16000
        with av.open(io.BytesIO(), "w", format="ogg") as out:
            stream = out.add_stream("libopus", rate=rate, layout=layout)
            stream.bit_rate = (12000 if rate == 8000 else 16000) * audio.channels
            if same_codec_settings:
                options = {"application": "voip"}
                if audio.channels == 2:
                    options["mapping_family"] = "255"
                stream.codec_context.options = options
            for frame in src.decode(audio):
                frame.pts = None  # let the encoder count; the baseline skips our pts rebasing
                out.mux(stream.encode(frame))
            out.mux(stream.encode(None))
    return time.perf_counter() - start


def encode_callvault(path: Path) -> float:
    """Seconds for transcode_to_opus into a null sink."""
    start = time.perf_counter()
    transcode_to_opus(path, NullSink())
    return time.perf_counter() - start


_RSS_CHILD = """
import resource, sys
from pathlib import Path
from callvault.media.encode import transcode_to_opus
class Null:
    def write(self, data): return len(data)
transcode_to_opus(Path(sys.argv[1]), Null())
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def peak_rss_mb(path: Path) -> float:
    """Peak RSS in MB of a fresh Python process that encodes ``path`` (ru_maxrss is KiB)."""
    done = subprocess.run(
        [sys.executable, "-c", _RSS_CHILD, str(path)],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": str(ROOT / "src")},
    )
    return int(done.stdout.split()[-1]) / 1024


def leakage_db(rate: int, *, coupled: bool = False, per_channel_bps: int | None = None) -> float:
    """Right-channel level relative to left after encoding a left-only 440 Hz tone."""
    t = np.arange(rate * 3) / rate
    left = (0.5 * 32767 * np.sin(2 * np.pi * 440 * t)).astype(np.int16)
    pcm = np.stack([left, np.zeros_like(left)])
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "tone.wav"
        with wave.open(str(wav), "wb") as w:
            w.setnchannels(2)
            w.setsampwidth(2)
            w.setframerate(rate)
            w.writeframes(pcm.T.tobytes())
        sink = io.BytesIO()
        if coupled or per_channel_bps:
            _encode_with(wav, sink, rate, coupled=coupled, bps=per_channel_bps or 12000)
        else:
            transcode_to_opus(wav, sink)
        out, _ = decode_to_pcm(sink.getvalue())
    level = np.sqrt(np.mean(out.astype(float) ** 2, axis=1))
    return float(20 * np.log10(max(level[1], 1e-3) / level[0]))


def _encode_with(wav: Path, sink: io.BytesIO, rate: int, *, coupled: bool, bps: int) -> None:
    with av.open(str(wav)) as src, av.open(sink, "w", format="ogg") as out:
        stream = out.add_stream("libopus", rate=rate, layout="stereo")
        stream.bit_rate = 2 * bps
        stream.codec_context.options = {
            "application": "voip",
            **({} if coupled else {"mapping_family": "255"}),
        }
        for frame in src.decode(audio=0):
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--long-hours", type=float, default=2.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        call = make_call_audio(Path(tmp) / "call.wav", seconds=args.minutes * 60)
        seconds = args.minutes * 60
        base = min(encode_baseline(call) for _ in range(3))
        ours = min(encode_callvault(call) for _ in range(3))
        default = min(encode_baseline(call, same_codec_settings=False) for _ in range(3))
        print(f"{args.minutes:g}-min 2-ch 8 kHz WAV → Ogg Opus")
        print(f"  (a) PyAV baseline    {base:6.2f} s  ({seconds / base:6.0f}x real time)")
        print(f"  (b) transcode_to_opus {ours:6.2f} s  ({seconds / ours:6.0f}x real time)")
        print(f"  ratio (b)/(a)        {ours / base:6.2f}")
        print(f"  (a') PyAV, libopus defaults {default:6.2f} s (coupled stereo, audio mode)")
        long_call = make_call_audio(Path(tmp) / "long.wav", seconds=args.long_hours * 3600)
        print(f"peak RSS encoding a {args.long_hours:g}-hour call: {peak_rss_mb(long_call):.0f} MB")
    for rate in (8000, 16000):
        print(
            f"left→right leakage at {rate} Hz: chosen {leakage_db(rate):.1f} dB; coupled stereo "
            f"12 kbit/s/ch {leakage_db(rate, coupled=True, per_channel_bps=12000):.1f} dB, "
            f"16 kbit/s/ch {leakage_db(rate, coupled=True, per_channel_bps=16000):.1f} dB"
        )


if __name__ == "__main__":
    main()
