"""Local key file: the key-encryption keys (KEKs) of a one-machine install.

File format (JSON, mode 0600, in the home folder)::

    {"format": 1, "active": "<kek id>", "keys": {"<kek id>": "<base64 of 32 bytes>", ...}}

A data key is wrapped with AES-256-GCM under the active KEK with a random 12-byte nonce and
the caller's aad (the recording id); the stored blob is ``nonce | ciphertext | tag``.
Old KEKs stay in the file after ``add_key`` so keys wrapped under them still unwrap, until
``retire`` removes them once every wrapped key has been rewrapped.
"""

from __future__ import annotations

import base64
import binascii
import fcntl
import json
import os
import re
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from callvault.errors import BadInput, ConfigError, IntegrityFailure
from callvault.secretfile import create_private, read_private, replace_private
from callvault.vault.interfaces import WrappedKey

FILE_FORMAT = 1
KEK_SIZE = 32
NONCE_SIZE = 12
_KEK_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


@dataclass(frozen=True)
class _KeyRing:
    active: str
    keys: dict[str, bytes]


def _new_kek_id() -> str:
    # Date first so ids sort by age in listings; random part keeps ids unique.
    return f"kek-{time.strftime('%Y%m%d', time.gmtime())}-{secrets.token_hex(4)}"


def _encode(ring: _KeyRing) -> bytes:
    keys = {kek_id: base64.b64encode(key).decode() for kek_id, key in ring.keys.items()}
    doc = {"format": FILE_FORMAT, "active": ring.active, "keys": keys}
    return (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode()


def _decode(path: Path, raw: bytes) -> _KeyRing:
    bad = f"key file {path} is corrupt"
    try:
        doc = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{bad}: not JSON ({exc}); restore it from backup") from None
    if not isinstance(doc, dict) or doc.get("format") != FILE_FORMAT:
        raise ConfigError(f'{bad}: expected an object with "format": {FILE_FORMAT}')
    active, entries = doc.get("active"), doc.get("keys")
    if not isinstance(entries, dict) or not isinstance(active, str) or active not in entries:
        raise ConfigError(f'{bad}: "active" must name one of the entries in "keys"')
    keys: dict[str, bytes] = {}
    for kek_id, encoded in entries.items():
        try:
            key = base64.b64decode(str(encoded), validate=True)
        except binascii.Error:
            key = b""
        if not _KEK_ID.fullmatch(kek_id) or len(key) != KEK_SIZE:
            raise ConfigError(f"{bad}: key {kek_id!r} is not base64 of {KEK_SIZE} bytes")
        keys[kek_id] = key
    return _KeyRing(active, keys)


class LocalKeyFile:
    """``KeyWrapper`` backed by a JSON key file that only its owner may read.

    Loading refuses a missing, corrupt, or group/other-readable file with ``ConfigError``.
    The file is re-read whenever it changes on disk, so a running server picks up
    ``add_key``/``retire`` done by another process (the CLI) on its next call.
    """

    def __init__(self, path: Path) -> None:
        self._path = Path(path)
        self._stamp: tuple[int, int, int] | None = None
        self._ring = self._load()

    @classmethod
    def create(cls, path: Path) -> LocalKeyFile:
        """Create a new key file at ``path`` with one fresh active KEK; never overwrites."""
        path = Path(path)
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        kek_id = _new_kek_id()
        ring = _KeyRing(kek_id, {kek_id: secrets.token_bytes(KEK_SIZE)})
        create_private(path, _encode(ring), setting="key_file")
        return cls(path)

    @property
    def path(self) -> Path:
        """The key file."""
        return self._path

    def active_key_id(self) -> str:
        """Id of the KEK that ``wrap`` uses now."""
        return self._current().active

    def key_ids(self) -> list[str]:
        """Ids of every KEK in the file, active or not, sorted."""
        return sorted(self._current().keys)

    def wrap(self, data_key: bytes, aad: bytes) -> WrappedKey:
        """Seal ``data_key`` under the active KEK, bound to ``aad`` (the recording id)."""
        if not isinstance(data_key, bytes) or len(data_key) != KEK_SIZE:
            raise BadInput(f"data key must be {KEK_SIZE} bytes", field="data_key")
        ring = self._current()
        nonce = secrets.token_bytes(NONCE_SIZE)
        sealed = AESGCM(ring.keys[ring.active]).encrypt(nonce, data_key, aad)
        return WrappedKey(kek_id=ring.active, blob=nonce + sealed)

    def unwrap(self, wrapped: WrappedKey, aad: bytes) -> bytes:
        """Open ``wrapped``; ``IntegrityFailure`` if it was altered or ``aad`` differs,
        ``ConfigError`` if its KEK is not in this file (retired, or the wrong file)."""
        kek = self._current().keys.get(wrapped.kek_id)
        if kek is None:
            raise ConfigError(
                f"wrapped key names KEK {wrapped.kek_id!r}, which is not in key file "
                f"{self._path} (retired, or the wrong key file); restore it from backup",
                field="kek_id",
            )
        nonce, sealed = wrapped.blob[:NONCE_SIZE], wrapped.blob[NONCE_SIZE:]
        try:
            data_key = AESGCM(kek).decrypt(nonce, sealed, aad)
        except InvalidTag:
            raise IntegrityFailure(
                f"wrapped key under KEK {wrapped.kek_id!r} failed authentication: it was "
                "altered or belongs to another recording"
            ) from None
        return data_key

    def add_key(self) -> str:
        """Add a fresh KEK and make it active; older KEKs stay so old wraps still open."""
        kek_id = _new_kek_id()
        with self._locked() as ring:
            self._save(_KeyRing(kek_id, {**ring.keys, kek_id: secrets.token_bytes(KEK_SIZE)}))
        return kek_id

    def retire(self, kek_id: str) -> None:
        """Remove KEK ``kek_id``; keys still wrapped under it can never be unwrapped again.

        Refuses the active KEK. Call only after every wrapped key naming it was rewrapped.
        """
        with self._locked() as ring:
            if kek_id not in ring.keys:
                raise BadInput(f"KEK {kek_id!r} is not in key file {self._path}", field="kek_id")
            if kek_id == ring.active:
                raise BadInput(
                    f"KEK {kek_id!r} is active; add_key() a new one before retiring it",
                    field="kek_id",
                )
            keys = {k: v for k, v in ring.keys.items() if k != kek_id}
            self._save(_KeyRing(ring.active, keys))

    def _load(self) -> _KeyRing:
        raw, info = read_private(self._path, setting="key_file")
        self._stamp = (info.st_ino, info.st_mtime_ns, info.st_size)
        return _decode(self._path, raw)

    def _current(self) -> _KeyRing:
        # One stat per call keeps every process in step with rotations done elsewhere.
        try:
            info = self._path.stat()
        except FileNotFoundError:
            raise ConfigError(f"key file {self._path} has disappeared", field="key_file") from None
        if (info.st_ino, info.st_mtime_ns, info.st_size) != self._stamp:
            self._ring = self._load()
        return self._ring

    @contextmanager
    def _locked(self) -> Iterator[_KeyRing]:
        # Rotation is read-modify-write; the lock stops two processes losing each other's key.
        lock_path = self._path.with_name(f".{self._path.name}.lock")
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            self._ring = self._load()
            yield self._ring
        finally:
            with suppress(OSError):
                fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def _save(self, ring: _KeyRing) -> None:
        replace_private(self._path, _encode(ring))
        self._ring = self._load()
