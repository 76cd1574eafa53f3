"""Build RTP datagrams and whole simulated streams for the RTP and timeline tests."""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable

import numpy as np
import numpy.typing as npt

from callvault.media.g711 import alaw_encode, ulaw_encode

Int16Array = npt.NDArray[np.int16]
Arrival = tuple[float, bytes]  # (arrival time, datagram), what the receiver will feed
PCMU, PCMA, G722, CN, EVENT = 0, 8, 9, 13, 101
PTIME = 0.02


def rtp(
    sequence: int,
    timestamp: int,
    ssrc: int,
    payload: bytes,
    *,
    payload_type: int = PCMU,
    marker: bool = False,
    csrcs: Iterable[int] = (),
    extension: tuple[int, bytes] | None = None,
    padding: int = 0,
) -> bytes:
    """One RTP datagram; ``extension`` is (profile, data padded to 32-bit words)."""
    csrc_list = list(csrcs)
    first = 0x80 | (0x20 if padding else 0) | (0x10 if extension else 0) | len(csrc_list)
    second = (0x80 if marker else 0) | payload_type
    head = struct.pack("!BBHII", first, second, sequence & 0xFFFF, timestamp & 0xFFFFFFFF, ssrc)
    head += b"".join(struct.pack("!I", c) for c in csrc_list)
    if extension is not None:
        profile, data = extension
        head += struct.pack("!HH", profile, len(data) // 4) + data
    tail = bytes(padding - 1) + bytes([padding]) if padding else b""
    return head + payload + tail


def event_payload(event: int, *, end: bool = False, volume: int = 10, duration: int = 0) -> bytes:
    return struct.pack("!BBH", event, (0x80 if end else 0) | volume, duration)


def tone(freq: float, seconds: float, rate: int = 8000, amplitude: int = 8000) -> Int16Array:
    t = np.arange(round(seconds * rate)) / rate
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.int16)


def silence(seconds: float, rate: int = 8000) -> Int16Array:
    return np.zeros(round(seconds * rate), dtype=np.int16)


def ulaw(pcm: Int16Array) -> bytes:
    return ulaw_encode(pcm).tobytes()


def alaw(pcm: Int16Array) -> bytes:
    return alaw_encode(pcm).tobytes()


class Talker:
    """One RTP source sending 20 ms packets: sequence and timestamp carry on between calls."""

    def __init__(
        self,
        ssrc: int = 0x1234ABCD,
        *,
        sequence: int = 1000,
        timestamp: int = 160_000,
        payload_type: int = PCMU,
        encode: Callable[[Int16Array], bytes] = ulaw,
        samples_per_packet: int = 160,
    ) -> None:
        self.ssrc, self.sequence, self.timestamp = ssrc, sequence, timestamp
        self.payload_type, self.encode = payload_type, encode
        self.samples_per_packet = samples_per_packet  # of the audio handed to ``encode``
        self.ticks_per_packet = 160  # RTP clock: 20 ms at 8 kHz, whatever the codec

    def send(self, audio: Int16Array, start: float) -> list[Arrival]:
        """Packets for ``audio`` (whole packets only), the first arriving at ``start``."""
        out: list[Arrival] = []
        step = self.samples_per_packet
        for index in range(len(audio) // step):
            payload = self.encode(audio[index * step : (index + 1) * step])
            out.append((start + index * PTIME, self.packet(payload)))
        return out

    def packet(
        self, payload: bytes, *, payload_type: int | None = None, advance: bool = True
    ) -> bytes:
        datagram = rtp(
            self.sequence,
            self.timestamp,
            self.ssrc,
            payload,
            payload_type=self.payload_type if payload_type is None else payload_type,
        )
        self.sequence += 1
        if advance:
            self.timestamp += self.ticks_per_packet
        return datagram

    def skip(self, seconds: float) -> None:
        """Let the timestamp run on without sending (silence suppression, hold)."""
        self.timestamp += round(seconds * 8000)

    def key(self, event: int, start: float, seconds: float = 0.2) -> list[Arrival]:
        """An RFC 4733 key press: updates every 50 ms, then the end packet three times."""
        out: list[Arrival] = []
        ticks = round(seconds * 8000)
        for step in range(round(seconds / 0.05)):
            payload = event_payload(event, duration=step * 400)
            out.append(
                (start + step * 0.05, self.packet(payload, payload_type=EVENT, advance=False))
            )
        for repeat in range(3):
            payload = event_payload(event, end=True, duration=ticks)
            arrival = start + seconds + repeat * 0.005
            out.append((arrival, self.packet(payload, payload_type=EVENT, advance=False)))
        self.timestamp += ticks
        return out


def first_loud(channel: Int16Array, rate: int, threshold: int = 2000) -> float:
    """Seconds to the first sample louder than ``threshold``; inf if none."""
    loud = np.flatnonzero(np.abs(channel.astype(np.int32)) > threshold)
    return float(loud[0]) / rate if len(loud) else float("inf")


def dominant_hz(audio: Int16Array, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(audio.astype(np.float64)))
    return float(np.argmax(spectrum)) * rate / len(audio)
