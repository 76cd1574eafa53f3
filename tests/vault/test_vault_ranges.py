"""Ranged reads through the Vault: only the chunks a byte range needs, each authenticated.

Run on files and on a real SeaweedFS (Range GETs); tampering is done past the vault, as
someone holding the storage credentials could.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from callvault.errors import BadInput, IntegrityFailure, NotFound
from callvault.vault.blobs import FilesystemBlobStore
from callvault.vault.crypto import (
    CHUNK_SIZE,
    HEADER_SIZE,
    SEALED_CHUNK_SIZE,
    TAG_SIZE,
    chunk_span,
    plaintext_size,
)
from callvault.vault.interfaces import BlobStore
from callvault.vault.keys import LocalKeyFile
from callvault.vault.s3 import S3BlobStore
from callvault.vault.service import Vault
from seaweed import PLAIN_BUCKET, SeaweedServer

NAME = "rec-1/audio.opus"
SIZES = [1, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1, 3 * CHUNK_SIZE, 3 * CHUNK_SIZE + 5]


@dataclass
class Stored:
    """A vault plus a back door to the stored bytes of its blobs."""

    vault: Vault
    store: BlobStore
    raw: Callable[[str], bytes]
    put_raw: Callable[[str, bytes], None]


def _file(tmp_path: Path) -> Stored:
    store = FilesystemBlobStore(tmp_path / "blobs")

    def put_raw(name: str, data: bytes) -> None:
        store.path_of(name).parent.mkdir(parents=True, exist_ok=True)
        store.path_of(name).write_bytes(data)

    vault = Vault(store, LocalKeyFile.create(tmp_path / "keys"))
    return Stored(vault, store, lambda name: store.path_of(name).read_bytes(), put_raw)


def _s3(tmp_path: Path, server: SeaweedServer) -> Stored:
    location = server.location(PLAIN_BUCKET, f"r/{secrets.token_hex(6)}")
    client = server.client()
    store = S3BlobStore(location, client)

    def raw(name: str) -> bytes:
        return client.get_object(Bucket=PLAIN_BUCKET, Key=location.key_for(name))["Body"].read()

    def put_raw(name: str, data: bytes) -> None:
        client.put_object(Bucket=PLAIN_BUCKET, Key=location.key_for(name), Body=data)

    return Stored(Vault(store, LocalKeyFile.create(tmp_path / "keys")), store, raw, put_raw)


@pytest.fixture(params=["file", "s3"])
def stored(request: pytest.FixtureRequest, tmp_path: Path) -> Stored:
    if request.param == "file":
        return _file(tmp_path)
    return _s3(tmp_path, request.getfixturevalue("s3_server"))


def _ranges(size: int) -> list[tuple[int, int]]:
    """First byte, first chunk, across each boundary, the last byte, suffixes, everything."""
    picks = {(0, 1), (0, min(size, CHUNK_SIZE)), (size - 1, size), (0, size), (size // 2, size)}
    for boundary in range(CHUNK_SIZE, size, CHUNK_SIZE):
        picks |= {(boundary - 1, min(boundary + 1, size)), (boundary, size), (0, boundary)}
    return sorted(picks)


def test_plaintext_size_follows_the_layout() -> None:
    for size in [0, *SIZES, 5 * 2**20 + 7]:
        stored = HEADER_SIZE + (size // CHUNK_SIZE) * SEALED_CHUNK_SIZE + size % CHUNK_SIZE
        assert plaintext_size(stored + TAG_SIZE) == size
    for impossible in [0, HEADER_SIZE, HEADER_SIZE + TAG_SIZE - 1, HEADER_SIZE + SEALED_CHUNK_SIZE]:
        with pytest.raises(IntegrityFailure, match="truncated"):
            plaintext_size(impossible)


def test_chunk_span_names_only_the_covering_chunks() -> None:
    stored = HEADER_SIZE + 3 * SEALED_CHUNK_SIZE + 5 + TAG_SIZE  # 3 full chunks + 5 bytes
    span = chunk_span(stored, CHUNK_SIZE + 10, 2 * CHUNK_SIZE + 1)
    assert (span.first, span.last, span.final) == (1, 2, False)
    assert span.offset == HEADER_SIZE + SEALED_CHUNK_SIZE and span.length == 2 * SEALED_CHUNK_SIZE
    tail = chunk_span(stored, 3 * CHUNK_SIZE, 3 * CHUNK_SIZE + 5)
    assert (tail.first, tail.last, tail.final, tail.length) == (3, 3, True, 5 + TAG_SIZE)
    # Exactly two chunks: a range ending at the end also takes the empty final chunk.
    even = HEADER_SIZE + 2 * SEALED_CHUNK_SIZE + TAG_SIZE
    assert (chunk_span(even, 0, 2 * CHUNK_SIZE).last, chunk_span(even, 0, 10).last) == (2, 0)
    for start, end in [(0, 0), (-1, 5), (5, 4), (0, 3 * CHUNK_SIZE + 6)]:
        with pytest.raises(BadInput, match="range"):
            chunk_span(stored, start, end)


@pytest.mark.parametrize("size", SIZES)
def test_every_range_equals_the_slice(stored: Stored, size: int) -> None:
    key = stored.vault.new_data_key()
    data = os.urandom(size)
    stored.vault.write(NAME, key, data)
    assert stored.vault.plaintext_size(NAME) == size
    for start, end in _ranges(size):
        assert b"".join(stored.vault.read_range(NAME, key, start, end)) == data[start:end]
    assert b"".join(stored.vault.read_range(NAME, key, size - 1)) == data[-1:]


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(size=st.integers(1, 4 * CHUNK_SIZE + 3), data=st.data())
def test_any_range_equals_the_slice(tmp_path: Path, size: int, data: st.DataObject) -> None:
    stored = _file(tmp_path / secrets.token_hex(4))
    key = stored.vault.new_data_key()
    plain = os.urandom(size)
    stored.vault.write(NAME, key, plain)
    start = data.draw(st.integers(0, size - 1))
    end = data.draw(st.integers(start + 1, size))
    pieces = list(stored.vault.read_range(NAME, key, start, end))
    assert b"".join(pieces) == plain[start:end]
    assert all(pieces) and len(pieces) == (end - 1) // CHUNK_SIZE - start // CHUNK_SIZE + 1


def test_only_covering_chunks_are_decrypted(stored: Stored) -> None:
    key = stored.vault.new_data_key()
    data = os.urandom(3 * CHUNK_SIZE + 5)
    stored.vault.write(NAME, key, data)
    blob = bytearray(stored.raw(NAME))
    blob[HEADER_SIZE + 7] ^= 1  # spoil chunk 0 only
    stored.put_raw(NAME, bytes(blob))
    # Chunks 1 to 3 never touch chunk 0, so they still read.
    assert b"".join(stored.vault.read_range(NAME, key, CHUNK_SIZE)) == data[CHUNK_SIZE:]
    with pytest.raises(IntegrityFailure, match="chunk 0"):
        list(stored.vault.read_range(NAME, key, CHUNK_SIZE - 1, CHUNK_SIZE + 1))


def _seal(stored: Stored, size: int) -> tuple[bytes, bytes]:
    key = stored.vault.new_data_key()
    stored.vault.write(NAME, key, os.urandom(size))
    return key, stored.raw(NAME)


def _chunk(blob: bytes, index: int) -> slice:
    start = HEADER_SIZE + index * SEALED_CHUNK_SIZE
    return slice(start, start + SEALED_CHUNK_SIZE)


def test_swapped_chunks_fail_at_their_place(stored: Stored) -> None:
    key, blob = _seal(stored, 3 * CHUNK_SIZE + 5)
    one, two = blob[_chunk(blob, 1)], blob[_chunk(blob, 2)]
    stored.put_raw(NAME, blob[: _chunk(blob, 1).start] + two + one + blob[_chunk(blob, 3).start :])
    with pytest.raises(IntegrityFailure, match="chunk 1"):
        list(stored.vault.read_range(NAME, key, CHUNK_SIZE, CHUNK_SIZE + 10))
    assert list(stored.vault.read_range(NAME, key, 0, 10))  # chunk 0 is untouched


@pytest.mark.parametrize("cut", [1, TAG_SIZE, 5 + TAG_SIZE, 5 + TAG_SIZE + 100])
def test_truncation_fails_when_the_range_reaches_the_end(stored: Stored, cut: int) -> None:
    key, blob = _seal(stored, 3 * CHUNK_SIZE + 5)
    stored.put_raw(NAME, blob[:-cut])
    with pytest.raises(IntegrityFailure):
        size = stored.vault.plaintext_size(NAME)
        list(stored.vault.read_range(NAME, key, size - 1))


def test_dropped_empty_final_chunk_fails(stored: Stored) -> None:
    key, blob = _seal(stored, 2 * CHUNK_SIZE)
    stored.put_raw(NAME, blob[:-TAG_SIZE])
    with pytest.raises(IntegrityFailure, match="truncated"):
        list(stored.vault.read_range(NAME, key, 0))


def test_full_chunk_posing_as_final_fails(stored: Stored) -> None:
    # Cut after chunk 1 and keep 100 bytes of chunk 2: the layout now calls chunk 2 final.
    key, blob = _seal(stored, 3 * CHUNK_SIZE + 5)
    stored.put_raw(NAME, blob[: _chunk(blob, 2).start + 100])
    with pytest.raises(IntegrityFailure, match="chunk 2"):
        list(stored.vault.read_range(NAME, key, 2 * CHUNK_SIZE))


def test_appended_chunk_fails(stored: Stored) -> None:
    key, blob = _seal(stored, 2 * CHUNK_SIZE + 5)
    stored.put_raw(NAME, blob + blob[_chunk(blob, 0)])
    with pytest.raises(IntegrityFailure):
        list(stored.vault.read_range(NAME, key, 2 * CHUNK_SIZE))


@pytest.mark.parametrize("at", [0, 4, 5, HEADER_SIZE - 1])
def test_altered_header_fails_before_any_chunk(stored: Stored, at: int) -> None:
    key, blob = _seal(stored, 2 * CHUNK_SIZE + 5)
    spoilt = bytearray(blob)
    spoilt[at] ^= 1
    stored.put_raw(NAME, bytes(spoilt))
    for start in (0, CHUNK_SIZE + 1):
        with pytest.raises(IntegrityFailure):
            next(stored.vault.read_range(NAME, key, start))


def test_wrong_key_and_wrong_name_fail(stored: Stored) -> None:
    key, blob = _seal(stored, CHUNK_SIZE + 5)
    with pytest.raises(IntegrityFailure):
        next(stored.vault.read_range(NAME, stored.vault.new_data_key(), CHUNK_SIZE))
    stored.put_raw("rec-2/audio.opus", blob)
    with pytest.raises(IntegrityFailure):
        next(stored.vault.read_range("rec-2/audio.opus", key, 3))


def test_range_outside_the_plaintext_and_missing_blob(stored: Stored) -> None:
    key, _ = _seal(stored, 100)
    for start, end in [(100, None), (0, 101), (5, 5), (-1, 3)]:
        with pytest.raises(BadInput, match="range"):
            stored.vault.read_range(NAME, key, start, end)
    with pytest.raises(NotFound):
        stored.vault.read_range("rec-9/audio.opus", key, 0)
    with pytest.raises(NotFound):
        stored.vault.plaintext_size("rec-9/audio.opus")


def test_store_ranges_return_stored_bytes(stored: Stored) -> None:
    _, blob = _seal(stored, CHUNK_SIZE + 5)
    assert stored.store.size(NAME) == len(blob)
    for start, end in [(0, 21), (100, 200), (len(blob) - 3, len(blob) + 50), (7, 7)]:
        with stored.store.open_range(NAME, start, end) as part:
            assert part.read() == blob[start:end]
    with pytest.raises(BadInput, match="range"):
        stored.store.open_range(NAME, 5, 4)
    with pytest.raises(NotFound):
        stored.store.open_range("nothing", 0, 1)
