"""SRTP with SDES keys (siprec.srtp): which a=crypto line is honoured, decryption with real
libsrtp at both ends, and whole SRTP calls through the recorder into the vault."""

from __future__ import annotations

import base64
import json
import logging
import time
from collections.abc import Iterator

import pytest
from rtp_packets import rtp
from siprec_calls import FRAME, PARKING, BlockingClient, in_dialog, invite
from sqlalchemy import select
from srtp_calls import (
    CALLEE_KEY,
    CALLER_KEY,
    SrtpSender,
    answered,
    crypto,
    inline,
    savp_sdp,
    stored_audio,
    tampered,
    tone_level,
    tone_payloads,
)

from callvault.bootstrap import Services
from callvault.capture.siprec.server import RecorderThread
from callvault.capture.siprec.srtp import (
    REKEY_GRACE_S,
    SrtpStream,
    lifetime_packets,
    parse_crypto,
    pick_crypto,
    unusable_because,
)
from callvault.catalog.store import recordings
from homes import nothing_stored

SHA1_80, SHA1_32 = "AES_CM_128_HMAC_SHA1_80", "AES_CM_128_HMAC_SHA1_32"
KEY = inline(CALLER_KEY)

# --- which a=crypto line ------------------------------------------------------------------


def test_a_crypto_line_with_lifetime_and_mki() -> None:
    line = parse_crypto(f"5 aes_cm_128_hmac_sha1_32 inline:{KEY}|2^20|1:4 WSH=128")
    assert line is not None
    assert (line.tag, line.suite, line.lifetime, line.mki, line.key_count) == (
        5, SHA1_32, "2^20", "1:4", 1,
    )  # fmt: skip
    assert line.master_key == CALLER_KEY and line.session_params == ("WSH=128",)
    several = parse_crypto(f"1 {SHA1_80} inline:{KEY}|2^20|1:4;inline:{KEY}|2^20|2:4")
    assert several is not None and several.key_count == 2


@pytest.mark.parametrize(
    ("value", "why"),
    [
        (f"1 {SHA1_80} inline:{KEY}", None),
        (f"1 {SHA1_80} inline:{KEY}|2^31", None),
        (f"1 {SHA1_80} inline:{KEY}|1048576", None),
        (f"1 {SHA1_80} inline:{KEY}|2^48 UNENCRYPTED_SRTCP WSH=64", None),
        (f"1 F8_128_HMAC_SHA1_80 inline:{KEY}", "suite F8_128_HMAC_SHA1_80 is not supported"),
        (f"1 {SHA1_80} uri:https://keys.example/1", "the key is not given inline"),
        (f"1 {SHA1_80} inline:!!notbase64!!", "the key is not base64"),
        (f"1 {SHA1_80} inline:{KEY}AAAA", "the key and salt are 33 bytes, not 30"),
        (f"1 {SHA1_80} inline:{KEY}|2^31|1:4", "keys with an MKI are not supported"),
        (f"1 {SHA1_80} inline:{KEY}|2^49", "lifetime 2^49 cannot be honoured"),
        (f"1 {SHA1_80} inline:{KEY}|2^x", "lifetime 2^x cannot be honoured"),
        (f"1 {SHA1_80} inline:{KEY} KDR=10", "session parameter KDR is not supported"),
        (
            f"1 {SHA1_80} inline:{KEY} UNENCRYPTED_SRTP",
            "session parameter UNENCRYPTED_SRTP is not supported",
        ),
        (
            f"1 {SHA1_80} inline:{KEY} FEC_KEY=inline:{KEY}",
            "session parameter FEC_KEY is not supported",
        ),
        (f"1 {SHA1_80} inline:{KEY} WSH=32", "the window size hint (WSH) is not 64-32767"),
    ],
)
def test_what_the_recorder_can_honour(value: str, why: str | None) -> None:
    line = parse_crypto(value)
    assert line is not None
    assert unusable_because(line) == why
    assert KEY not in (why or "")


def test_the_first_usable_line_in_offer_order_is_picked() -> None:
    lines = [
        parse_crypto(f"1 {SHA1_80} inline:{KEY}|2^31|1:4"),
        parse_crypto(f"2 {SHA1_32} inline:{inline(CALLEE_KEY)}"),
        parse_crypto(f"3 {SHA1_80} inline:{KEY}"),
    ]
    chosen, why = pick_crypto([line for line in lines if line is not None])
    assert chosen is not None and (chosen.tag, chosen.master_key, why) == (2, CALLEE_KEY, "")
    assert pick_crypto([]) == (None, "no a=crypto line offered")


def test_lifetimes() -> None:
    assert lifetime_packets(None) == 2**48
    assert lifetime_packets("2^31") == 2**31
    assert lifetime_packets("1000") == 1000
    assert lifetime_packets("2^") is None and lifetime_packets("lots") is None


# --- decryption ---------------------------------------------------------------------------


def srtp_stream(value: str, now: float = 0.0) -> SrtpStream:
    line = parse_crypto(value)
    assert line is not None and unusable_because(line) is None
    stream = SrtpStream()
    stream.use(line, now)
    return stream


@pytest.mark.parametrize(
    ("suite", "length"),
    [(SHA1_80, 30), (SHA1_32, 30), ("AEAD_AES_128_GCM", 28), ("AEAD_AES_256_GCM", 44)],
)
def test_every_supported_suite_decrypts(suite: str, length: int) -> None:
    key = bytes(range(50, 50 + length))
    stream = srtp_stream(f"1 {suite} inline:{inline(key)}")
    sender = SrtpSender(key, 0x1111, suite=suite)
    for payload in tone_payloads(440, 0.1):
        plain = rtp(sender.sequence, sender.sequence * FRAME, 0x1111, payload)
        encrypted = sender.packet(payload)
        assert encrypted[:12] == plain[:12] and payload not in encrypted
        assert stream.open(encrypted, 0.0) == plain
    assert not stream.dropped


def test_tampered_replayed_and_plain_packets_are_dropped_and_counted() -> None:
    stream = srtp_stream(f"1 {SHA1_80} inline:{KEY}")
    sender = SrtpSender(CALLER_KEY, 0x1111)
    payloads = tone_payloads(440, 0.1)
    first = sender.packet(payloads[0])
    assert stream.open(tampered(first), 0.0) is None  # before the real one: it still counts
    assert stream.open(first, 0.0) is not None
    assert stream.open(first, 0.0) is None  # replayed
    assert stream.open(rtp(90, 90 * 160, 0x1111, payloads[1]), 0.0) is None  # in the clear
    assert stream.open(b"\x80\xc8" + bytes(30), 0.0) is None  # RTCP on the RTP port
    assert stream.open(b"\x80", 0.0) is None
    assert stream.dropped == {"authentication": 2, "replay": 1, "rtcp": 1, "malformed": 1}
    # A new SSRC under the same key (an SBC re-anchoring media) is decrypted too.
    assert stream.open(SrtpSender(CALLER_KEY, 0x9999).packet(payloads[2]), 0.0) is not None


def test_a_rekey_switches_keys_and_the_old_one_is_taken_only_briefly() -> None:
    stream = srtp_stream(f"1 {SHA1_80} inline:{KEY}", now=100.0)
    old = SrtpSender(CALLER_KEY, 0x1111)
    new = SrtpSender(CALLEE_KEY, 0x1111)
    payloads = tone_payloads(440, 0.2)
    assert stream.open(old.packet(payloads[0]), 100.0) is not None
    rekey = parse_crypto(f"2 {SHA1_80} inline:{inline(CALLEE_KEY)}")
    assert rekey is not None
    stream.use(rekey, 101.0)
    new.sequence = old.sequence
    assert stream.open(new.packet(payloads[1]), 101.1) is not None
    assert stream.open(old.packet(payloads[2]), 101.2) is not None  # was on its way
    late = 101.0 + REKEY_GRACE_S + 0.1
    assert stream.open(old.packet(payloads[3]), late) is None
    assert stream.open(new.packet(payloads[4]), late) is not None
    assert stream.dropped == {"authentication": 1}


def test_the_same_key_again_keeps_the_session_and_its_replay_window() -> None:
    line = f"1 {SHA1_80} inline:{KEY}|2^31"
    stream = srtp_stream(line)
    sender = SrtpSender(CALLER_KEY, 0x1111)
    packet = sender.packet(tone_payloads(440, 0.02)[0])
    assert stream.open(packet, 0.0) is not None
    again = parse_crypto(line.replace("1 ", "7 ", 1))  # a re-INVITE may renumber the tag
    assert again is not None
    stream.use(again, 1.0)
    assert stream.open(packet, 1.0) is None and stream.dropped == {"replay": 1}


def test_a_window_size_hint_is_honoured() -> None:
    sender = SrtpSender(CALLER_KEY, 0x1111)
    packets = [sender.packet(p) for p in tone_payloads(440, 4.2)]  # 210 packets
    default = srtp_stream(f"1 {SHA1_80} inline:{KEY}")
    wide = srtp_stream(f"1 {SHA1_80} inline:{KEY} WSH=256")
    for stream in (default, wide):
        assert stream.open(packets[-1], 0.0) is not None
    assert default.open(packets[0], 0.0) is None  # 209 behind: outside libsrtp's 128
    assert default.dropped == {"replay": 1}
    assert wide.open(packets[0], 0.0) is not None


def test_a_key_past_its_lifetime_is_no_longer_taken() -> None:
    stream = srtp_stream(f"1 {SHA1_80} inline:{KEY}|3")
    sender = SrtpSender(CALLER_KEY, 0x1111)
    opened = [stream.open(sender.packet(p), 0.0) for p in tone_payloads(440, 0.1)]
    assert [packet is not None for packet in opened] == [True, True, True, False, False]
    assert stream.dropped == {"key-expired": 2}


def test_plain_declined_and_closed_streams() -> None:
    plain = SrtpStream()
    packet = rtp(1, 160, 0x1111, bytes(160))
    assert plain.open(packet, 0.0) == packet  # RTP/AVP: taken as it is
    stream = srtp_stream(f"1 {SHA1_80} inline:{KEY}")
    stream.decline()  # a re-INVITE left this SRTP stream without a usable key
    assert stream.open(packet, 0.0) is None
    assert stream.open(SrtpSender(CALLER_KEY, 0x1111).packet(bytes(160)), 0.0) is None
    assert stream.dropped == {"declined": 2}
    closed = srtp_stream(f"1 {SHA1_80} inline:{KEY}")
    closed.close()
    assert closed.open(packet, 0.0) is None and not closed.encrypted


# --- whole calls through the recorder -----------------------------------------------------


@pytest.fixture
def client(recorder: RecorderThread) -> Iterator[BlockingClient]:
    udp = BlockingClient(recorder.udp_port)
    yield udp
    udp.close()


def wait_for_recording(services: Services, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while services.catalog.count() == 0:
        assert time.monotonic() < deadline, "no recording was committed"
        time.sleep(0.05)


def keys_nowhere(services: Services, caplog: pytest.LogCaptureFixture, keys: list[str]) -> None:
    """No SDES key in the logs, the audit log or the catalogue, in base64 or decoded."""
    with services.engine.connect() as conn:
        rows = [str(row._mapping) for row in conn.execute(select(recordings))]
    audit = json.dumps(services.audit.show(limit=1000), default=str)
    for key in keys:
        for text in (caplog.text, audit, *rows):
            assert key not in text
            assert base64.b64decode(key).hex() not in text


def test_an_srtp_call_is_decrypted_onto_the_right_channels(
    services: Services, client: BlockingClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    offer = savp_sdp(
        [crypto(1, SHA1_80, CALLER_KEY, "|2^31")],
        [crypto(7, "F8_128_HMAC_SHA1_80", CALLER_KEY), crypto(8, SHA1_32, CALLEE_KEY)],
    )
    ok = client.request(invite(client.port, "srtp-1@src", PARKING, sdp=offer))
    assert ok.status == 200
    (caller_port, caller_profile, ours_1), (callee_port, callee_profile, ours_2) = answered(ok)
    assert (caller_profile, callee_profile) == ("RTP/SAVP", "RTP/SAVP")
    assert ours_1[0].startswith(f"1 {SHA1_80} inline:") and len(ours_1) == 1
    assert ours_2[0].startswith(f"8 {SHA1_32} inline:") and len(ours_2) == 1
    our_keys = [line.split("inline:")[1] for line in ours_1 + ours_2]
    assert all(len(base64.b64decode(key)) == 30 for key in our_keys)
    assert inline(CALLER_KEY) not in our_keys and inline(CALLEE_KEY) not in our_keys
    client.sock.sendto(in_dialog("ACK", ok, client.port, 1), client.server)

    caller, callee = SrtpSender(CALLER_KEY, 0x1111), SrtpSender(CALLEE_KEY, 0x2222, suite=SHA1_32)
    rounds = []
    for low, high in zip(tone_payloads(440, 2.0), tone_payloads(1000, 2.0), strict=True):
        genuine = caller.packet(low)
        rounds.append(
            [
                (caller_port, tampered(genuine)),
                (caller_port, genuine),
                (callee_port, callee.packet(high)),
            ]
        )
    client.paced(rounds)
    assert client.request(in_dialog("BYE", ok, client.port, 2)).status == 200
    wait_for_recording(services)

    pcm, rate = stored_audio(services)
    assert tone_level(pcm[0], rate, 440) > 0.8 and tone_level(pcm[1], rate, 1000) > 0.8
    assert tone_level(pcm[0], rate, 1000) < 0.01 and tone_level(pcm[1], rate, 440) < 0.01
    (dropped,) = [r.getMessage() for r in caplog.records if "SRTP stream" in r.getMessage()]
    assert dropped == "SRTP stream caller: packets dropped {'authentication': 100}"
    keys_nowhere(services, caplog, [inline(CALLER_KEY), inline(CALLEE_KEY), *our_keys])


def test_a_rekey_by_re_invite_switches_that_stream_to_the_new_key(
    services: Services, client: BlockingClient
) -> None:
    new_key = bytes(range(200, 230))
    offer = savp_sdp([crypto(1, SHA1_80, CALLER_KEY)], [crypto(1, SHA1_80, CALLEE_KEY)])
    ok = client.request(invite(client.port, "srtp-rekey@src", PARKING, sdp=offer))
    first = answered(ok)
    ports = [port for port, _, _ in first]
    client.sock.sendto(in_dialog("ACK", ok, client.port, 1), client.server)
    caller, callee = SrtpSender(CALLER_KEY, 0x1111), SrtpSender(CALLEE_KEY, 0x2222)
    low, high = tone_payloads(440, 2.0), tone_payloads(1000, 2.0)

    def send(start: int, stop: int) -> None:
        client.paced(
            [
                [(ports[0], caller.packet(low[i])), (ports[1], callee.packet(high[i]))]
                for i in range(start, stop)
            ]
        )

    send(0, 50)
    reoffer = savp_sdp([crypto(2, SHA1_80, new_key)], [crypto(1, SHA1_80, CALLEE_KEY)])
    body = reoffer.replace("192.0.2.10", "127.0.0.1").encode()
    again = client.request(in_dialog("INVITE", ok, client.port, 2, body))
    assert again.status == 200
    client.sock.sendto(in_dialog("ACK", again, client.port, 2), client.server)
    second = answered(again)
    assert [port for port, _, _ in second] == ports
    assert second[0][2][0].startswith("2 ") and second[1][2] == first[1][2]  # our key is kept
    # From here the caller's stream is under the new key only: the tail of the recording
    # is silent unless the recorder switched.
    rekeyed = SrtpSender(new_key, 0x1111)
    rekeyed.sequence, caller = caller.sequence, rekeyed
    send(50, 100)
    assert client.request(in_dialog("BYE", ok, client.port, 3)).status == 200
    wait_for_recording(services)

    pcm, rate = stored_audio(services)
    tail = pcm[:, -rate:]  # the last second: under the new key on the caller's stream
    assert tone_level(tail[0], rate, 440) > 0.8 and tone_level(tail[1], rate, 1000) > 0.8


def test_only_unsupported_suites_take_no_media_and_store_nothing(
    services: Services, client: BlockingClient
) -> None:
    unsupported = [
        crypto(1, "F8_128_HMAC_SHA1_80", CALLER_KEY),
        crypto(2, SHA1_80, CALLER_KEY, "|2^31|1:4"),
    ]
    offer = savp_sdp(unsupported, unsupported)
    refused = client.request(invite(client.port, "srtp-none@src", PARKING, sdp=offer))
    assert (refused.status, refused.reason) == (488, "No Audio Stream Accepted")
    assert services.catalog.count() == 0 and nothing_stored(services)


def test_a_declined_srtp_stream_and_plain_rtp_are_never_stored(
    services: Services, client: BlockingClient
) -> None:
    offer = savp_sdp(
        [crypto(1, "F8_128_HMAC_SHA1_80", CALLER_KEY)], [crypto(1, SHA1_80, CALLEE_KEY)]
    )
    ok = client.request(invite(client.port, "srtp-half@src", PARKING, sdp=offer))
    (caller_port, caller_profile, caller_crypto), (callee_port, _, _) = answered(ok)
    assert (caller_port, caller_profile, caller_crypto) == (0, "RTP/SAVP", [])
    client.sock.sendto(in_dialog("ACK", ok, client.port, 1), client.server)
    callee = SrtpSender(CALLEE_KEY, 0x2222)
    rounds = [
        # The caller's tone in the clear to the SRTP port, and the callee's tone encrypted.
        [
            (callee_port, rtp(5000 + i, 160 * (5000 + i), 0x1111, low)),
            (callee_port, callee.packet(high)),
        ]
        for i, (low, high) in enumerate(
            zip(tone_payloads(440, 2.0), tone_payloads(1000, 2.0), strict=True)
        )
    ]
    client.paced(rounds)
    assert client.request(in_dialog("BYE", ok, client.port, 2)).status == 200
    wait_for_recording(services)

    pcm, rate = stored_audio(services)
    assert tone_level(pcm[0], rate, 1000) > 0.8  # the one stream taken is channel 0
    assert tone_level(pcm[0], rate, 440) < 0.01 and tone_level(pcm[1], rate, 440) < 0.01
