"""``callvault serve --siprec``: the recorder starts beside the web server and answers SIP."""

from __future__ import annotations

import socket
import time

import pytest
from server_process import running_server

from callvault.capture.siprec.sipmsg import SipResponse, parse_message


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_serve_with_siprec_answers_options(cli_env: dict[str, str], backend: str) -> None:
    if backend != "sqlite":
        pytest.skip("one leg is enough to see the recorder start beside the web server")
    sip_port = _free_udp_port()
    with (
        running_server(cli_env, ["--siprec", f"127.0.0.1:{sip_port}"]),
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client,
    ):
        client.bind(("127.0.0.1", 0))
        client.settimeout(5)
        port = client.getsockname()[1]
        ping = (
            "OPTIONS sip:recorder@127.0.0.1 SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bKcli1\r\n"
            "Max-Forwards: 70\r\nTo: <sip:recorder@127.0.0.1>\r\n"
            "From: <sip:src@127.0.0.1>;tag=c1\r\n"
            f"Call-ID: cli-ping-{time.monotonic_ns()}\r\nCSeq: 1 OPTIONS\r\n"
            "Content-Length: 0\r\n\r\n"
        )
        client.sendto(ping.encode(), ("127.0.0.1", sip_port))
        answer = parse_message(client.recv(65535))
    assert isinstance(answer, SipResponse) and answer.status == 200
