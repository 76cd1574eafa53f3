"""Audio placed in time: jitter, loss, wraparound, SSRC changes, DTX, hold, drift, DTMF, pauses."""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping

import numpy as np
import pytest
from rtp_packets import (
    CN,
    G722,
    PCMA,
    Arrival,
    Int16Array,
    Talker,
    alaw,
    dominant_hz,
    first_loud,
    rtp,
    silence,
    tone,
)

from callvault.capture.siprec.decoding import call_rate, decoder_for, upsample_2x
from callvault.capture.siprec.dtmf import DtmfEvent
from callvault.capture.siprec.rtp import PayloadKind, payload_types
from callvault.capture.siprec.timeline import CallTimeline, PacketFate, PausedSpan
from callvault.media.g711 import ALAW_DECODE, ULAW_DECODE, alaw_encode, ulaw_encode
from callvault.media.g722 import G722Decoder, G722Encoder

START = 1000.0  # the call's start on the receiver's monotonic clock
TYPES = payload_types({101: ("telephone-event", 8000)})
RATE = 8000


def new_call(
    streams: int = 2,
    rate: int = RATE,
    types: Mapping[int, PayloadKind] = TYPES,
    dtmf: list[tuple[int, DtmfEvent]] | None = None,
) -> CallTimeline:
    on_dtmf = None if dtmf is None else (lambda channel, event: dtmf.append((channel, event)))
    return CallTimeline(START, rate, [types] * streams, on_dtmf=on_dtmf)


def record(
    call: CallTimeline,
    channels: Iterable[Iterable[Arrival]],
    end: float,
    *,
    pause_at: float | None = None,
    resume_at: float | None = None,
) -> Int16Array:
    """Feed every packet in arrival order, pulling every 100 ms as the server's timer would."""
    feeds = sorted(
        (arrival, channel, datagram)
        for channel, arrivals in enumerate(channels)
        for arrival, datagram in arrivals
    )
    actions = [(arrival, "feed", channel, datagram) for arrival, channel, datagram in feeds]
    actions += [(START + k * 0.1, "pull", 0, b"") for k in range(1, int((end - START) * 10) + 1)]
    if pause_at is not None:
        actions.append((pause_at, "pause", 0, b""))
    if resume_at is not None:
        actions.append((resume_at, "resume", 0, b""))
    chunks: list[Int16Array] = []
    for when, action, channel, datagram in sorted(actions, key=lambda a: (a[0], a[1] != "feed")):
        if action == "feed":
            call.feed(channel, when, datagram)
        elif action == "pull":
            chunks.extend(call.drain(when))
        elif action == "pause":
            call.pause(when)
        else:
            call.resume(when)
    chunks.extend(call.finish(end))
    assert all(len(chunk) <= call.rate for chunk in chunks)  # 1 s chunks at most
    return np.concatenate(chunks)


def at(seconds: float, rate: int = RATE) -> int:
    return round(seconds * rate)


def ulaw_round_trip(pcm: Int16Array) -> Int16Array:
    return ULAW_DECODE[ulaw_encode(pcm)]


def test_steady_packets_land_where_they_arrived() -> None:
    audio = tone(440, 3.0)
    out = record(new_call(1), [Talker().send(audio, START + 0.5)], end=START + 4.0)
    assert out.shape == (at(4.0), 1)
    assert not out[: at(0.5), 0].any()
    assert np.array_equal(out[at(0.5) : at(3.5), 0], ulaw_round_trip(audio))
    assert not out[at(3.5) :, 0].any()


def test_reordering_and_duplicates_change_nothing() -> None:
    audio = tone(523, 4.0)
    clean = Talker().send(audio, START + 0.2)
    rng = random.Random(7)
    # Up to 60 ms of jitter (the first packet meets none), and one packet in ten sent twice.
    jittered = [clean[0]] + [(t + rng.uniform(0, 0.06), d) for t, d in clean[1:]]
    jittered += [(t + rng.uniform(0, 0.05), d) for t, d in rng.sample(jittered, len(clean) // 10)]
    call = new_call(1)
    out = record(call, [jittered], end=START + 5.0)
    assert np.array_equal(out, record(new_call(1), [clean], end=START + 5.0))
    fates = call.streams[0].fates
    assert fates[PacketFate.DUPLICATE] == len(clean) // 10
    assert fates[PacketFate.AUDIO] == len(clean)
    assert fates[PacketFate.LATE] == 0


def test_sequence_and_timestamp_wraparound() -> None:
    audio = tone(700, 5.0)
    talker = Talker(sequence=0xFFFF - 100, timestamp=0xFFFFFFFF - 8000 * 2)
    out = record(new_call(1), [talker.send(audio, START)], end=START + 5.0)
    assert talker.sequence > 0xFFFF and talker.timestamp > 0xFFFFFFFF  # both wrapped
    assert np.array_equal(out[:, 0], ulaw_round_trip(audio))


def test_a_new_ssrc_is_anchored_at_its_first_packet() -> None:
    audio = tone(600, 6.0)
    first = Talker(ssrc=1, sequence=40000, timestamp=123_456).send(audio[: at(3.0)], START)
    # The SBC re-anchors media: new SSRC, unrelated sequence and timestamp.
    second = Talker(ssrc=2, sequence=7, timestamp=3_999_000_000).send(audio[at(3.0) :], START + 3.0)
    out = record(new_call(1), [first + second], end=START + 6.0)
    assert np.array_equal(out[:, 0], ulaw_round_trip(audio))


def test_comfort_noise_then_two_seconds_of_dtx_is_silence_of_that_length() -> None:
    talker = Talker()
    packets = talker.send(tone(440, 2.0), START)
    packets.append((START + 2.0, talker.packet(b"\x40", payload_type=CN)))  # RFC 3389 level
    talker.skip(2.0 - 0.02)  # silence suppressed: the timestamp runs on, nothing is sent
    packets += talker.send(tone(880, 1.0), START + 4.0)
    call = new_call(1)
    out = record(call, [packets], end=START + 5.0)[:, 0]
    assert len(out) == at(5.0)
    assert np.array_equal(out[: at(2.0)], ulaw_round_trip(tone(440, 2.0)))
    assert not out[at(2.0) : at(4.0)].any()
    assert np.array_equal(out[at(4.0) :], ulaw_round_trip(tone(880, 1.0)))
    assert call.streams[0].fates[PacketFate.COMFORT_NOISE] == 1


@pytest.mark.parametrize("timestamps_run_on_hold", [True, False])
def test_hold_keeps_the_wall_clock(timestamps_run_on_hold: bool) -> None:
    talker = Talker()
    packets = talker.send(tone(440, 3.0), START)
    if timestamps_run_on_hold:
        talker.skip(5.0)
    # Some senders resume after hold as if no time had passed: the wall clock must win.
    packets += talker.send(tone(880, 3.0), START + 8.0)
    out = record(new_call(1), [packets], end=START + 11.2)[:, 0]
    assert abs(len(out) / RATE - 11.2) <= 11.2 * 0.01
    assert abs(first_loud(out[at(3.5) :], RATE) + 3.5 - 8.0) <= 0.002
    assert dominant_hz(out[at(8.0) : at(11.0)], RATE) == pytest.approx(880, abs=2)
    assert not out[at(3.0) : at(8.0)].any()


def test_two_streams_stay_aligned_through_hold_jitter_and_ssrc_change() -> None:
    rng = random.Random(3)

    def jitter(arrivals: list[Arrival]) -> list[Arrival]:
        return [arrivals[0]] + [(t + rng.uniform(0, 0.04), d) for t, d in arrivals[1:]]

    # Channel A: silence, then a 1 kHz tone from t = 3 s.
    a = Talker(ssrc=10)
    channel_a = jitter(a.send(np.concatenate([silence(3.0), tone(1000, 3.0)]), START))
    # Channel B: a 400 Hz tone, on hold from 1 s to 2 s, back on a new SSRC.
    b = Talker(ssrc=20)
    channel_b = jitter(b.send(tone(400, 1.0), START + 0.01))
    channel_b += jitter(Talker(ssrc=21, sequence=5).send(tone(400, 4.0), START + 2.0))
    out = record(new_call(2), [channel_a, channel_b], end=START + 6.0)
    assert len(out) == at(6.0)
    assert abs(first_loud(out[:, 0], RATE) - 3.0) <= 0.002
    assert dominant_hz(out[at(3.0) : at(4.0), 0], RATE) == pytest.approx(1000, abs=2)
    assert dominant_hz(out[at(3.0) : at(4.0), 1], RATE) == pytest.approx(400, abs=2)
    assert not out[at(1.05) : at(2.0), 1].any()
    assert abs(first_loud(out[at(1.5) :, 1], RATE) + 1.5 - 2.0) <= 0.002


def test_a_slow_sender_clock_stays_on_the_wall_clock() -> None:
    drift = 300e-6  # the sender's 20 ms is 20.006 ms of ours: 36 ms over two minutes
    talker = Talker()
    audio = np.concatenate([silence(119.0), tone(1000, 1.0)])
    packets = [(START + (t - START) * (1 + drift), d) for t, d in talker.send(audio, START)]
    call = new_call(1)
    out = record(call, [packets], end=START + 121.0)[:, 0]
    assert call.streams[0].fates[PacketFate.LATE] == 0
    assert abs(first_loud(out, RATE) - 119.0 * (1 + drift)) <= 0.015


def test_packets_held_back_for_a_few_seconds_do_not_move_the_audio() -> None:
    """A loaded host or a congested link delays every packet for 3 s (a whole drift block)
    by 60 ms, then catches up: within the jitter window that is jitter, not drift, and the
    tone stays whole."""
    talker = Talker()
    packets = [
        (t + (0.06 if START + 1.5 <= t < START + 4.5 else 0.0), d)
        for t, d in talker.send(tone(1000, 6.0), START)
    ]
    call = new_call(1)
    out = record(call, [packets], end=START + 6.0)[:, 0]
    assert call.streams[0].reanchored == 0
    levels = [np.abs(out[at(s) : at(s) + 160]).max() for s in np.arange(0.1, 5.9, 0.02)]
    assert min(levels) > 0.5 * max(levels)  # no 20 ms of the tone is missing


def test_dtmf_is_reported_once_and_never_recorded() -> None:
    events: list[tuple[int, DtmfEvent]] = []
    talker = Talker()
    packets = talker.send(tone(440, 1.0), START)
    # The key '5' at 1.0 s for 200 ms; this gateway also leaks the tone into its audio.
    keyed = talker.key(5, START + 1.0)
    talker.timestamp -= 1600  # the leaked audio shares the event's timestamps
    leaked = talker.send(tone(770, 0.2) // 2 + tone(1336, 0.2) // 2, START + 1.0)
    packets += keyed + leaked + talker.send(tone(440, 1.0), START + 1.2)
    call = new_call(1, dtmf=events)
    out = record(call, [packets], end=START + 2.5)[:, 0]
    assert [(c, e.digit) for c, e in events] == [(0, "5")]
    assert events[0][1].start_s == pytest.approx(1.0, abs=0.001)
    assert events[0][1].duration_s == pytest.approx(0.2)
    assert not out[at(1.0) : at(1.25)].any()  # the key and its decay are silence
    assert out[at(0.9) : at(1.0)].any() and out[at(1.25) : at(2.2)].any()
    assert call.streams[0].fates[PacketFate.EVENT] == len(keyed)


def test_dtmf_without_its_end_packets_is_reported_when_it_goes_quiet() -> None:
    events: list[tuple[int, DtmfEvent]] = []
    talker = Talker()
    packets = [p for p in talker.key(9, START + 0.5) if not (p[1][13] & 0x80)]  # ends lost
    record(new_call(1, dtmf=events), [packets], end=START + 3.0)
    assert [e.digit for _, e in events] == ["9"]
    assert events[0][1].start_s == pytest.approx(0.5, abs=0.001)


def test_pause_silences_both_channels_and_keeps_the_bounds() -> None:
    a = Talker(ssrc=1).send(tone(500, 6.0), START)
    b = Talker(ssrc=2).send(tone(900, 6.0), START)
    unpaused = record(new_call(2), [a, b], end=START + 6.0)
    call = new_call(2)
    assert not call.paused
    out = record(call, [a, b], end=START + 6.0, pause_at=START + 2.0, resume_at=START + 4.0)
    assert not out[at(2.0) : at(4.0)].any()
    assert np.array_equal(out[: at(2.0)], unpaused[: at(2.0)])
    assert np.array_equal(out[at(4.0) :], unpaused[at(4.0) :])
    assert unpaused[at(2.0) : at(4.0)].any(axis=0).all()
    assert call.pauses == (PausedSpan(2.0, 4.0),)


def test_a_pause_open_at_the_end_closes_there_and_cannot_reach_back() -> None:
    call = new_call(2)
    feeds = Talker().send(tone(500, 3.0), START)
    for arrival, datagram in feeds:
        call.feed(0, arrival, datagram)
    settled = list(call.drain(START + 3.0))
    assert sum(len(c) for c in settled) == at(2.9)
    call.pause(START + 1.0)  # already handed out: the pause starts where the audio ends
    assert call.paused
    rest = list(call.finish(START + 3.0))
    assert call.pauses == (PausedSpan(2.9, 3.0),)
    assert not np.concatenate(rest).any()


def test_g722_round_trip_in_a_wideband_call() -> None:
    rate = call_rate([PayloadKind.G722, PayloadKind.PCMA])
    assert rate == 16000
    wide = tone(1000, 3.0, rate=16000)
    encoder = G722Encoder()
    g722 = Talker(ssrc=1, payload_type=G722, encode=encoder.encode, samples_per_packet=320)
    narrow = tone(400, 3.0)
    pcma = Talker(ssrc=2, payload_type=PCMA, encode=alaw)
    call = CallTimeline(START, rate, [TYPES, TYPES])
    out = record(call, [g722.send(wide, START), pcma.send(narrow, START)], end=START + 3.0)
    assert out.shape == (at(3.0, 16000), 2)
    reference = G722Decoder().decode(G722Encoder().encode(wide))
    assert np.array_equal(out[:, 0], reference)
    assert dominant_hz(out[:, 0], 16000) == pytest.approx(1000, abs=1)
    assert np.array_equal(out[:320, 1], upsample_2x(ALAW_DECODE[alaw_encode(narrow[:160])]))
    assert dominant_hz(out[:, 1], 16000) == pytest.approx(400, abs=1)


def test_g722_in_a_narrowband_call_is_decoded_at_8_khz() -> None:
    wide = tone(700, 2.0, rate=16000)
    g722 = Talker(payload_type=G722, encode=G722Encoder().encode, samples_per_packet=320)
    out = record(new_call(1), [g722.send(wide, START)], end=START + 2.0)[:, 0]
    assert len(out) == at(2.0)
    assert dominant_hz(out, RATE) == pytest.approx(700, abs=1)


def test_decoders_refuse_what_they_cannot_make() -> None:
    with pytest.raises(ValueError, match="8000 or 16000"):
        G722Decoder(44100)
    with pytest.raises(ValueError, match="not audio"):
        decoder_for(PayloadKind.TELEPHONE_EVENT, RATE)
    with pytest.raises(ValueError, match="8000 or 16000"):
        CallTimeline(START, 48000, [TYPES])


def test_upsampling_interpolates_and_holds_the_last_sample() -> None:
    samples = np.array([0, 100, -100, 50], dtype=np.int16)
    assert upsample_2x(samples).tolist() == [0, 50, 100, 0, -100, -25, 50, 50]
    assert len(upsample_2x(np.zeros(0, dtype=np.int16))) == 0


def test_garbage_and_unknown_payloads_leave_the_audio_alone() -> None:
    audio = tone(440, 1.0)
    packets = Talker().send(audio, START)
    junk: list[Arrival] = [
        (START + 0.101, b""),
        (START + 0.201, b"\x00\x01\x00\x00!\x12\xa4B" + bytes(12)),  # STUN
        (START + 0.301, bytes([0x80, 200]) + bytes(26)),  # RTCP sender report
        (START + 0.401, b"\x9f" + bytes(30)),  # CSRCs that are not there
        (START + 0.501, rtp(1, 2, 3, b"\x00" * 160, payload_type=96)),  # not in the SDP
        (START + 0.601, rtp(1, 2, 3, b"\x00" * 3, payload_type=101)),  # broken event
        (START + 0.701, rtp(9, 9, 9, b"\x00" * 64_000)),  # 8 s in one packet
    ]
    call = new_call(1)
    out = record(call, [packets + junk], end=START + 1.0)
    assert np.array_equal(out[:, 0], ulaw_round_trip(audio))
    fates = call.streams[0].fates
    assert fates[PacketFate.MALFORMED] == 5
    assert fates[PacketFate.UNKNOWN_PAYLOAD] == 1
    assert fates[PacketFate.OUT_OF_RANGE] == 1


def test_a_sequence_jump_is_believed_once_confirmed() -> None:
    talker = Talker()
    packets = talker.send(tone(440, 1.0), START)
    talker.sequence += 20000  # the sender restarted its sequence numbers, same SSRC
    packets += talker.send(tone(440, 1.0), START + 1.0)
    call = new_call(1)
    out = record(call, [packets], end=START + 2.0)[:, 0]
    assert call.streams[0].fates[PacketFate.OUT_OF_RANGE] == 1  # the first, until confirmed
    assert not out[at(1.0) : at(1.02)].any()
    assert np.array_equal(out[at(1.02) :], ulaw_round_trip(tone(440, 1.0))[at(0.02) :])


def test_a_pull_after_a_stall_comes_in_bounded_chunks() -> None:
    call = new_call(2)
    for arrival, datagram in Talker().send(tone(440, 10.0), START):
        call.feed(0, arrival, datagram)
    chunks = list(call.drain(START + 10.0))
    assert [len(c) for c in chunks] == [RATE] * 9 + [at(0.9)]
    assert call.streams[0].queued == 5  # the last 100 ms wait in the jitter window
    assert call.pull(START + 10.0).shape == (0, 2)
    assert call.feed(0, START + 10.0, b"\x80") is PacketFate.MALFORMED
    list(call.finish(START + 10.0))
    assert call.feed(0, START + 10.0, Talker().packet(b"\xff")) is PacketFate.FINISHED
