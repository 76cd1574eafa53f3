"""Streaming blob encryption: round trips and every kind of tampering the format must catch."""

from __future__ import annotations

import io
import os

import pytest

from callvault.errors import BadInput, IntegrityFailure
from callvault.vault.crypto import (
    CHUNK_SIZE,
    HEADER_SIZE,
    SEALED_CHUNK_SIZE,
    TAG_SIZE,
    EncryptingWriter,
    decrypt_stream,
    new_data_key,
)

AAD = b"rec/0001/audio.opus"
KEY = bytes(range(32))


def seal(plaintext: bytes, key: bytes = KEY, aad: bytes = AAD, piece: int = 0) -> bytes:
    sink = io.BytesIO()
    writer = EncryptingWriter(sink, key, aad)
    if piece:
        for start in range(0, len(plaintext), piece):
            writer.write(plaintext[start : start + piece])
    else:
        writer.write(plaintext)
    writer.close()
    return sink.getvalue()


def open_all(blob: bytes, key: bytes = KEY, aad: bytes = AAD) -> bytes:
    return b"".join(decrypt_stream(io.BytesIO(blob), key, aad))


def sealed_size(n: int) -> int:
    return HEADER_SIZE + (n // CHUNK_SIZE) * SEALED_CHUNK_SIZE + (n % CHUNK_SIZE) + TAG_SIZE


@pytest.mark.parametrize(
    "size", [0, 1, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1, 3 * CHUNK_SIZE, 5 * 2**20 + 7]
)
def test_round_trip(size: int) -> None:
    plaintext = os.urandom(size)
    blob = seal(plaintext)
    assert len(blob) == sealed_size(size)
    assert open_all(blob) == plaintext


@pytest.mark.parametrize("piece", [1, 1000, CHUNK_SIZE - 1, CHUNK_SIZE + 3, 3 * CHUNK_SIZE])
def test_round_trip_written_in_odd_pieces(piece: int) -> None:
    plaintext = os.urandom(3 * CHUNK_SIZE + 12345) if piece > 1 else os.urandom(CHUNK_SIZE + 9)
    blob = seal(plaintext, piece=piece)
    assert open_all(blob) == plaintext


def test_chunks_come_out_at_chunk_size() -> None:
    blob = seal(b"x" * (2 * CHUNK_SIZE + 5))
    sizes = [len(c) for c in decrypt_stream(io.BytesIO(blob), KEY, AAD)]
    assert sizes == [CHUNK_SIZE, CHUNK_SIZE, 5]


def test_empty_plaintext_yields_nothing_but_verifies() -> None:
    blob = seal(b"")
    assert len(blob) == HEADER_SIZE + TAG_SIZE
    assert list(decrypt_stream(io.BytesIO(blob), KEY, AAD)) == []


def test_writer_counts_and_closes_once() -> None:
    sink = io.BytesIO()
    writer = EncryptingWriter(sink, KEY, AAD)
    assert writer.write(b"abc") == 3
    assert writer.write(bytearray(b"de")) == 2
    assert writer.write(memoryview(b"fgh")[1:]) == 2
    writer.close()
    writer.close()
    assert writer.closed
    assert writer.plaintext_bytes == 7
    assert writer.ciphertext_bytes == len(sink.getvalue()) == sealed_size(7)
    with pytest.raises(ValueError, match="closed"):
        writer.write(b"more")
    assert open_all(sink.getvalue()) == b"abcdegh"


def test_writer_context_manager_does_not_finish_on_error() -> None:
    sink = io.BytesIO()
    with pytest.raises(RuntimeError), EncryptingWriter(sink, KEY, AAD) as writer:
        writer.write(b"partial")
        raise RuntimeError("source failed")
    with pytest.raises(IntegrityFailure, match="truncated"):
        open_all(sink.getvalue())


def test_same_key_same_plaintext_gives_different_blobs() -> None:
    # A fresh salt per blob means a fresh subkey: no nonce is ever reused under one key.
    assert seal(b"same") != seal(b"same")


def test_new_data_key_is_random_32_bytes() -> None:
    keys = {new_data_key() for _ in range(100)}
    assert len(keys) == 100
    assert all(len(k) == 32 for k in keys)


@pytest.mark.parametrize("bad", [b"", b"short", bytes(31), bytes(33)])
def test_bad_key_length_rejected(bad: bytes) -> None:
    with pytest.raises(BadInput) as info:
        EncryptingWriter(io.BytesIO(), bad, AAD)
    assert info.value.field == "data_key"
    with pytest.raises(BadInput):
        decrypt_stream(io.BytesIO(seal(b"x")), bad, AAD)


# --- tampering -------------------------------------------------------------------------------

PLAINTEXT = os.urandom(3 * CHUNK_SIZE + 100)
BLOB = seal(PLAINTEXT)


def chunk_spans(blob: bytes) -> list[tuple[int, int]]:
    spans, pos = [], HEADER_SIZE
    while pos < len(blob):
        end = min(pos + SEALED_CHUNK_SIZE, len(blob))
        spans.append((pos, end))
        pos = end
    return spans


def flip(blob: bytes, at: int, bit: int = 0) -> bytes:
    out = bytearray(blob)
    out[at] ^= 1 << bit
    return bytes(out)


@pytest.mark.parametrize("at", range(HEADER_SIZE))
def test_flipped_bit_in_header_detected(at: int) -> None:
    with pytest.raises(IntegrityFailure):
        open_all(flip(BLOB, at, bit=at % 8))


@pytest.mark.parametrize(
    "at",
    [
        HEADER_SIZE,  # first ciphertext byte
        HEADER_SIZE + SEALED_CHUNK_SIZE - 1,  # first chunk's tag
        HEADER_SIZE + SEALED_CHUNK_SIZE + 777,  # middle chunk
        len(BLOB) - TAG_SIZE - 1,  # last ciphertext byte
        len(BLOB) - 1,  # last tag byte
    ],
)
def test_flipped_bit_in_body_detected(at: int) -> None:
    with pytest.raises(IntegrityFailure, match="failed authentication"):
        open_all(flip(BLOB, at, bit=7))


@pytest.mark.parametrize(
    "cut",
    [
        1,
        HEADER_SIZE - 1,
        HEADER_SIZE,  # header only
        HEADER_SIZE + 5,
        HEADER_SIZE + SEALED_CHUNK_SIZE,  # exactly at a chunk boundary
        HEADER_SIZE + 2 * SEALED_CHUNK_SIZE,
        HEADER_SIZE + 3 * SEALED_CHUNK_SIZE,  # all full chunks, final one dropped
        len(BLOB) - 1,
    ],
)
def test_truncation_detected(cut: int) -> None:
    with pytest.raises(IntegrityFailure):
        open_all(BLOB[:cut])


def test_truncation_at_boundary_of_exact_multiple_detected() -> None:
    # Plaintext of exactly two chunks: dropping the empty final chunk must still be caught.
    blob = seal(os.urandom(2 * CHUNK_SIZE))
    assert len(blob) == HEADER_SIZE + 2 * SEALED_CHUNK_SIZE + TAG_SIZE
    with pytest.raises(IntegrityFailure, match="truncated"):
        open_all(blob[: HEADER_SIZE + 2 * SEALED_CHUNK_SIZE])


def test_full_chunk_relabelled_as_last_detected() -> None:
    # Cut after the 2nd full chunk and drop the final: a full chunk must not pass as last.
    spans = chunk_spans(BLOB)
    cut = BLOB[: spans[1][1]] + BLOB[spans[1][0] : spans[1][0] + 100]
    with pytest.raises(IntegrityFailure):
        open_all(cut)


def test_reordered_chunks_detected() -> None:
    (a0, a1), (b0, b1) = chunk_spans(BLOB)[:2]
    swapped = BLOB[:a0] + BLOB[b0:b1] + BLOB[a0:a1] + BLOB[b1:]
    with pytest.raises(IntegrityFailure, match="chunk 0"):
        open_all(swapped)


def test_duplicated_chunk_detected() -> None:
    (a0, a1), _ = chunk_spans(BLOB)[:2]
    duplicated = BLOB[:a1] + BLOB[a0:a1] + BLOB[a1:]
    with pytest.raises(IntegrityFailure, match="chunk 1"):
        open_all(duplicated)


def test_dropped_middle_chunk_detected() -> None:
    _, (b0, b1) = chunk_spans(BLOB)[:2]
    with pytest.raises(IntegrityFailure):
        open_all(BLOB[:b0] + BLOB[b1:])


@pytest.mark.parametrize("extra", [b"\x00", os.urandom(SEALED_CHUNK_SIZE), BLOB[HEADER_SIZE:]])
def test_trailing_data_detected(extra: bytes) -> None:
    with pytest.raises(IntegrityFailure):
        open_all(BLOB + extra)


def test_chunk_spliced_from_another_blob_under_same_key_detected() -> None:
    other = seal(PLAINTEXT)
    (a0, a1) = chunk_spans(BLOB)[1]
    spliced = BLOB[:a0] + other[a0:a1] + BLOB[a1:]
    with pytest.raises(IntegrityFailure, match="chunk 1"):
        open_all(spliced)


def test_blob_under_other_name_detected() -> None:
    with pytest.raises(IntegrityFailure, match="wrong blob name"):
        open_all(BLOB, aad=b"rec/0002/audio.opus")


def test_wrong_key_detected() -> None:
    with pytest.raises(IntegrityFailure, match="wrong key"):
        open_all(BLOB, key=new_data_key())


@pytest.mark.parametrize(
    "blob", [b"", b"C", b"CVB1", b"not a callvault blob at all, just text" * 10, os.urandom(4096)]
)
def test_empty_or_garbled_file_detected(blob: bytes) -> None:
    with pytest.raises(IntegrityFailure):
        open_all(blob)


def test_unknown_version_named() -> None:
    blob = bytearray(BLOB)
    blob[4] = 2
    with pytest.raises(IntegrityFailure, match="version 2"):
        open_all(bytes(blob))


def test_no_plaintext_before_verification() -> None:
    # A tampered first chunk yields nothing; a tampered third chunk yields the two verified
    # chunks before failing (documented: consumers must treat the failure as fatal).
    first = decrypt_stream(io.BytesIO(flip(BLOB, HEADER_SIZE + 3)), KEY, AAD)
    with pytest.raises(IntegrityFailure):
        next(first)
    third = chunk_spans(BLOB)[2][0]
    got: list[bytes] = []
    with pytest.raises(IntegrityFailure, match="chunk 2"):
        got.extend(decrypt_stream(io.BytesIO(flip(BLOB, third + 3)), KEY, AAD))
    assert b"".join(got) == PLAINTEXT[: 2 * CHUNK_SIZE]


class TrickleReader(io.RawIOBase):
    """Returns at most 1000 bytes per read, like a pipe or socket."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        return self._data.read(min(size, 1000) if size >= 0 else 1000)


def test_short_reads_from_source_are_handled() -> None:
    stream = decrypt_stream(TrickleReader(BLOB), KEY, AAD)  # type: ignore[arg-type]
    assert b"".join(stream) == PLAINTEXT


class TrickleWriter:
    """Accepts at most 777 bytes per write, like a raw file."""

    def __init__(self) -> None:
        self.out = bytearray()

    def write(self, data: bytes) -> int:
        self.out += data[:777]
        return min(len(data), 777)


def test_short_writes_to_sink_are_handled() -> None:
    sink = TrickleWriter()
    writer = EncryptingWriter(sink, KEY, AAD)
    writer.write(PLAINTEXT)
    writer.close()
    assert open_all(bytes(sink.out)) == PLAINTEXT
