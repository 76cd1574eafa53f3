"""SIPREC requests for the recorder tests: an INVITE to a dialled number, in-dialog requests."""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Sequence

from sip_offers import METADATA, SDP_TWO_STREAMS, multipart, sip

from callvault.capture.siprec.sipmsg import SipResponse, parse_message

PARKING = "+442073715678"
STAFF_EXTENSION = "+442087531234"
RATE = 8000
FRAME = 160  # 20 ms at 8 kHz
PCMU = 0
PACKET_S = 0.02  # 20 ms of audio a packet


def invite(
    port: int,
    call_id: str,
    dialled: str,
    *,
    transport: str = "UDP",
    sdp: str = SDP_TWO_STREAMS,
    extra_headers: str = "",
) -> bytes:
    metadata = METADATA.replace("+442079460999", dialled)
    sdp = sdp.replace("192.0.2.10", "127.0.0.1")
    branch = f"z9hG4bK{uuid.uuid4().hex[:12]}"
    headers = f"""Via: SIP/2.0/{transport} 127.0.0.1:{port};branch={branch};rport
Max-Forwards: 70
To: <sip:recorder@127.0.0.1>
From: "SRC" <sip:src@127.0.0.1>;tag=src{uuid.uuid4().hex[:8]}
Call-ID: {call_id}
CSeq: 1 INVITE
Require: siprec
Contact: <sip:src@127.0.0.1:{port}>;+sip.src
Content-Type: multipart/mixed;boundary="cv-boundary-7d1e\""""
    if extra_headers:
        headers += "\n" + extra_headers
    body = multipart(
        ("Content-Type: application/sdp", sdp),
        (
            "Content-Type: application/rs-metadata+xml\nContent-Disposition: recording-session",
            metadata,
        ),
    )
    return sip("INVITE sip:recorder@127.0.0.1 SIP/2.0", headers, body)


def in_dialog(
    method: str, ok: SipResponse, port: int, cseq: int, body: bytes = b"", extra_headers: str = ""
) -> bytes:
    branch = f"z9hG4bK{uuid.uuid4().hex[:12]}"
    headers = f"""Via: SIP/2.0/UDP 127.0.0.1:{port};branch={branch};rport
Max-Forwards: 70
To: {ok.headers.get("To")}
From: {ok.headers.get("From")}
Call-ID: {ok.call_id}
CSeq: {cseq} {method}"""
    if extra_headers:
        headers += "\n" + extra_headers
    if body:
        headers += "\nContent-Type: application/sdp"
    return sip(f"{method} sip:recorder@127.0.0.1 SIP/2.0", headers, body)


class BlockingClient:
    """A recording client in the test's own thread, for a recorder running in its own."""

    def __init__(self, udp_port: int) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(5)
        self.port = self.sock.getsockname()[1]
        self.server = ("127.0.0.1", udp_port)

    def request(self, data: bytes) -> SipResponse:
        """Send a request; the final response."""
        self.sock.sendto(data, self.server)
        while True:
            message = parse_message(self.sock.recv(65535))
            if isinstance(message, SipResponse) and message.status >= 200:
                return message

    def rtp(self, port: int, datagram: bytes) -> None:
        self.sock.sendto(datagram, ("127.0.0.1", port))

    def paced(self, rounds: Sequence[Sequence[tuple[int, bytes]]]) -> None:
        """Each round's (port, datagram) pairs together, one round every 20 ms."""
        started = time.monotonic()
        for step, datagrams in enumerate(rounds):
            for port, datagram in datagrams:
                self.rtp(port, datagram)
            time.sleep(max(0.0, started + (step + 1) * PACKET_S - time.monotonic()))

    def close(self) -> None:
        self.sock.close()
