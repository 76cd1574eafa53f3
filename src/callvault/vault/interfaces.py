"""Protocols for the swappable parts of the vault: key wrapping (KMS) and blob storage.

``bootstrap.py`` picks the concrete classes; everything else sees only these shapes, and only
through ``vault.service.Vault``, which encrypts every blob before a store sees it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import BinaryIO, Protocol

from callvault.errors import BadInput

# One segment: starts with a lower-case letter or digit, then up to 127 of [a-z0-9._-].
# Segments are joined by "/"; the rules keep every name a safe relative path on any
# filesystem and a valid S3 key, and no name can reach a store's own dot-folders. The
# 200-character cap lets a filesystem store keep a whole name in one file name (<= 255 bytes).
_SEGMENT = re.compile(r"[a-z0-9][a-z0-9._-]{0,127}")
MAX_BLOB_NAME = 200
MAX_SEGMENTS = 8


def validate_blob_name(name: str) -> str:
    """Return ``name`` if it is a valid blob name, else raise ``BadInput(field="blob_name")``.

    A blob name is 1 to 8 segments joined by ``/``; each segment matches
    ``[a-z0-9][a-z0-9._-]{0,127}``; the whole name is at most 200 characters and never
    contains ``..``. So ``rec/2f1c0a/audio.opus`` is valid, while ``/etc/passwd``,
    ``a/../b``, ``a\\b``, ``a//b``, ``a/`` and ``Rec.opus`` are not.
    """
    if not isinstance(name, str) or not name:
        raise BadInput("blob name must be a non-empty string", field="blob_name")
    if len(name) > MAX_BLOB_NAME:
        raise BadInput(f"blob name longer than {MAX_BLOB_NAME} characters", field="blob_name")
    if ".." in name or "\\" in name or name.startswith("/"):
        raise BadInput(
            f"blob name {name!r} must be a relative path without '..' or backslashes",
            field="blob_name",
        )
    segments = name.split("/")
    if len(segments) > MAX_SEGMENTS:
        raise BadInput(f"blob name has more than {MAX_SEGMENTS} segments", field="blob_name")
    for segment in segments:
        if not _SEGMENT.fullmatch(segment):
            raise BadInput(
                f"blob name {name!r}: each '/'-separated part must match "
                "[a-z0-9][a-z0-9._-]{0,127}",
                field="blob_name",
            )
    return name


@dataclass(frozen=True)
class WrappedKey:
    """A data key sealed under a key-encryption key (KEK); safe to store in the database."""

    kek_id: str
    blob: bytes


class KeyWrapper(Protocol):
    """KMS-shaped key-encryption service: seals and opens per-recording data keys.

    ``aad`` binds a wrapped key to its owner (the recording id): a wrapped key copied to
    another row fails to unwrap. Implementations raise ``IntegrityFailure`` when a wrapped
    key fails authentication and ``ConfigError`` when its KEK is not available.
    """

    def active_key_id(self) -> str:
        """Id of the KEK that ``wrap`` uses now."""
        ...

    def wrap(self, data_key: bytes, aad: bytes) -> WrappedKey:
        """Seal ``data_key`` under the active KEK, bound to ``aad``."""
        ...

    def unwrap(self, wrapped: WrappedKey, aad: bytes) -> bytes:
        """Open ``wrapped`` with the KEK it names; ``aad`` must equal the one used to wrap."""
        ...


class BlobSink(Protocol):
    """Where a blob's bytes are written while a ``BlobStore.writer`` block is open."""

    def write(self, data: bytes, /) -> int:
        """Append ``data``; return the number of bytes written."""
        ...


class BlobStore(Protocol):
    """Named, immutable-once-written byte blobs (files, S3 objects). Sees only ciphertext.

    Names follow ``validate_blob_name``; every method raises ``BadInput(field="blob_name")``
    for an invalid one.
    """

    def writer(self, name: str) -> AbstractContextManager[BlobSink]:
        """Open a sink for ``name``; the blob appears (atomically, replacing any old one)
        only when the ``with`` block exits without an exception; otherwise nothing is left."""
        ...

    def open(self, name: str) -> BinaryIO:
        """Open ``name`` for reading; raise ``NotFound`` when it does not exist."""
        ...

    def delete(self, name: str) -> bool:
        """Delete ``name``; return False when it did not exist."""
        ...

    def exists(self, name: str) -> bool:
        """Whether ``name`` exists (complete blobs only)."""
        ...

    def names(self) -> Iterator[str]:
        """Every complete blob's name, in no promised order."""
        ...

    def remove_incomplete(self, older_than_s: float = 0) -> int:
        """Delete leftovers of crashed writes older than ``older_than_s``; return how many."""
        ...
