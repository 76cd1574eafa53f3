"""Blob store throughput through the Vault: filesystem vs S3 (SeaweedFS), in one run.

    .venv/bin/python bench/bench_blobs.py [--mb 50] [--rounds 3] [--part-mib 8]

Writes a recording of ``--mb`` MB (random, so incompressible, as Opus is) through
``Vault.writer`` in 1 MB pieces and reads it back through ``Vault.read``, on a
``FilesystemBlobStore`` (fsynced) and on an ``S3BlobStore`` over a SeaweedFS started on
loopback for the run (``tests/seaweed.py``; same machine, so the figures show the S3 path's
own cost, not a network's). Rounds alternate the stores so drift hits both; the median of
each is printed side by side with the filesystem/S3 ratio, and the peak of Python memory
(tracemalloc) during an S3 write and read.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "tests")]

from callvault.vault.blobs import FilesystemBlobStore  # noqa: E402
from callvault.vault.interfaces import BlobStore  # noqa: E402
from callvault.vault.keys import LocalKeyFile  # noqa: E402
from callvault.vault.s3 import S3BlobStore  # noqa: E402
from callvault.vault.service import Vault  # noqa: E402
from seaweed import PLAIN_BUCKET, start_seaweed  # noqa: E402

PIECE = 10**6  # 1 MB pieces, so --mb 50 is exactly 50 MB
NAME = "rec/bench/audio.opus"


def write_read(vault: Vault, piece: memoryview, pieces: int) -> tuple[float, float]:
    """Seconds to write ``pieces`` pieces into a blob, and to read it all back."""
    data_key = vault.new_data_key()
    started = time.perf_counter()
    with vault.writer(NAME, data_key) as out:
        for _ in range(pieces):
            out.write(piece)
    written = time.perf_counter()
    total = sum(len(chunk) for chunk in vault.read(NAME, data_key))
    done = time.perf_counter()
    if total != pieces * len(piece):
        raise RuntimeError(f"read back {total} bytes, wrote {pieces * len(piece)}")
    vault.delete(NAME)
    return written - started, done - written


def peak_memory(vault: Vault, piece: memoryview, pieces: int) -> tuple[int, int]:
    """tracemalloc peaks (bytes) of one write and one read."""
    data_key = vault.new_data_key()
    tracemalloc.start()
    try:
        with vault.writer(NAME, data_key) as out:
            for _ in range(pieces):
                out.write(piece)
        write_peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.reset_peak()
        for _ in vault.read(NAME, data_key):
            pass
        read_peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    vault.delete(NAME)
    return write_peak, read_peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=50, help="recording size in MB (10^6 bytes)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per store (median kept)")
    parser.add_argument("--part-mib", type=int, default=8, help="S3 multipart part size, MiB")
    args = parser.parse_args()
    pieces = max(1, args.mb)
    size_mb = pieces * PIECE / 1e6
    piece = memoryview(os.urandom(PIECE))

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        started = time.perf_counter()
        server = start_seaweed(work / "seaweed")
        startup = time.perf_counter() - started
        try:
            keys = LocalKeyFile.create(work / "keys")
            s3_store = S3BlobStore(
                server.location(PLAIN_BUCKET, "bench"),
                server.client(),
                part_size=args.part_mib * 2**20,
            )
            stores: dict[str, BlobStore] = {
                "filesystem": FilesystemBlobStore(work / "blobs"),
                "s3 (seaweedfs)": s3_store,
            }
            vaults = {label: Vault(store, keys) for label, store in stores.items()}
            for vault in vaults.values():  # warm up: connections, volumes, page cache
                write_read(vault, piece, 2)
            results: dict[str, tuple[list[float], list[float]]] = {k: ([], []) for k in vaults}
            for _ in range(args.rounds):
                for label, vault in vaults.items():
                    write_s, read_s = write_read(vault, piece, pieces)
                    results[label][0].append(write_s)
                    results[label][1].append(read_s)
            write_peak, read_peak = peak_memory(vaults["s3 (seaweedfs)"], piece, pieces)
        finally:
            server.stop()

    print(
        f"{size_mb:.0f} MB recording through Vault, 1 MB writes, median of "
        f"{args.rounds}, S3 part {args.part_mib} MiB, cpu count {os.cpu_count()}, "
        f"SeaweedFS ready in {startup:.1f} s"
    )
    print(f"  {'':16}{'write MB/s':>12}{'read MB/s':>12}{'write+read s':>14}")
    medians: dict[str, tuple[float, float]] = {}
    for label, (writes, reads) in results.items():
        w, r = statistics.median(writes), statistics.median(reads)
        medians[label] = (w, r)
        print(f"  {label:16}{size_mb / w:12.0f}{size_mb / r:12.0f}{w + r:14.2f}")
    (fw, fr), (sw, sr) = medians["filesystem"], medians["s3 (seaweedfs)"]
    print(
        f"  filesystem / s3 throughput: write {sw / fw:.1f}x, read {sr / fr:.1f}x, "
        f"write+read {(sw + sr) / (fw + fr):.1f}x"
    )
    print(
        f"  s3 Python memory peak (tracemalloc): write {write_peak / 2**20:.1f} MiB, "
        f"read {read_peak / 2**20:.2f} MiB"
    )


if __name__ == "__main__":
    main()
