"""Streaming authenticated encryption of blobs: AES-256-GCM in 64 KiB chunks (STREAM).

The construction follows Hoang, Reyhanitabar, Rogaway and Vizár, "Online
Authenticated-Encryption and its Nonce-Reuse Misuse-Resistance" (CRYPTO 2015): each chunk
is sealed under a nonce made of its position and a last-chunk flag, so a reader detects
reordered, duplicated, dropped and truncated chunks, not only flipped bits.

Blob layout (see docs/vault.md for the byte-by-byte table)::

    header  = b"CVB1" | version (1 byte, = 1) | salt (16 random bytes)      21 bytes
    chunk i = AES-256-GCM(subkey, nonce_i, plaintext_i, aad=header)        len(pt_i) + 16
    subkey  = HKDF-SHA256(data_key, salt, info=b"callvault blob v1" + aad)
    nonce_i = i as 11-byte big-endian | 0x01 if last chunk else 0x00

Every chunk but the last carries exactly CHUNK_SIZE plaintext bytes; the last carries
0..CHUNK_SIZE-1 bytes, so a blob whose plaintext is a multiple of CHUNK_SIZE (including the
empty one) ends with an empty final chunk. A reader therefore knows from a chunk's length
alone whether it must be the last one, and needs no look-ahead.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from types import TracebackType
from typing import BinaryIO, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from callvault.errors import BadInput, IntegrityFailure

MAGIC = b"CVB1"
FORMAT_VERSION = 1
SALT_SIZE = 16
HEADER_SIZE = len(MAGIC) + 1 + SALT_SIZE
CHUNK_SIZE = 64 * 1024
TAG_SIZE = 16
SEALED_CHUNK_SIZE = CHUNK_SIZE + TAG_SIZE
KEY_SIZE = 32
SUBKEY_INFO = b"callvault blob v1"
_COUNTER_SIZE = 11
_MAX_CHUNKS = 1 << (8 * _COUNTER_SIZE)
_NOT_LAST = b"\x00"
_LAST = b"\x01"


class ByteSink(Protocol):
    """Anything with ``write(bytes) -> int``: a file, a blob store sink, a socket wrapper."""

    def write(self, data: bytes, /) -> int: ...


def new_data_key() -> bytes:
    """Return a fresh random 256-bit data key (one per recording)."""
    return secrets.token_bytes(KEY_SIZE)


def _check_key(data_key: bytes) -> None:
    if not isinstance(data_key, bytes) or len(data_key) != KEY_SIZE:
        raise BadInput(f"data key must be {KEY_SIZE} bytes (use new_data_key())", field="data_key")


def _subkey(data_key: bytes, salt: bytes, aad: bytes) -> AESGCM:
    # A fresh salt per blob gives every blob its own subkey, so one data key can seal several
    # blobs (audio, transcript, renditions) while each counter nonce is used at most once per key.
    hkdf = HKDF(algorithm=hashes.SHA256(), length=KEY_SIZE, salt=salt, info=SUBKEY_INFO + aad)
    return AESGCM(hkdf.derive(data_key))


def _nonce(index: int, last: bool) -> bytes:
    return index.to_bytes(_COUNTER_SIZE, "big") + (_LAST if last else _NOT_LAST)


class EncryptingWriter:
    """Encrypts a byte stream into ``sink`` as a callvault blob, one 64 KiB chunk at a time.

    The header goes to the sink at once; each full chunk is sealed and written as soon as it
    fills, so at most one chunk of plaintext is held in memory. ``close()`` seals the final
    chunk: a blob without it fails to decrypt (it reads as truncated). Used as a context
    manager, the writer closes only when the block succeeds, so a failed stream stays invalid.
    """

    def __init__(self, sink: ByteSink, data_key: bytes, aad: bytes) -> None:
        _check_key(data_key)
        self._sink = sink
        self._header = MAGIC + bytes([FORMAT_VERSION]) + os.urandom(SALT_SIZE)
        self._aead = _subkey(data_key, self._header[len(MAGIC) + 1 :], aad)
        self._buffer = bytearray()
        self._index = 0
        self._closed = False
        self._plaintext_bytes = 0
        self._ciphertext_bytes = 0
        self._emit(self._header)

    @property
    def plaintext_bytes(self) -> int:
        """Plaintext bytes accepted so far."""
        return self._plaintext_bytes

    @property
    def ciphertext_bytes(self) -> int:
        """Bytes handed to the sink so far (header and sealed chunks)."""
        return self._ciphertext_bytes

    @property
    def closed(self) -> bool:
        """True once the final chunk has been written."""
        return self._closed

    def write(self, data: bytes | bytearray | memoryview) -> int:
        """Encrypt ``data`` (any length); return how many bytes were accepted (all of them)."""
        if self._closed:
            raise ValueError("write to a closed EncryptingWriter")
        view = memoryview(data).cast("B")
        size = len(view)
        pos = 0
        if self._buffer:
            pos = min(size, CHUNK_SIZE - len(self._buffer))
            self._buffer += view[:pos]
            if len(self._buffer) == CHUNK_SIZE:
                self._seal(self._buffer, last=False)
                self._buffer = bytearray()
        # Whole chunks straight from the caller's buffer: no copy into ours.
        while size - pos >= CHUNK_SIZE:
            self._seal(view[pos : pos + CHUNK_SIZE], last=False)
            pos += CHUNK_SIZE
        self._buffer += view[pos:]
        self._plaintext_bytes += size
        return size

    def close(self) -> None:
        """Seal the final chunk (possibly empty). Calling it again does nothing."""
        if self._closed:
            return
        self._seal(self._buffer, last=True)
        self._buffer = bytearray()
        self._closed = True

    def __enter__(self) -> EncryptingWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()

    def _seal(self, plaintext: bytes | bytearray | memoryview, *, last: bool) -> None:
        if self._index >= _MAX_CHUNKS:
            raise BadInput("blob too large for the chunk counter", field="data")
        sealed = self._aead.encrypt(_nonce(self._index, last), plaintext, self._header)
        self._index += 1
        self._emit(sealed)

    def _emit(self, data: bytes) -> None:
        # A sink may accept fewer bytes than offered (raw files); loop until all are out.
        remaining = data
        while remaining:
            written = self._sink.write(remaining)
            if not written:
                raise OSError("blob sink accepted no bytes")
            remaining = remaining[written:]
        self._ciphertext_bytes += len(data)


def _read_exactly(source: BinaryIO, size: int) -> bytes:
    """Read ``size`` bytes, fewer only at end of stream (``read`` may return short counts)."""
    first = source.read(size)
    if len(first) == size or not first:
        return first
    parts = [first]
    missing = size - len(first)
    while missing:
        part = source.read(missing)
        if not part:
            break
        parts.append(part)
        missing -= len(part)
    return b"".join(parts)


def _read_header(source: BinaryIO) -> bytes:
    return _checked_header(_read_exactly(source, HEADER_SIZE))


def _checked_header(header: bytes) -> bytes:
    if not header:
        raise IntegrityFailure("blob is empty: no callvault header")
    if len(header) < HEADER_SIZE or header[: len(MAGIC)] != MAGIC:
        raise IntegrityFailure("blob is not a callvault blob (bad or short header)")
    version = header[len(MAGIC)]
    if version != FORMAT_VERSION:
        raise IntegrityFailure(
            f"blob format version {version} is not supported (this build reads {FORMAT_VERSION})"
        )
    return header


def decrypt_stream(source: BinaryIO, data_key: bytes, aad: bytes) -> Iterator[bytes]:
    """Verify and decrypt a blob from ``source``, yielding plaintext chunk by chunk.

    The header is read and checked before this returns; chunks are read lazily. Each chunk is
    yielded only after its GCM tag verified, so no unauthenticated byte reaches the caller.
    A consumer may, however, already have received earlier verified chunks when a later one
    fails (tampered, truncated, reordered): players and exporters must treat
    ``IntegrityFailure`` at any point as fatal for the whole blob and discard what they got.

    Raises ``IntegrityFailure`` for a wrong key, a wrong ``aad`` (blob name), any modified
    byte, a missing final chunk, reordered or duplicated chunks, and appended data.
    ``source`` is not closed.
    """
    _check_key(data_key)
    header = _read_header(source)
    aead = _subkey(data_key, header[len(MAGIC) + 1 :], aad)
    return _chunks(source, aead, header)


def _chunks(source: BinaryIO, aead: AESGCM, header: bytes) -> Iterator[bytes]:
    index = 0
    while True:
        sealed = _read_exactly(source, SEALED_CHUNK_SIZE)
        # Only the final chunk is shorter than a full one; a full one cannot be last.
        last = len(sealed) < SEALED_CHUNK_SIZE
        if len(sealed) < TAG_SIZE:
            raise IntegrityFailure(
                f"blob is truncated: it ends after {index} chunks without its final chunk"
            )
        plaintext = _open_chunk(aead, index, last, sealed, header)
        if last:
            # _read_exactly returned short, so the source is at its end: nothing can trail.
            if plaintext:
                yield plaintext
            return
        index += 1
        yield plaintext


# -- ranged reads --------------------------------------------------------------------------
# Every chunk but the last holds exactly CHUNK_SIZE plaintext bytes, so the chunks covering a
# plaintext byte range, and where they lie in the stored blob, follow from arithmetic alone.


def plaintext_size(stored_size: int) -> int:
    """Plaintext bytes of a blob that is ``stored_size`` bytes long, from the layout alone.

    Not authenticated by itself: a blob cut or extended in storage gives a wrong size, and
    then reading the chunk this size calls final fails (``decrypt_range`` checks the final
    flag whenever a range reaches the end). Raises ``IntegrityFailure`` for a length no
    blob can have (shorter than a header and an empty final chunk, or a final chunk
    shorter than its tag).
    """
    body = stored_size - HEADER_SIZE
    full, last = divmod(body, SEALED_CHUNK_SIZE)
    if body < TAG_SIZE or last < TAG_SIZE:
        raise IntegrityFailure(
            f"blob of {stored_size} bytes is truncated: it cannot end with a final chunk"
        )
    return full * CHUNK_SIZE + last - TAG_SIZE


@dataclass(frozen=True, slots=True)
class ChunkSpan:
    """The sealed chunks that hold plaintext bytes ``start`` to ``end`` (exclusive).

    ``first``..``last`` are chunk indexes (inclusive); ``final`` says ``last`` is the blob's
    final chunk (its nonce carries the last-chunk flag). ``offset`` and ``length`` locate
    those chunks in the stored blob, after the header.
    """

    start: int
    end: int
    first: int
    last: int
    final: bool
    offset: int
    length: int


def chunk_span(stored_size: int, start: int, end: int) -> ChunkSpan:
    """The chunks of a ``stored_size``-byte blob covering plaintext ``[start, end)``.

    A range that reaches the end of the plaintext always includes the final chunk, even
    when that chunk is empty (plaintext a multiple of CHUNK_SIZE), so reading it checks the
    final flag and a truncated blob cannot pass for a whole one. ``BadInput(field="range")``
    unless ``0 <= start < end <= plaintext_size(stored_size)``.
    """
    size = plaintext_size(stored_size)
    if not 0 <= start < end <= size:
        raise BadInput(
            f"byte range {start}-{end - 1} is outside the {size}-byte plaintext", field="range"
        )
    final_index = (stored_size - HEADER_SIZE) // SEALED_CHUNK_SIZE
    first = start // CHUNK_SIZE
    last = final_index if end == size else (end - 1) // CHUNK_SIZE
    offset = HEADER_SIZE + first * SEALED_CHUNK_SIZE
    stop = min(HEADER_SIZE + (last + 1) * SEALED_CHUNK_SIZE, stored_size)
    return ChunkSpan(start, end, first, last, last == final_index, offset, stop - offset)


def decrypt_range(
    header: bytes, chunks: BinaryIO, data_key: bytes, aad: bytes, span: ChunkSpan
) -> Iterator[bytes]:
    """Verify and decrypt the plaintext ``span.start``..``span.end`` of a blob.

    ``header`` is the blob's first ``HEADER_SIZE`` bytes; ``chunks`` yields the stored bytes
    from ``span.offset`` for ``span.length`` bytes. Each chunk is authenticated under its own
    index (and the final flag for the final chunk) before any of it is yielded, trimmed to
    the range; so a chunk moved, swapped or taken from another blob fails as in
    ``decrypt_stream``. Header errors raise here, before the first chunk; later chunks raise
    ``IntegrityFailure`` when reached. ``chunks`` is not closed.
    """
    _check_key(data_key)
    aead = _subkey(data_key, _checked_header(header)[len(MAGIC) + 1 :], aad)
    return _range_chunks(chunks, aead, header, span)


def _range_chunks(
    source: BinaryIO, aead: AESGCM, header: bytes, span: ChunkSpan
) -> Iterator[bytes]:
    for index in range(span.first, span.last + 1):
        last = span.final and index == span.last
        sealed = _read_exactly(source, SEALED_CHUNK_SIZE)
        # A full chunk cannot be final and a short one must be: anything else was cut.
        if len(sealed) < TAG_SIZE or (len(sealed) < SEALED_CHUNK_SIZE) != last:
            raise IntegrityFailure(f"blob is truncated or altered at chunk {index}")
        plaintext = _open_chunk(aead, index, last, sealed, header)
        at = index * CHUNK_SIZE
        piece = plaintext[max(span.start - at, 0) : max(span.end - at, 0)]
        if piece:
            yield piece


def _open_chunk(aead: AESGCM, index: int, last: bool, sealed: bytes, header: bytes) -> bytes:
    """One chunk's plaintext, authenticated against its position, finality and the header."""
    try:
        return aead.decrypt(_nonce(index, last), sealed, header)
    except InvalidTag:
        raise IntegrityFailure(
            f"blob chunk {index} failed authentication: wrong key, wrong blob name, "
            "or the stored bytes were modified, truncated or reordered"
        ) from None
