"""SIPp against the real recorder: the ``callvault siprec`` process, a SIPp run as the
recording client (SRC), and what the recorder stored, read back and measured.

Shared by the SIPp end-to-end test modules (test modules do not import each other). SIPp
(Debian ``sip-tester``) plays RTP from pcap files with raw sockets, so the tests need ``sipp``
on PATH and root: ``require_sipp`` skips them otherwise.
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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson
import pytest
from pcaps import CallPlan
from sqlalchemy import select

from callvault.bootstrap import Services
from callvault.capture.siprec.sipmsg import SipResponse, parse_message
from callvault.catalog.store import call_decisions, recordings
from callvault.media.decode import open_audio

SCENARIOS = Path(__file__).parent / "sipp"
FloatArray = npt.NDArray[np.float64]

# The shipped example policy's lines (policies/council-example.yaml).
PARKING = "+442073715678"  # recorded; takes card payments (a key press pauses it)
SWITCHBOARD = "+442087483020"  # recorded; no payments
STAFF_EXTENSION = "+442087531234"  # excluded: not recorded
CALLER = "+442079460123"

# A pcaps tone (amplitude 8000 of 32768) as ``tone_level`` reads it: its RMS.
TONE_LEVEL = 8000 / 32768 / math.sqrt(2)
ONSET_TOLERANCE_S = 0.06
MEDIA_START_LIMIT_S = 0.3  # from the call's start (its INVITE) to SIPp's first RTP packet
QUIET_MARGIN_S = 0.02


def require_sipp(backend: str) -> None:
    """Skip unless SIPp can run here: on PATH, as root, on the sqlite leg."""
    if shutil.which("sipp") is None:
        pytest.skip("sipp is not on PATH (Debian package sip-tester)")
    if os.geteuid() != 0:
        pytest.skip("SIPp's play_pcap_audio sends RTP from raw sockets: run as root")
    if backend != "sqlite":
        # The recorder's storage path is the file ingest's, tested on both legs elsewhere;
        # here the point is the SIP peer, and one leg keeps the modules quick.
        pytest.skip("the SIPp end-to-end tests run on the sqlite leg")


# --- The recorder and SIPp ------------------------------------------------------------------


def free_port(kind: int = socket.SOCK_DGRAM) -> int:
    with socket.socket(socket.AF_INET, kind) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def free_even_pair() -> int:
    """An even port N with N and N+2 free on UDP (SIPp's media port and the one beside it)."""
    for _ in range(50):
        port = free_port() & ~1
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as a:
                a.bind(("127.0.0.1", port))
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as b:
                    b.bind(("127.0.0.1", port + 2))
        except OSError:
            continue
        return port
    raise AssertionError("no free even UDP port pair")


def answers_options(port: int) -> bool:
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


@dataclass
class Recorder:
    """The running recorder: its SIP port (UDP and TCP); its log once it has stopped."""

    port: int
    log: str = ""

    def packet_counts(self) -> str:
        """The recorder's own account of each channel's packets (late, duplicate ...)."""
        return "\n".join(line for line in self.log.splitlines() if " packets " in line)


@contextmanager
def recorder(cli_env: dict[str, str]) -> Iterator[Recorder]:
    """``callvault siprec`` as its own process, yielded once it answers OPTIONS. Leaving
    stops it with SIGTERM, which finishes the calls in progress, and checks it exited
    cleanly."""
    proc, port = _start_recorder(cli_env)
    running = Recorder(port)
    try:
        yield running
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            _, err = proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
        running.log = err.decode(errors="replace")
    assert proc.returncode == 0, running.log


_STARTS = 3  # a free port can be taken by a test on another worker before the recorder binds


def _start_recorder(cli_env: dict[str, str]) -> tuple[subprocess.Popen[bytes], int]:
    """The recorder answering OPTIONS on a free port. Only an exit because another process
    took the port between choosing it and binding it is tried again, on a new port; any
    other failure (bad settings, a start slower than the limit) fails with its stderr."""
    exe = Path(sys.executable).parent / "callvault"
    for attempt in range(1, _STARTS + 1):
        port = free_port()
        # The recorder skips RTP ports in use, so a fixed range is safe beside other tests.
        proc = subprocess.Popen(
            [str(exe), "siprec", f"127.0.0.1:{port}", "--rtp-ports", "42000-42998"],
            env=cli_env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 30
        while not answers_options(port):
            if proc.poll() is None and time.monotonic() <= deadline:
                continue
            state = f"exited {proc.returncode}" if proc.poll() is not None else "still starting"
            if proc.poll() is None:
                proc.kill()
            _, err = proc.communicate(timeout=20)
            said = err.decode(errors="replace")
            if "Address already in use" in said and attempt < _STARTS:
                break
            raise AssertionError(f"callvault siprec did not answer OPTIONS ({state}):\n{said}")
        else:
            return proc, port
    raise AssertionError("unreachable: the last start either answered or raised")


@dataclass(frozen=True)
class SippRun:
    """What SIPp logged: every message sent and received, bytes as sent."""

    trace: str


def sipp(
    scenario: str, port: int, folder: Path, *keys: tuple[str, str], transport: str = "u1"
) -> SippRun:
    """One call of ``scenario`` to the recorder, run from ``folder``. The scenario is copied
    there because SIPp looks for its pcap files next to it. ``transport`` is SIPp's ``-t``:
    ``u1`` (UDP) or ``t1`` (one TCP connection)."""
    shutil.copy(SCENARIOS / scenario, folder / scenario)
    kind = socket.SOCK_STREAM if transport.startswith("t") else socket.SOCK_DGRAM
    args = ["sipp", f"127.0.0.1:{port}", "-sf", str(folder / scenario), "-m", "1"]
    args += ["-t", transport, "-nostdin", "-timeout", "30s", "-timeout_error"]
    args += ["-trace_err", "-trace_msg", "-i", "127.0.0.1", "-p", str(free_port(kind))]
    args += ["-mi", "127.0.0.1", "-mp", str(free_even_pair())]
    for name, value in keys:
        args += ["-key", name, value]
    done = subprocess.run(args, cwd=folder, capture_output=True, timeout=45, check=False)
    logs = sorted(folder.glob("*_errors.log")) + sorted(folder.glob("*_messages.log"))
    trace = "\n".join(p.read_text(errors="replace")[-6000:] for p in logs)
    assert done.returncode == 0, f"sipp exited {done.returncode}\n{done.stderr.decode()}{trace}"
    assert not list(folder.glob("*_errors.log")), trace  # SIPp's warnings land there too
    # Bytes as sent: read without newline translation, so CRLFs stay CRLFs.
    trace = "\n".join(
        p.read_bytes().decode(errors="replace") for p in folder.glob("*_messages.log")
    )
    return SippRun(trace)


_SENT = re.compile(r"\w+ message sent \((\d+) bytes\):\n\n")


def sent_message(run: SippRun, method: str) -> str:
    """The first request of ``method`` that SIPp sent, exactly as sent."""
    for found in _SENT.finditer(run.trace):
        message = run.trace[found.end() : found.end() + int(found.group(1))]
        if message.startswith(f"{method} "):
            return message
    raise AssertionError(f"SIPp sent no {method}")


def answered_ports(run: SippRun) -> list[list[int]]:
    """The ``m=`` ports of each SDP answer the recorder sent, in order."""
    answers = [m for m in run.trace.split("\n" + "-" * 47) if "o=callvault" in m]
    return [[int(p) for p in re.findall(r"^m=audio (\d+) ", a, re.MULTILINE)] for a in answers]


def call_seconds(scenario: str) -> float:
    """The scenario's call length: its pauses, from the ACK to the BYE."""
    text = (SCENARIOS / scenario).read_text()
    return sum(int(ms) for ms in re.findall(r'<pause milliseconds="(\d+)"', text)) / 1000


def sipp_message(scenario: str, index: int = 0, **fields: str) -> bytes:
    """The ``index``-th ``<send>`` of ``scenario`` as SIPp sends it: each line's leading
    whitespace dropped, CRLF line ends, ``[name]`` replaced from ``fields`` (keys and SIPp's
    own, such as ``media_port``); ``[len]`` is left as it is."""
    text = (SCENARIOS / scenario).read_text()
    sends = re.findall(r"<send[^>]*>\s*<!\[CDATA\[(.*?)\]\]>", text, flags=re.DOTALL)
    lines = [line.lstrip(" \t") for line in sends[index].strip("\n").split("\n")]
    message = "\r\n".join(lines).strip("\r\n") + "\r\n"
    for name, value in fields.items():
        message = message.replace(f"[{name}]", value)
    return message.encode()


def part_lengths(message: bytes, boundary: str) -> list[int]:
    """Byte length of each multipart part's content (between its blank line and the CRLF
    before the next boundary line), for the per-part ``Content-Length`` BroadWorks sends."""
    body = message.split(b"\r\n\r\n", 1)[1]
    lengths = []
    for part in body.split(b"--" + boundary.encode())[1:]:
        if part.startswith(b"--"):
            break
        content = part.split(b"\r\n\r\n", 1)[1]
        lengths.append(len(content.removesuffix(b"\r\n")))
    return lengths


# --- What the recorder stored ---------------------------------------------------------------


@dataclass(frozen=True)
class StoredCall:
    """The one recording in the home: its catalogue row, its decision and its audio."""

    row: Any  # a SQLAlchemy Row of ``recordings``
    decision: Any  # its ``call_decisions`` Row
    channels: tuple[FloatArray, FloatArray]  # caller, agent; floats in [-1, 1]
    rate: int

    @property
    def flags(self) -> list[str]:
        return list(orjson.loads(self.row.flags))

    @property
    def channel_map(self) -> dict[str, int]:
        return dict(orjson.loads(self.row.channel_map))


def stored_call(services: Services) -> StoredCall:
    with services.engine.connect() as conn:
        rows = conn.execute(select(recordings)).all()
        assert len(rows) == 1, f"{len(rows)} recordings stored"
        row = rows[0]
        decision = conn.execute(
            select(call_decisions).where(call_decisions.c.id == row.decision_id)
        ).one()
    key = services.vault.unwrap_key(services.catalog.wrapped_key(row.id), row.id)
    with open_audio(io.BytesIO(services.vault.read_all(row.blob_name, key))) as reader:
        frames = list(reader.frames())
    pcm = np.concatenate([f.to_ndarray() for f in frames], axis=1).astype(np.float64)
    assert pcm.shape[0] == 2, f"{pcm.shape[0]} channels stored"
    return StoredCall(row, decision, (pcm[0], pcm[1]), frames[0].sample_rate)


def audit_entries(services: Services) -> list[dict[str, Any]]:
    return services.audit.show(limit=1000)


def tone_level(window: FloatArray, freq: float, rate: int) -> float:
    """RMS of ``window`` at ``freq`` (one DFT bin), comparable to the window's own RMS."""
    if len(window) == 0:
        return 0.0
    t = np.arange(len(window)) / rate
    return float(abs(np.dot(window, np.exp(-2j * np.pi * freq * t))) * math.sqrt(2) / len(window))


def onset(
    channel: FloatArray,
    freq: float,
    rate: int,
    *,
    after: float = 0.0,
    threshold: float = TONE_LEVEL / 2,
) -> float:
    """Seconds to where ``freq`` starts after ``after``: the centre of the first 20 ms window
    where it reaches ``threshold`` (half a pcaps tone: the window is half over it); inf if
    never."""
    size, hop = round(0.02 * rate), round(0.0025 * rate)
    for start in range(round(after * rate), len(channel) - size, hop):
        if tone_level(channel[start : start + size], freq, rate) >= threshold:
            return (start + size / 2) / rate
    return math.inf


def loudest(channel: FloatArray, freq: float, rate: int) -> tuple[float, float]:
    """(level, seconds) of the 40 ms window where ``freq`` is strongest."""
    size = round(0.04 * rate)
    best = (0.0, 0.0)
    for start in range(0, len(channel) - size, size // 2):
        level = tone_level(channel[start : start + size], freq, rate)
        best = max(best, (level, start / rate))
    return best


def media_start(call: StoredCall) -> float:
    """Where the pcap's time 0 fell on the recording: the first sample of the caller's tone,
    which every ``pcaps`` call starts with on channel 0.

    The recorder places a source's first packet where the wall clock says it arrived, so this
    is when SIPp's first packet came, on the call's clock. SIPp's own log cannot say it: under
    load its timestamps trail the sending by tens of milliseconds."""
    loud = np.flatnonzero(np.abs(call.channels[0]) > 0.05)
    return float(loud[0]) / call.rate if len(loud) else math.inf


def audio_problems(call: StoredCall, plan: CallPlan) -> list[str]:
    """Every way the stored audio differs from ``plan``, as readable lines (none: it matches).

    The plan's times are the pcap's, from its first packet; on the recording they are offset
    by ``media_start``. Checked: the media starts within ``MEDIA_START_LIMIT_S`` of the call;
    each tone's onset within ``ONSET_TOLERANCE_S`` of when it was sent, the tone there to the
    end of its span, never on another channel, and silence where the plan has it."""
    rate = call.rate
    offset = media_start(call)
    if not 0 <= offset <= MEDIA_START_LIMIT_S:
        return [f"the caller's first audio is at {offset:.3f} s into the recording"]
    problems: list[str] = []
    for heard in plan.heard:
        channel = call.channels[heard.channel]
        where = f"{heard.freq:g} Hz on channel {heard.channel}"
        sent, end = heard.start + offset, heard.end + offset
        if heard.sharp:
            found = onset(channel, heard.freq, rate, after=max(0.0, sent - 0.3))
            if abs(found - sent) > ONSET_TOLERANCE_S:
                problems.append(f"{where} starts at {found:.3f} s, sent at {sent:.3f} s")
        # 100 ms windows: Opus smears a tone's level for ~20 ms where the other channel
        # changes (stereo bit allocation), which is not a gap in what was recorded.
        size = round(0.1 * rate)
        for at in np.arange(sent + 0.05, end - 0.05 - 0.1, 0.05):
            first = round(at * rate)
            level = tone_level(channel[first : first + size], heard.freq, rate)
            if level < TONE_LEVEL / 2:
                problems.append(
                    f"{where} missing at {at:.2f} s (level {level:.3f}) in its span "
                    f"{sent:.2f}-{end:.2f} s"
                )
                break
    for freq in {heard.freq for heard in plan.heard}:
        expected = {heard.channel for heard in plan.heard if heard.freq == freq}
        for index, channel in enumerate(call.channels):
            level, at = loudest(channel, freq, rate)
            if index not in expected and level > TONE_LEVEL / 10:
                problems.append(
                    f"{freq:g} Hz on channel {index} too (level {level:.3f} at {at:.2f} s)"
                )
    for quiet in plan.quiet:
        # A tone's edge is smeared over a few milliseconds by the codecs and the resampling.
        start = quiet.start + offset + QUIET_MARGIN_S
        end = quiet.end + offset - QUIET_MARGIN_S
        span = call.channels[quiet.channel][round(start * rate) : round(end * rate)]
        rms = float(np.sqrt(np.mean(span**2))) if len(span) else 0.0
        if rms > 0.005:
            problems.append(
                f"channel {quiet.channel} not silent from {start:.2f} to {end:.2f} s "
                f"(RMS {rms:.4f})"
            )
    return problems


def measured_onsets(call: StoredCall, plan: CallPlan) -> list[tuple[float, float]]:
    """(sent, found) for each sharp tone of ``plan``, on the call's clock: for reports."""
    offset = media_start(call)
    found = []
    for heard in plan.heard:
        if heard.sharp:
            sent = heard.start + offset
            channel = call.channels[heard.channel]
            found.append((sent, onset(channel, heard.freq, call.rate, after=max(0.0, sent - 0.3))))
    return found


def check_recorded(
    call: StoredCall,
    plan: CallPlan,
    scenario: str,
    *,
    line: str,
    dialled: str,
    caller: str = CALLER,
    transport: str = "udp",
    srs: Recorder | None = None,
) -> None:
    """The catalogue row, the decision, the length and the audio of a call recorded from
    ``scenario`` with the media of ``plan``."""
    assert math.isclose(call_seconds(scenario), plan.seconds)  # the BYE comes after the media
    row = call.row
    assert (row.line, row.dialled, row.caller) == (line, dialled, caller)
    # SIPREC names no agent and the recorder keeps none; the announcement is the PBX's job.
    assert (row.direction, row.agent, row.announcement_played) == ("inbound", "unknown", True)
    assert call.channel_map == {"caller": 0, "agent": 1}
    assert (call.decision.dialled, call.decision.line) == (dialled, line)
    assert call.decision.origin == f"siprec:{transport}:127.0.0.1"
    assert math.isclose(row.duration_s, plan.seconds, rel_tol=0.01), row.duration_s
    problems = audio_problems(call, plan)
    onsets = f"onsets (sent, found): {measured_onsets(call, plan)}"
    counts = srs.packet_counts() if srs is not None else ""
    assert not problems, "\n".join([*problems, onsets, counts])


def ingested(services: Services) -> dict[str, Any]:
    """The one ``recording.ingested`` entry's details; no call declined; the chain intact."""
    entries = audit_entries(services)
    actions = [entry["action"] for entry in entries]
    assert actions.count("recording.ingested") == 1, actions
    assert "call.not_recorded" not in actions, actions
    assert services.audit.verify().ok
    details: dict[str, Any] = next(
        e["details"] for e in entries if e["action"] == "recording.ingested"
    )
    assert details["call_id"] == stored_call_id(services)
    return details


def stored_call_id(services: Services) -> str:
    with services.engine.connect() as conn:
        return str(conn.execute(select(recordings.c.call_id)).scalar_one())


def assert_no_digits_kept(services: Services, call: StoredCall, keyed: str) -> None:
    """No stored field holds the keys pressed (``keyed``, as typed: "7*3#"), nor any field
    named for digits: not the row, the decision or the audit."""
    rows = [{str(k): v for k, v in r._mapping.items()} for r in (call.row, call.decision)]
    kept = orjson.dumps([*rows, audit_entries(services)], default=str).decode()
    assert keyed not in kept, kept
    assert "digit" not in kept.casefold(), kept
