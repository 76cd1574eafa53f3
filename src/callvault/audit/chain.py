"""The hash chain: each entry's hash covers its sequence number, the previous entry's hash
and the entry's stored text, byte for byte."""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

GENESIS = "0" * 64


def entry_text(fields: dict[str, Any]) -> str:
    """The canonical JSON text of an entry: sorted keys, no whitespace, UTF-8."""
    return orjson.dumps(fields, option=orjson.OPT_SORT_KEYS).decode()


def entry_hash(seq: int, prev_hash: str, text: str) -> str:
    return hashlib.sha256(f"{seq}\n{prev_hash}\n{text}".encode()).hexdigest()


def checkpoint_message(seq: int, hash_: str) -> bytes:
    """What a checkpoint signs: the sequence number and hash of one entry."""
    return f"callvault-audit-checkpoint:v1:{seq}:{hash_}".encode("ascii")
