"""Re-deriving demand facts under the policy in force now (``callvault report demand-reindex``).

The job (``demand_index.py``) fixes a call's facts when it writes them: out of hours under the
opening hours of that day, topics under the topics of that day. When the council edits its
topics or hours, calls already indexed keep the old classification. A re-index derives the
facts of the calls in a window again under the policy loaded now, in batches (memory stays
flat however many calls the window holds), for someone with ``demand:reindex``.

Only what still exists is derived again:

- a live call: every fact but its caller key, from the catalogue and its redacted transcript;
- a purged call (retention, or an erasure): its tombstone keeps its line, start and length,
  so its hours are judged again; its transcript is gone, so its topics stay as they were
  found while it existed;
- the caller key, never: it does not depend on the policy, and one a purge cleared stays
  cleared (the number behind it is gone, as the erasure promised).

A run writes one ``demand.reindexed`` audit entry at its end, with the window and counts
(never a number, a hash or a word said). As with the indexing job, the batches commit as they
go: a run stopped midway has re-derived some rows, which the next run would derive the same
way. A dry run counts what would change and writes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, and_, bindparam, or_, select, update

from callvault.access.actions import Permissions
from callvault.access.refusals import require_permission
from callvault.analytics.demand import uk_instant
from callvault.analytics.demand_index import BATCH, derive, with_redacted_transcript
from callvault.analytics.store import demand_calls
from callvault.analytics.topics import TopicMatcher
from callvault.audit.service import AuditLog, utc_now_iso
from callvault.catalog.fulltext import segment_texts
from callvault.catalog.store import recordings
from callvault.context import RequestContext
from callvault.db import transaction
from callvault.errors import BadInput
from callvault.policy.model import Policy

if TYPE_CHECKING:
    from callvault.bootstrap import Services

REINDEX = "demand:reindex"
REINDEXED = "demand.reindexed"
# The facts ``derive`` gives; a re-index writes these (and ``indexed_at``) on a changed row.
DERIVED = ("line", "direction", "started_at", "local_date", "local_hour", "weekday",
           "out_of_hours", "duration_s", "topics", "transcribed")  # fmt: skip
# Facts a purged call's tombstone can no longer back: kept as they were indexed.
GONE_WITH_THE_TRANSCRIPT = ("topics", "transcribed")


@dataclass(frozen=True, slots=True)
class ReindexWindow:
    """Calls that started from ``start`` (inclusive) to ``end`` (exclusive); None is open."""

    start: datetime | None
    end: datetime | None

    @classmethod
    def parse(cls, from_: str | None, to: str | None) -> ReindexWindow:
        """From ``--from``/``--to`` as the demand report reads them (a UK day, or an ISO
        time); either may be left out: from the first call, to the last."""
        start, end = uk_instant(from_, "from"), uk_instant(to, "to")
        if start is not None and end is not None and start >= end:
            raise BadInput("from must be before to (to is exclusive)", "from")
        return cls(start, end)

    def as_dict(self) -> dict[str, str | None]:
        return {"from": self.start.isoformat() if self.start else None,
                "to": self.end.isoformat() if self.end else None}  # fmt: skip

    def terms(self) -> list[Any]:
        started = demand_calls.c.started_at
        terms = [] if self.start is None else [started >= self.start.isoformat()]
        return terms + ([] if self.end is None else [started < self.end.isoformat()])


@dataclass(slots=True)
class ReindexCounts:
    reindexed: int = 0  # rows whose facts changed (would change, in a dry run)
    unchanged: int = 0
    purged: int = 0  # of both, purged calls: hours judged again, topics kept

    def as_dict(self) -> dict[str, int]:
        return {"reindexed": self.reindexed, "unchanged": self.unchanged, "purged": self.purged}


class DemandReindexer:
    """Derives the ``demand_calls`` rows of a window again under the policy loaded now."""

    def __init__(
        self,
        engine: Engine,
        audit: AuditLog,
        permissions: Permissions,
        policy: Policy,
        batch: int = BATCH,
    ) -> None:
        self._engine, self._audit, self._permissions = engine, audit, permissions
        self._policy, self._batch = policy, batch
        self._matcher = TopicMatcher(policy.topics)

    @classmethod
    def for_services(cls, services: Services) -> DemandReindexer:
        return cls(services.engine, services.audit, services.permissions, services.policy.policy)

    def run(
        self, ctx: RequestContext, window: ReindexWindow, *, dry_run: bool = False
    ) -> dict[str, Any]:
        """Re-derive the facts of the calls in ``window`` (``demand:reindex``; a refusal is
        audited): ``reindexed`` rows changed, ``unchanged`` ones already right, ``purged``
        those of purged calls among both. Audited once, with the counts; a dry run writes
        nothing, not even the entry."""
        require_permission(self._engine, self._audit, self._permissions, ctx, REINDEX,
                           object_type="demand_calls", object_id=None)  # fmt: skip
        counts, after = ReindexCounts(), ("", "")
        while batch := self._batch_after(window, after):
            self._batch_of([rid for _, rid in batch], counts, dry_run)
            after = batch[-1]
        result = {**window.as_dict(), **counts.as_dict(), "dry_run": dry_run,
                  "policy_version": self._policy.version}  # fmt: skip
        if not dry_run:
            with transaction(self._engine) as conn:
                self._audit.append(conn, ctx, REINDEXED, object_type="demand_calls",
                                   object_id=None, details=result)  # fmt: skip
        return result

    def _batch_after(self, window: ReindexWindow, after: tuple[str, str]) -> list[tuple[str, str]]:
        """The next (start, recording id) pairs of the window, in that order: walked along
        the start's index, so a narrow window in a national table reads only its own rows."""
        d, (started, rid) = demand_calls.c, after
        later = or_(d.started_at > started, and_(d.started_at == started, d.recording_id > rid))
        with self._engine.connect() as conn:
            query = (
                select(d.started_at, d.recording_id)
                .where(later, *window.terms())
                .order_by(d.started_at, d.recording_id)
                .limit(self._batch)
            )
            return [(str(start), str(rid)) for start, rid in conn.execute(query)]

    def _batch_of(self, ids: list[str], counts: ReindexCounts, dry_run: bool) -> None:
        # The transcripts are read first, outside the write lock (on SQLite a scan of the
        # full-text table), as the indexer reads them.
        with self._engine.connect() as conn:
            texts = segment_texts(conn, ids)
            transcribed = with_redacted_transcript(conn, ids) | set(texts)
        if dry_run:
            with self._engine.connect() as conn:
                self._settle(conn, ids, texts, transcribed, counts, write=False)
            return
        with transaction(self._engine) as conn:
            self._settle(conn, ids, texts, transcribed, counts, write=True)

    def _settle(
        self,
        conn: Connection,
        ids: Sequence[str],
        texts: dict[str, list[str]],
        transcribed: set[str],
        counts: ReindexCounts,
        *,
        write: bool,
    ) -> None:
        """Compare each call's facts derived now with those stored; write the changed ones.
        The catalogue rows are read share-locked (PostgreSQL; SQLite has one writer): a purge
        cannot slip in between, so a call purged meanwhile keeps its topics."""
        r, d = recordings.c, demand_calls.c
        query = select(r.id, r.line, r.direction, r.started_at, r.duration_s, r.purged_at)
        query = query.where(r.id.in_(ids))
        catalogued = conn.execute(query.with_for_update(read=True) if write else query).all()
        stored = {
            row.recording_id: row._asdict()
            for row in conn.execute(
                select(d.recording_id, *(d[name] for name in DERIVED)).where(
                    d.recording_id.in_(ids)
                )
            )
        }
        changed: list[dict[str, Any]] = []
        for row in catalogued:
            now = self._facts(row, texts, transcribed, stored[row.id])
            if any(not _same(stored[row.id][name], now[name]) for name in DERIVED):
                changed.append({"rid": row.id, **{f"v_{k}": v for k, v in now.items()}})
            counts.purged += int(row.purged_at is not None)
        counts.reindexed += len(changed)
        counts.unchanged += len(catalogued) - len(changed)
        if write and changed:
            values: dict[str, Any] = {name: bindparam(f"v_{name}") for name in DERIVED}
            conn.execute(
                update(demand_calls)
                .where(d.recording_id == bindparam("rid"))
                .values({**values, "indexed_at": utc_now_iso()}),
                changed,
            )

    def _facts(
        self,
        row: Any,  # a catalogue row: id, line, direction, started_at, duration_s, purged_at
        texts: dict[str, list[str]],
        transcribed: set[str],
        stored: dict[str, Any],
    ) -> dict[str, Any]:
        if row.purged_at is not None:
            facts = derive(self._policy, self._matcher, row, None)
            return facts | {name: stored[name] for name in GONE_WITH_THE_TRANSCRIPT}
        said = texts.get(row.id, []) if row.id in transcribed else None
        return derive(self._policy, self._matcher, row, said)


def _same(stored: Any, derived: Any) -> bool:
    # Booleans come back from SQLite as integers on some paths, floats as stored.
    if isinstance(derived, bool):
        return stored is not None and bool(stored) == derived
    return bool(stored == derived)


__all__ = ["REINDEX", "REINDEXED", "DemandReindexer", "ReindexCounts", "ReindexWindow"]
