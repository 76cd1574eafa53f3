"""Hostile and chaotic RTP into the timeline: it never raises, never grows, never loses time."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rtp_packets import event_payload, rtp

from callvault.capture.siprec.rtp import payload_types
from callvault.capture.siprec.timeline import MAX_QUEUED, CallTimeline, PacketFate

START = 50.0
TYPES = payload_types({101: ("telephone-event", 8000)})

packets = st.builds(
    lambda seq, ts, ssrc, pt, payload, marker: rtp(
        seq, ts, ssrc, payload, payload_type=pt, marker=marker
    ),
    st.one_of(st.integers(0, 0xFFFF), st.sampled_from([0, 1, 2, 0xFFFE, 0xFFFF, 32768])),
    st.one_of(st.integers(0, 0xFFFFFFFF), st.sampled_from([0, 160, 320, 0xFFFFFF60])),
    st.sampled_from([1, 2, 3, 0xFFFFFFFF]),
    st.sampled_from([0, 8, 9, 13, 101, 96, 127]),
    st.one_of(
        st.binary(max_size=400),
        st.builds(
            lambda e, end, d: event_payload(e, end=end, duration=d),
            st.integers(0, 255),
            st.booleans(),
            st.integers(0, 0xFFFF),
        ),
    ),
    st.booleans(),
)
datagrams = st.one_of(packets, st.binary(max_size=100))
steps = st.lists(
    st.tuples(
        st.integers(0, 1),  # channel
        st.floats(0, 3.0),  # seconds since the previous step (a long gap now and then)
        datagrams,
        st.sampled_from(["feed", "feed", "feed", "pull", "pause", "resume"]),
    ),
    max_size=120,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps, st.sampled_from([8000, 16000]), st.floats(0, 5.0))
def test_any_traffic_is_absorbed(
    script: list[tuple[int, float, bytes, str]], rate: int, tail: float
) -> None:
    call = CallTimeline(START, rate, [TYPES, TYPES], on_dtmf=lambda _channel, _event: None)
    now = START
    total = 0
    for channel, gap, datagram, action in script:
        now += gap
        if action == "feed":
            assert isinstance(call.feed(channel, now, datagram), PacketFate)
        elif action == "pull":
            total += sum(len(chunk) for chunk in call.drain(now))
        elif action == "pause":
            call.pause(now)
        else:
            call.resume(now)
        # Bounded memory: the window's packets only, never the call.
        assert all(stream.queued <= MAX_QUEUED for stream in call.streams)
        assert all(
            stream.audio_end <= call.clock.sample_at(now) + 2 * rate for stream in call.streams
        )
    end = now + tail
    chunks = list(call.finish(end))
    total += sum(len(chunk) for chunk in chunks)
    assert all(chunk.dtype == np.int16 and chunk.shape[1] == 2 for chunk in chunks)
    assert all(len(chunk) <= rate for chunk in chunks)
    # The recording is as long as the call on the wall clock (audio may run past by a packet).
    assert call.clock.sample_at(end) <= total == call.emitted
    assert total <= call.clock.sample_at(end) + 2 * rate
    assert all(stream.queued == 0 for stream in call.streams)
    for span in call.pauses:
        assert span.end_s is not None and span.start_s <= span.end_s


@settings(max_examples=100, deadline=None)
@given(st.permutations(range(60)), st.lists(st.integers(0, 59), max_size=20))
def test_any_order_within_the_window_gives_the_same_audio(
    order: list[int], repeats: list[int]
) -> None:
    # 60 packets of distinct noise all arrive within 80 ms of when they were due, in any order.
    rng = np.random.default_rng(1)
    payloads = [rng.integers(0, 256, 160, dtype=np.uint8).tobytes() for _ in range(60)]
    due = [START + 0.02 * k for k in range(60)]
    reference = CallTimeline(START, 8000, [TYPES])
    for k in range(60):
        reference.feed(0, due[k], rtp(100 + k, 5000 + 160 * k, 7, payloads[k]))
    expected = np.concatenate(list(reference.finish(START + 1.3)))

    call = CallTimeline(START, 8000, [TYPES])
    # Packet 0 anchors the stream on time; the rest are shuffled within the 80 ms after it was due.
    call.feed(0, due[0], rtp(100, 5000, 7, payloads[0]))
    arrivals = sorted(
        (due[k] + 0.08 * (position / 60), k) for position, k in enumerate(order) if k
    ) + [(due[k] + 0.09, k) for k in repeats]
    for arrival, k in sorted(arrivals):
        call.feed(0, arrival, rtp(100 + k, 5000 + 160 * k, 7, payloads[k]))
    assert np.array_equal(np.concatenate(list(call.finish(START + 1.3))), expected)
