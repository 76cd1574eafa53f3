"""The caller as a keyed hash: how demand figures count repeat callers without a number.

``caller_key`` is HMAC-SHA256 of the stored (E.164) number under one random 32-byte key. The
same number gives the same key, so calls from one caller can be counted together; without the
key nobody can test a guessed number against a hash (a plain hash of a phone number is undone
by trying every number). The key is wrapped by the key-encryption key, like a recording's
data key, stored in ``analytics_keys`` (row ``caller``) and rewrapped by ``keys rotate``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, select, update
from sqlalchemy.dialects import postgresql, sqlite

from callvault.analytics.store import analytics_keys
from callvault.audit.service import utc_now_iso
from callvault.db import transaction
from callvault.locks import file_lock
from callvault.vault.interfaces import KeyWrapper, WrappedKey

CALLER_KEY_ID = "caller"
KEY_BYTES = 32
# What the wrapped key is bound to: never confusable with a recording's id or a clip's.
_AAD = b"analytics:caller"


@dataclass(frozen=True, slots=True)
class CallerHasher:
    """Turns a caller's number into its keyed hash (hex), always the same for one number."""

    key: bytes

    @classmethod
    def load(cls, engine: Engine, keys: KeyWrapper, lock_path: Path | None = None) -> CallerHasher:
        """The hasher under the stored key, creating the key on first use.

        ``lock_path`` is the home's ingest lock: held shared while a new key is wrapped, so a
        ``keys rotate`` (which holds it exclusively) cannot retire the KEK under a key it has
        not seen."""
        found = _read(engine)
        if found is None:
            with _shared(lock_path):
                _create(engine, keys)
            found = _read(engine)
        # Created just now, or by another worker that got there first: the stored one wins.
        assert found is not None, "the caller key was inserted but cannot be read back"
        return cls(keys.unwrap(found, _AAD))

    def caller_key(self, number: str) -> str:
        """HMAC-SHA256 of ``number`` (as stored, E.164) under the key, as 64 hex digits."""
        return hmac.new(self.key, number.encode("utf-8"), hashlib.sha256).hexdigest()


def rewrap_caller_key(conn: Connection, keys: KeyWrapper) -> int:
    """Re-seal the caller key under the active key-encryption key (key rotation); 1 if it was
    rewrapped, 0 if there is none yet or it already is."""
    row = conn.execute(
        select(analytics_keys).where(analytics_keys.c.id == CALLER_KEY_ID)
    ).one_or_none()
    if row is None or row.kek_id == keys.active_key_id():
        return 0
    fresh = keys.wrap(keys.unwrap(WrappedKey(row.kek_id, bytes(row.wrapped)), _AAD), _AAD)
    conn.execute(
        update(analytics_keys)
        .where(analytics_keys.c.id == CALLER_KEY_ID)
        .values(kek_id=fresh.kek_id, wrapped=fresh.blob)
    )
    return 1


def _read(engine: Engine) -> WrappedKey | None:
    with engine.connect() as conn:
        row = conn.execute(
            select(analytics_keys.c.kek_id, analytics_keys.c.wrapped).where(
                analytics_keys.c.id == CALLER_KEY_ID
            )
        ).one_or_none()
    return None if row is None else WrappedKey(row.kek_id, bytes(row.wrapped))


def _create(engine: Engine, keys: KeyWrapper) -> None:
    wrapped = keys.wrap(secrets.token_bytes(KEY_BYTES), _AAD)
    values = {
        "id": CALLER_KEY_ID,
        "kek_id": wrapped.kek_id,
        "wrapped": wrapped.blob,
        "created_at": utc_now_iso(),
    }
    with transaction(engine) as conn:
        # Two workers creating it at once: the second insert does nothing (not an error,
        # which would abort a PostgreSQL transaction) and both then read the first one's key.
        stmt: Any = (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(
            analytics_keys
        )
        conn.execute(stmt.values(**values).on_conflict_do_nothing(index_elements=["id"]))


def _shared(lock_path: Path | None) -> AbstractContextManager[None]:
    return nullcontext() if lock_path is None else file_lock(lock_path, exclusive=False)


__all__ = ["CALLER_KEY_ID", "CallerHasher", "rewrap_caller_key"]
