"""Write the spoken sample calls that ``callvault init --demo`` ingests.

The demo must show transcripts, muted card numbers and the player on a machine that has no
speech synthesiser, so the calls ship inside the package as small Ogg Opus files. This script
made them, from the speech test corpus's scripts spoken by espeak-ng (Debian ``espeak-ng``
and ``sox``); run it again after changing a script:

    .venv/bin/python tools/make_demo_calls.py

The calls are fiction: made-up names, addresses and card numbers (a test card number).
"""

from __future__ import annotations

import sys
import tempfile
import wave
from pathlib import Path

import av
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from speech_corpus import SCRIPTS, VOICE_PAIRS, make_call, tools_missing  # noqa: E402

OUT = ROOT / "src" / "callvault" / "demo_calls"
# A call with a card payment (muted in the stored original), one with a referral full of
# personal data, and a repair: the three things the demo's player should show.
CHOSEN = ("parking_permit_card", "adult_social_care_referral", "housing_repair")
BIT_RATE = 24_000  # both channels together: plenty for espeak at 8 kHz, ~3 KB a second


def to_opus(wav_path: Path, out_path: Path) -> None:
    with wave.open(str(wav_path), "rb") as wav:
        rate, channels = wav.getframerate(), wav.getnchannels()
        frames = wav.readframes(wav.getnframes())
    if wav.getsampwidth() != 2:
        raise SystemExit(f"{wav_path}: expected 16-bit PCM (make_call encoding='pcm16')")
    pcm = np.frombuffer(frames, dtype="<i2").reshape(-1, channels).T.copy()
    with av.open(str(out_path), mode="w", format="ogg") as container:
        stream = container.add_stream("libopus", rate=48_000, layout="stereo")
        stream.bit_rate = BIT_RATE
        frame = av.AudioFrame.from_ndarray(pcm, format="s16p", layout="stereo")
        frame.sample_rate = rate
        resampler = av.AudioResampler(format="s16", layout="stereo", rate=48_000)
        for resampled in resampler.resample(frame) + resampler.resample(None):
            for packet in stream.encode(resampled):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)


def main() -> None:
    missing = tools_missing()
    if missing:
        raise SystemExit(missing)
    scripts = {script.name: script for script in SCRIPTS}
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        for index, name in enumerate(CHOSEN):
            caller_voice, agent_voice = VOICE_PAIRS[index % len(VOICE_PAIRS)]
            call = make_call(
                scripts[name], Path(scratch), caller_voice=caller_voice,
                agent_voice=agent_voice, seed=index, encoding="pcm16",
            )  # fmt: skip
            target = OUT / f"{name}.opus"
            to_opus(call.wav_path, target)
            print(f"{target.relative_to(ROOT)}: {call.duration_s:.1f} s, "
                  f"{target.stat().st_size // 1024} KiB")  # fmt: skip


if __name__ == "__main__":
    main()
