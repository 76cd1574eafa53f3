"""G.711 µ-law and A-law companding as numpy lookup tables (ITU-T G.711).

Decoding indexes a 256-entry table; encoding indexes a 65,536-entry table built once from the
reference algorithm (the Sun/CCITT ``g711.c`` formulation), so both directions are one vectorised
``take`` per packet: cheap enough for every RTP packet the SIPREC receiver sees.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

Int16Array = npt.NDArray[np.int16]
UInt8Array = npt.NDArray[np.uint8]

_ULAW_BIAS = 0x84  # µ-law adds 132 so every segment starts at a power of two
_ULAW_CLIP = 32635  # largest magnitude that survives the bias without overflowing 15 bits


def _build_ulaw_decode() -> Int16Array:
    code = ~np.arange(256, dtype=np.int32) & 0xFF
    exponent = (code >> 4) & 0x07
    mantissa = code & 0x0F
    magnitude = (((mantissa << 3) + _ULAW_BIAS) << exponent) - _ULAW_BIAS
    return np.where(code & 0x80, -magnitude, magnitude).astype(np.int16)


def _build_alaw_decode() -> Int16Array:
    code = np.arange(256, dtype=np.int32) ^ 0x55  # even bits are inverted on the wire
    exponent = (code >> 4) & 0x07
    mantissa = code & 0x0F
    segment0 = (mantissa << 4) + 8
    shifted = ((mantissa << 4) + 0x108) << np.maximum(exponent - 1, 0)
    magnitude = np.where(exponent == 0, segment0, shifted)
    return np.where(code & 0x80, magnitude, -magnitude).astype(np.int16)


def _all_int16() -> npt.NDArray[np.int32]:
    # Index i of the encode tables is the int16 whose bit pattern is i (a uint16 view).
    return np.arange(65536, dtype=np.uint16).view(np.int16).astype(np.int32)


def _build_ulaw_encode() -> UInt8Array:
    pcm = _all_int16()
    sign = np.where(pcm < 0, 0x80, 0)
    magnitude = np.minimum(np.abs(pcm), _ULAW_CLIP) + _ULAW_BIAS
    # Segment number = how many of the thresholds 0x100, 0x200, ... 0x4000 the value reaches.
    exponent = sum((magnitude >= (0x100 << k)).astype(np.int32) for k in range(7))
    mantissa = (magnitude >> (exponent + 3)) & 0x0F
    return (~(sign | (exponent << 4) | mantissa) & 0xFF).astype(np.uint8)


def _build_alaw_encode() -> UInt8Array:
    pcm = _all_int16() >> 3  # A-law works on 13-bit samples
    mask = np.where(pcm >= 0, 0xD5, 0x55)
    magnitude = np.where(pcm >= 0, pcm, -pcm - 1)
    segment_ends = np.array([0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF])
    segment = np.searchsorted(segment_ends, magnitude, side="left").astype(np.int32)
    low = (magnitude >> 1) & 0x0F
    high = (magnitude >> np.minimum(segment, 7)) & 0x0F
    code = (segment << 4) | np.where(segment < 2, low, high)
    code = np.where(segment >= 8, 0x7F, code)  # beyond the last segment: clip
    return ((code ^ mask) & 0xFF).astype(np.uint8)


ULAW_DECODE: Int16Array = _build_ulaw_decode()
ALAW_DECODE: Int16Array = _build_alaw_decode()
ULAW_ENCODE: UInt8Array = _build_ulaw_encode()
ALAW_ENCODE: UInt8Array = _build_alaw_encode()
for _table in (ULAW_DECODE, ALAW_DECODE, ULAW_ENCODE, ALAW_ENCODE):
    _table.setflags(write=False)  # shared module state: nobody may patch a table in place


def _codes(data: bytes | bytearray | memoryview | UInt8Array) -> UInt8Array:
    if isinstance(data, np.ndarray):
        return data.astype(np.uint8, copy=False)
    return np.frombuffer(data, dtype=np.uint8)


def _samples(pcm: Int16Array) -> npt.NDArray[np.uint16]:
    return np.ascontiguousarray(pcm, dtype=np.int16).view(np.uint16)


def ulaw_decode(data: bytes | bytearray | memoryview | UInt8Array) -> Int16Array:
    """µ-law bytes → int16 linear samples."""
    return ULAW_DECODE[_codes(data)]


def alaw_decode(data: bytes | bytearray | memoryview | UInt8Array) -> Int16Array:
    """A-law bytes → int16 linear samples."""
    return ALAW_DECODE[_codes(data)]


def ulaw_encode(pcm: Int16Array) -> UInt8Array:
    """int16 linear samples → µ-law codes (same shape)."""
    return ULAW_ENCODE[_samples(pcm)]


def alaw_encode(pcm: Int16Array) -> UInt8Array:
    """int16 linear samples → A-law codes (same shape)."""
    return ALAW_ENCODE[_samples(pcm)]
