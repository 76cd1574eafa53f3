"""The Ed25519 key that signs audit checkpoints, kept in a 0600 file in the home folder."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from pathlib import Path

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from callvault.errors import ConfigError
from callvault.secretfile import create_private, read_private


@dataclass(frozen=True)
class CheckpointSigner:
    private_key: Ed25519PrivateKey

    @property
    def public_bytes(self) -> bytes:
        return self.private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)

    @property
    def key_id(self) -> str:
        return hashlib.sha256(self.public_bytes).hexdigest()[:16]

    def sign(self, message: bytes) -> str:
        return self.private_key.sign(message).hex()

    def verify(self, message: bytes, signature_hex: str) -> bool:
        public: Ed25519PublicKey = self.private_key.public_key()
        try:
            public.verify(bytes.fromhex(signature_hex), message)
        except (InvalidSignature, ValueError):
            return False
        return True


def create_signer(path: Path) -> CheckpointSigner:
    key = Ed25519PrivateKey.generate()
    raw = key.private_bytes_raw()
    document = {"format": 1, "ed25519": base64.b64encode(raw).decode()}
    create_private(path, orjson.dumps(document), setting="audit_key_file")
    return CheckpointSigner(key)


def load_signer(path: Path) -> CheckpointSigner:
    data, _info = read_private(path, setting="audit_key_file")
    try:
        raw = base64.b64decode(orjson.loads(data)["ed25519"])
        return CheckpointSigner(Ed25519PrivateKey.from_private_bytes(raw))
    except (ValueError, KeyError, TypeError, orjson.JSONDecodeError) as exc:
        raise ConfigError(
            f"audit signing key {path} is corrupt; restore it from backup", field=str(path)
        ) from exc
