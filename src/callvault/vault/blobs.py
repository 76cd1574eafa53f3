"""Blob store on the local filesystem: atomic, durable writes into a fanned-out folder tree.

Layout under ``root``::

    root/.incomplete/<random>.part    writes in progress (or left by a crash), mode 0600
    root/<h0h1>/<h2h3>/<flat name>    complete blobs, mode 0600

``h`` is the hex SHA-256 of the blob name, so about 65,000 leaf folders share the blobs
evenly however names are chosen. The flat name is the blob name with ``/`` replaced by
``+`` (a character names cannot contain), so each blob is one file and folders never need
pruning after a delete, which keeps writers and deleters free of races on folders.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import re
import secrets
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from callvault.errors import BadInput, NotFound
from callvault.secretfile import fsync_dir, fsync_dirs
from callvault.vault.interfaces import (
    validate_blob_name,
    validate_byte_range,
    validate_retain_until,
)

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

INCOMPLETE_DIR = ".incomplete"
_PART_SUFFIX = ".part"
_FANOUT = re.compile(r"[0-9a-f]{2}")
_SEPARATOR = "+"


def _make_dir(path: Path) -> None:
    """Create ``path`` (mode 0700) if missing, flushing its parent so it survives a crash."""
    if path.is_dir():
        return
    try:
        path.mkdir(mode=0o700)
    except FileExistsError:
        return  # another writer made it first
    fsync_dir(path.parent)


class _FileSink:
    """Exposes only ``write`` so a caller cannot seek, truncate or close the temp file."""

    def __init__(self, file: BinaryIO) -> None:
        self._file = file

    def write(self, data: bytes, /) -> int:
        return self._file.write(data)


class _Window(io.RawIOBase):
    """At most ``length`` bytes of ``file`` from where it stands; closes ``file`` with it."""

    def __init__(self, file: io.BufferedReader, length: int) -> None:
        self._file = file
        self._left = length

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer, /) -> int:
        view = memoryview(buffer).cast("B")[: self._left]
        count = self._file.readinto(view) if view else 0
        self._left -= count
        return count

    def close(self) -> None:
        if not self.closed:
            self._file.close()
        super().close()


class FilesystemBlobStore:
    """``BlobStore`` over a folder; ``root`` is created (mode 0700) if it does not exist.

    Plain files have no write-once mode: ``supports_object_lock`` is False, ``retain_until``
    is checked and then ignored, and ``set_legal_hold`` only checks that the blob exists.
    """

    supports_object_lock = False

    def __init__(self, root: Path) -> None:
        self._root = Path(root)
        self._root.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._incomplete = self._root / INCOMPLETE_DIR
        _make_dir(self._incomplete)

    @property
    def root(self) -> Path:
        """The folder this store keeps its blobs in."""
        return self._root

    def path_of(self, name: str) -> Path:
        """Where blob ``name`` lives (whether or not it exists); validates the name."""
        validate_blob_name(name)
        digest = hashlib.sha256(name.encode()).hexdigest()
        return self._root / digest[:2] / digest[2:4] / name.replace("/", _SEPARATOR)

    @contextmanager
    def writer(self, name: str, *, retain_until: datetime | None = None) -> Iterator[_FileSink]:
        """Write blob ``name``: it appears atomically when the block exits cleanly.

        Bytes go to a 0600 temp file in ``.incomplete``, which is fsynced, renamed over any
        existing blob of that name, and its folder fsynced. If the block raises, the temp file
        is removed and no blob appears; a crash leaves only a temp file for
        ``remove_incomplete``. ``retain_until`` is validated and ignored (no WORM on files).
        """
        final = self.path_of(name)
        validate_retain_until(retain_until)
        temp = self._incomplete / f"{secrets.token_hex(16)}{_PART_SUFFIX}"
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
        fd = os.open(temp, flags, 0o600)
        try:
            with os.fdopen(fd, "wb") as file:
                yield _FileSink(file)
                file.flush()
                os.fsync(file.fileno())
            _make_dir(final.parent.parent)
            _make_dir(final.parent)
            temp.replace(final)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
        fsync_dir(final.parent)

    def open(self, name: str) -> BinaryIO:
        """Open blob ``name`` for reading; ``NotFound`` if it does not exist."""
        return self._open_file(name)

    def _open_file(self, name: str) -> io.BufferedReader:
        try:
            return self.path_of(name).open("rb")
        except FileNotFoundError:
            raise NotFound(f"blob {name!r} not found", field="blob_name") from None

    def size(self, name: str) -> int:
        """Stored bytes of blob ``name``; ``NotFound`` if it does not exist."""
        try:
            return self.path_of(name).stat().st_size
        except FileNotFoundError:
            raise NotFound(f"blob {name!r} not found", field="blob_name") from None

    def open_range(self, name: str, start: int, end: int) -> BinaryIO:
        """Bytes ``start`` to ``end`` (exclusive) of blob ``name``, read from one seek."""
        start, end = validate_byte_range(start, end)
        file = self._open_file(name)
        file.seek(start)
        return io.BufferedReader(_Window(file, end - start))

    def set_legal_hold(self, name: str, on: bool) -> None:
        """No-op (files cannot be held); ``NotFound`` if blob ``name`` does not exist."""
        if not self.exists(name):
            raise NotFound(f"blob {name!r} not found", field="blob_name")

    def delete(self, name: str) -> bool:
        """Delete blob ``name`` durably; return False if it did not exist."""
        path = self.path_of(name)
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        fsync_dir(path.parent)
        return True

    def delete_many(self, names: Sequence[str]) -> list[str]:
        """Delete the blobs ``names``; each folder touched is flushed once, after all its
        unlinks, not once per blob (a purge deletes thousands). Files are never locked."""
        touched: set[Path] = set()
        for name in names:
            path = self.path_of(name)
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
                touched.add(path.parent)
        fsync_dirs(touched, filesystem_of=self._root)
        return []

    def exists(self, name: str) -> bool:
        """Whether blob ``name`` exists."""
        return self.path_of(name).is_file()

    def names(self) -> Iterator[str]:
        """Every complete blob's name (sorted within each folder; no overall order)."""
        for top in sorted(self._root.iterdir()):
            if not (_FANOUT.fullmatch(top.name) and top.is_dir()):
                continue
            for leaf in sorted(top.iterdir()):
                if not (_FANOUT.fullmatch(leaf.name) and leaf.is_dir()):
                    continue
                for file in sorted(leaf.iterdir()):
                    name = file.name.replace(_SEPARATOR, "/")
                    if file.is_file() and self._is_own(name, file):
                        yield name

    def remove_incomplete(self, older_than_s: float = 0) -> int:
        """Delete temp files of unfinished writes last modified ``older_than_s`` or more ago.

        With the default 0 this also removes writes in progress right now, so call it that way
        only when no writer runs (at startup); otherwise pass a margin such as 3600.
        """
        cutoff = time.time() - older_than_s
        removed = 0
        for entry in os.scandir(self._incomplete):
            if not entry.name.endswith(_PART_SUFFIX):
                continue
            try:
                if entry.stat(follow_symlinks=False).st_mtime <= cutoff:
                    Path(entry.path).unlink()
                    removed += 1
            except FileNotFoundError:
                continue  # finished or cleaned up by someone else meanwhile
        if removed:
            fsync_dir(self._incomplete)
        return removed

    def _is_own(self, name: str, file: Path) -> bool:
        # Skip stray files: only a valid name stored at its own hashed place is a blob.
        try:
            return self.path_of(name) == file
        except BadInput:
            return False
