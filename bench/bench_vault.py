"""Vault throughput: streaming (64 KiB chunks) vs raw one-shot AES-256-GCM, in one run.

    .venv/bin/python bench/bench_vault.py [--mb 128] [--repeat 3]

Prints encrypt and decrypt MB/s for the chunked format, for a single AESGCM call over the
same buffer and for a bare AESGCM loop over 64 KiB slices, their ratios, and the latency to
the first decrypted chunk of a stored blob (page cache warm).
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from callvault.vault.blobs import FilesystemBlobStore
from callvault.vault.crypto import CHUNK_SIZE, EncryptingWriter, decrypt_stream, new_data_key
from callvault.vault.keys import LocalKeyFile
from callvault.vault.service import Vault

AAD = b"rec/bench/audio.opus"
PIECE = 2**20  # callers write about a second of audio or a network read at a time


class NullSink:
    def write(self, data: bytes) -> int:
        return len(data)


def best_seconds(run: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return min(times)


def stream_encrypt(data: memoryview, key: bytes) -> None:
    writer = EncryptingWriter(NullSink(), key, AAD)
    for start in range(0, len(data), PIECE):
        writer.write(data[start : start + PIECE])
    writer.close()


def stream_decrypt(blob: bytes, key: bytes) -> None:
    for _ in decrypt_stream(io.BytesIO(blob), key, AAD):
        pass


def raw_chunked_encrypt(data: memoryview, key: bytes) -> None:
    aead = AESGCM(key)
    for index, start in enumerate(range(0, len(data), CHUNK_SIZE)):
        aead.encrypt(index.to_bytes(12, "big"), data[start : start + CHUNK_SIZE], AAD)


def first_chunk_latency(size: int, repeat: int) -> tuple[float, float]:
    """Median and worst seconds from ``Vault.read`` to the first plaintext chunk, from disk."""
    with tempfile.TemporaryDirectory() as tmp:
        vault = Vault(FilesystemBlobStore(Path(tmp) / "b"), LocalKeyFile.create(Path(tmp) / "k"))
        key = vault.new_data_key()
        piece = os.urandom(PIECE)
        with vault.writer("rec/bench", key) as out:
            for _ in range(size // PIECE):
                out.write(piece)
        times = []
        for _ in range(max(repeat, 20)):
            started = time.perf_counter()
            chunks = vault.read("rec/bench", key)
            next(chunks)
            times.append(time.perf_counter() - started)
            chunks.close()
        return statistics.median(times), max(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=128, help="plaintext size in MiB")
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure (best is kept)")
    args = parser.parse_args()
    size = args.mb * 2**20
    data = memoryview(os.urandom(size))
    key = new_data_key()
    nonce = os.urandom(12)
    raw = AESGCM(key)

    sink = io.BytesIO()
    stream_encrypt_once = EncryptingWriter(sink, key, AAD)
    stream_encrypt_once.write(data)
    stream_encrypt_once.close()
    blob = sink.getvalue()
    raw_blob = raw.encrypt(nonce, data, AAD)

    timings = {
        "encrypt stream": best_seconds(lambda: stream_encrypt(data, key), args.repeat),
        "encrypt raw": best_seconds(lambda: raw.encrypt(nonce, data, AAD), args.repeat),
        "encrypt raw 64K": best_seconds(lambda: raw_chunked_encrypt(data, key), args.repeat),
        "decrypt stream": best_seconds(lambda: stream_decrypt(blob, key), args.repeat),
        "decrypt raw": best_seconds(lambda: raw.decrypt(nonce, raw_blob, AAD), args.repeat),
    }
    mb = size / 1e6
    print(f"plaintext {args.mb} MiB, best of {args.repeat}, cpu count {os.cpu_count()}")
    for label, seconds in timings.items():
        print(f"  {label:15} {mb / seconds:8.0f} MB/s")
    for op in ("encrypt", "decrypt"):
        ratio = timings[f"{op} raw"] / timings[f"{op} stream"]
        print(f"  {op} stream / raw one-shot throughput: {ratio:.2f}")
    # One-shot raw pays for page-faulting a buffer as large as the input; the per-chunk raw
    # loop isolates what the STREAM framing itself costs (HKDF, nonces, header AAD, writes).
    ratio = timings["encrypt raw 64K"] / timings["encrypt stream"]
    print(f"  encrypt stream / raw 64 KiB-chunk loop throughput: {ratio:.2f}")
    print(f"  size overhead: {len(blob) - size} bytes ({(len(blob) - size) / size:.4%})")
    median, worst = first_chunk_latency(min(size, 64 * 2**20), args.repeat)
    print(
        f"  first decrypted chunk from disk: median {median * 1e3:.2f} ms, max {worst * 1e3:.2f} ms"
    )


if __name__ == "__main__":
    main()
