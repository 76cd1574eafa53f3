"""RTP receive path speed on one core: parse + place + decode, against decoding alone.

Run: .venv/bin/python bench/bench_rtp.py [--seconds 600]

Feeds a two-stream G.711 call (20 ms packets with a little jitter, pulled every 100 ms as the
server will) through ``CallTimeline`` and prints packets per second for: G.711 decoding alone (the
floor: one table lookup per packet), ``parse_rtp`` alone, and the whole timeline; their ratio; and
what that means in concurrent calls per core (a call is two streams of 50 packets/s). G.722 is
timed the same way, since libg722 costs more than a table lookup.
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable

import numpy as np

from callvault.capture.siprec.rtp import parse_rtp, payload_types
from callvault.capture.siprec.timeline import CallTimeline
from callvault.media.g711 import ULAW_DECODE, ulaw_encode
from callvault.media.g722 import G722Decoder, G722Encoder

PACKETS_PER_CALL_SECOND = 100  # two streams of 50 packets a second


def _packet(sequence: int, timestamp: int, ssrc: int, payload_type: int, payload: bytes) -> bytes:
    header = bytes([0x80, payload_type]) + (sequence & 0xFFFF).to_bytes(2, "big")
    return header + (timestamp & 0xFFFFFFFF).to_bytes(4, "big") + ssrc.to_bytes(4, "big") + payload


def _call(
    seconds: float, payload_type: int, payloads: list[bytes]
) -> list[tuple[float, int, bytes]]:
    """Both streams' (arrival, channel, datagram), in arrival order."""
    rng = random.Random(5)
    feeds = []
    for channel in (0, 1):
        for k in range(int(seconds * 50)):
            arrival = 0.02 * k + (rng.uniform(0, 0.03) if k else 0.0)
            datagram = _packet(k, 160 * k, 100 + channel, payload_type, payloads[k % len(payloads)])
            feeds.append((arrival, channel, datagram))
    return sorted(feeds)


def _rate(count: int, run: Callable[[], None]) -> float:
    began = time.perf_counter()
    run()
    return count / (time.perf_counter() - began)


def _timeline(feeds: list[tuple[float, int, bytes]], rate: int) -> Callable[[], None]:
    def run() -> None:
        call = CallTimeline(0.0, rate, [payload_types({})] * 2)
        next_pull = 0.1
        for arrival, channel, datagram in feeds:
            if arrival >= next_pull:
                for _ in call.drain(next_pull):
                    pass
                next_pull += 0.1
            call.feed(channel, arrival, datagram)
        for _ in call.finish(feeds[-1][0] + 0.1):
            pass

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=600.0, help="call length to simulate")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    speech = (rng.standard_normal(160 * 50) * 3000).astype(np.int16)
    ulaw = [ulaw_encode(speech[i : i + 160]).tobytes() for i in range(0, len(speech), 160)]
    feeds = _call(args.seconds, 0, ulaw)
    payloads = [parse_rtp(d).payload for _, _, d in feeds]

    def decode_only() -> None:
        for payload in payloads:
            ULAW_DECODE[np.frombuffer(payload, dtype=np.uint8)]

    def parse_only() -> None:
        for _, _, datagram in feeds:
            parse_rtp(datagram)

    count = len(feeds)
    decode = _rate(count, decode_only)
    parse = _rate(count, parse_only)
    whole = _rate(count, _timeline(feeds, 8000))
    print(f"G.711, {count} packets ({args.seconds:.0f} s, two streams)")
    print(f"  decode alone        {decode:12,.0f} packets/s")
    print(f"  parse_rtp alone     {parse:12,.0f} packets/s")
    print(f"  whole timeline      {whole:12,.0f} packets/s  ({decode / whole:.1f}x decode alone)")
    print(f"  calls per core, timeline only: {whole / PACKETS_PER_CALL_SECOND:,.0f}")

    wide = (rng.standard_normal(320 * 50) * 3000).astype(np.int16)
    g722 = [G722Encoder().encode(wide[i : i + 320]) for i in range(0, len(wide), 320)]
    feeds = _call(args.seconds / 4, 9, g722)
    payloads = [parse_rtp(d).payload for _, _, d in feeds]
    decoder = G722Decoder()

    def g722_only() -> None:
        for payload in payloads:
            decoder.decode(payload)

    count = len(feeds)
    decode = _rate(count, g722_only)
    whole = _rate(count, _timeline(feeds, 16000))
    print(f"G.722 at 16 kHz, {count} packets")
    print(f"  decode alone        {decode:12,.0f} packets/s")
    print(f"  whole timeline      {whole:12,.0f} packets/s  ({decode / whole:.1f}x decode alone)")
    print(f"  calls per core, timeline only: {whole / PACKETS_PER_CALL_SECOND:,.0f}")


if __name__ == "__main__":
    main()
