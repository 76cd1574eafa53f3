"""Sample calls for ``callvault init --demo``: synthetic audio, real ingest."""

from __future__ import annotations

import io
import wave
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import orjson

from callvault.bootstrap import Services
from callvault.capture.ingest import AudioInput
from callvault.context import RequestContext

RATE = 8000

# (call id, dialled, caller, agent, minutes ago, seconds long): covered lines and two calls
# to staff extensions, which the policy declines.
DEMO_CALLS = (
    ("demo-0001", "020 7371 5678", "07700 900123", "agent-101", 300, 14),
    ("demo-0002", "0800 023 4499", "020 7946 0001", "agent-102", 240, 11),
    ("demo-0003", "020 8753 6032", "withheld", "agent-103", 180, 9),
    ("demo-0004", "0800 145 6095", "07700 900456", "agent-104", 120, 12),
    ("demo-0005", "020 8741 4008", "07700 900789", "agent-105", 60, 8),
    ("demo-0006", "020 8753 9999", "07700 900111", "agent-106", 30, 6),
    ("demo-0007", "4321", "07700 900222", "agent-107", 10, 5),
)


def synthetic_call(seconds: float, seed: int) -> bytes:
    """Two channels of speech-like tone bursts (caller low, advisor high), as 16-bit WAV."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * RATE)) / RATE
    channels = []
    for base, turn in ((220.0, 0), (660.0, 1)):
        pitch = base * (1 + 0.05 * np.sin(2 * np.pi * 3 * t))
        voice = np.sin(2 * np.pi * pitch * t) + 0.3 * np.sin(4 * np.pi * pitch * t)
        # Turn-taking: the two parties speak in alternating two-second stretches.
        speaking = (np.floor(t / 2).astype(int) % 2) == turn
        noise = rng.normal(0, 0.01, t.size)
        channels.append((voice * speaking * 0.3 + noise) * 32767)
    frames = np.stack(channels, axis=1).clip(-32768, 32767).astype("<i2")
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(2)
        wav.setsampwidth(2)
        wav.setframerate(RATE)
        wav.writeframes(frames.tobytes())
    return out.getvalue()


def ingest_demo_calls(services: Services, ctx: RequestContext) -> dict[str, Any]:
    now = datetime.now(UTC)
    counts = {"recorded": 0, "not_recorded": 0}
    for n, (call_id, dialled, caller, agent, ago, length) in enumerate(DEMO_CALLS):
        started = now - timedelta(minutes=ago)
        meta = {
            "call_id": call_id,
            "direction": "inbound",
            "dialled": dialled,
            "caller": caller,
            "agent": agent,
            "started_at": started.isoformat(),
            "ended_at": (started + timedelta(seconds=length)).isoformat(),
            "announcement_played": True,
            "channel_map": {"caller": 0, "agent": 1},
            "source": "callvault demo",
        }
        audio = AudioInput(data=synthetic_call(length, seed=n))
        result = services.ingest.ingest(ctx, audio, orjson.dumps(meta))
        counts[result.status] += 1
    return counts
