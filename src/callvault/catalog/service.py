"""The catalog: decisions and recordings. Writes happen inside the caller's transaction,
beside the audit entry for the same act."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, func, insert, select, update

from callvault.audit.service import utc_now_iso
from callvault.catalog.model import CallDecision, Recording
from callvault.catalog.store import call_decisions, data_keys, recordings, renditions
from callvault.errors import NotFound
from callvault.vault.interfaces import WrappedKey, validate_blob_name

# A rendition row naming audio that was replaced (speech/service.py): kept only so the purge
# deletes the bytes Object Lock would not let go of at the time.
SUPERSEDED = "superseded"
# The renditions whose bytes are needed (backed up, checked): all but superseded audio.
NEEDED_RENDITION = renditions.c.kind != SUPERSEDED


class Catalog:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    # -- decisions -------------------------------------------------------------------------
    def decision_for_call(self, call_id: str) -> CallDecision | None:
        """The decision already made for ``call_id``, if any."""
        with self._engine.connect() as conn:
            row = conn.execute(
                select(call_decisions).where(call_decisions.c.call_id == call_id)
            ).first()
        return None if row is None else CallDecision(**row._asdict())

    def add_decision(self, conn: Connection, decision: CallDecision) -> None:
        """Keep a decision (no audio, no caller number) inside ``conn``'s transaction."""
        conn.execute(insert(call_decisions).values(**_fields(decision)))

    # -- recordings ------------------------------------------------------------------------
    def add_recording(
        self, conn: Connection, recording: Recording, wrapped: WrappedKey, created_at: str
    ) -> None:
        """Catalogue a recording and its wrapped data key inside ``conn``'s transaction."""
        values = _fields(recording)
        values["channel_map"] = orjson.dumps(recording.channel_map).decode()
        values["flags"] = orjson.dumps(recording.flags).decode()
        conn.execute(insert(recordings).values(**values))
        conn.execute(
            insert(data_keys).values(
                recording_id=recording.id,
                kek_id=wrapped.kek_id,
                wrapped=wrapped.blob,
                created_at=created_at,
            )
        )

    def recording_for_call(self, call_id: str) -> Recording | None:
        with self._engine.connect() as conn:
            row = conn.execute(select(recordings).where(recordings.c.call_id == call_id)).first()
        return None if row is None else _recording(row._asdict())

    def get(self, recording_id: str) -> Recording:
        """One live recording's catalogue entry; NotFound if there is none or it was purged."""
        with self._engine.connect() as conn:
            row = conn.execute(select(recordings).where(recordings.c.id == recording_id)).first()
        if row is None:
            raise NotFound(f"no recording {recording_id!r}", "recording_id")
        if row.purged_at is not None:
            raise NotFound(
                f"recording {recording_id!r} was deleted on {row.purged_at[:10]} when its "
                "retention period ended; only its disposal certificate remains",
                "recording_id",
            )
        return _recording(row._asdict())

    def wrapped_key(self, recording_id: str) -> WrappedKey:
        with self._engine.connect() as conn:
            row = conn.execute(
                select(data_keys.c.kek_id, data_keys.c.wrapped).where(
                    data_keys.c.recording_id == recording_id
                )
            ).first()
        if row is None:
            raise NotFound(f"recording {recording_id!r} has no data key (destroyed?)", "key")
        return WrappedKey(kek_id=row.kek_id, blob=bytes(row.wrapped))

    def blob_names(self) -> set[str]:
        """Every blob the catalogue needs: live recordings' and their renditions' (a purged
        recording's are gone, or being deleted by the purge: ``disposals``). Superseded
        audio (``SUPERSEDED``: replaced, its key destroyed, hidden but kept by Object Lock
        until the purge deletes it) is not needed, so not listed."""
        with self._engine.connect() as conn:
            names = set(
                conn.execute(
                    select(recordings.c.blob_name).where(recordings.c.purged_at.is_(None))
                ).scalars()
            )
            names.update(
                conn.execute(select(renditions.c.blob_name).where(NEEDED_RENDITION)).scalars()
            )
        return names

    def count(self) -> int:
        """How many recordings are held (purged tombstones not counted)."""
        with self._engine.connect() as conn:
            return int(
                conn.execute(
                    select(func.count())
                    .select_from(recordings)
                    .where(recordings.c.purged_at.is_(None))
                ).scalar_one()
            )

    def rendition(self, recording_id: str, kind: str) -> str | None:
        """The blob of rendition ``kind`` of a recording, if it has one."""
        with self._engine.connect() as conn:
            name = conn.execute(
                select(renditions.c.blob_name).where(
                    renditions.c.recording_id == recording_id, renditions.c.kind == kind
                )
            ).scalar()
        return None if name is None else str(name)

    def add_rendition(self, conn: Connection, recording_id: str, kind: str, blob_name: str) -> None:
        """Record a derived blob of a recording (a redacted or browser rendition), written
        with the blob's transaction, so a purge finds and deletes it with the original."""
        conn.execute(
            insert(renditions).values(
                recording_id=recording_id,
                kind=kind,
                blob_name=validate_blob_name(blob_name),
                created_at=utc_now_iso(),
            )
        )

    # -- key rotation ----------------------------------------------------------------------
    def iter_wrapped_keys(self, conn: Connection) -> Iterator[tuple[str, WrappedKey]]:
        rows = conn.execute(
            select(data_keys.c.recording_id, data_keys.c.kek_id, data_keys.c.wrapped)
        )
        for row in rows.all():
            yield row.recording_id, WrappedKey(kek_id=row.kek_id, blob=bytes(row.wrapped))

    def replace_wrapped_key(self, conn: Connection, recording_id: str, wrapped: WrappedKey) -> None:
        conn.execute(
            update(data_keys)
            .where(data_keys.c.recording_id == recording_id)
            .values(kek_id=wrapped.kek_id, wrapped=wrapped.blob)
        )


def _fields(obj: Any) -> dict[str, Any]:
    return {name: getattr(obj, name) for name in obj.__slots__}


def _recording(row: dict[str, Any]) -> Recording:
    row["channel_map"] = orjson.loads(row["channel_map"])
    row["flags"] = orjson.loads(row["flags"])
    return Recording(**row)
