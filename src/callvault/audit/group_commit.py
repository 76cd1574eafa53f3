"""Group commit for acts whose only write is their audit entry (searches, report reads).

A search reads; what it writes is the entry that says who searched for what. Holding the
database's single write lock through the search and then paying one fsync per search makes
concurrent searches queue behind each other. Here each caller hands over its entry and waits;
one of the waiting threads (the leader) commits every entry queued so far in one transaction
and one fsync, then wakes them all. The promise is unchanged: a caller returns only after its
entry is committed, and if the commit fails every caller in that batch gets the error (so no
result goes out unaudited).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine

from callvault.audit.service import AuditLog
from callvault.context import RequestContext
from callvault.db import transaction

# Enough to share an fsync among a burst of requests; small enough that one transaction
# never holds the write lock for long.
MAX_BATCH = 256


@dataclass
class _Pending:
    ctx: RequestContext
    action: str
    fields: dict[str, Any]
    done: threading.Event = field(default_factory=threading.Event)
    seq: int | None = None
    error: BaseException | None = None


class GroupCommit:
    """Commit audit entries from many threads in shared transactions (one per process).

    Whoever finds no commit in progress leads: it takes what is queued (its own entry among
    it), commits it, and wakes the rest; a waiter whose entry is still queued then leads the
    next batch. So no thread commits on behalf of others once its own entry is in.
    """

    def __init__(self, engine: Engine, audit: AuditLog) -> None:
        self._engine, self._audit = engine, audit
        self._turn = threading.Condition()
        self._queue: list[_Pending] = []
        self._leading = False

    def append(
        self,
        ctx: RequestContext,
        action: str,
        *,
        object_type: str | None = None,
        object_id: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> int:
        """Append one entry and return its sequence number once it is committed."""
        mine = _Pending(
            ctx, action, {"object_type": object_type, "object_id": object_id, "details": details}
        )
        with self._turn:
            self._queue.append(mine)
            while not mine.done.is_set():
                if self._leading:
                    self._turn.wait()
                    continue
                self._leading = True
                batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
                self._turn.release()
                try:
                    self._commit(batch)
                finally:
                    self._turn.acquire()
                    self._leading = False
                    self._turn.notify_all()
        if mine.error is not None:
            raise mine.error
        assert mine.seq is not None
        return mine.seq

    def _commit(self, batch: list[_Pending]) -> None:
        try:
            with transaction(self._engine) as conn:
                seqs = [self._audit.append(conn, p.ctx, p.action, **p.fields) for p in batch]
        except BaseException as exc:  # every waiter must wake, with the reason
            for pending in batch:
                pending.error = exc
        else:
            for pending, seq in zip(batch, seqs, strict=True):
                pending.seq = seq
        finally:
            for pending in batch:
                pending.done.set()
