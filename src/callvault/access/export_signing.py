"""The key that signs export manifests, and the check a recipient runs on an export.

A key of its own, not the audit key: the audit key vouches for the trail inside the
council, this one for files that leave it (police, courts, ombudsmen), so either can be
rotated or revealed without touching the other. It is an Ed25519 key in a 0600 file in
the home's keys folder, created on first use; its public half is written beside it as
``export-signing.pub`` (PEM), for recipients.

An export zip holds ``manifest.json``, ``manifest.sig`` (the raw 64-byte Ed25519
signature of the manifest's exact bytes, so ``openssl pkeyutl -verify -rawin`` checks it
too) and the audio files the manifest names with their SHA-256 and size.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    PublicFormat,
    load_pem_public_key,
)

from callvault.errors import BadInput, ConfigError, IntegrityFailure
from callvault.secretfile import create_private, read_private, replace_private

PRIVATE_NAME = "export-signing.json"
PUBLIC_NAME = "export-signing.pub"
MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
_SETTING = "export_signing_key"
_READ_BLOCK = 1 << 20


@dataclass(frozen=True)
class ExportSigner:
    private_key: Ed25519PrivateKey

    @property
    def public_pem(self) -> bytes:
        return self.private_key.public_key().public_bytes(
            Encoding.PEM, PublicFormat.SubjectPublicKeyInfo
        )

    @property
    def key_id(self) -> str:
        raw = self.private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        return hashlib.sha256(raw).hexdigest()[:16]

    def sign(self, message: bytes) -> bytes:
        return self.private_key.sign(message)


def export_signer(keys_dir: Path) -> ExportSigner:
    """The home's export signing key, created (0600) with its public file when missing."""
    path = keys_dir / PRIVATE_NAME
    if not path.exists():
        key = Ed25519PrivateKey.generate()
        document = {"format": 1, "ed25519": base64.b64encode(key.private_bytes_raw()).decode()}
        # ConfigError here means another process created it first: use theirs.
        with contextlib.suppress(ConfigError):
            create_private(path, orjson.dumps(document), setting=_SETTING)
    data, _info = read_private(path, setting=_SETTING)
    try:
        raw = base64.b64decode(orjson.loads(data)["ed25519"])
        signer = ExportSigner(Ed25519PrivateKey.from_private_bytes(raw))
    except (ValueError, KeyError, TypeError, orjson.JSONDecodeError) as exc:
        raise ConfigError(
            f"export signing key {path} is corrupt; restore it from backup", field=_SETTING
        ) from exc
    public = keys_dir / PUBLIC_NAME
    if not public.exists() or public.read_bytes() != signer.public_pem:
        replace_private(public, signer.public_pem)  # derived from the key: safe to rewrite
    return signer


def load_public_key(pem: bytes) -> Ed25519PublicKey:
    try:
        key = load_pem_public_key(pem)
    except ValueError as exc:
        raise BadInput("the public key is not a PEM public key", "key") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise BadInput("the public key is not an Ed25519 key", "key")
    return key


def verify_export(path: Path, public_key: bytes) -> dict[str, Any]:
    """Check an export zip against the PEM ``public_key``; return its manifest.

    The signature must cover ``manifest.json`` exactly, every audio file it names must be
    there with its SHA-256 and size, and nothing else may be in the zip. Raises
    ``IntegrityFailure`` naming the first problem.
    """
    key = load_public_key(public_key)
    try:
        with zipfile.ZipFile(path) as archive:
            listed = archive.namelist()
            names = set(listed)
            if len(names) != len(listed):
                raise IntegrityFailure(f"{path}: a file name appears twice in the zip")
            manifest_bytes = read_member(archive, names, MANIFEST)
            try:
                key.verify(read_member(archive, names, SIGNATURE), manifest_bytes)
            except InvalidSignature:
                raise IntegrityFailure(
                    f"{path}: the manifest signature does not verify with this key"
                ) from None
            manifest: dict[str, Any] = orjson.loads(manifest_bytes)
            files = {item["file"]: item for item in manifest["recordings"]}
            extra = names - set(files) - {MANIFEST, SIGNATURE}
            if extra:
                raise IntegrityFailure(f"{path}: files not in the manifest: {sorted(extra)}")
            for name, item in files.items():
                digest, size = hash_member(archive, names, name)
                if (digest, size) != (item["sha256"], item["size"]):
                    raise IntegrityFailure(f"{path}: {name} differs from the manifest")
    except (zipfile.BadZipFile, OSError, KeyError, TypeError, orjson.JSONDecodeError) as exc:
        raise IntegrityFailure(f"{path} is not a readable callvault export: {exc}") from exc
    return manifest


def read_member(
    archive: zipfile.ZipFile, names: set[str], name: str, what: str = "export"
) -> bytes:
    """Member ``name`` of a signed zip (an export, or an evidence bundle: ``what``)."""
    if name not in names:
        raise IntegrityFailure(f"the {what} has no {name}")
    return archive.read(name)


def hash_member(
    archive: zipfile.ZipFile, names: set[str], name: str, what: str = "export"
) -> tuple[str, int]:
    """SHA-256 and size of member ``name``, read in blocks (audio can be large)."""
    if name not in names:
        raise IntegrityFailure(f"the {what} has no {name}, which the manifest names")
    digest, size = hashlib.sha256(), 0
    with archive.open(name) as member:
        while block := member.read(_READ_BLOCK):
            digest.update(block)
            size += len(block)
    return digest.hexdigest(), size
