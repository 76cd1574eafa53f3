"""The recorder from the command line: bad listen addresses are refused naming the option
(``serve --siprec`` itself: tests/e2e/test_siprec_serve.py)."""

from __future__ import annotations

import socket

import pytest

from callvault.bootstrap import Services
from homes import run_cli


@pytest.mark.parametrize("listen", ["5060", "host:", "127.0.0.1:99999", ":5060"])
def test_a_bad_listen_address_is_refused(listen: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, _out, error = run_cli(["siprec", listen], capsys)
    assert code == 2 and error["field"] == "siprec"


def test_a_bad_rtp_port_range_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    code, _out, error = run_cli(["siprec", "127.0.0.1:5060", "--rtp-ports", "40000-30000"], capsys)
    assert code == 2 and error["field"] == "rtp_ports"


def test_a_port_already_taken_is_refused_naming_the_option(
    services: Services, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CALLVAULT_HOME", str(services.settings.home))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as holder:
        holder.bind(("127.0.0.1", 0))
        port = holder.getsockname()[1]
        code, _out, error = run_cli(["siprec", f"127.0.0.1:{port}"], capsys)
    assert code == 2 and error["field"] == "siprec"
    assert f"127.0.0.1:{port}" in error["error"] and "free port" in error["error"]
