"""Ingest speed and memory, measured side by side in one run.

Run: .venv/bin/python bench/bench_ingest.py [--minutes 5] [--long-hours 2] [--rounds 3]

(a) PyAV decode + Opus encode of the call alone (``bench_media.encode_baseline``, same codec
settings) and (b) a whole ``callvault ingest`` of the same file through the service layer:
metadata, policy, hash, encrypt, blob write with fsync, catalogue and audit transaction.
Rounds alternate (a) and (b) so drift on a shared machine hits both. Prints the median ratio
(target <= 1.15) and the peak RSS of a real ``callvault ingest`` process on a long call
(target < 200 MB for two hours).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "tests"), str(ROOT / "bench")]

from audiofixtures import make_call_audio  # noqa: E402
from bench_media import encode_baseline  # noqa: E402
from callvault.capture.ingest import AudioInput  # noqa: E402
from callvault.context import system_context  # noqa: E402
from callvault.maintenance.service import init_home  # noqa: E402
from homes import meta_for  # noqa: E402


def _meta(call_id: str, seconds: float) -> bytes:
    meta = meta_for(call_id=call_id)
    if seconds > 3600:
        meta["started_at"] = "2026-11-27T08:00:00+00:00"
        meta["ended_at"] = "2026-11-27T11:00:00+00:00"
    return orjson.dumps(meta)


def ingest_ratio(work: Path, minutes: float, rounds: int) -> tuple[float, float, float]:
    audio = make_call_audio(work / "call.wav", seconds=minutes * 60)
    ctx = system_context("bench")
    services = init_home(ctx, work / "home")
    baseline, ours = [], []
    for i in range(rounds):
        baseline.append(encode_baseline(audio))
        start = time.perf_counter()
        services.ingest.ingest(ctx, AudioInput(path=audio), _meta(f"bench-{i}", minutes * 60))
        ours.append(time.perf_counter() - start)
    return statistics.median(baseline), statistics.median(ours), minutes * 60


def peak_rss_mb(work: Path, hours: float) -> tuple[float, int]:
    """Peak resident memory of a real `callvault ingest` process on a long call."""
    audio = make_call_audio(work / "long.wav", seconds=hours * 3600)
    meta = work / "long.json"
    meta.write_bytes(_meta("long-call", hours * 3600))
    env = {**os.environ, "CALLVAULT_HOME": str(work / "home")}
    exe = Path(sys.executable).parent / "callvault"
    proc = subprocess.Popen([str(exe), "ingest", str(audio), "--meta", str(meta), "--json"],
                            env=env, stdout=subprocess.PIPE)  # fmt: skip
    _pid, status, usage = os.wait4(proc.pid, 0)
    if status != 0:
        raise SystemExit(f"long ingest failed with status {status}")
    return usage.ru_maxrss / 1024, audio.stat().st_size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--long-hours", type=float, default=2.0)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        base, ours, seconds = ingest_ratio(work, args.minutes, args.rounds)
        print(f"{args.minutes:g}-minute two-channel 8 kHz call, median of {args.rounds} rounds")
        print(f"  PyAV decode+encode alone : {base:.3f} s ({seconds / base:.0f}x real time)")
        print(f"  callvault ingest         : {ours:.3f} s ({seconds / ours:.0f}x real time)")
        print(f"  ratio ingest / encode    : {ours / base:.3f}  (target <= 1.15)")
        rss, size = peak_rss_mb(work, args.long_hours)
        print(f"{args.long_hours:g}-hour call ({size / 1e6:.0f} MB WAV): peak RSS of "
              f"`callvault ingest` {rss:.0f} MB  (target < 200 MB)")  # fmt: skip


if __name__ == "__main__":
    main()
