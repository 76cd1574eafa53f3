"""The hash chain: each entry's hash covers its fields and the previous entry's hash."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import orjson

GENESIS = "0" * 64


def entry_hash(prev_hash: str, fields: Sequence[object]) -> str:
    """SHA-256 over the previous hash and the entry's fields in a canonical encoding.

    orjson encodes a list of str/int/None the same way every time and fast enough for
    ``audit verify`` to check hundreds of thousands of entries a second.
    """
    digest = hashlib.sha256(prev_hash.encode("ascii"))
    digest.update(orjson.dumps(list(fields)))
    return digest.hexdigest()


def checkpoint_message(seq: int, hash_: str) -> bytes:
    """What a checkpoint signs: the sequence number and hash of one entry."""
    return f"callvault-audit-checkpoint:v1:{seq}:{hash_}".encode("ascii")
