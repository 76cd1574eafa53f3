"""RTP audio payloads → int16 PCM at the call's sample rate (8 or 16 kHz).

A call is recorded at 16 kHz when either stream negotiated G.722, else at 8 kHz (``call_rate``).
A G.711 stream in a 16 kHz call is upsampled by 2 by linear interpolation within each packet: the
last sample of a packet is repeated rather than interpolated towards the next packet, which may
not have arrived yet or may never come. That costs one slightly flat sample in 160, inaudible in
telephone speech, and keeps decoding stateless, so packets can be decoded in any order. A G.722
stream in an 8 kHz call (a codec change by re-INVITE) is decoded by libg722 straight to 8 kHz.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

import numpy as np
import numpy.typing as npt

from callvault.capture.siprec.rtp import RTP_CLOCK, PayloadKind
from callvault.media.g711 import ALAW_DECODE, ULAW_DECODE
from callvault.media.g722 import G722Decoder

Int16Array = npt.NDArray[np.int16]
NARROWBAND, WIDEBAND = 8000, 16000


def call_rate(kinds: Iterable[PayloadKind]) -> int:
    """The sample rate to record a call at, from the payload kinds its streams negotiated."""
    return WIDEBAND if PayloadKind.G722 in set(kinds) else NARROWBAND


def upsample_2x(samples: Int16Array) -> Int16Array:
    """8 → 16 kHz: each sample, then the mean of it and the next (the last is held)."""
    out = np.empty(2 * len(samples), dtype=np.int16)
    if not len(samples):
        return out
    wide = samples.astype(np.int32)
    following = np.empty_like(wide)
    following[:-1] = wide[1:]
    following[-1] = wide[-1]
    out[0::2] = samples
    out[1::2] = (wide + following) >> 1
    return out


class PayloadDecoder(Protocol):
    """Decodes one stream's payloads of one codec; stateful codecs need packets in order."""

    def decode(self, payload: bytes) -> Int16Array: ...


class _G711:
    def __init__(self, table: Int16Array, rate: int) -> None:
        self._table = table
        self._widen = rate == WIDEBAND

    def decode(self, payload: bytes) -> Int16Array:
        narrow = self._table[np.frombuffer(payload, dtype=np.uint8)]
        return upsample_2x(narrow) if self._widen else narrow


def decoder_for(kind: PayloadKind, rate: int) -> PayloadDecoder:
    """A fresh decoder for ``kind`` producing ``rate`` Hz; one per SSRC for G.722's state."""
    if rate not in (NARROWBAND, WIDEBAND):
        raise ValueError(f"calls are recorded at 8000 or 16000 Hz, not {rate}")
    if kind is PayloadKind.PCMU:
        return _G711(ULAW_DECODE, rate)
    if kind is PayloadKind.PCMA:
        return _G711(ALAW_DECODE, rate)
    if kind is PayloadKind.G722:
        return G722Decoder(rate)
    raise ValueError(f"{kind.value} payloads are not audio")


def samples_per_tick(rate: int) -> int:
    """Output samples per RTP clock tick: 1 at 8 kHz, 2 at 16 kHz (all RTP clocks are 8 kHz)."""
    return rate // RTP_CLOCK
