"""The recorder end to end over real sockets on 127.0.0.1: SIP over UDP and TCP, RTP in, a
recording in the vault at BYE; a call the policy does not cover takes no media."""

from __future__ import annotations

import asyncio
import io
import math
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
from rtp_packets import rtp
from sip_offers import SDP_TWO_STREAMS, sip
from siprec_calls import FRAME, PARKING, PCMU, RATE, STAFF_EXTENSION, in_dialog, invite
from sqlalchemy import select

from callvault.bootstrap import Services
from callvault.capture.siprec.sdp import parse_sdp
from callvault.capture.siprec.server import SiprecServer
from callvault.capture.siprec.sipmsg import SipRequest, SipResponse, make_response, parse_message
from callvault.catalog.store import recordings
from callvault.media.decode import open_audio
from callvault.media.g711 import alaw_encode, ulaw_encode
from homes import nothing_stored


@contextmanager
def running(
    services: Services, t1: float = 0.5
) -> Iterator[tuple[SiprecServer, asyncio.AbstractEventLoop]]:
    loop = asyncio.new_event_loop()
    server = SiprecServer(services, host="127.0.0.1", port=0, rtp_ports=(41000, 41998), t1=t1)
    loop.run_until_complete(server.start())
    try:
        yield server, loop
    finally:
        loop.run_until_complete(server.close())
        loop.close()


class Client:
    """A recording client over UDP, driven step by step from the test (bounded waits)."""

    def __init__(self, server: SiprecServer, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.setblocking(False)
        self.port = self.sock.getsockname()[1]
        self.server = ("127.0.0.1", server.endpoint.udp_port)

    def send(self, data: bytes, to: tuple[str, int] | None = None) -> None:
        self.sock.sendto(data, to or self.server)

    def final(self, timeout: float = 5.0) -> SipResponse:
        """Run the server until a final response (>= 200) arrives."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.loop.run_until_complete(asyncio.sleep(0.01))
            try:
                data = self.sock.recv(65535)
            except BlockingIOError:
                continue
            message = parse_message(data)
            if isinstance(message, SipResponse) and message.status >= 200:
                return message
        raise AssertionError("no final response")

    def next_request(self, timeout: float = 5.0) -> SipRequest:
        """Run the server until a request of its own arrives (a BYE)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.loop.run_until_complete(asyncio.sleep(0.01))
            try:
                message = parse_message(self.sock.recv(65535))
            except BlockingIOError:
                continue
            if isinstance(message, SipRequest):
                return message
        raise AssertionError("no request from the recorder")

    def idle(self, seconds: float) -> None:
        self.loop.run_until_complete(asyncio.sleep(seconds))


PCMA = 8


def channel_levels(services: Services) -> tuple[float, float]:
    """The RMS of each channel of the one stored recording (decoded to floats in [-1, 1])."""
    with services.engine.connect() as conn:
        recording = conn.execute(select(recordings)).one()
    key = services.vault.unwrap_key(services.catalog.wrapped_key(recording.id), recording.id)
    with open_audio(io.BytesIO(services.vault.read_all(recording.blob_name, key))) as reader:
        pcm = np.concatenate([f.to_ndarray() for f in reader.frames()], axis=1).astype(float)
    caller, called = np.sqrt((pcm**2).mean(axis=1))
    return float(caller), float(called)


def answered_ports(ok: SipResponse) -> list[int]:
    return [m.port for m in parse_sdp(ok.body).media]


def send_audio(
    client: Client, ports: list[int], seconds: float, first: int = 0, *, pcma: bool = False
) -> int:
    """``seconds`` of 20 ms packets to both streams, paced by the wall clock; next sequence.
    The caller sends a 440 Hz tone, the other party silence; PCMU, or PCMA with ``pcma``."""
    encode, payload_type = (alaw_encode, PCMA) if pcma else (ulaw_encode, PCMU)
    tone = np.sin(2 * np.pi * 440 * np.arange(int(RATE * seconds)) / RATE) * 8000
    caller_audio = encode(tone.astype(np.int16)).tobytes()
    silence = encode(np.zeros(FRAME, dtype=np.int16)).tobytes()
    started = time.monotonic()
    packets = int(seconds / 0.02)
    for step in range(packets):
        n = first + step
        payload = caller_audio[step * FRAME : (step + 1) * FRAME]
        client.send(
            rtp(n, n * FRAME, 0x1111, payload, payload_type=payload_type), ("127.0.0.1", ports[0])
        )
        client.send(
            rtp(n, n * FRAME, 0x2222, silence, payload_type=payload_type), ("127.0.0.1", ports[1])
        )
        client.idle(max(0.0, started + (step + 1) * 0.02 - time.monotonic()))
    return first + packets


def test_a_covered_call_is_recorded_with_its_audio_on_the_right_channel(
    services: Services,
) -> None:
    with running(services) as (server, loop):
        client = Client(server, loop)
        client.send(invite(client.port, "rec-1@src", PARKING))
        ok = client.final()
        assert ok.status == 200
        caller_port, called_port = answered_ports(ok)
        assert caller_port and called_port
        client.send(in_dialog("ACK", ok, client.port, 1))
        seconds = 3.0
        send_audio(client, [caller_port, called_port], seconds)
        client.send(in_dialog("BYE", ok, client.port, 2))
        assert client.final().status == 200
        client.idle(1.0)  # the commit runs after the 200
    with services.engine.connect() as conn:
        rows = conn.execute(select(recordings)).all()
    assert len(rows) == 1
    recording = rows[0]
    assert recording.line == "parking" and recording.caller == "+442079460123"
    assert math.isclose(recording.duration_s, seconds, rel_tol=0.02)
    key = services.vault.unwrap_key(services.catalog.wrapped_key(recording.id), recording.id)
    with open_audio(io.BytesIO(services.vault.read_all(recording.blob_name, key))) as reader:
        pcm = np.concatenate([f.to_ndarray() for f in reader.frames()], axis=1).astype(float)
    caller_rms, called_rms = np.sqrt((pcm**2).mean(axis=1))
    assert caller_rms > 0.05 and called_rms < caller_rms / 100  # decoded to floats in [-1, 1]


def test_a_call_the_policy_does_not_cover_gets_no_media(services: Services) -> None:
    with running(services) as (server, loop):
        client = Client(server, loop)
        client.send(invite(client.port, "staff-1@src", STAFF_EXTENSION))
        ok = client.final()
        assert ok.status == 200 and answered_ports(ok) == [0, 0]
        client.send(in_dialog("ACK", ok, client.port, 1))
        client.send(in_dialog("BYE", ok, client.port, 2))
        assert client.final().status == 200  # a declined dialog ends like any other
        assert server.handler.sessions == 0
    assert nothing_stored(services) and services.catalog.count() == 0
    decided = services.audit.show(limit=10)[-1]
    assert decided["action"] == "call.not_recorded"
    assert decided["details"]["rule"].startswith("exclusion:")


def test_options_is_answered(services: Services) -> None:
    with running(services) as (server, loop):
        client = Client(server, loop)
        ping = sip(
            "OPTIONS sip:recorder@127.0.0.1 SIP/2.0",
            f"""Via: SIP/2.0/UDP 127.0.0.1:{client.port};branch=z9hG4bKping1
Max-Forwards: 70
To: <sip:recorder@127.0.0.1>
From: <sip:src@127.0.0.1>;tag=p1
Call-ID: ping-1
CSeq: 1 OPTIONS""",
        )
        client.send(ping)
        answer = client.final()
        assert answer.status == 200 and "siprec" in (answer.headers.get("Supported") or "")


def test_a_hold_keeps_the_ports_and_the_recording_keeps_the_wall_clock(
    services: Services,
) -> None:
    sdp = SDP_TWO_STREAMS.replace("192.0.2.10", "127.0.0.1")
    with running(services) as (server, loop):
        client = Client(server, loop)
        client.send(invite(client.port, "hold-1@src", PARKING))
        ok = client.final()
        answered_at = time.monotonic()
        ports = answered_ports(ok)
        client.send(in_dialog("ACK", ok, client.port, 1))
        after = send_audio(client, ports, 1.0)
        client.send(
            in_dialog("INVITE", ok, client.port, 2, sdp.replace("sendonly", "inactive").encode())
        )
        held = client.final()
        assert held.status == 200 and answered_ports(held) == ports
        client.send(in_dialog("ACK", held, client.port, 2))
        client.idle(1.5)  # on hold: nothing is sent
        client.send(in_dialog("INVITE", ok, client.port, 3, sdp.encode()))
        resumed = client.final()
        assert resumed.status == 200 and answered_ports(resumed) == ports
        client.send(in_dialog("ACK", resumed, client.port, 3))
        send_audio(client, ports, 1.0, first=after)
        call_s = time.monotonic() - answered_at
        client.send(in_dialog("BYE", ok, client.port, 4))
        assert client.final().status == 200
        client.idle(1.0)
    with services.engine.connect() as conn:
        (duration,) = conn.execute(select(recordings.c.duration_s)).scalars().all()
    # The hold is silence in its place: the recording is as long as the call on the clock.
    assert call_s - 0.15 <= duration <= call_s + 0.3, (duration, call_s)


TIMER = "Supported: timer\nSession-Expires: 90;refresher=uac"


def test_a_session_timer_is_agreed_with_the_client_refreshing(services: Services) -> None:
    with running(services) as (server, loop):
        client = Client(server, loop)
        client.send(invite(client.port, "timer-1@src", PARKING, extra_headers=TIMER))
        ok = client.final()
        assert ok.status == 200
        assert ok.headers.get("Session-Expires") == "90;refresher=uac"
        assert "timer" in ok.headers.option_tags("Require")
        client.send(in_dialog("ACK", ok, client.port, 1))
        client.send(in_dialog("UPDATE", ok, client.port, 2, extra_headers=TIMER))
        refreshed = client.final()
        assert refreshed.status == 200 and refreshed.headers.get("Session-Expires")
        client.send(in_dialog("BYE", ok, client.port, 3))
        assert client.final().status == 200


def test_a_session_interval_below_the_minimum_gets_422(services: Services) -> None:
    with running(services) as (server, loop):
        client = Client(server, loop)
        short = "Supported: timer\nSession-Expires: 30"
        client.send(invite(client.port, "timer-2@src", PARKING, extra_headers=short))
        refused = client.final()
        assert (refused.status, refused.headers.get("Min-SE")) == (422, "90")
        assert server.handler.sessions == 0
    assert nothing_stored(services) and services.catalog.count() == 0


def test_a_session_the_client_stops_refreshing_ends_with_its_audio_kept(
    services: Services,
) -> None:
    with running(services) as (server, loop):
        client = Client(server, loop)
        client.send(invite(client.port, "timer-3@src", PARKING, extra_headers=TIMER))
        ok = client.final()
        client.send(in_dialog("ACK", ok, client.port, 1))
        send_audio(client, answered_ports(ok), 1.0)
        # The SBC restarted: no refresh, no BYE. Rather than wait the 90 s, the deadline
        # is moved to now (the one step that reaches inside the recorder).
        session = server.handler._sessions["timer-3@src"]
        session.expires_at = time.monotonic()
        bye = client.next_request()  # RFC 4028 §10: the recorder hangs up
        assert (bye.method, bye.call_id, bye.to_tag) == ("BYE", ok.call_id, ok.from_tag)
        assert bye.from_tag == ok.to_tag and bye.uri == f"sip:src@127.0.0.1:{client.port}"
        client.send(make_response(bye, 200).to_bytes())
        client.idle(1.0)
        assert server.handler.sessions == 0
        client.send(in_dialog("BYE", ok, client.port, 2))
        assert client.final().status == 481  # the dialog is over
    assert services.catalog.count() == 1


def test_a_200_never_acknowledged_ends_the_session_with_a_bye(services: Services) -> None:
    with running(services, t1=0.02) as (server, loop):  # 64*T1: 1.3 s without an ACK
        client = Client(server, loop)
        client.send(invite(client.port, "noack-1@src", PARKING))
        ok = client.final()
        send_audio(client, answered_ports(ok), 0.5)
        bye = client.next_request(timeout=5.0)
        assert bye.method == "BYE" and bye.call_id == "noack-1@src"
        via = bye.top_via
        assert (via.host, via.port) == ("127.0.0.1", server.endpoint.udp_port)
        client.send(make_response(bye, 200).to_bytes())
        client.idle(1.0)
        assert server.handler.sessions == 0
    assert services.catalog.count() == 1  # what arrived is kept


def test_a_stream_under_a_new_label_in_a_re_invite_is_recorded_on_its_channel(
    services: Services,
) -> None:
    """An SBC re-anchors the caller's media: the re-INVITE offers it under another label
    (no metadata names it), and the stream it replaces is gone from the offer."""
    sdp = SDP_TWO_STREAMS.replace("192.0.2.10", "127.0.0.1")
    moved = sdp.replace("a=label:caller", "a=label:caller-moved")
    with running(services) as (server, loop):
        client = Client(server, loop)
        client.send(invite(client.port, "move-1@src", PARKING))
        ok = client.final()
        ports = answered_ports(ok)
        client.send(in_dialog("ACK", ok, client.port, 1))
        client.send(in_dialog("INVITE", ok, client.port, 2, moved.encode()))
        reanchored = client.final()
        new_caller_port, called_port = answered_ports(reanchored)
        assert called_port == ports[1] and new_caller_port not in (0, *ports)
        client.send(in_dialog("ACK", reanchored, client.port, 2))
        send_audio(client, [new_caller_port, called_port], 1.5)
        client.send(in_dialog("BYE", ok, client.port, 3))
        assert client.final().status == 200
        client.idle(1.0)
    caller, called = channel_levels(services)
    assert caller > 0.05 and called < caller / 100  # the tone kept its channel


def test_a_codec_the_client_offered_is_recorded_though_another_was_answered(
    services: Services,
) -> None:
    """The SRC offered PCMA and PCMU, the answer chose PCMU, and the SRC forwards the call's
    PCMA as it is: recorded, not dropped as an unknown payload."""
    with running(services) as (server, loop):
        client = Client(server, loop)
        client.send(invite(client.port, "pcma-1@src", PARKING))
        ok = client.final()
        client.send(in_dialog("ACK", ok, client.port, 1))
        send_audio(client, answered_ports(ok), 1.5, pcma=True)
        client.send(in_dialog("BYE", ok, client.port, 2))
        assert client.final().status == 200
        client.idle(1.0)
    caller, called = channel_levels(services)
    assert caller > 0.05 and called < caller / 100
