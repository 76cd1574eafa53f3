"""DTMF keys sent as RFC 4733 telephone events: reported once each, kept out of the audio.

Events travel in their own packets, which the timeline never decodes as audio. A sender may
still leak the key's tone into its audio packets (some gateways send both), and a card number
typed on the keypad is exactly what PCI DSS forbids us to keep, so the span of every DTMF event,
plus a short tail for the tone's decay, is also silenced in that stream's audio.

Every packet of an event carries the event's start timestamp and a growing duration; the last,
marked ``end``, is sent three times. An event is reported once, when its first end packet comes,
when the same source starts another event (the end packets were lost), when it has had no update
for a second, or when the call ends.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from callvault.capture.siprec.rtp import DTMF_DIGITS, RTP_CLOCK, TelephoneEvent

_RECENT_ENDED = 32  # ended events kept to ignore their repeated end packets and silence them
_FAR = 1 << 62  # the open end of an event still in progress
_MAX_OPEN = 8  # sources with an event in progress; a stream has one or two in practice


@dataclass(frozen=True)
class DtmfEvent:
    """A key press: ``start_s`` on the call's timeline (seconds from the call's start)."""

    digit: str
    start_s: float
    duration_s: float


@dataclass
class _Tone:
    key: tuple[int, int]  # (SSRC, extended start timestamp): one event
    digit: str
    start: int  # position on the call's timeline, in samples
    ticks: int  # duration so far, in RTP clock ticks
    last_heard: int  # wall-clock position of its latest packet
    end: int = _FAR  # where silencing stops; set when the event ends


class DtmfTracker:
    """Follows one stream's telephone events; ``on_dtmf`` hears each key once, at its end."""

    def __init__(
        self,
        rate: int,
        on_dtmf: Callable[[DtmfEvent], None] | None,
        *,
        timeout: int,
        tail: int,
        plausible: int,
    ) -> None:
        self._rate = rate
        self._ratio = rate // RTP_CLOCK
        self._on_dtmf = on_dtmf
        self._timeout, self._tail, self._plausible = timeout, tail, plausible
        self._open: dict[int, _Tone] = {}  # by SSRC: a source sends one event at a time
        self._ended: deque[_Tone] = deque(maxlen=_RECENT_ENDED)

    def update(
        self, ssrc: int, timestamp: int, event: TelephoneEvent, start: int, wall: int
    ) -> None:
        """Take one event packet: ``start`` is its timestamp's position, ``wall`` its arrival."""
        if event.event >= len(DTMF_DIGITS):
            return  # fax and modem tones (RFC 4734) are not keys: nothing to report or hide
        key = (ssrc, timestamp)
        tone = self._open.get(ssrc)
        if tone is not None and tone.key != key:
            self._close(tone)
            tone = None
        if tone is None:
            if any(ended.key == key for ended in self._ended):
                return  # a repeated end packet
            # If the anchor puts the start far from where this packet's duration says it began,
            # trust the wall clock: the event must not be silenced or reported somewhere else.
            heard_start = wall - event.duration * self._ratio
            if abs(start - heard_start) > self._plausible:
                start = heard_start
            if len(self._open) >= _MAX_OPEN:
                self._close(next(iter(self._open.values())))
            tone = _Tone(key, DTMF_DIGITS[event.event], max(start, 0), 0, wall)
            self._open[ssrc] = tone
        tone.ticks = max(tone.ticks, event.duration)
        tone.last_heard = wall
        if event.end:
            self._close(tone)

    def expire(self, wall: int) -> None:
        """Report events that stopped without an end packet a while before ``wall``."""
        for tone in [t for t in self._open.values() if wall - t.last_heard > self._timeout]:
            self._close(tone)

    def finish(self) -> None:
        """Report every event still open (the call ended during a key press)."""
        for tone in list(self._open.values()):
            self._close(tone)

    def silence(self, audio: npt.NDArray[np.int16], first: int) -> None:
        """Zero the spans of known events in ``audio``, whose first sample is at ``first``."""
        for tone in (*self._ended, *self._open.values()):
            low, high = tone.start - first, tone.end - first
            if high > 0 and low < len(audio):
                audio[max(low, 0) : min(high, len(audio))] = 0

    def _close(self, tone: _Tone) -> None:
        del self._open[tone.key[0]]
        tone.end = tone.start + tone.ticks * self._ratio + self._tail
        self._ended.append(tone)
        if self._on_dtmf is not None:
            self._on_dtmf(DtmfEvent(tone.digit, tone.start / self._rate, tone.ticks / RTP_CLOCK))
