"""Concurrent SIPREC G.711 calls recorded on one core: SIPp drives the load over loopback.

Run (root, for SIPp's raw-socket RTP; two cores or more):
    .venv/bin/python bench/bench_siprec_load.py [--levels 100,200,400] [--seconds 30]

For each level N: a fresh home; ``callvault siprec`` pinned to core 0 (its encoder workers
too, at their lower priority); SIPp pinned to core 1 opens N calls at ``--rate`` a second,
each a ``--seconds`` call of two PCMU streams with a tone per party (the pcap the SIPp tests
play, ``tests/siprec/pcaps.py``), then BYE. Printed per level:

- capture CPU: the recorder process's CPU over the window when all N calls are up and none
  has ended (its encoder workers are separate processes, counted apart), per call, in % of
  a core;
- memory per call: the recorder's RSS in that window less its RSS before the first call;
- loss: datagrams the kernel dropped for full receive buffers (``/proc/net/snmp``
  ``RcvbufErrors``) against the datagrams SIPp sent, and calls SIPp saw fail;
- correct audio: every stored recording decoded: duration within 1 %, each party's tone in
  every 20 ms window from its start to the end (a lost or late packet is a 20 ms hole) and
  never on the other channel;
- encoding: seconds from the last BYE until every call is committed, and encoder CPU per
  minute of call.
"""

from __future__ import annotations

import argparse
import io
import itertools
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "tests"), str(ROOT / "tests" / "siprec")]

import numpy as np  # noqa: E402
import numpy.typing as npt  # noqa: E402
import pcaps  # noqa: E402
from sipp_run import answers_options  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from callvault.bootstrap import build  # noqa: E402
from callvault.catalog.store import recordings  # noqa: E402
from callvault.context import system_context  # noqa: E402
from callvault.maintenance.service import init_home  # noqa: E402
from callvault.media.decode import open_audio  # noqa: E402

SCENARIO = ROOT / "tests" / "siprec" / "sipp" / "siprec_uac.xml"
PARKING = "+442073715678"  # the shipped policy's parking line: recorded
CALLER = "+442079460123"
RTP_PORTS = "20000-39998"
TICK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")
WINDOW_S = 0.02  # a packet's worth: a lost or late packet is one missing window
TONE_LEVEL = 0.05  # a party's tone (amplitude about 0.24 after Opus) is there above this
FloatArray = npt.NDArray[np.float64]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` (all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def _rss_mb(pid: int) -> float:
    return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE / 2**20


def _children(pid: int) -> list[int]:
    kids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                kids.append(int(stat.parent.name))
        except (OSError, ValueError):
            continue
    return kids


def _rcvbuf_errors() -> int:
    lines = [line.split() for line in Path("/proc/net/snmp").read_text().splitlines()]
    names, values = next(pair for pair in itertools.pairwise(lines) if pair[0][0] == "Udp:")
    return int(values[names.index("RcvbufErrors")])


def _pcap_records(path: Path) -> int:
    data, at, count = path.read_bytes(), 24, 0
    while at < len(data):
        at += 16 + int.from_bytes(data[at + 8 : at + 12], "little")
        count += 1
    return count


@dataclass
class Level:
    calls: int
    capture_cpu_pct_per_call: float = 0.0
    memory_mb_per_call: float = 0.0
    sent: int = 0
    dropped: int = 0
    failed_calls: int = 0
    stored: int = 0
    worst_duration_pct: float = 0.0  # the recording furthest from the call's length
    worst_onset_ms: float = 0.0  # the tone start furthest from when it was sent
    holes: int = 0  # 20 ms windows after its onset where a party's tone is missing
    crosstalk: int = 0  # recordings with a tone on the wrong channel
    commit_wait_s: float = 0.0
    encode_cpu_s_per_call_min: float = 0.0


def _tone_windows(channel: FloatArray, freq: float, rate: int) -> FloatArray:
    """The tone's level in consecutive 20 ms windows (one DFT bin each)."""
    size = round(WINDOW_S * rate)
    windows = channel[: len(channel) // size * size].reshape(-1, size)
    probe = np.exp(-2j * np.pi * freq * np.arange(size) / rate)
    return np.abs(windows @ probe) * np.sqrt(2) / size  # type: ignore[no-any-return]


def _check_audio(level: Level, home: Path, seconds: float, detail: bool) -> None:
    services = build(home)
    with services.engine.connect() as conn:
        rows = conn.execute(select(recordings).where(recordings.c.purged_at.is_(None))).all()
    level.stored = len(rows)
    for row in rows:
        level.worst_duration_pct = max(
            level.worst_duration_pct, 100 * abs(row.duration_s - seconds) / seconds
        )
        key = services.vault.unwrap_key(services.catalog.wrapped_key(row.id), row.id)
        with open_audio(io.BytesIO(services.vault.read_all(row.blob_name, key))) as reader:
            frames = list(reader.frames())
        rate = frames[0].sample_rate
        caller, agent = np.concatenate([f.to_ndarray() for f in frames], axis=1).astype(np.float64)
        for channel, party in ((caller, pcaps.CALLER), (agent, pcaps.AGENT)):
            heard = _tone_windows(channel, party.freq, rate) >= TONE_LEVEL
            start = int(np.argmax(heard))  # the first window with the tone
            level.worst_onset_ms = max(
                level.worst_onset_ms, abs(start * WINDOW_S - party.tone_from) * 1000
            )
            # From the onset to one window before the call ends (the last one blurs).
            missing = np.flatnonzero(~heard[start : int(seconds / WINDOW_S) - 1])
            level.holes += len(missing)
            if detail and len(missing):
                at = ((start + missing) * WINDOW_S).round(2).tolist()
                print(f"  {row.id[:8]} {party.freq:.0f} Hz missing at {at[:10]}")
        other = _tone_windows(caller, pcaps.AGENT.freq, rate).max(initial=0.0)
        other = max(other, _tone_windows(agent, pcaps.CALLER.freq, rate).max(initial=0.0))
        level.crosstalk += int(other >= TONE_LEVEL)


def _scenario(folder: Path, seconds: float) -> Path:
    text = SCENARIO.read_text()
    text = text.replace(
        '<pause milliseconds="4500"/>', f'<pause milliseconds="{seconds * 1000:.0f}"/>'
    )
    path = folder / "load.xml"
    path.write_text(text)
    return path


def _sipp_args(port: int, folder: Path, calls: int, seconds: float, rate: float) -> list[str]:
    args = ["taskset", "-c", "1", "sipp", f"127.0.0.1:{port}"]
    args += ["-sf", str(_scenario(folder, seconds)), "-nostdin"]
    args += ["-r", str(rate), "-l", str(calls), "-m", str(calls)]
    args += ["-key", "caller", CALLER, "-key", "dialled", PARKING]
    args += ["-i", "127.0.0.1", "-p", str(_free_port()), "-mi", "127.0.0.1", "-mp", "50000"]
    args += ["-timeout", f"{seconds + calls / rate + 60:.0f}s", "-trace_stat", "-fd", "1"]
    return args


def run_level(calls: int, seconds: float, rate: float, folder: Path, detail: bool) -> Level:
    level = Level(calls)
    home = folder / f"home-{calls}"
    init_home(system_context("bench"), home)
    env = {**os.environ, "CALLVAULT_HOME": str(home)}
    pcap = pcaps.two_party_call(folder / "siprec_call.pcap", seconds=seconds)
    packets_per_call = _pcap_records(pcap)
    port = _free_port()
    exe = Path(sys.executable).parent / "callvault"
    recorder_args = ["taskset", "-c", "0", str(exe), "siprec", f"127.0.0.1:{port}"]
    recorder = subprocess.Popen(
        [*recorder_args, "--rtp-ports", RTP_PORTS],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=(folder / "recorder.log").open("wb"),
    )
    try:
        deadline = time.monotonic() + 30
        while not answers_options(port):
            if recorder.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("callvault siprec did not start")
        rss_idle = _rss_mb(recorder.pid)
        drops_before = _rcvbuf_errors()
        sipp = subprocess.Popen(
            _sipp_args(port, folder, calls, seconds, rate),
            cwd=folder,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        began = time.monotonic()
        all_up = began + calls / rate + 1.0
        first_end = began + seconds
        time.sleep(max(0.0, all_up - time.monotonic()))
        cpu0, t0 = _cpu_s(recorder.pid), time.monotonic()
        time.sleep(max(0.5, (first_end - 1.0 - t0) / 2))
        rss_busy = _rss_mb(recorder.pid)
        time.sleep(max(0.0, first_end - 1.0 - time.monotonic()))
        cpu1, t1 = _cpu_s(recorder.pid), time.monotonic()
        level.capture_cpu_pct_per_call = 100 * (cpu1 - cpu0) / (t1 - t0) / calls
        level.memory_mb_per_call = (rss_busy - rss_idle) / calls
        _, sipp_err = sipp.communicate(timeout=seconds + calls / rate + 120)
        last_bye = time.monotonic()
        level.sent = calls * packets_per_call
        level.failed_calls = _sipp_failed(folder, sipp.returncode, sipp_err.decode())
        level.dropped = _rcvbuf_errors() - drops_before
        level.commit_wait_s, encode_cpu = _wait_for_commits(home, recorder.pid, calls, last_bye)
        level.encode_cpu_s_per_call_min = encode_cpu / (calls * seconds / 60)
    finally:
        recorder.send_signal(signal.SIGTERM)
        recorder.communicate(timeout=600)
        if detail:
            print((folder / "recorder.log").read_text()[-2000:])
    _check_audio(level, home, seconds, detail)
    return level


def _sipp_failed(folder: Path, returncode: int, stderr: str) -> int:
    stats = sorted(folder.glob("*_.csv"))
    if not stats:
        return -1 if returncode else 0
    header, *rows = [line.split(";") for line in stats[-1].read_text().splitlines() if line]
    failed = int(rows[-1][header.index("FailedCall(C)")])
    for path in stats:
        path.unlink()
    return failed


def _wait_for_commits(home: Path, pid: int, calls: int, since: float) -> tuple[float, float]:
    """Seconds until ``calls`` recordings are committed, and the encoder workers' CPU."""
    services = build(home)
    encode_cpu: dict[int, float] = {}
    while True:
        for child in _children(pid):
            try:
                encode_cpu[child] = _cpu_s(child)
            except OSError:
                continue
        with services.engine.connect() as conn:
            done = conn.execute(select(func.count()).select_from(recordings)).scalar_one()
        if done >= calls or time.monotonic() - since > 1800:
            return time.monotonic() - since, sum(encode_cpu.values())
        time.sleep(0.5)


_COLUMNS = (
    ("calls", 6, "calls", "d"),
    ("capture CPU %/call", 18, "capture_cpu_pct_per_call", ".3f"),
    ("MB/call", 8, "memory_mb_per_call", ".3f"),
    ("RTP sent", 9, "sent", "d"),
    ("dropped", 8, "dropped", "d"),
    ("failed", 6, "failed_calls", "d"),
    ("stored", 6, "stored", "d"),
    ("worst dur %", 11, "worst_duration_pct", ".2f"),
    ("worst onset ms", 14, "worst_onset_ms", ".0f"),
    ("holes", 6, "holes", "d"),
    ("xtalk", 5, "crosstalk", "d"),
    ("commit s", 8, "commit_wait_s", ".1f"),
    ("encode CPU s/call-min", 21, "encode_cpu_s_per_call_min", ".2f"),
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--levels", default="100,200,300,400")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--rate", type=float, default=40.0, help="calls opened per second")
    parser.add_argument("--detail", action="store_true", help="say where audio was missing")
    args = parser.parse_args()
    if shutil.which("sipp") is None or os.geteuid() != 0 or (os.cpu_count() or 1) < 2:
        raise SystemExit("needs sipp on PATH (sip-tester), root and two cores")
    print(" ".join(f"{title:>{width}}" for title, width, _, _ in _COLUMNS))
    for calls in (int(n) for n in args.levels.split(",")):
        with tempfile.TemporaryDirectory(prefix="cv-load-") as folder:
            level = run_level(calls, args.seconds, args.rate, Path(folder), args.detail)
        cells = [format(getattr(level, name), f">{w}{spec}") for _, w, name, spec in _COLUMNS]
        print(" ".join(cells), flush=True)


if __name__ == "__main__":
    main()
