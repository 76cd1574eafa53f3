"""G.722 wideband speech (ITU-T G.722, 64 kbit/s) through libg722, the ``G722`` package.

G.722 is ADPCM: each decoder carries state from one packet to the next, so one stream of packets
needs one decoder fed in order. The codec's audio is 16 kHz; libg722 can also hand back 8 kHz
directly (its low band only), which is what a narrowband recording wants.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from G722 import G722

Int16Array = npt.NDArray[np.int16]

BIT_RATE = 64000  # the only rate SIP devices negotiate; 56 and 48 kbit/s need out-of-band modes
RATES = (8000, 16000)


class G722Decoder:
    """Decodes one stream's G.722 payloads, in order, to int16 PCM at ``rate`` (8 or 16 kHz)."""

    def __init__(self, rate: int = 16000) -> None:
        if rate not in RATES:
            raise ValueError(f"G.722 decodes to 8000 or 16000 Hz, not {rate}")
        self.rate = rate
        self._codec = G722(rate, BIT_RATE, use_numpy=False)

    def decode(self, payload: bytes) -> Int16Array:
        """One payload's codes → samples (two per byte at 16 kHz, one at 8 kHz)."""
        return np.frombuffer(self._codec.decode(bytes(payload)), dtype=np.int16).copy()


class G722Encoder:
    """Encodes int16 PCM at ``rate`` to G.722 (what tests and benchmarks send as RTP)."""

    def __init__(self, rate: int = 16000) -> None:
        if rate not in RATES:
            raise ValueError(f"G.722 encodes from 8000 or 16000 Hz, not {rate}")
        self._codec = G722(rate, BIT_RATE, use_numpy=False)

    def encode(self, pcm: Int16Array) -> bytes:
        """Samples → codes, one byte per two samples at 16 kHz."""
        return self._codec.encode(np.ascontiguousarray(pcm, dtype=np.int16))
