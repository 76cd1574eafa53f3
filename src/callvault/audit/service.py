"""The audit trail: the one way to record an act, and the check that nothing was altered.

Entries are appended inside the caller's transaction, so an act and its entry commit together;
if the entry cannot be written the act fails too (the log fails closed). There is no update,
delete or prune here, and the database refuses them.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, Row, func, insert, select, text, update

from callvault.audit.chain import GENESIS, checkpoint_message, entry_hash, entry_text
from callvault.audit.signing import CheckpointSigner
from callvault.audit.store import audit_checkpoints, audit_head, audit_log
from callvault.context import RequestContext

# A kept checkpoint every so many entries anchors verification of long stretches.
CHECKPOINT_EVERY = 1000
_FETCH_BATCH = 20_000
# PostgreSQL advisory lock key for appending ("cvaudit" as an integer).
_APPEND_LOCK = 0x6376617564697400 >> 8


@dataclass(frozen=True, slots=True)
class AuditAct:
    """One act to record: what was done, to which object, with which details."""

    action: str
    object_type: str | None = None
    object_id: str | None = None
    details: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class VerifyResult:
    ok: bool
    entries: int
    first_bad: int | None
    problem: str | None = None
    # The hash of the last entry when the whole chain verified: someone who noted it earlier
    # (or keeps it elsewhere) can compare.
    head_hash: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "entries": self.entries,
            "first_bad": self.first_bad,
            "problem": self.problem,
            "head_hash": self.head_hash,
        }


def utc_now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def _at_text(moment: datetime) -> str:
    """``moment`` as entries write their time (``utc_now_iso``), so the two compare as text;
    a time without a zone is taken as UTC."""
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).isoformat(timespec="microseconds")


def _entry(row: Row[Any, Any, Any, Any]) -> dict[str, Any]:
    """A stored row as ``show`` returns entries: its sequence number, fields and hashes."""
    return {"seq": row.seq, **orjson.loads(row.entry), "prev_hash": row.prev_hash, "hash": row.hash}


class AuditLog:
    def __init__(self, engine: Engine, signer: CheckpointSigner) -> None:
        self._engine = engine
        self._signer = signer

    def append(
        self,
        conn: Connection,
        ctx: RequestContext,
        action: str,
        *,
        object_type: str | None = None,
        object_id: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> int:
        """Append one entry inside ``conn``'s transaction and return its sequence number."""
        return self.append_many(conn, ctx, [AuditAct(action, object_type, object_id, details)])[0]

    def append_many(
        self, conn: Connection, ctx: RequestContext, acts: Sequence[AuditAct]
    ) -> list[int]:
        """Append ``acts`` in order inside ``conn``'s transaction; return their numbers.

        The chain is the same as appending one by one; only the head is signed once, for the
        last entry (and a checkpoint for every multiple of ``CHECKPOINT_EVERY`` passed), so
        recording a purge of thousands of recordings costs one signature, not thousands.
        """
        if not acts:
            return []
        if conn.dialect.name == "postgresql":
            # One appender at a time until commit, so concurrent acts never race for a sequence
            # number (SQLite's BEGIN IMMEDIATE already serialises writers).
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _APPEND_LOCK})
        last = conn.execute(
            select(audit_log.c.seq, audit_log.c.hash).order_by(audit_log.c.seq.desc()).limit(1)
        ).first()
        seq = 0 if last is None else last.seq
        prev_hash = GENESIS if last is None else last.hash
        rows: list[dict[str, Any]] = []
        checkpoints: list[dict[str, Any]] = []
        at = utc_now_iso()
        for act in acts:
            seq += 1
            at = utc_now_iso()
            entry = entry_text(
                {
                    "at": at,
                    "actor": ctx.actor.name,
                    "operator": ctx.actor.operator,
                    "action": act.action,
                    "object_type": act.object_type,
                    "object_id": act.object_id,
                    "purpose": ctx.purpose,
                    "case_ref": ctx.case_ref,
                    "origin": ctx.origin,
                    "request_id": ctx.request_id,
                    "details": act.details or {},
                }
            )
            hash_ = entry_hash(seq, prev_hash, entry)
            rows.append({"seq": seq, "entry": entry, "prev_hash": prev_hash, "hash": hash_})
            if seq % CHECKPOINT_EVERY == 0:
                checkpoints.append(self._signed(seq, hash_, at))
            prev_hash = hash_
        conn.execute(insert(audit_log), rows)
        if checkpoints:
            conn.execute(insert(audit_checkpoints), checkpoints)
        self._sign_head(conn, seq, prev_hash, at)
        return [row["seq"] for row in rows]

    def _signed(self, seq: int, hash_: str, at: str) -> dict[str, Any]:
        return {
            "seq": seq,
            "at": at,
            "hash": hash_,
            "key_id": self._signer.key_id,
            "signature": self._signer.sign(checkpoint_message(seq, hash_)),
        }

    def _sign_head(self, conn: Connection, seq: int, hash_: str, at: str) -> None:
        signed = self._signed(seq, hash_, at)
        replaced = conn.execute(update(audit_head).where(audit_head.c.id == 1).values(**signed))
        if replaced.rowcount == 0:
            conn.execute(insert(audit_head).values(id=1, **signed))

    def verify(self) -> VerifyResult:
        """Recompute the whole chain, check every signed checkpoint and the signed head."""
        checkpoints = self._load_checkpoints()
        expected_seq, prev_hash = 1, GENESIS
        hashes_at: dict[int, str] = {}
        for seq, entry, stored_prev, stored_hash in self._iter_rows():
            if seq != expected_seq:
                return VerifyResult(
                    False,
                    expected_seq - 1,
                    expected_seq,
                    f"entry {expected_seq} is missing or out of order",
                )
            if stored_prev != prev_hash or entry_hash(seq, prev_hash, entry) != stored_hash:
                return VerifyResult(False, seq - 1, seq, f"entry {seq} was altered")
            if seq in checkpoints:
                hashes_at[seq] = stored_hash
            prev_hash = stored_hash
            expected_seq += 1
        entries = expected_seq - 1
        problem = self._check_signatures(checkpoints, hashes_at, entries, prev_hash)
        if problem is not None:
            return VerifyResult(False, entries, problem[0], problem[1])
        return VerifyResult(True, entries, None, head_hash=prev_hash if entries else None)

    def _iter_rows(self) -> Iterator[tuple[int, str, str, str]]:
        """(seq, entry, prev_hash, hash) in order, straight from the DBAPI cursor (speed)."""
        raw = self._engine.raw_connection()
        try:
            cur = raw.cursor()
            cur.execute("SELECT seq, entry, prev_hash, hash FROM audit_log ORDER BY seq")
            while batch := cur.fetchmany(_FETCH_BATCH):
                yield from batch
        finally:
            raw.close()

    def _load_checkpoints(self) -> dict[int, tuple[str, str]]:
        with self._engine.connect() as conn:
            rows = conn.execute(select(audit_checkpoints)).all()
        return {r.seq: (r.hash, r.signature) for r in rows}

    def _check_signatures(
        self,
        checkpoints: dict[int, tuple[str, str]],
        hashes_at: dict[int, str],
        entries: int,
        last_hash: str,
    ) -> tuple[int, str] | None:
        for seq, (hash_, signature) in sorted(checkpoints.items()):
            if seq not in hashes_at:
                return seq, f"signed checkpoint names entry {seq}, which is missing"
            if hashes_at[seq] != hash_ or not self._signer.verify(
                checkpoint_message(seq, hash_), signature
            ):
                return seq, f"signed checkpoint at entry {seq} does not match the chain"
        with self._engine.connect() as conn:
            head = conn.execute(select(audit_head).where(audit_head.c.id == 1)).first()
        if head is None:
            return (1, "the signed head of the audit log is missing") if entries else None
        if not self._signer.verify(checkpoint_message(head.seq, head.hash), head.signature):
            return head.seq, "the signed head of the audit log has a bad signature"
        if head.seq != entries or head.hash != last_hash:
            first_bad = min(head.seq, entries + 1)
            return first_bad, (
                f"the signed head names entry {head.seq} but the log ends at entry {entries}: "
                "entries were cut off the end"
            )
        return None

    def show(
        self,
        *,
        object_id: str | None = None,
        limit: int = 100,
        after: int = 0,
        before: int | None = None,
        actor: str | None = None,
        action: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        newest_first: bool = False,
    ) -> list[dict[str, Any]]:
        """Entries in sequence order (``newest_first``: reversed), after sequence ``after``
        and before ``before``; optionally only those about one object, by one actor, of one
        action, or written at or after ``since`` and before ``until``."""
        query = select(
            audit_log.c.seq, audit_log.c.entry, audit_log.c.prev_hash, audit_log.c.hash
        ).where(audit_log.c.seq > after)
        if before is not None:
            query = query.where(audit_log.c.seq < before)
        if object_id is not None:
            query = query.where(audit_log.c.object_id == object_id)
        if actor is not None:
            query = query.where(audit_log.c.actor == actor)
        if action is not None:
            query = query.where(audit_log.c.action == action)
        if since is not None:
            query = query.where(audit_log.c.at >= _at_text(since))
        if until is not None:
            query = query.where(audit_log.c.at < _at_text(until))
        order = audit_log.c.seq.desc() if newest_first else audit_log.c.seq
        with self._engine.connect() as conn:
            rows = conn.execute(query.order_by(order).limit(limit)).all()
        return [_entry(row) for row in rows]

    def latest_about(
        self, object_ids: Collection[str], limit: int
    ) -> tuple[list[dict[str, Any]], int]:
        """The latest ``limit`` entries about any of ``object_ids`` (a recording and the
        grants that cover it, say), newest first, and how many there are in all."""
        if not object_ids:
            return [], 0
        about = audit_log.c.object_id.in_(sorted(set(object_ids)))
        columns = (audit_log.c.seq, audit_log.c.entry, audit_log.c.prev_hash, audit_log.c.hash)
        latest = select(*columns).where(about).order_by(audit_log.c.seq.desc()).limit(limit)
        with self._engine.connect() as conn:
            total = conn.execute(select(func.count()).select_from(audit_log).where(about))
            found = int(total.scalar_one())
            entries = conn.execute(latest).all()
        return [_entry(row) for row in entries], found

    def count(self) -> int:
        with self._engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(audit_log)).scalar_one())
