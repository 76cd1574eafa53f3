"""RTP in, aligned PCM out: each stream's packets placed in time, the call's channels side by side.

The receiver hands every datagram to ``CallTimeline.feed`` with its arrival time (any monotonic
clock: ``time.monotonic()``; the same clock dates the call's start, ``pull``, ``pause`` and
``finish``). Audio is placed by RTP timestamp per source (see ``ssrc_clock``), and the timeline is
*settled* — handed out, never changed again — up to the wall clock less a jitter window (100 ms by
default): a packet may arrive that late, out of order, and still take its place. Whatever no
packet filled by then is silence: silence suppression, comfort noise, hold and loss all become
silence of the right length, so both channels track the wall clock and stay aligned.

``pull`` returns the next settled chunk as int16 of shape (samples, channels); ``finish`` returns
the rest at the end of the call. Memory per stream is the packets inside the window plus one
chunk, whatever the call's length.
"""

from __future__ import annotations

import enum
import heapq
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial

import numpy as np
import numpy.typing as npt

from callvault.capture.siprec.decoding import PayloadDecoder, decoder_for, samples_per_tick
from callvault.capture.siprec.dtmf import DtmfEvent, DtmfTracker
from callvault.capture.siprec.rtp import (
    PayloadKind,
    RtpPacket,
    RtpRejected,
    parse_rtp,
    parse_telephone_event,
)
from callvault.capture.siprec.ssrc_clock import Admission, Admitted, SsrcClock

Int16Array = npt.NDArray[np.int16]

JITTER_S = 0.1  # how late a packet may be and still be placed: covers a LAN or a loaded host
CHUNK_S = 1.0  # the most one pull returns, so a pull after a stall stays small
EARLY_S = 1.0  # audio placed further ahead of the wall clock than this re-anchors its source
MAX_PACKET_S = 0.25  # longest payload taken; SIP devices send 10-60 ms, some up to 120
MAX_QUEUED = 4096  # packets waiting in the window; far above 50/s over a second, to bound memory
MAX_SOURCES = 8  # SSRCs remembered per stream; re-anchoring SBCs use one or two at a time
DRIFT_BLOCK_S = 2.0  # how long the least-delayed packet is looked for before correcting drift
DRIFT_TOLERANCE_S = 0.01  # drift corrected once it passes this: inaudible, and channels stay close
DTMF_TIMEOUT_S = 1.0  # an event with no update for this long has lost its end packets
DTMF_TAIL_S = 0.05  # silence after an event's end, for the decay of a tone leaked into the audio
_OPEN = 1 << 62  # the end of a pause still in force


class PacketFate(enum.Enum):
    """What became of a datagram: the receiver counts these per stream (``fates``)."""

    AUDIO = "audio"  # queued to take its place on the timeline
    EVENT = "event"  # a telephone event: tracked, never decoded as audio
    COMFORT_NOISE = "comfort-noise"  # recorded as silence
    DUPLICATE = "duplicate"
    LATE = "late"  # its place was already handed out: later than the jitter window
    OUT_OF_RANGE = "out-of-range"  # too long, too far ahead, an unconfirmed jump, queue full
    UNKNOWN_PAYLOAD = "unknown-payload"  # a payload type the SDP did not map to a codec we take
    MALFORMED = "malformed"  # not RTP (RtpRejected), or a broken event payload
    FINISHED = "finished"  # after the call's end

    # Members are singletons, so identity hashing is exact; Enum's own __hash__ runs Python
    # code, and every packet is counted by its fate.
    __hash__ = object.__hash__


@dataclass(frozen=True)
class CallClock:
    """Wall-clock seconds → sample index on the call's timeline."""

    start: float
    rate: int

    def sample_at(self, when: float) -> int:
        return max(0, round((when - self.start) * self.rate))


@dataclass
class _Source:
    clock: SsrcClock
    decoders: dict[PayloadKind, PayloadDecoder] = field(default_factory=dict)


# A queued packet: (position, extended sequence, arrival order, payload, decoder). The first three
# are unique together, so the heap never compares payloads or decoders.
_Queued = tuple[int, int, int, bytes, PayloadDecoder]


class StreamTimeline:
    """One RTP stream (one SDP ``m=`` line) placed on the call's timeline."""

    def __init__(
        self,
        clock: CallClock,
        payload_types: Mapping[int, PayloadKind],
        *,
        jitter_s: float = JITTER_S,
        on_dtmf: Callable[[DtmfEvent], None] | None = None,
    ) -> None:
        self._clock = clock
        self._ratio = samples_per_tick(clock.rate)
        self._payload_types = dict(payload_types)
        self._jitter = round(jitter_s * clock.rate)
        self._max_packet = round(MAX_PACKET_S * clock.rate)
        self._furthest_ahead = self._jitter + round(EARLY_S * clock.rate)
        self._sources: OrderedDict[int, _Source] = OrderedDict()
        self._queue: list[_Queued] = []
        self._arrivals = 0
        self._emitted = 0  # samples handed out so far
        self._overhang: Int16Array = np.zeros(0, dtype=np.int16)  # decoded past the last settle
        self._audio_end = 0  # end of the latest audio queued
        self._finished = False
        self._dtmf = DtmfTracker(
            clock.rate,
            on_dtmf,
            timeout=round(DTMF_TIMEOUT_S * clock.rate),
            tail=round(DTMF_TAIL_S * clock.rate),
            plausible=round(EARLY_S * clock.rate),
        )
        self.fates: Counter[PacketFate] = Counter()

    @property
    def emitted(self) -> int:
        """Samples settled and handed out so far."""
        return self._emitted

    @property
    def reanchored(self) -> int:
        """How often the sources remembered moved their anchors (drift, jumps): a diagnostic."""
        return sum(source.clock.reanchored for source in self._sources.values())

    @property
    def audio_end(self) -> int:
        """Sample index just past the latest audio queued: where a recording must not end before."""
        return self._audio_end

    @property
    def queued(self) -> int:
        """Packets waiting inside the jitter window."""
        return len(self._queue)

    def set_payload_types(self, payload_types: Mapping[int, PayloadKind]) -> None:
        """Take the payload types of a renegotiated ``m=`` line (re-INVITE or UPDATE)."""
        self._payload_types = dict(payload_types)

    def feed(self, arrival: float, datagram: bytes) -> PacketFate:
        """Take one datagram that arrived at ``arrival``; say what became of it. Never raises."""
        fate = self._take(arrival, datagram)
        self.fates[fate] += 1
        return fate

    def _take(self, arrival: float, datagram: bytes) -> PacketFate:
        if self._finished:
            return PacketFate.FINISHED
        try:
            packet = parse_rtp(datagram)
        except RtpRejected:
            return PacketFate.MALFORMED
        kind = self._payload_types.get(packet.payload_type)
        if kind is None:
            return PacketFate.UNKNOWN_PAYLOAD
        return self._place(packet, kind, self._clock.sample_at(arrival))

    def _place(self, packet: RtpPacket, kind: PayloadKind, wall: int) -> PacketFate:
        source = self._source(packet, wall)
        admitted = source.clock.admit(packet.sequence, packet.timestamp)
        if admitted is Admission.RESTART:
            source = self._source(packet, wall, fresh=True)
            admitted = source.clock.admit(packet.sequence, packet.timestamp)
        if not isinstance(admitted, Admitted):
            duplicate = admitted is Admission.DUPLICATE
            return PacketFate.DUPLICATE if duplicate else PacketFate.OUT_OF_RANGE
        if kind is PayloadKind.TELEPHONE_EVENT:
            return self._event(packet, source, admitted, wall)
        position = source.clock.place(admitted, wall)
        if kind is PayloadKind.COMFORT_NOISE:
            return PacketFate.COMFORT_NOISE  # heard as silence: the gap stays empty
        return self._enqueue(position, admitted.sequence, packet.payload, source, kind, wall)

    def _source(self, packet: RtpPacket, wall: int, *, fresh: bool = False) -> _Source:
        source = self._sources.get(packet.ssrc)
        if source is not None and not fresh:
            self._sources.move_to_end(packet.ssrc)
            return source
        # A new SSRC (an SBC re-anchoring media, a transfer) starts where the wall clock is.
        rate = self._clock.rate
        source = _Source(
            SsrcClock(
                packet.sequence,
                packet.timestamp,
                wall,
                samples_per_tick=self._ratio,
                late_limit=self._jitter,
                early_limit=round(EARLY_S * rate),
                drift_block=round(DRIFT_BLOCK_S * rate),
                drift_tolerance=round(DRIFT_TOLERANCE_S * rate),
            )
        )
        self._sources[packet.ssrc] = source
        self._sources.move_to_end(packet.ssrc)
        if len(self._sources) > MAX_SOURCES:
            self._sources.popitem(last=False)
        return source

    def _event(
        self, packet: RtpPacket, source: _Source, admitted: Admitted, wall: int
    ) -> PacketFate:
        try:
            event = parse_telephone_event(packet.payload)
        except RtpRejected:
            return PacketFate.MALFORMED
        # Every packet of an event repeats its start timestamp, so events never move the anchor.
        start = source.clock.position(admitted.timestamp)
        self._dtmf.update(packet.ssrc, admitted.timestamp, event, start, wall)
        return PacketFate.EVENT

    def _enqueue(
        self,
        position: int,
        sequence: int,
        payload: bytes,
        source: _Source,
        kind: PayloadKind,
        wall: int,
    ) -> PacketFate:
        length = len(payload) * self._ratio
        if length > self._max_packet or position > wall + self._furthest_ahead:
            return PacketFate.OUT_OF_RANGE
        if position < self._emitted:
            return PacketFate.LATE
        if len(self._queue) >= MAX_QUEUED:
            return PacketFate.OUT_OF_RANGE
        if not length:
            return PacketFate.AUDIO  # an empty payload: nothing to place
        decoder = source.decoders.get(kind)
        if decoder is None:
            decoder = source.decoders[kind] = decoder_for(kind, self._clock.rate)
        self._arrivals += 1
        heapq.heappush(self._queue, (position, sequence, self._arrivals, payload, decoder))
        self._audio_end = max(self._audio_end, position + length)
        return PacketFate.AUDIO

    def settle(self, upto: int) -> Int16Array:
        """Hand out samples from ``emitted`` up to ``upto``, decoding the packets that fall there.

        Packets are decoded here, in timeline order, rather than on arrival: G.722 carries
        state from packet to packet, and reordered packets must reach it in order.
        """
        count = upto - self._emitted
        if count <= 0:
            return np.zeros(0, dtype=np.int16)
        carried = len(self._overhang)
        audio = np.zeros(max(count, carried) + self._max_packet, dtype=np.int16)
        audio[:carried] = self._overhang
        written = carried
        while self._queue and self._queue[0][0] < upto:
            position, _, _, payload, decoder = heapq.heappop(self._queue)
            offset = position - self._emitted
            samples = decoder.decode(payload)[: len(audio) - offset]
            audio[offset : offset + len(samples)] = samples
            written = max(written, offset + len(samples))
        self._dtmf.silence(audio[:written], self._emitted)
        self._overhang = audio[count:written].copy()
        self._emitted = upto
        return audio[:count]

    def expire_events(self, now: float) -> None:
        """Close telephone events that went quiet without an end packet."""
        self._dtmf.expire(self._clock.sample_at(now))

    def finish(self) -> None:
        """Stop taking packets and report any event still open; ``settle`` hands out the rest."""
        self._finished = True
        self._dtmf.finish()


@dataclass(frozen=True)
class PausedSpan:
    """A span silenced for a card payment, in seconds on the call's timeline.

    ``end_s`` is None while the pause lasts.
    """

    start_s: float
    end_s: float | None


class CallTimeline:
    """A call's streams on one timeline, at one sample rate, with pauses for card payments.

    ``payload_types`` has one mapping per stream, in channel order. ``on_dtmf`` hears
    ``(channel, event)`` for each key press; the digit is for deciding (a payment line pauses
    the recording) and must not be stored.
    """

    def __init__(
        self,
        start: float,
        rate: int,
        payload_types: Sequence[Mapping[int, PayloadKind]],
        *,
        jitter_s: float = JITTER_S,
        chunk_s: float = CHUNK_S,
        on_dtmf: Callable[[int, DtmfEvent], None] | None = None,
    ) -> None:
        if rate not in (8000, 16000):
            raise ValueError(f"calls are recorded at 8000 or 16000 Hz, not {rate}")
        if not payload_types:
            raise ValueError("a call needs at least one stream")
        self.clock = CallClock(start, rate)
        self.streams = tuple(
            StreamTimeline(
                self.clock,
                types,
                jitter_s=jitter_s,
                on_dtmf=None if on_dtmf is None else partial(on_dtmf, channel),
            )
            for channel, types in enumerate(payload_types)
        )
        self._jitter = round(jitter_s * rate)
        self._chunk = max(1, round(chunk_s * rate))
        self._emitted = 0
        self._pauses: list[list[int]] = []  # [start, end] in samples; end is _OPEN while paused
        self._finished = False

    @property
    def rate(self) -> int:
        return self.clock.rate

    @property
    def channels(self) -> int:
        return len(self.streams)

    @property
    def emitted(self) -> int:
        """Samples per channel handed out so far."""
        return self._emitted

    @property
    def paused(self) -> bool:
        return bool(self._pauses) and self._pauses[-1][1] == _OPEN

    @property
    def pauses(self) -> tuple[PausedSpan, ...]:
        """Every pause so far: the markers to keep with the recording."""
        rate = self.clock.rate
        return tuple(
            PausedSpan(start / rate, None if end == _OPEN else end / rate)
            for start, end in self._pauses
        )

    def feed(self, channel: int, arrival: float, datagram: bytes) -> PacketFate:
        """Give a datagram to the stream of ``channel``; see ``StreamTimeline.feed``."""
        return self.streams[channel].feed(arrival, datagram)

    def pause(self, at: float) -> None:
        """Silence every channel from ``at`` until ``resume``. Pausing while paused does nothing.

        Audio already handed out cannot be taken back: a pause dated before that point starts
        where the handed-out audio ends, and the marker records that start.
        """
        if self.paused or self._finished:
            return
        self._pauses.append([max(self.clock.sample_at(at), self._emitted), _OPEN])

    def resume(self, at: float) -> None:
        """End the pause at ``at`` (never before it began); does nothing when not paused."""
        if self.paused:
            span = self._pauses[-1]
            span[1] = max(self.clock.sample_at(at), span[0])

    def pull(self, now: float) -> Int16Array:
        """The next settled chunk, shape (samples, channels): empty when nothing has settled.

        Call it a few times a second; after a stall, call until it comes back empty (``drain``).
        """
        if self._finished:
            return np.zeros((0, self.channels), dtype=np.int16)
        for stream in self.streams:
            stream.expire_events(now)
        settled = self.clock.sample_at(now) - self._jitter
        return self._settle(min(settled, self._emitted + self._chunk))

    def drain(self, now: float) -> Iterator[Int16Array]:
        """Every chunk settled by ``now``."""
        while len(chunk := self.pull(now)):
            yield chunk

    def finish(self, end: float) -> Iterator[Int16Array]:
        """End the call at ``end`` (the BYE): the chunks left, up to the wall clock's end.

        The recording runs to ``end`` or to the end of the last audio queued, whichever is later,
        so its length is the call's length on the wall clock. An open pause ends here.
        """
        if self._finished:
            return iter(())
        self._finished = True
        last = max(self.clock.sample_at(end), self._emitted, *(s.audio_end for s in self.streams))
        if self.paused:
            self._pauses[-1][1] = last
        for stream in self.streams:
            stream.finish()
        return self._drain_to(last)

    def _drain_to(self, last: int) -> Iterator[Int16Array]:
        while self._emitted < last:
            yield self._settle(min(last, self._emitted + self._chunk))

    def _settle(self, upto: int) -> Int16Array:
        count = upto - self._emitted
        if count <= 0:
            return np.zeros((0, self.channels), dtype=np.int16)
        out = np.empty((count, self.channels), dtype=np.int16)
        for channel, stream in enumerate(self.streams):
            out[:, channel] = stream.settle(upto)
        for start, end in self._pauses:
            low, high = start - self._emitted, end - self._emitted
            if high > 0 and low < count:
                out[max(low, 0) : min(high, count)] = 0
        self._emitted = upto
        return out
