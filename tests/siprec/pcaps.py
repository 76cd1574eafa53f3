"""Pcap files of RTP for SIPp's ``play_pcap_audio``, built by the tests (no binary fixtures).

Classic libpcap format with Ethernet II framing: SIPp 3.6.1 (``prepare_pcap.c``) takes only
link types Ethernet (1) and Linux cooked (113), and reads the IPv4 header length from ``ihl``.
It replays each packet's UDP header and payload from a raw socket, rewriting the ports and
the checksum, so addresses, MACs and checksums here only need to be well formed. Packets
leave at the capture's own time offsets, which is what paces the media.

SIPp sends every packet to the port of the first answered ``m=`` line plus (the packet's UDP
destination port - the lowest in the file): the caller's stream goes to ``BASE_PORT`` and
the agent's to ``BASE_PORT + 2``, matching the recorder's answer of ports N and N+2.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from rtp_packets import PTIME, Talker, silence, tone

RATE = 8000
BASE_PORT = 40000
ETHERNET = 1
_ETHER_HEADER = bytes(6) + bytes.fromhex("020000000001") + struct.pack("!H", 0x0800)


@dataclass(frozen=True)
class Stream:
    """One party's audio: ``freq`` Hz from ``tone_from`` seconds, silence before it; packets
    only from ``packets_from`` (a party whose media starts late sends nothing until then)."""

    freq: float
    tone_from: float = 0.0
    packets_from: float = 0.0


# The caller talks from the start; the agent's media starts 1.5 s in, already with its tone.
CALLER = Stream(freq=440.0)
AGENT = Stream(freq=1000.0, tone_from=1.5, packets_from=1.5)
SECONDS = 4.5  # the scenario's pause before BYE is this long (checked by the test)


def _udp_ipv4(payload: bytes, dport: int) -> bytes:
    udp = struct.pack("!HHHH", 6000, dport, 8 + len(payload), 0) + payload  # checksum optional
    ip = struct.pack(
        "!BBHHHBBH4s4s",
        0x45,  # version 4, header of 5 words
        0,
        20 + len(udp),
        0,
        0x4000,  # don't fragment
        64,
        17,  # UDP
        0,
        bytes([127, 0, 0, 1]),
        bytes([127, 0, 0, 1]),
    )
    return _ETHER_HEADER + ip + udp


def stream_packets(stream: Stream, ssrc: int, seconds: float) -> list[tuple[float, bytes]]:
    """(send time, RTP datagram) for one party, 20 ms PCMU packets until ``seconds``."""
    audio = np.concatenate(
        [silence(stream.tone_from), tone(stream.freq, seconds - stream.tone_from)]
    )
    talker = Talker(ssrc, sequence=ssrc & 0x7FFF, timestamp=ssrc & 0xFFFF)
    skip = round(stream.packets_from * RATE)
    # The RTP clock runs from the stream's own first packet: what counts is the arrival time.
    return talker.send(audio[skip:], stream.packets_from)


def write_pcap(path: Path, packets: list[tuple[float, int, bytes]]) -> Path:
    """``packets`` are (time, UDP destination port, RTP datagram); written in time order."""
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, ETHERNET)]
    for at, dport, datagram in sorted(packets, key=lambda p: (p[0], p[1])):
        frame = _udp_ipv4(datagram, dport)
        micros = round(at * 1_000_000)
        out.append(struct.pack("<IIII", micros // 1_000_000, micros % 1_000_000, *[len(frame)] * 2))
        out.append(frame)
    path.write_bytes(b"".join(out))
    return path


def two_party_call(path: Path, seconds: float = SECONDS) -> Path:
    """The caller on ``BASE_PORT`` and the agent on ``BASE_PORT + 2``, as one pcap."""
    packets = [(at, BASE_PORT, d) for at, d in stream_packets(CALLER, 0x11110001, seconds)]
    packets += [(at, BASE_PORT + 2, d) for at, d in stream_packets(AGENT, 0x22220002, seconds)]
    assert max(at for at, _, _ in packets) + PTIME <= seconds + 1e-9
    return write_pcap(path, packets)
