"""One contract for every blob store, run through the Vault: files, S3, S3 with Object Lock.

The S3 legs run against a real SeaweedFS (the session's ``s3_server``), each test under its
own key prefix, with 5 MiB parts so that a few MiB already take the multipart path.
"""

from __future__ import annotations

import math
import os
import secrets
import time
import tracemalloc
import zlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from callvault.errors import BadInput, IntegrityFailure, NotFound
from callvault.vault.blobs import INCOMPLETE_DIR, FilesystemBlobStore
from callvault.vault.crypto import CHUNK_SIZE
from callvault.vault.interfaces import BlobStore
from callvault.vault.keys import LocalKeyFile
from callvault.vault.s3 import MIN_PART_SIZE, S3BlobStore
from callvault.vault.service import Vault
from seaweed import LOCKED_BUCKET, PLAIN_BUCKET, SeaweedServer

WAV_MAGIC = b"RIFF\x24\x00\x10\x00WAVEfmt "
PATTERN = WAV_MAGIC + b"\x10\x00\x00\x00\x01\x00\x01\x00\x40\x1f\x00\x00" + b"SPEECH" * 20
PART = MIN_PART_SIZE
MiB = 2**20


@dataclass
class Backend:
    """A store plus a back door to what it really keeps, for checks a caller cannot make."""

    kind: str
    store: BlobStore
    raw: Callable[[str], bytes]  # the stored bytes of a blob
    put_raw: Callable[[str, bytes], None]  # replace the stored bytes of a blob
    leftovers: Callable[[], int]  # unfinished writes: temp files or multipart uploads
    everything: Callable[[], list[str]]  # every object/file the store holds, of any kind


def _file_backend(root: Path) -> Backend:
    store = FilesystemBlobStore(root)

    def everything() -> list[str]:
        return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())

    def put_raw(name: str, data: bytes) -> None:
        store.path_of(name).write_bytes(data)

    return Backend(
        kind="file",
        store=store,
        raw=lambda name: store.path_of(name).read_bytes(),
        put_raw=put_raw,
        leftovers=lambda: len(list((root / INCOMPLETE_DIR).iterdir())),
        everything=everything,
    )


def _s3_backend(server: SeaweedServer, bucket: str) -> Backend:
    location = server.location(bucket, f"t/{secrets.token_hex(6)}")
    client = server.client()
    store = S3BlobStore(location, client, part_size=PART)

    def raw(name: str) -> bytes:
        return client.get_object(Bucket=bucket, Key=location.key_for(name))["Body"].read()

    def put_raw(name: str, data: bytes) -> None:
        client.put_object(Bucket=bucket, Key=location.key_for(name), Body=data)

    def leftovers() -> int:
        uploads = client.list_multipart_uploads(Bucket=bucket, Prefix=location.prefix)
        return len(uploads.get("Uploads", []))

    def everything() -> list[str]:
        found = client.list_object_versions(Bucket=bucket, Prefix=location.prefix)
        items = [*found.get("Versions", []), *found.get("DeleteMarkers", [])]
        return sorted(f"{v.get('Key')}@{v.get('VersionId')}" for v in items)

    return Backend(f"s3:{bucket}", store, raw, put_raw, leftovers, everything)


@pytest.fixture(params=["file", "s3", "s3-locked"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    if request.param == "file":
        return _file_backend(tmp_path / "blobs")
    server: SeaweedServer = request.getfixturevalue("s3_server")
    return _s3_backend(server, LOCKED_BUCKET if request.param == "s3-locked" else PLAIN_BUCKET)


@pytest.fixture
def vault(backend: Backend, tmp_path: Path) -> Vault:
    return Vault(backend.store, LocalKeyFile.create(tmp_path / "keys"))


def entropy_bits_per_byte(data: bytes) -> float:
    counts = Counter(data)
    return -sum(c / len(data) * math.log2(c / len(data)) for c in counts.values())


def test_satisfies_protocol(backend: Backend) -> None:
    store: BlobStore = backend.store
    assert store.exists("nothing") is False
    assert store.supports_object_lock is (backend.kind == f"s3:{LOCKED_BUCKET}")


@pytest.mark.parametrize("size", [0, 3 * CHUNK_SIZE + 1, PART + 12345])
def test_round_trip_through_vault(vault: Vault, backend: Backend, size: int) -> None:
    data_key = vault.new_data_key()
    audio = os.urandom(size)
    with vault.writer("rec-1/audio.opus", data_key) as out:
        for start in range(0, len(audio), 100_000):
            out.write(audio[start : start + 100_000])
    vault.write("rec-1/meta.json", data_key, b'{"ok": true}')

    assert vault.read_all("rec-1/audio.opus", data_key) == audio
    assert vault.read_all("rec-1/meta.json", data_key) == b'{"ok": true}'
    assert vault.exists("rec-1/audio.opus")
    assert set(backend.store.names()) == {"rec-1/audio.opus", "rec-1/meta.json"}
    assert vault.delete("rec-1/audio.opus") is True
    assert vault.delete("rec-1/audio.opus") is False
    assert not vault.exists("rec-1/audio.opus")
    assert list(backend.store.names()) == ["rec-1/meta.json"]
    assert vault.delete("rec-1/meta.json") is True
    assert backend.everything() == []  # every version and delete marker is gone too
    assert backend.leftovers() == 0


def test_rewrite_replaces_and_failed_rewrite_keeps_old(vault: Vault, backend: Backend) -> None:
    key = vault.new_data_key()
    vault.write("rec-2", key, b"first")
    vault.write("rec-2", key, b"second")
    with pytest.raises(RuntimeError), vault.writer("rec-2", key) as out:
        out.write(os.urandom(PART + 1))  # far enough for a multipart upload to exist
        raise RuntimeError("decoder crashed")
    assert vault.read_all("rec-2", key) == b"second"
    assert backend.leftovers() == 0
    assert vault.delete("rec-2")
    assert backend.everything() == []


@pytest.mark.parametrize("size", [1000, 2 * PART + 1])
def test_failure_mid_write_leaves_nothing(vault: Vault, backend: Backend, size: int) -> None:
    data_key = vault.new_data_key()
    with pytest.raises(RuntimeError), vault.writer("rec-3/audio.opus", data_key) as out:
        out.write(os.urandom(size))
        if size > PART:
            assert backend.leftovers() == 1  # parts went up, but as an upload, not an object
        raise RuntimeError("caller not covered by policy after all")
    assert not vault.exists("rec-3/audio.opus")
    assert list(backend.store.names()) == []
    assert backend.leftovers() == 0
    assert backend.everything() == []


def test_blob_invisible_until_write_completes(vault: Vault, backend: Backend) -> None:
    data_key = vault.new_data_key()
    with vault.writer("rec-4", data_key) as out:
        out.write(os.urandom(PART + 1))
        assert not vault.exists("rec-4")
        assert list(backend.store.names()) == []
    assert vault.exists("rec-4")
    assert backend.leftovers() == 0


def test_crash_leftovers_are_removed(backend: Backend) -> None:
    store = backend.store
    writing = store.writer("rec-5/audio.opus")
    writing.__enter__().write(os.urandom(PART + 1))  # never exited: a crash
    assert backend.leftovers() == 1
    assert not store.exists("rec-5/audio.opus")
    assert store.remove_incomplete(older_than_s=3600) == 0
    assert store.remove_incomplete() == 1
    assert backend.leftovers() == 0
    assert store.remove_incomplete() == 0
    assert backend.everything() == []
    del writing


def test_no_plaintext_in_stored_objects(vault: Vault, backend: Backend) -> None:
    data_key = vault.new_data_key()
    plaintext = PATTERN * (PART // len(PATTERN) + 1000)
    with vault.writer("rec-6/audio.wav", data_key) as out:
        out.write(plaintext)
    body = backend.raw("rec-6/audio.wav")
    for needle in (WAV_MAGIC, b"WAVEfmt", b"SPEECHSPEECH", PATTERN[8:24], data_key):
        assert needle not in body
    assert entropy_bits_per_byte(body[21:]) > 7.99
    assert len(zlib.compress(body, 9)) > 0.99 * len(body)


def test_flipped_byte_fails_integrity(vault: Vault, backend: Backend) -> None:
    data_key = vault.new_data_key()
    vault.write("rec-7", data_key, os.urandom(2 * CHUNK_SIZE))
    data = bytearray(backend.raw("rec-7"))
    data[len(data) // 2] ^= 0x01
    backend.put_raw("rec-7", bytes(data))
    assert backend.raw("rec-7") == data
    with pytest.raises(IntegrityFailure):
        vault.read_all("rec-7", data_key)


def test_truncated_object_fails_integrity(vault: Vault, backend: Backend) -> None:
    data_key = vault.new_data_key()
    vault.write("rec-8", data_key, os.urandom(3 * CHUNK_SIZE))
    backend.put_raw("rec-8", backend.raw("rec-8")[: -CHUNK_SIZE - 16])
    with pytest.raises(IntegrityFailure):
        vault.read_all("rec-8", data_key)


def test_large_blob_streams_in_bounded_memory(vault: Vault, backend: Backend) -> None:
    data_key = vault.new_data_key()
    piece = memoryview(os.urandom(MiB))
    total_mib = 24  # several parts of 5 MiB on S3
    started = time.perf_counter()
    tracemalloc.start()
    try:
        with vault.writer("rec-9/audio.wav", data_key) as out:
            for _ in range(total_mib):
                out.write(piece)
        _, write_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        total = 0
        largest = 0
        for chunk in vault.read("rec-9/audio.wav", data_key):
            total += len(chunk)
            largest = max(largest, len(chunk))
        _, read_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    elapsed = time.perf_counter() - started
    assert total == total_mib * MiB
    assert largest == CHUNK_SIZE
    print(
        f"{backend.kind}: {total_mib} MiB write+read in {elapsed:.2f} s; traced peak "
        f"write {write_peak / MiB:.1f} MiB, read {read_peak / MiB:.2f} MiB"
    )
    # Files: a few 64 KiB chunks. S3: the one part being buffered, never the blob; reads
    # hold a chunk and a socket buffer.
    write_bound = 1 * MiB if backend.kind == "file" else PART + 2 * MiB
    assert write_peak < write_bound
    assert read_peak < 1 * MiB


def test_legal_hold_on_missing_blob_is_not_found(vault: Vault) -> None:
    with pytest.raises(NotFound) as info:
        vault.set_legal_hold("rec-missing", True)
    assert info.value.field == "blob_name"


def test_legal_hold_and_release_then_delete(vault: Vault, backend: Backend) -> None:
    data_key = vault.new_data_key()
    vault.write("rec-10", data_key, b"evidence")
    vault.set_legal_hold("rec-10", True)
    vault.set_legal_hold("rec-10", False)
    assert vault.read_all("rec-10", data_key) == b"evidence"
    assert vault.delete("rec-10") is True
    assert backend.everything() == []


def test_delete_many_removes_them_all_and_tolerates_missing(vault: Vault, backend: Backend) -> None:
    data_key = vault.new_data_key()
    names = [f"rec/{n:02d}/audio.opus" for n in range(5)]
    for name in names:
        vault.write(name, data_key, b"to be purged")
    vault.write("rec-keep", data_key, b"kept")
    assert vault.delete_many([*names, "rec-never-written"]) == []
    assert not any(vault.exists(name) for name in names)
    assert vault.read_all("rec-keep", data_key) == b"kept"
    assert vault.delete_many([]) == []
    with pytest.raises(BadInput):
        vault.delete_many(["../escape"])


def test_delete_many_names_what_a_legal_hold_keeps(vault: Vault, backend: Backend) -> None:
    data_key = vault.new_data_key()
    vault.write("rec-20", data_key, b"held")
    vault.write("rec-21", data_key, b"free")
    vault.set_legal_hold("rec-20", True)
    kept = vault.delete_many(["rec-20", "rec-21"])
    assert kept == (["rec-20"] if vault.supports_object_lock else [])
    assert not vault.exists("rec-21")
    if vault.supports_object_lock:  # files cannot be held: it went with the rest
        vault.set_legal_hold("rec-20", False)
    assert vault.delete_many(["rec-20"]) == []
    assert backend.everything() == []


def test_retain_until_must_be_aware_and_future(vault: Vault, backend: Backend) -> None:
    data_key = vault.new_data_key()
    for bad in (datetime(2099, 1, 1), datetime.now(UTC) - timedelta(seconds=1)):
        with pytest.raises(BadInput) as info, vault.writer("rec-11", data_key, retain_until=bad):
            pass
        assert info.value.field == "retain_until"
    assert backend.everything() == []
    assert backend.leftovers() == 0


def test_missing_blob_not_found_before_first_chunk(vault: Vault) -> None:
    with pytest.raises(NotFound, match="rec-missing"):
        vault.read("rec-missing", vault.new_data_key())


@pytest.mark.parametrize("name", ["../escape", "/abs", "a\\b", "UPPER", "a//b", ".hidden"])
def test_invalid_names_rejected_everywhere(name: str, backend: Backend) -> None:
    store = backend.store
    with pytest.raises(BadInput) as info, store.writer(name):
        pass
    assert info.value.field == "blob_name"
    calls: list[Callable[[str], object]] = [store.open, store.exists, store.delete]
    calls.append(lambda n: store.set_legal_hold(n, True))
    for call in calls:
        with pytest.raises(BadInput):
            call(name)
    assert backend.everything() == []
