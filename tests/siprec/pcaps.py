"""Pcap files of RTP for SIPp's ``play_pcap_audio``, built by the tests (no binary fixtures).

Classic libpcap format with Ethernet II framing: SIPp 3.6.1 (``prepare_pcap.c``) takes only
link types Ethernet (1) and Linux cooked (113), and reads the IPv4 header length from ``ihl``.
It replays each packet's UDP header and payload from a raw socket, rewriting the ports and
the checksum, so addresses, MACs and checksums here only need to be well formed. Packets
leave at the capture's own time offsets, which is what paces the media.

SIPp sends every packet to the port of the first answered ``m=`` line plus (the packet's UDP
destination port - the lowest in the file): the caller's stream goes to ``BASE_PORT`` and
the agent's to ``BASE_PORT + 2``, matching the recorder's answer of ports N and N+2.

The variations (``plain_call`` ... ``mixed_call``) each write one call's pcap and return its
``CallPlan``: what the stored two-channel recording must hold, tone by tone and gap by gap,
in seconds from the pcap's first packet. Each starts with the caller's tone on channel 0 at
0 s, which is how a test finds where that first packet landed on the recording.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from rtp_packets import (
    CN,
    EVENT,
    PCMA,
    PCMU,
    PTIME,
    Int16Array,
    alaw,
    event_payload,
    rtp,
    silence,
    tone,
    ulaw,
)

RATE = 8000
SAMPLES = 160  # per 20 ms packet
BASE_PORT = 40000
ETHERNET = 1
# Capture times start here, not at 0: SIPp paces each packet from the one before it, but takes
# a previous time of exactly 0 for "no packet yet", so a capture starting at 0 restarts its
# clock at the second packet and sends everything after the first one packet early.
CAPTURED_AT = 1_767_225_600  # 2026-01-01T00:00:00Z
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


def write_pcap(path: Path, packets: list[tuple[float, int, bytes]]) -> Path:
    """``packets`` are (time, UDP destination port, RTP datagram); written in time order."""
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, ETHERNET)]
    for at, dport, datagram in sorted(packets, key=lambda p: (p[0], p[1])):
        frame = _udp_ipv4(datagram, dport)
        micros = round(at * 1_000_000)
        seconds = CAPTURED_AT + micros // 1_000_000
        out.append(struct.pack("<IIII", seconds, micros % 1_000_000, *[len(frame)] * 2))
        out.append(frame)
    path.write_bytes(b"".join(out))
    return path


# --- Variations: each builder writes its pcap and returns what the recording must hold ------

CALLER_CHANNEL, AGENT_CHANNEL = 0, 1


@dataclass(frozen=True)
class Heard:
    """``freq`` Hz on ``channel`` of the stored recording from ``start`` to ``end`` seconds
    after the first packet. ``sharp`` when the tone starts out of silence at ``start``, so
    its onset is checked; otherwise only its presence is."""

    channel: int
    freq: float
    start: float
    end: float
    sharp: bool = True


@dataclass(frozen=True)
class Quiet:
    """Nothing at all on ``channel`` from ``start`` to ``end`` seconds."""

    channel: int
    start: float
    end: float


@dataclass(frozen=True)
class CallPlan:
    """A pcap's call as the recording must come out: its length, its tones, its silences."""

    seconds: float
    heard: tuple[Heard, ...]
    quiet: tuple[Quiet, ...] = ()


class Sender:
    """One RTP source as an SRC forwards it: 20 ms packets leaving at wall-clock times.

    ``at`` is when the next packet leaves; the RTP timestamp runs with it unless a pause says
    the sender's clock stopped (a B2BUA resuming after hold as if no time had passed).
    """

    def __init__(
        self,
        port: int,
        ssrc: int,
        *,
        start: float = 0.0,
        payload_type: int = PCMU,
        encode: Callable[[Int16Array], bytes] = ulaw,
    ) -> None:
        self.port, self.at = port, start
        self.payload_type, self.encode = payload_type, encode
        self.packets: list[tuple[float, int, bytes]] = []
        self.new_source(ssrc)

    def new_source(self, ssrc: int) -> Sender:
        """Carry on from another SSRC, with its own sequence and timestamp (re-anchored media)."""
        self.ssrc, self.sequence, self.timestamp = ssrc, ssrc & 0x7FFF, (ssrc * 7919) & 0xFFFFFFFF
        self._spurt = True
        return self

    def audio(self, pcm: Int16Array) -> Sender:
        for index in range(len(pcm) // SAMPLES):
            payload = self.encode(pcm[index * SAMPLES : (index + 1) * SAMPLES])
            self._send(payload, self.payload_type, marker=self._spurt)
            self._spurt = False
            self.timestamp += SAMPLES
            self.at += PTIME
        return self

    def tone(self, freq: float, seconds: float) -> Sender:
        return self.audio(tone(freq, seconds))

    def silence(self, seconds: float) -> Sender:
        return self.audio(silence(seconds))

    def pause(self, seconds: float, *, clock_runs: bool = True) -> Sender:
        """Send nothing for ``seconds`` (hold, silence suppression); the next packet starts a
        talk spurt (RTP marker bit)."""
        self.at += seconds
        if clock_runs:
            self.timestamp += round(seconds * RATE)
        self._spurt = True
        return self

    def comfort_noise(self, seconds: float, *, every: float = 0.5, level: int = 70) -> Sender:
        """Silence suppression: a CN packet (RFC 3389, payload type 13) when the talker falls
        silent, refreshed every ``every`` seconds, and no audio for ``seconds``."""
        for offset in np.arange(0.0, seconds - 1e-9, every):
            self.packets.append(
                (
                    self.at + offset,
                    self.port,
                    rtp(
                        self.sequence,
                        self.timestamp + round(offset * RATE),
                        self.ssrc,
                        bytes([level]),
                        payload_type=CN,
                    ),
                )
            )
            self.sequence += 1
        return self.pause(seconds)

    def key(self, digit: int, seconds: float = 0.2, *, event_type: int = EVENT) -> Sender:
        """A key press as RFC 4733 events instead of audio: an update every 50 ms, then the
        end packet three times; the events share the key's start timestamp."""
        ticks = round(seconds * RATE)
        for step in range(round(seconds / 0.05)):
            payload = event_payload(digit, duration=step * 400)
            self._send(payload, event_type, marker=step == 0, at=self.at + step * 0.05)
        for repeat in range(3):
            payload = event_payload(digit, end=True, duration=ticks)
            self._send(payload, event_type, at=self.at + seconds + repeat * 0.005)
        self.timestamp += ticks
        self.at += seconds
        self._spurt = True
        return self

    def _send(
        self, payload: bytes, payload_type: int, *, marker: bool = False, at: float | None = None
    ) -> None:
        datagram = rtp(
            self.sequence,
            self.timestamp,
            self.ssrc,
            payload,
            payload_type=payload_type,
            marker=marker,
        )
        self.packets.append((self.at if at is None else at, self.port, datagram))
        self.sequence += 1


def _write(path: Path, plan: CallPlan, *senders: Sender) -> CallPlan:
    packets = [p for sender in senders for p in sender.packets]
    assert max(at for at, _, _ in packets) + PTIME <= plan.seconds + 0.02  # before the BYE
    write_pcap(path, packets)
    return plan


_CODECS: dict[str, tuple[int, Callable[[Int16Array], bytes]]] = {
    "PCMU": (PCMU, ulaw),
    "PCMA": (PCMA, alaw),
}


def plain_call(
    path: Path, *, caller_first: bool = True, codec: str = "PCMU", seconds: float = SECONDS
) -> CallPlan:
    """The caller's tone from the start, the agent's from ``AGENT.tone_from`` (its media starts
    then). ``caller_first=False`` sends the agent's voice on the first ``m=`` line (Ribbon's
    label 1, Cisco's media-index 0) and the caller's on the second."""
    caller_port, agent_port = (BASE_PORT, BASE_PORT + 2)[:: 1 if caller_first else -1]
    payload_type, encode = _CODECS[codec]
    caller = Sender(caller_port, 0x11110001, payload_type=payload_type, encode=encode)
    caller.tone(CALLER.freq, seconds)
    agent = Sender(
        agent_port,
        0x22220002,
        start=AGENT.packets_from,
        payload_type=payload_type,
        encode=encode,
    )
    agent.tone(AGENT.freq, seconds - AGENT.packets_from)
    plan = CallPlan(
        seconds,
        (
            Heard(CALLER_CHANNEL, CALLER.freq, 0.0, seconds),
            Heard(AGENT_CHANNEL, AGENT.freq, AGENT.tone_from, seconds),
        ),
        (Quiet(AGENT_CHANNEL, 0.0, AGENT.tone_from),),
    )
    return _write(path, plan, caller, agent)


def two_party_call(path: Path, seconds: float = SECONDS) -> Path:
    """``plain_call``'s pcap, for callers that want only the file (bench/bench_siprec_load.py)."""
    plain_call(path, seconds=seconds)
    return path


SWITCH_AT = 2.0  # the SBC re-anchors the caller's media: a new SSRC, another tone
SWITCHED_FREQ = 660.0


def ssrc_change_call(path: Path, seconds: float = SECONDS) -> CallPlan:
    """The caller's stream changes SSRC (sequence and timestamp restart elsewhere) at
    ``SWITCH_AT``, after 40 ms without packets, and carries on with another tone."""
    caller = Sender(BASE_PORT, 0x11110001).tone(CALLER.freq, SWITCH_AT - 0.04).pause(0.04)
    caller.new_source(0x5EED0003).tone(SWITCHED_FREQ, seconds - SWITCH_AT)
    agent = Sender(BASE_PORT + 2, 0x22220002, start=AGENT.packets_from)
    agent.tone(AGENT.freq, seconds - AGENT.packets_from)
    plan = CallPlan(
        seconds,
        (
            Heard(CALLER_CHANNEL, CALLER.freq, 0.0, SWITCH_AT - 0.04),
            Heard(CALLER_CHANNEL, SWITCHED_FREQ, SWITCH_AT, seconds),
            Heard(AGENT_CHANNEL, AGENT.freq, AGENT.tone_from, seconds),
        ),
        (Quiet(AGENT_CHANNEL, 0.0, AGENT.tone_from),),
    )
    return _write(path, plan, caller, agent)


KEYS_AT = (1.0, 1.6, 2.2, 2.8)  # when each key of KEYED_DIGITS is pressed, for 0.2 s
KEYED_DIGITS = (7, 10, 3, 11)  # RFC 4733 events 0-9, 10 "*", 11 "#"
KEYED = "7*3#"  # as typed: no stored field may hold it
KEY_SECONDS = 0.2


def dtmf_call(path: Path, seconds: float = SECONDS) -> CallPlan:
    """The caller keys ``KEYED_DIGITS`` as RFC 4733 events between talk; the agent talks on.

    Each key's span is silence on the caller's channel (the events are never audio), the
    caller's tone is there between and after the keys, the agent's channel is untouched.
    """
    caller = Sender(BASE_PORT, 0x11110001)
    heard: list[Heard] = []
    quiet: list[Quiet] = []
    for digit, at in zip(KEYED_DIGITS, KEYS_AT, strict=True):
        talk_from = caller.at
        caller.tone(CALLER.freq, at - caller.at).key(digit, KEY_SECONDS)
        heard.append(Heard(CALLER_CHANNEL, CALLER.freq, talk_from, at, sharp=not heard))
        quiet.append(Quiet(CALLER_CHANNEL, at + 0.02, at + KEY_SECONDS))
    talk_from = caller.at
    caller.tone(CALLER.freq, seconds - caller.at)
    heard.append(Heard(CALLER_CHANNEL, CALLER.freq, talk_from, seconds, sharp=False))
    agent = Sender(BASE_PORT + 2, 0x22220002, start=AGENT.packets_from)
    agent.tone(AGENT.freq, seconds - AGENT.packets_from)
    heard.append(Heard(AGENT_CHANNEL, AGENT.freq, AGENT.tone_from, seconds))
    plan = CallPlan(seconds, tuple(heard), tuple(quiet))
    return _write(path, plan, caller, agent)


def payment_keys_call(path: Path, seconds: float = SECONDS) -> CallPlan:
    """``dtmf_call``'s first key only, on a payment line: the recording pauses when the key
    ends (``KEYS_AT[0] + KEY_SECONDS``) and stays paused to the end (15 s without a key)."""
    at = KEYS_AT[0]
    caller = Sender(BASE_PORT, 0x11110001).tone(CALLER.freq, at).key(KEYED_DIGITS[0])
    caller.tone(CALLER.freq, seconds - caller.at)
    agent = Sender(BASE_PORT + 2, 0x22220002, start=0.5).tone(AGENT.freq, seconds - 0.5)
    paused = at + KEY_SECONDS + 0.1  # the key is reported when its end packet comes
    plan = CallPlan(
        seconds,
        (
            Heard(CALLER_CHANNEL, CALLER.freq, 0.0, at),
            Heard(AGENT_CHANNEL, AGENT.freq, 0.5, at + KEY_SECONDS),
        ),
        (Quiet(CALLER_CHANNEL, paused, seconds), Quiet(AGENT_CHANNEL, paused, seconds)),
    )
    return _write(path, plan, caller, agent)


SUPPRESSED = (1.0, 2.5)  # the caller is silent (comfort noise, no audio) between these


def comfort_noise_call(path: Path, seconds: float = SECONDS) -> CallPlan:
    """Silence suppression on both streams: comfort noise packets (payload type 13) and no
    audio in the pauses; each talk spurt's timestamp says where it belongs."""
    start, end = SUPPRESSED
    caller = Sender(BASE_PORT, 0x11110001).tone(CALLER.freq, start)
    caller.comfort_noise(end - start).tone(CALLER.freq, seconds - end)
    agent = Sender(BASE_PORT + 2, 0x22220002).comfort_noise(AGENT.tone_from)
    agent.tone(AGENT.freq, seconds - AGENT.tone_from - 0.5).comfort_noise(0.5)
    plan = CallPlan(
        seconds,
        (
            Heard(CALLER_CHANNEL, CALLER.freq, 0.0, start),
            Heard(CALLER_CHANNEL, CALLER.freq, end, seconds),
            Heard(AGENT_CHANNEL, AGENT.freq, AGENT.tone_from, seconds - 0.5),
        ),
        (
            Quiet(CALLER_CHANNEL, start + 0.02, end),
            Quiet(AGENT_CHANNEL, 0.0, AGENT.tone_from),
            Quiet(AGENT_CHANNEL, seconds - 0.48, seconds),
        ),
    )
    return _write(path, plan, caller, agent)


HOLD = (1.5, 3.0)  # no media from either party between these (the scenario's re-INVITEs)


def hold_call(path: Path, seconds: float = SECONDS) -> CallPlan:
    """Both parties stop sending during ``HOLD`` and resume after it with the same SSRC: the
    caller's timestamp has run on through the hold, the agent's resumes as if no time had
    passed (a B2BUA that stops its RTP clock), so only the wall clock places it."""
    start, end = HOLD
    caller = Sender(BASE_PORT, 0x11110001).tone(CALLER.freq, start)
    caller.pause(end - start).tone(CALLER.freq, seconds - end)
    agent = Sender(BASE_PORT + 2, 0x22220002, start=0.5).tone(AGENT.freq, start - 0.5)
    agent.pause(end - start, clock_runs=False).tone(AGENT.freq, seconds - end)
    plan = CallPlan(
        seconds,
        (
            Heard(CALLER_CHANNEL, CALLER.freq, 0.0, start),
            Heard(CALLER_CHANNEL, CALLER.freq, end, seconds),
            Heard(AGENT_CHANNEL, AGENT.freq, 0.5, start),
            Heard(AGENT_CHANNEL, AGENT.freq, end, seconds),
        ),
        (
            Quiet(CALLER_CHANNEL, start + 0.02, end),
            Quiet(AGENT_CHANNEL, 0.0, 0.5),
            Quiet(AGENT_CHANNEL, start + 0.02, end),
        ),
    )
    return _write(path, plan, caller, agent)


def mixed_call(path: Path, seconds: float = SECONDS) -> CallPlan:
    """One stream carrying both parties (BroadWorks' mixed mode), in PCMA: the caller's tone
    from the start, the agent's added from ``AGENT.tone_from``."""
    both = tone(CALLER.freq, seconds).astype(np.int32)
    agent_from = round(AGENT.tone_from * RATE)
    both[agent_from:] += tone(AGENT.freq, seconds - AGENT.tone_from)
    mixed = Sender(BASE_PORT, 0x33330003, payload_type=PCMA, encode=alaw)
    mixed.audio(both.astype(np.int16))
    plan = CallPlan(
        seconds,
        (
            Heard(CALLER_CHANNEL, CALLER.freq, 0.0, seconds),
            Heard(CALLER_CHANNEL, AGENT.freq, AGENT.tone_from, seconds),
        ),
        (Quiet(AGENT_CHANNEL, 0.0, seconds),),
    )
    return _write(path, plan, mixed)
