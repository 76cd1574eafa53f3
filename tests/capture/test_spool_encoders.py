"""Encoding finished calls in a worker process gives the same Opus as the recorder's own."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from callvault.capture.spool import PcmSpool, encode_spooled
from callvault.capture.spool_encoders import SpoolEncoders

RATE = 8000


def spooled_tone(folder: Path) -> PcmSpool:
    spool = PcmSpool(folder, "a" * 32, sample_rate=RATE, channels=2)
    t = np.arange(RATE * 3) / RATE
    pcm = np.zeros(2 * len(t), dtype=np.int16)
    pcm[0::2] = (np.sin(2 * np.pi * 440 * t) * 8000).astype(np.int16)
    spool.write(pcm.tobytes())
    return spool


def test_a_worker_encodes_what_the_recorder_would(tmp_path: Path) -> None:
    spool = spooled_tone(tmp_path)
    spooled = spool.close()
    encoders = SpoolEncoders(1)
    try:
        encoders.warm()
        opus, encoded = encoders.encode(spooled)
    finally:
        encoders.close()
    here, here_encoded = encode_spooled(spooled)
    assert encoded == here_encoded and abs(encoded.duration_s - 3.0) < 0.001
    assert opus.startswith(b"OggS") and len(opus) == len(here)
    spool.discard()
