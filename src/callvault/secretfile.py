"""Private files in the home folder (key files): created 0600, written atomically, checked.

One implementation for every key file (the KEK key ring, the audit signing key), so each gets
the same durability (fsync of file and folder) and the same refusal of loose permissions.
"""

from __future__ import annotations

import ctypes
import os
import secrets
import stat
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

from callvault.errors import ConfigError


def fsync_dir(path: Path) -> None:
    """Flush a folder: a rename, link or unlink in it is durable only after this."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dirs(paths: Iterable[Path], *, filesystem_of: Path) -> None:
    """Flush many folders on the file system holding ``filesystem_of``.

    Where Linux offers ``syncfs`` one call commits the whole file system (every unlink in
    every folder) instead of one flush per folder, which matters when a purge deletes
    thousands of blobs each in its own folder; elsewhere each folder is flushed.
    """
    folders = set(paths)
    if not folders:
        return
    if _SYNCFS is not None:
        fd = os.open(filesystem_of, os.O_RDONLY | os.O_DIRECTORY)
        try:
            if _SYNCFS(fd) == 0:
                return
        finally:
            os.close(fd)
    for folder in folders:
        fsync_dir(folder)


def _load_syncfs() -> Callable[[int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        syncfs: Callable[[int], int] = libc.syncfs
    except (OSError, AttributeError):
        return None
    return syncfs


_SYNCFS = _load_syncfs()


def write_private_temp(path: Path, data: bytes) -> Path:
    """Write ``data`` to a new 0600 file beside ``path``, fsynced; return the temp file."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return temp


def create_private(path: Path, data: bytes, setting: str) -> None:
    """Create ``path`` with ``data``, readable by the owner only; never replaces a file."""
    temp = write_private_temp(path, data)
    try:
        # link(), unlike rename(), fails if the target exists: never clobber live keys.
        os.link(temp, path)
    except FileExistsError:
        raise ConfigError(
            f"key file {path} already exists; remove it only if no data depends on it",
            field=setting,
        ) from None
    finally:
        temp.unlink(missing_ok=True)
    fsync_dir(path.parent)


def replace_private(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` atomically (readers see the old or the new file)."""
    temp = write_private_temp(path, data)
    try:
        temp.replace(path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def read_private(path: Path, setting: str) -> tuple[bytes, os.stat_result]:
    """Read a key file, refusing a missing one or one that others can read or write.

    Returns the bytes and the opened file's stat (to notice later changes cheaply).
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        raise ConfigError(
            f"key file {path} is missing; restore it from backup or run `callvault init`",
            field=setting,
        ) from None
    with os.fdopen(fd, "rb") as file:
        # Check the opened file itself, not the path, so a swap in between cannot fool us.
        info = os.fstat(file.fileno())
        if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise ConfigError(
                f"key file {path} is readable or writable by group or others "
                f"(mode {stat.filemode(info.st_mode)}); fix: chmod 600 {path}",
                field=setting,
            )
        return file.read(), info
