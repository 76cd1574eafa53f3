"""The vault: the only door to stored recordings' bytes for every other package.

Envelope encryption: each recording has its own random data key; the data key encrypts the
recording's blobs (``crypto``) and is itself wrapped by a key-encryption key (``KeyWrapper``)
and stored, wrapped, in the database by the caller. Destroying the wrapped key deletes the
recording even where the blob store keeps copies (backups, object versions).
"""

from __future__ import annotations

from collections.abc import Generator, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import BinaryIO

from callvault.errors import BadInput
from callvault.vault import crypto
from callvault.vault.crypto import EncryptingWriter, decrypt_stream
from callvault.vault.interfaces import (
    BlobStore,
    KeyWrapper,
    WrappedKey,
    validate_blob_name,
    validate_retain_until,
)


def _recording_aad(recording_id: str) -> bytes:
    if not isinstance(recording_id, str) or not recording_id:
        raise BadInput("recording id must be a non-empty string", field="recording_id")
    return recording_id.encode()


def _closing(chunks: Iterator[bytes], source: BinaryIO) -> Generator[bytes, None, None]:
    try:
        yield from chunks
    finally:
        source.close()


def _read_header(source: BinaryIO) -> bytes:
    try:
        return source.read(crypto.HEADER_SIZE)
    except BaseException:
        source.close()
        raise


class Vault:
    """Encrypts into and decrypts out of a blob store; wraps data keys with a ``KeyWrapper``.

    The blob name is the AAD of its encryption, so a blob copied or renamed to another name
    fails to decrypt. The vault knows nothing of recordings beyond the id it binds keys to:
    the caller stores ``WrappedKey`` and blob names, and checks grants before reading.
    """

    def __init__(self, blobs: BlobStore, keys: KeyWrapper) -> None:
        self._blobs = blobs
        self._keys = keys

    def new_data_key(self) -> bytes:
        """Return a fresh random 32-byte data key for a new recording."""
        return crypto.new_data_key()

    def wrap_key(self, data_key: bytes, recording_id: str) -> WrappedKey:
        """Wrap ``data_key`` under the active KEK, bound to ``recording_id``; store the result."""
        return self._keys.wrap(data_key, _recording_aad(recording_id))

    def unwrap_key(self, wrapped: WrappedKey, recording_id: str) -> bytes:
        """Unwrap a stored key; ``IntegrityFailure`` if altered or not ``recording_id``'s."""
        return self._keys.unwrap(wrapped, _recording_aad(recording_id))

    def rewrap_key(self, wrapped: WrappedKey, recording_id: str) -> WrappedKey:
        """Return ``wrapped`` re-sealed under the active KEK (for KEK rotation)."""
        aad = _recording_aad(recording_id)
        return self._keys.wrap(self._keys.unwrap(wrapped, aad), aad)

    def active_key_id(self) -> str:
        """Id of the KEK new wraps use; rows naming another KEK need ``rewrap_key``."""
        return self._keys.active_key_id()

    @property
    def supports_object_lock(self) -> bool:
        """Whether the blob store itself enforces ``retain_until`` and legal holds."""
        return self._blobs.supports_object_lock

    @contextmanager
    def writer(
        self, name: str, data_key: bytes, *, retain_until: datetime | None = None
    ) -> Iterator[EncryptingWriter]:
        """Stream plaintext into blob ``name``, encrypted under ``data_key``.

        Yields an ``EncryptingWriter``; write to it in pieces of any size. The blob appears
        only when the block exits cleanly; if it raises, no blob and no temp file remain.
        Writing an existing name replaces that blob atomically. ``retain_until``
        (timezone-aware, in the future) is passed to the store: under Object Lock nobody can
        delete the blob before then; other stores ignore it (``supports_object_lock``).
        """
        aad = validate_blob_name(name).encode()
        validate_retain_until(retain_until)
        with self._blobs.writer(name, retain_until=retain_until) as sink:
            out = EncryptingWriter(sink, data_key, aad)
            yield out
            out.close()

    def write(
        self, name: str, data_key: bytes, data: bytes, *, retain_until: datetime | None = None
    ) -> int:
        """Encrypt ``data`` (already in memory) into blob ``name``; return its stored size."""
        with self.writer(name, data_key, retain_until=retain_until) as out:
            out.write(data)
        return out.ciphertext_bytes

    def read(self, name: str, data_key: bytes) -> Generator[bytes, None, None]:
        """Decrypt blob ``name`` chunk by chunk (each chunk is verified before it is yielded).

        ``NotFound`` and header errors are raised here, before the first chunk. A later chunk
        may still raise ``IntegrityFailure`` after earlier ones were yielded: a player must
        then stop and discard what it played. Iterate to the end (or ``close()`` the
        iterator) so the blob is closed promptly.
        """
        name = validate_blob_name(name)
        source = self._blobs.open(name)
        try:
            chunks = decrypt_stream(source, data_key, name.encode())
        except BaseException:
            source.close()
            raise
        return _closing(chunks, source)

    def stored_size(self, name: str) -> int:
        """Bytes blob ``name`` takes in the store (a stat or HEAD; nothing is decrypted)."""
        return self._blobs.size(validate_blob_name(name))

    def plaintext_size(self, name: str, *, stored_size: int | None = None) -> int:
        """Plaintext bytes of blob ``name``, from its stored length and the chunk layout.

        Nothing is decrypted, so this is not authenticated on its own: a ``read_range``
        that reaches this end checks the final chunk. Pass ``stored_size`` (from
        ``stored_size``) to skip the lookup.
        """
        if stored_size is None:
            stored_size = self.stored_size(name)
        return crypto.plaintext_size(stored_size)

    def read_range(
        self,
        name: str,
        data_key: bytes,
        start: int,
        end: int | None = None,
        *,
        stored_size: int | None = None,
    ) -> Generator[bytes, None, None]:
        """Decrypt plaintext bytes ``start`` to ``end`` (exclusive; None: to the end).

        Only the chunks covering the range are fetched and decrypted, each authenticated
        under its position before it is yielded, trimmed to the range; a range that
        reaches the end also checks the final chunk, so a truncated blob fails. Header and
        range errors (``BadInput(field="range")`` for a range outside the plaintext) raise
        here, before the first chunk; ``IntegrityFailure`` may come later, as in ``read``.
        ``stored_size`` (from ``stored_size``) spares a lookup.
        """
        name = validate_blob_name(name)
        if stored_size is None:
            stored_size = self._blobs.size(name)
        size = crypto.plaintext_size(stored_size)
        span = crypto.chunk_span(stored_size, start, size if end is None else end)
        if span.first == 0:
            # Header and chunks are contiguous: one read (one GET on S3) for both.
            source = self._blobs.open_range(name, 0, span.offset + span.length)
            header = _read_header(source)
        else:
            with self._blobs.open_range(name, 0, crypto.HEADER_SIZE) as head:
                header = head.read()
            source = self._blobs.open_range(name, span.offset, span.offset + span.length)
        try:
            chunks = crypto.decrypt_range(header, source, data_key, name.encode(), span)
        except BaseException:
            source.close()
            raise
        return _closing(chunks, source)

    def read_all(self, name: str, data_key: bytes) -> bytes:
        """Decrypt blob ``name`` into memory: for small blobs (metadata, transcripts)."""
        return b"".join(self.read(name, data_key))

    def delete(self, name: str) -> bool:
        """Delete blob ``name``; return False if it did not exist. (Shredding is destroying
        the wrapped key; this removes the ciphertext.) Raises ``BlobLocked`` when Object
        Lock keeps stored versions: the blob is hidden then, and a later call removes them."""
        return self._blobs.delete(name)

    def delete_many(self, names: Sequence[str]) -> list[str]:
        """Delete the blobs ``names``, flushed once for the lot; return those an Object Lock
        still keeps (hidden now; a later call removes them)."""
        return self._blobs.delete_many([validate_blob_name(n) for n in names])

    def set_legal_hold(self, name: str, on: bool) -> None:
        """Mirror a recording's legal hold onto blob ``name`` (a no-op on stores without
        Object Lock); ``NotFound`` if it does not exist."""
        self._blobs.set_legal_hold(validate_blob_name(name), on)

    def exists(self, name: str) -> bool:
        """Whether blob ``name`` exists."""
        return self._blobs.exists(name)
