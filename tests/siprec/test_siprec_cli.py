"""The recorder from the command line: bad listen addresses are refused naming the option
(``serve --siprec`` itself: tests/e2e/test_siprec_serve.py)."""

from __future__ import annotations

import pytest

from homes import run_cli


@pytest.mark.parametrize("listen", ["5060", "host:", "127.0.0.1:99999", ":5060"])
def test_a_bad_listen_address_is_refused(listen: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, _out, error = run_cli(["siprec", listen], capsys)
    assert code == 2 and error["field"] == "siprec"


def test_a_bad_rtp_port_range_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    code, _out, error = run_cli(["siprec", "127.0.0.1:5060", "--rtp-ports", "40000-30000"], capsys)
    assert code == 2 and error["field"] == "rtp_ports"
