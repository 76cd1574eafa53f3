"""Local key file: permissions, wrapping, rotation; and a KMS-shaped fake behind the Protocol."""

from __future__ import annotations

import base64
import json
import secrets
import stat
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from callvault.errors import BadInput, ConfigError, IntegrityFailure
from callvault.vault.interfaces import KeyWrapper, WrappedKey
from callvault.vault.keys import LocalKeyFile

DATA_KEY = bytes(range(32))


@dataclass
class FakeKms:
    """Stands in for a cloud KMS: key material never leaves it; callers see only ids."""

    keys: dict[str, bytes] = field(default_factory=lambda: {"kms-1": secrets.token_bytes(32)})
    active: str = "kms-1"

    def active_key_id(self) -> str:
        return self.active

    def wrap(self, data_key: bytes, aad: bytes) -> WrappedKey:
        nonce = secrets.token_bytes(12)
        blob = nonce + AESGCM(self.keys[self.active]).encrypt(nonce, data_key, aad)
        return WrappedKey(self.active, blob)

    def unwrap(self, wrapped: WrappedKey, aad: bytes) -> bytes:
        try:
            return AESGCM(self.keys[wrapped.kek_id]).decrypt(
                wrapped.blob[:12], wrapped.blob[12:], aad
            )
        except InvalidTag:
            raise IntegrityFailure("KMS refused to unwrap") from None


@pytest.fixture
def key_file(tmp_path: Path) -> LocalKeyFile:
    return LocalKeyFile.create(tmp_path / "home" / "keys.json")


def test_fake_kms_satisfies_protocol() -> None:
    kms: KeyWrapper = FakeKms()
    wrapped = kms.wrap(DATA_KEY, b"rec-1")
    assert kms.unwrap(wrapped, b"rec-1") == DATA_KEY
    with pytest.raises(IntegrityFailure):
        kms.unwrap(wrapped, b"rec-2")


def test_created_file_is_0600_and_well_formed(key_file: LocalKeyFile) -> None:
    assert stat.S_IMODE(key_file.path.stat().st_mode) == 0o600
    doc = json.loads(key_file.path.read_text())
    assert doc["format"] == 1
    assert doc["active"] == key_file.active_key_id()
    assert len(base64.b64decode(doc["keys"][doc["active"]])) == 32
    assert key_file.key_ids() == [key_file.active_key_id()]
    assert sorted(p.name for p in key_file.path.parent.iterdir()) == ["keys.json"]


def test_create_never_overwrites(key_file: LocalKeyFile) -> None:
    before = key_file.path.read_bytes()
    with pytest.raises(ConfigError, match="already exists"):
        LocalKeyFile.create(key_file.path)
    assert key_file.path.read_bytes() == before


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660, 0o606])
def test_group_or_other_access_refused(key_file: LocalKeyFile, mode: int) -> None:
    key_file.path.chmod(mode)
    with pytest.raises(ConfigError) as info:
        LocalKeyFile(key_file.path)
    assert f"chmod 600 {key_file.path}" in info.value.message
    assert info.value.field == "key_file"


def test_0400_accepted(key_file: LocalKeyFile) -> None:
    key_file.path.chmod(0o400)
    assert LocalKeyFile(key_file.path).active_key_id() == key_file.active_key_id()


def test_missing_file_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is missing"):
        LocalKeyFile(tmp_path / "nope.json")


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"{not json",
        b"\xff\xfe",
        b"[]",
        b'{"format": 2, "active": "k", "keys": {"k": "AAAA"}}',
        b'{"format": 1, "active": "other", "keys": {"k": "' + base64.b64encode(bytes(32)) + b'"}}',
        b'{"format": 1, "active": "k", "keys": {"k": "AAAA"}}',
        b'{"format": 1, "active": "k", "keys": {"k": "not base64!"}}',
        b'{"format": 1, "active": "k", "keys": {"k": 5}}',
        b'{"format": 1, "active": "k/1", "keys": {"k/1": "' + base64.b64encode(bytes(32)) + b'"}}',
    ],
)
def test_corrupt_file_refused(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "keys.json"
    path.write_bytes(content)
    path.chmod(0o600)
    with pytest.raises(ConfigError, match="corrupt"):
        LocalKeyFile(path)


def test_wrap_unwrap(key_file: LocalKeyFile) -> None:
    wrapped = key_file.wrap(DATA_KEY, b"rec-1")
    assert wrapped.kek_id == key_file.active_key_id()
    assert len(wrapped.blob) == 12 + 32 + 16
    assert DATA_KEY not in wrapped.blob
    assert key_file.unwrap(wrapped, b"rec-1") == DATA_KEY
    assert key_file.wrap(DATA_KEY, b"rec-1") != wrapped  # fresh nonce each time


def test_unwrap_with_wrong_aad_fails(key_file: LocalKeyFile) -> None:
    wrapped = key_file.wrap(DATA_KEY, b"rec-1")
    with pytest.raises(IntegrityFailure, match="another recording"):
        key_file.unwrap(wrapped, b"rec-2")


@pytest.mark.parametrize("at", [0, 11, 12, 30, 59])
def test_unwrap_tampered_fails(key_file: LocalKeyFile, at: int) -> None:
    wrapped = key_file.wrap(DATA_KEY, b"rec-1")
    blob = bytearray(wrapped.blob)
    blob[at] ^= 0x01
    with pytest.raises(IntegrityFailure):
        key_file.unwrap(WrappedKey(wrapped.kek_id, bytes(blob)), b"rec-1")
    with pytest.raises(IntegrityFailure):
        key_file.unwrap(WrappedKey(wrapped.kek_id, wrapped.blob[:20]), b"rec-1")


def test_wrap_rejects_bad_data_key(key_file: LocalKeyFile) -> None:
    with pytest.raises(BadInput) as info:
        key_file.wrap(b"short", b"rec-1")
    assert info.value.field == "data_key"


def test_another_key_file_cannot_unwrap(key_file: LocalKeyFile, tmp_path: Path) -> None:
    other = LocalKeyFile.create(tmp_path / "other.json")
    with pytest.raises(ConfigError, match="not in key file"):
        other.unwrap(key_file.wrap(DATA_KEY, b"rec-1"), b"rec-1")


def test_rotation(key_file: LocalKeyFile) -> None:
    old_id = key_file.active_key_id()
    old_wrapped = key_file.wrap(DATA_KEY, b"rec-1")

    new_id = key_file.add_key()
    assert new_id != old_id
    assert key_file.active_key_id() == new_id
    assert key_file.key_ids() == sorted([old_id, new_id])
    assert key_file.unwrap(old_wrapped, b"rec-1") == DATA_KEY

    # The lead's rewrap pass: unwrap under the old KEK, wrap under the active one.
    new_wrapped = key_file.wrap(key_file.unwrap(old_wrapped, b"rec-1"), b"rec-1")
    assert new_wrapped.kek_id == new_id

    with pytest.raises(BadInput, match="active"):
        key_file.retire(new_id)
    key_file.retire(old_id)
    assert key_file.key_ids() == [new_id]
    assert key_file.unwrap(new_wrapped, b"rec-1") == DATA_KEY
    with pytest.raises(ConfigError, match=f"{old_id}.*not in key file"):
        key_file.unwrap(old_wrapped, b"rec-1")
    with pytest.raises(BadInput, match="not in key file"):
        key_file.retire(old_id)

    # The rewritten file is still private and reloads identically.
    assert stat.S_IMODE(key_file.path.stat().st_mode) == 0o600
    reloaded = LocalKeyFile(key_file.path)
    assert reloaded.unwrap(new_wrapped, b"rec-1") == DATA_KEY


def test_other_process_sees_rotation(key_file: LocalKeyFile) -> None:
    # A running server (server) and the CLI (admin) hold separate instances of one file.
    server = LocalKeyFile(key_file.path)
    admin = LocalKeyFile(key_file.path)
    old_id = server.active_key_id()
    new_id = admin.add_key()
    assert server.active_key_id() == new_id
    wrapped = server.wrap(DATA_KEY, b"rec-9")
    assert admin.unwrap(wrapped, b"rec-9") == DATA_KEY
    admin.retire(old_id)
    assert server.key_ids() == [new_id]


def test_concurrent_rotations_keep_every_key(key_file: LocalKeyFile) -> None:
    # Each thread has its own instance and file descriptor, as separate processes would.
    instances = [LocalKeyFile(key_file.path) for _ in range(8)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        added = set(pool.map(lambda kf: kf.add_key(), instances))
    assert len(added) == 8
    assert added <= set(LocalKeyFile(key_file.path).key_ids())
