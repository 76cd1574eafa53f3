"""The recorder against a real SIP peer: SIPp plays the recording client (SRC), the recorder
runs as the real ``callvault siprec`` process, and the stored recording is checked.

SIPp (Debian ``sip-tester``) plays RTP from pcap files with raw sockets, so these tests need
``sipp`` on PATH and root; without either the module is skipped. The scenarios are in
``sipp/``; the pcaps are built by ``pcaps.py`` into each test's folder.
"""

from __future__ import annotations

import io
import math
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pcaps
import pytest
from sqlalchemy import select

from callvault.bootstrap import Services
from callvault.capture.siprec.sipmsg import SipResponse, parse_message
from callvault.catalog.store import recordings
from callvault.media.decode import open_audio
from homes import nothing_stored

SCENARIOS = Path(__file__).parent / "sipp"
CALLER = "+442079460123"
PARKING = "+442073715678"  # the shipped policy's parking line: recorded
STAFF_EXTENSION = "+442087531234"  # excluded by the shipped policy: not recorded
FloatArray = npt.NDArray[np.float64]


@pytest.fixture(autouse=True)
def _sipp_and_root(backend: str) -> None:
    if shutil.which("sipp") is None:
        pytest.skip("sipp is not on PATH (Debian package sip-tester)")
    if os.geteuid() != 0:
        pytest.skip("SIPp's play_pcap_audio sends RTP from raw sockets: run as root")
    if backend != "sqlite":
        # The recorder's storage path is the file ingest's, tested on both legs elsewhere;
        # here the point is the SIP peer, and one leg keeps the module quick.
        pytest.skip("the SIPp end-to-end tests run on the sqlite leg")


def _free_port(kind: int = socket.SOCK_DGRAM) -> int:
    with socket.socket(socket.AF_INET, kind) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _free_even_pair() -> int:
    """An even port N with N and N+2 free on UDP (SIPp's media port and the one beside it)."""
    for _ in range(50):
        port = _free_port() & ~1
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as a:
                a.bind(("127.0.0.1", port))
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as b:
                    b.bind(("127.0.0.1", port + 2))
        except OSError:
            continue
        return port
    raise AssertionError("no free even UDP port pair")


def _answers_options(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
        client.bind(("127.0.0.1", 0))
        client.settimeout(0.3)
        via = f"127.0.0.1:{client.getsockname()[1]};branch=z9hG4bK{uuid.uuid4().hex}"
        ping = (
            "OPTIONS sip:srs@127.0.0.1 SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP {via}\r\n"
            "Max-Forwards: 70\r\nTo: <sip:srs@127.0.0.1>\r\nFrom: <sip:probe@127.0.0.1>;tag=p\r\n"
            f"Call-ID: probe-{uuid.uuid4().hex}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
        )
        client.sendto(ping.encode(), ("127.0.0.1", port))
        try:
            answer = parse_message(client.recv(65535))
        except OSError:
            return False
    return isinstance(answer, SipResponse) and answer.status == 200


@contextmanager
def recorder(cli_env: dict[str, str]) -> Iterator[int]:
    """``callvault siprec`` as its own process; yields its SIP port once it answers OPTIONS.
    Leaving stops it with SIGTERM, which finishes the calls in progress, and checks it
    exited cleanly."""
    port = _free_port()
    exe = Path(sys.executable).parent / "callvault"
    # The recorder skips RTP ports in use, so a fixed range is safe beside other tests.
    proc = subprocess.Popen(
        [str(exe), "siprec", f"127.0.0.1:{port}", "--rtp-ports", "42000-42998"],
        env=cli_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 20
        while not _answers_options(port):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("callvault siprec did not answer OPTIONS")
        yield port
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            _, err = proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    assert proc.returncode == 0, err.decode(errors="replace")


def sipp(scenario: str, port: int, folder: Path, *keys: tuple[str, str]) -> None:
    """One call of ``scenario`` to the recorder, run from ``folder``: the scenario is copied
    there because SIPp looks for a scenario's pcap files next to it."""
    shutil.copy(SCENARIOS / scenario, folder / scenario)
    args = ["sipp", f"127.0.0.1:{port}", "-sf", str(folder / scenario), "-m", "1"]
    args += ["-nostdin", "-timeout", "30s", "-timeout_error", "-trace_err", "-trace_msg"]
    args += ["-i", "127.0.0.1", "-p", str(_free_port()), "-mi", "127.0.0.1"]
    args += ["-mp", str(_free_even_pair())]
    for name, value in keys:
        args += ["-key", name, value]
    done = subprocess.run(args, cwd=folder, capture_output=True, timeout=45, check=False)
    logs = sorted(folder.glob("*_errors.log")) + sorted(folder.glob("*_messages.log"))
    trace = "\n".join(p.read_text(errors="replace")[-4000:] for p in logs)
    assert done.returncode == 0, f"sipp exited {done.returncode}\n{done.stderr.decode()}{trace}"
    assert not list(folder.glob("*_errors.log")), trace  # SIPp's warnings land there too


def _tone_level(window: FloatArray, freq: float, rate: int) -> float:
    """RMS of ``window`` at ``freq`` (one DFT bin), comparable to the window's own RMS."""
    t = np.arange(len(window)) / rate
    return float(abs(np.dot(window, np.exp(-2j * np.pi * freq * t))) * math.sqrt(2) / len(window))


def onset(channel: FloatArray, freq: float, rate: int, step: float = 0.01) -> float:
    """Seconds to the first 20 ms window where ``freq`` is clearly there; inf if never."""
    size, hop = round(0.02 * rate), round(step * rate)
    for start in range(0, len(channel) - size, hop):
        if _tone_level(channel[start : start + size], freq, rate) > 0.05:
            return start / rate
    return math.inf


def test_a_call_from_sipp_is_recorded_with_each_tone_on_its_channel(
    services: Services, cli_env: dict[str, str], tmp_path: Path
) -> None:
    pcaps.two_party_call(tmp_path / "siprec_call.pcap")
    scenario = (SCENARIOS / "siprec_uac.xml").read_text()
    pause = re.search(r'<pause milliseconds="(\d+)"', scenario)
    assert pause and int(pause.group(1)) == round(pcaps.SECONDS * 1000)  # BYE after the media
    with recorder(cli_env) as port:
        sipp("siprec_uac.xml", port, tmp_path, ("caller", CALLER), ("dialled", PARKING))

    with services.engine.connect() as conn:
        rows = conn.execute(select(recordings)).all()
    assert len(rows) == 1
    recording = rows[0]
    assert (recording.line, recording.caller) == ("parking", CALLER)
    assert math.isclose(recording.duration_s, pcaps.SECONDS, rel_tol=0.01), recording.duration_s

    key = services.vault.unwrap_key(services.catalog.wrapped_key(recording.id), recording.id)
    with open_audio(io.BytesIO(services.vault.read_all(recording.blob_name, key))) as reader:
        frames = list(reader.frames())
    rate = frames[0].sample_rate
    pcm = np.concatenate([f.to_ndarray() for f in frames], axis=1).astype(np.float64)
    caller, agent = pcm  # decoded to floats in [-1, 1]
    assert abs(onset(caller, pcaps.CALLER.freq, rate) - pcaps.CALLER.tone_from) <= 0.1
    assert abs(onset(agent, pcaps.AGENT.freq, rate) - pcaps.AGENT.tone_from) <= 0.1
    # Each tone only on its own channel, and still there at the end of the call.
    assert onset(caller, pcaps.AGENT.freq, rate) == math.inf
    assert onset(agent, pcaps.CALLER.freq, rate) == math.inf
    last = slice(round((pcaps.SECONDS - 0.5) * rate), round((pcaps.SECONDS - 0.1) * rate))
    assert _tone_level(caller[last], pcaps.CALLER.freq, rate) > 0.1
    assert _tone_level(agent[last], pcaps.AGENT.freq, rate) > 0.1

    actions = [entry["action"] for entry in services.audit.show(limit=1000)]
    assert "recording.ingested" in actions and "call.not_recorded" not in actions
    assert services.audit.verify().ok


def test_a_call_the_policy_does_not_cover_takes_no_media_from_sipp(
    services: Services, cli_env: dict[str, str], tmp_path: Path
) -> None:
    with recorder(cli_env) as port:
        sipp(
            "siprec_uac_nomedia.xml",
            port,
            tmp_path,
            ("caller", CALLER),
            ("dialled", STAFF_EXTENSION),
        )
    assert services.catalog.count() == 0 and nothing_stored(services)
    decided = [e for e in services.audit.show(limit=1000) if e["action"] == "call.not_recorded"]
    assert len(decided) == 1 and decided[0]["details"]["rule"].startswith("exclusion:")
    assert services.audit.verify().ok


def test_sipp_options_ping_is_answered_with_siprec_supported(
    services: Services, cli_env: dict[str, str], tmp_path: Path
) -> None:
    with recorder(cli_env) as port:
        sipp("options.xml", port, tmp_path)
