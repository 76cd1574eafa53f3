"""Protocols for the swappable parts of the vault: key wrapping (KMS) and blob storage.

``bootstrap.py`` picks the concrete classes; everything else sees only these shapes, and only
through ``vault.service.Vault``, which encrypts every blob before a store sees it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import BinaryIO, Protocol

from callvault.errors import BadInput, Refused

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


def lock_until(retain_until: datetime, now: datetime) -> datetime | None:
    """The Object Lock date for a blob kept until ``retain_until``: that date, or None when it
    has passed (a late import), since a store refuses a past date and the purge takes it."""
    return retain_until if retain_until > now else None


def validate_retain_until(retain_until: datetime | None) -> datetime | None:
    """Return ``retain_until`` if it is None or a timezone-aware ``datetime`` in the future.

    Raise ``BadInput(field="retain_until")`` for anything else: a naive datetime has no
    defined instant (a retention date must never depend on a server's time zone), and an
    object store refuses a retention date that has already passed. Every store checks this,
    also those that ignore the date, so a caller's mistake shows on any backend.
    """
    if retain_until is None:
        return None
    if not isinstance(retain_until, datetime) or retain_until.utcoffset() is None:
        raise BadInput(
            "retain_until must be a timezone-aware datetime (e.g. datetime.now(UTC) + ...)",
            field="retain_until",
        )
    if retain_until <= datetime.now(UTC):
        raise BadInput(
            f"retain_until {retain_until.isoformat()} has already passed", field="retain_until"
        )
    return retain_until


class BlobLocked(Refused):
    """A blob store kept versions of a blob that Object Lock forbids deleting yet.

    Raised by ``BlobStore.delete`` after it removed every version it was allowed to, and
    hid the blob (it no longer ``exists``): ``versions`` are still held, under a retention
    date until ``retain_until`` (the latest, or None when unknown) and/or a legal hold
    (``legal_hold``). Call ``delete`` again once the lock has lapsed to remove them.
    """

    def __init__(
        self, name: str, versions: int, retain_until: datetime | None, legal_hold: bool
    ) -> None:
        reasons = []
        if retain_until is not None:
            reasons.append(f"retained until {retain_until.isoformat()}")
        if legal_hold:
            reasons.append("under a legal hold")
        why = " and ".join(reasons) or "locked"
        super().__init__(
            f"blob {name!r}: {versions} stored version(s) {why} by the object store's "
            "Object Lock could not be deleted yet; the blob is hidden and its key should be "
            "destroyed; delete it again after the lock lapses",
            field="blob_name",
        )
        self.name = name
        self.versions = versions
        self.retain_until = retain_until
        self.legal_hold = legal_hold


def validate_byte_range(start: int, end: int) -> tuple[int, int]:
    """Return ``(start, end)`` if ``0 <= start <= end`` (ints), else ``BadInput(field="range")``."""
    if not (isinstance(start, int) and isinstance(end, int) and 0 <= start <= end):
        raise BadInput(f"byte range {start!r} to {end!r} must have 0 <= start <= end", "range")
    return start, end


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

    Object Lock (write-once retention, legal holds) is optional: a store without it has
    ``supports_object_lock`` False, accepts ``retain_until`` and ignores it, and makes
    ``set_legal_hold`` a no-op. The database's retention stays the source of truth either way.
    """

    @property
    def supports_object_lock(self) -> bool:
        """Whether ``retain_until`` and ``set_legal_hold`` are enforced by the store itself."""
        ...

    def writer(
        self, name: str, *, retain_until: datetime | None = None
    ) -> AbstractContextManager[BlobSink]:
        """Open a sink for ``name``; the blob appears (atomically, replacing any old one)
        only when the ``with`` block exits without an exception; otherwise nothing is left.

        ``retain_until`` (timezone-aware, in the future): where the store supports Object
        Lock, the blob cannot be deleted or overwritten in place by anyone before then."""
        ...

    def set_legal_hold(self, name: str, on: bool) -> None:
        """Place (``on``) or lift a legal hold on ``name``; ``NotFound`` if it does not exist.
        Where the store supports Object Lock, a held blob cannot be deleted until lifted; the
        hold covers every stored version, also one that ``delete`` could only hide."""
        ...

    def open(self, name: str) -> BinaryIO:
        """Open ``name`` for reading; raise ``NotFound`` when it does not exist."""
        ...

    def size(self, name: str) -> int:
        """How many bytes ``name`` holds as stored; raise ``NotFound`` when it does not exist."""
        ...

    def open_range(self, name: str, start: int, end: int) -> BinaryIO:
        """Open stored bytes ``start`` to ``end`` (exclusive) of ``name`` for reading, fewer
        where the blob is shorter; only those bytes are fetched (a seek, an HTTP Range GET).
        ``NotFound`` when it does not exist; ``BadInput(field="range")`` unless
        ``0 <= start <= end``."""
        ...

    def delete(self, name: str) -> bool:
        """Delete ``name``; return False when it did not exist.

        Stores that keep versions remove every version they may. If Object Lock keeps some,
        the blob is hidden and ``BlobLocked`` is raised; calling again later removes the rest
        (and returns False, as the blob no longer exists)."""
        ...

    def delete_many(self, names: Sequence[str]) -> list[str]:
        """Delete every blob in ``names`` (missing ones are fine), as ``delete`` would, but
        durable once for the lot rather than once per blob; return the names an Object Lock
        still keeps (hidden, deleted by a later call)."""
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
