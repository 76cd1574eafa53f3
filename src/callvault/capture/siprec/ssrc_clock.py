"""One RTP source (SSRC): its sequence numbers and timestamps, and where its audio goes in time.

Positions are sample indexes on the call's timeline (0 = the call's start, at the call's sample
rate). A source is anchored at its first packet: that packet's audio goes where the wall clock
says it arrived, and every later packet goes where its RTP timestamp says, relative to the anchor.
That keeps each packet's place exact under jitter, reordering and silence suppression (a talk
spurt after 2 s of DTX carries a timestamp 2 s on).

The anchor is corrected against the wall clock in three cases, each seen in real SBC traffic:

* the timestamp and the wall clock disagree by more than the jitter window (late) or by more than
  a second (early) on an in-order packet: a hold where the sender's timestamps did not run, or a
  timestamp jump without an SSRC change. The source is re-anchored at that packet.
* slow drift between the sender's clock and ours (crystals differ by up to ~100 ppm, 0.36 s an
  hour): every couple of seconds the smallest lateness seen (the packet that met the least
  network delay) is compared with the placement; once it has been beyond 10 ms, on the same
  side, for three blocks running, the offset moves by the smallest of the three. Using the
  minimum means ordinary jitter never moves the audio; asking for three blocks means a host
  or network that held every packet back for a couple of seconds does not either (moving
  then would cut a gap into the audio, and moving back an overlap), while real drift, which
  only grows, is followed a few seconds later.
* a sequence jump beyond RFC 3550's limits confirmed by a second packet (a restarted sender):
  the caller starts the source afresh (``Admission.RESTART``).
"""

from __future__ import annotations

import enum
from typing import NamedTuple

SEQ_MOD = 1 << 16
TS_MOD = 1 << 32
MAX_DROPOUT = 3000  # RFC 3550 A.1: a forward jump within this is packet loss, not a restart
MAX_MISORDER = 100  # ... and a backward step within this is reordering
DRIFT_BLOCKS_TO_CONFIRM = 3  # drift blocks running past tolerance before the offset moves
_SEEN_KEPT = 512  # sequence numbers remembered for duplicate detection (10 s of 20 ms packets)


class Admission(enum.Enum):
    """Why ``SsrcClock.admit`` turned a packet away."""

    DUPLICATE = "duplicate"
    JUMP = "jump"  # a sequence jump, dropped until a following packet confirms it
    RESTART = "restart"  # the jump was confirmed: start this source afresh with this packet


class Admitted(NamedTuple):
    """A packet's extended (unwrapped) sequence number and timestamp.

    ``newest`` is true when it is later in sequence than every packet before it: only those move
    the anchor, since a reordered packet's lateness says nothing new about the clocks.
    """

    sequence: int
    timestamp: int
    newest: bool


class SsrcClock:
    """Unwraps, deduplicates and places one source's packets. All lengths are in samples."""

    def __init__(
        self,
        sequence: int,
        timestamp: int,
        wall: int,
        *,
        samples_per_tick: int,
        late_limit: int,
        early_limit: int,
        drift_block: int,
        drift_tolerance: int,
    ) -> None:
        self._highest = sequence - 1  # so that the first packet admits as the newest
        self._last_ts = timestamp
        self._anchor_ts = timestamp
        self._offset = wall  # position of the anchor timestamp
        self._seen: set[int] = set()
        self._jump_confirm: int | None = None
        self._ratio = samples_per_tick
        self._late_limit, self._early_limit = late_limit, early_limit
        self._drift_block, self._drift_tolerance = drift_block, drift_tolerance
        self._block_start = wall
        self._block_min: int | None = None
        self._beyond: list[int] = []  # the least lateness of the latest blocks past tolerance
        self.reanchored = 0  # how often the anchor was reset or moved: a diagnostic

    def admit(self, sequence: int, timestamp: int) -> Admitted | Admission:
        """Unwrap a packet's 16-bit sequence and 32-bit timestamp, or say why it is dropped."""
        step = (sequence - self._highest) % SEQ_MOD
        if step == 0:
            return Admission.DUPLICATE
        if step < MAX_DROPOUT:
            extended, newest = self._highest + step, True
        elif step > SEQ_MOD - MAX_MISORDER:
            extended, newest = self._highest + step - SEQ_MOD, False
        elif sequence == self._jump_confirm:
            return Admission.RESTART
        else:
            self._jump_confirm = (sequence + 1) % SEQ_MOD
            return Admission.JUMP
        if extended in self._seen:
            return Admission.DUPLICATE
        self._seen.add(extended)
        ts_step = (timestamp - self._last_ts) % TS_MOD
        if ts_step >= TS_MOD // 2:
            ts_step -= TS_MOD  # a reordered packet from before the newest one
        extended_ts = self._last_ts + ts_step
        if newest:
            self._highest, self._last_ts = extended, extended_ts
            if len(self._seen) > 2 * _SEEN_KEPT:
                floor = extended - _SEEN_KEPT
                self._seen = {seen for seen in self._seen if seen > floor}
        return Admitted(extended, extended_ts, newest)

    def position(self, timestamp: int) -> int:
        """Where an (extended) timestamp falls on the call's timeline, by the current anchor."""
        return (timestamp - self._anchor_ts) * self._ratio + self._offset

    def place(self, admitted: Admitted, wall: int) -> int:
        """The position of an admitted packet arriving at ``wall``, correcting the anchor first."""
        if not admitted.newest:
            return self.position(admitted.timestamp)
        if wall - self._block_start >= self._drift_block:
            self._end_drift_block(wall)
        position = self.position(admitted.timestamp)
        lateness = wall - position
        if lateness > self._late_limit or lateness < -self._early_limit:
            self._anchor_ts, self._offset = admitted.timestamp, wall
            self._block_start, self._block_min = wall, None
            self._beyond.clear()
            self.reanchored += 1
            position, lateness = wall, 0
        if self._block_min is None or lateness < self._block_min:
            self._block_min = lateness
        return position

    def _end_drift_block(self, wall: int) -> None:
        least = self._block_min
        if least is None or abs(least) <= self._drift_tolerance:
            self._beyond.clear()
        elif self._beyond and (least > 0) != (self._beyond[-1] > 0):
            self._beyond = [least]  # it changed sides: jitter, not drift
        else:
            self._beyond.append(least)
            if len(self._beyond) >= DRIFT_BLOCKS_TO_CONFIRM:
                self._offset += min(self._beyond, key=abs)
                self._beyond.clear()
                self.reanchored += 1
        self._block_start, self._block_min = wall, None
