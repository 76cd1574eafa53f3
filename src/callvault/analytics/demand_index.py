"""Demand facts: one ``demand_calls`` row per recorded call, all that demand reports read.

The job ``demand.index`` (every 15 minutes, ``jobs/analytics_tasks.py``) adds a row for each
recording that has none, live or purged, in batches, and completes the rows of calls that
were transcribed since. A row holds:

- the line, direction, duration and start (UTC), and the start as the council's clocks showed
  it (Europe/London: date, hour, weekday);
- ``out_of_hours``: the start falls outside the line's opening hours (the policy's own where
  the line has none), a bank holiday in England and Wales keeping the hours' own
  ``bank_holidays`` (closed by default). Judged under the policy loaded when the call is
  indexed, or re-indexed by a person (``demand_reindex.py``);
- ``caller_key``: the caller's number as a keyed hash (``caller_key.py``), for inbound calls
  from a number that was not withheld; None for a purged recording (its number is gone, and
  the purge clears the key of one indexed before);
- ``topics``: the policy topics its redacted transcript mentions (``topics.py``), ""
  when it mentions none, None while it is not transcribed (``transcribed`` false).

A call counts as transcribed once it has indexed transcript segments or the speech job's
redacted transcript (a call where nobody spoke has the second and none of the first).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, Row, and_, bindparam, exists, select, update
from sqlalchemy.dialects import postgresql, sqlite

from callvault.access.actions import require
from callvault.analytics.caller_key import CallerHasher
from callvault.analytics.store import demand_calls
from callvault.analytics.topics import TopicMatcher
from callvault.audit.service import AuditLog, utc_now_iso
from callvault.capture.metadata import WITHHELD
from callvault.catalog.fulltext import segment_texts
from callvault.catalog.store import recordings, renditions
from callvault.context import RequestContext
from callvault.db import transaction
from callvault.policy.decide import INBOUND
from callvault.policy.model import Policy
from callvault.rights.bank_holidays import is_bank_holiday
from callvault.speech.renditions import TRANSCRIPT_REDACTED
from callvault.uktime import UK
from callvault.vault.interfaces import KeyWrapper

if TYPE_CHECKING:
    from callvault.bootstrap import Services

INDEX = "demand:index"
# Recordings read and written per transaction: memory stays flat however many are waiting.
BATCH = 500

Finish = Callable[[], AbstractContextManager[Connection]]


@dataclass(slots=True)
class IndexCounts:
    """What one run did."""

    indexed: int = 0  # fact rows added
    purged: int = 0  # of those, purged recordings (no caller key, no topics)
    transcribed: int = 0  # rows completed with topics now that their call is transcribed

    def as_dict(self) -> dict[str, int]:
        return {"indexed": self.indexed, "purged": self.purged, "transcribed": self.transcribed}

    @property
    def changed(self) -> bool:
        return bool(self.indexed or self.transcribed)


class DemandIndexer:
    """Derives ``demand_calls`` rows from the catalogue and the full-text index."""

    def __init__(
        self,
        engine: Engine,
        audit: AuditLog,
        keys: KeyWrapper,
        policy: Policy,
        lock_path: Path | None = None,
        batch: int = BATCH,
    ) -> None:
        self._engine, self._audit, self._keys, self._policy = engine, audit, keys, policy
        self._lock_path, self._batch = lock_path, batch
        self._matcher = TopicMatcher(policy.topics)

    @classmethod
    def for_services(cls, services: Services) -> DemandIndexer:
        return cls(
            services.engine, services.audit, services.keys, services.policy.policy,
            services.lock_path,
        )  # fmt: skip

    def run(self, ctx: RequestContext, finish: Finish | None = None) -> IndexCounts:
        """Index every recording without a fact row, then complete rows of calls transcribed
        since (``demand:index``). A run that changed anything writes one ``demand.indexed``
        entry, in ``finish``'s transaction (a job's ``ctx.done``) or one of its own; a run
        with nothing to do writes nothing, so the schedule does not fill the trail."""
        require(ctx.actor, INDEX)
        counts = IndexCounts()
        if self._any_unindexed():
            # Loaded (or created) before the write transactions: creating it takes one.
            hasher = CallerHasher.load(self._engine, self._keys, self._lock_path)
            self._index_new(hasher, counts)
        self._complete_transcribed(counts)
        if counts.changed:
            with (finish or (lambda: transaction(self._engine)))() as conn:
                self._audit.append(
                    conn, ctx, "demand.indexed", object_type="demand_calls", object_id=None,
                    details={**counts.as_dict(), "policy_version": self._policy.version},
                )  # fmt: skip
        return counts

    # -- new rows ---------------------------------------------------------------------------
    def _any_unindexed(self) -> bool:
        with self._engine.connect() as conn:
            return conn.execute(_unindexed_after("").limit(1)).first() is not None

    def _index_new(self, hasher: CallerHasher, counts: IndexCounts) -> None:
        after = ""
        while True:
            # The transcripts are read first, outside the write lock (on SQLite a scan of
            # the full-text table); the write transaction only looks rows up by id.
            with self._engine.connect() as conn:
                ids = list(conn.execute(_unindexed_after(after).limit(self._batch)).scalars())
                if not ids:
                    return
                texts = segment_texts(conn, ids)
                transcribed = with_redacted_transcript(conn, ids) | set(texts)
            # The catalogue rows are read again inside the write, share-locked (PostgreSQL;
            # SQLite has one writer): a purge cannot slip between reading a live caller and
            # storing its key, so a purged call never keeps a caller key.
            with transaction(self._engine) as conn:
                batch = conn.execute(_catalogued(ids).with_for_update(read=True)).all()
                facts = [self._fact(row, hasher, texts, transcribed) for row in batch]
                if facts:  # none when another indexer got to every one of them first
                    _insert_new(conn, facts)
            counts.indexed += len(facts)
            counts.purged += sum(1 for row in batch if row.purged_at is not None)
            after = ids[-1]

    def _fact(
        self,
        row: Row[Any],
        hasher: CallerHasher,
        texts: dict[str, list[str]],
        transcribed: set[str],
    ) -> dict[str, Any]:
        # Purged meanwhile: no transcript any more, like a call purged before indexing.
        done = row.id in transcribed and row.purged_at is None
        said = texts.get(row.id, []) if done else None
        return {
            "recording_id": row.id,
            **derive(self._policy, self._matcher, row, said),
            "caller_key": _caller_key(row, hasher),
            "indexed_at": utc_now_iso(),
        }

    # -- rows whose call was transcribed since ----------------------------------------------
    def _complete_transcribed(self, counts: IndexCounts) -> None:
        # Only facts whose call now has its redacted transcript (the speech job writes it with
        # the indexed segments, in one transaction; a purge deletes it): calls never
        # transcribed are not walked again on every run.
        d, rd = demand_calls.c, renditions.c
        after = ""
        while True:
            with self._engine.connect() as conn:
                done = list(
                    conn.execute(
                        select(d.recording_id)
                        .join(renditions, and_(rd.recording_id == d.recording_id,
                                               rd.kind == TRANSCRIPT_REDACTED))
                        .where(d.transcribed.is_(False), d.recording_id > after)
                        .order_by(d.recording_id)
                        .limit(self._batch)
                    ).scalars()
                )  # fmt: skip
                if not done:
                    return
                texts = segment_texts(conn, done)
            with transaction(self._engine) as conn:
                conn.execute(
                    update(demand_calls)
                    .where(d.recording_id == bindparam("rid"))
                    .values(transcribed=True, topics=bindparam("found")),
                    [
                        {"rid": rid,
                         "found": ",".join(self._matcher.topics_of(texts.get(rid, [])))}
                        for rid in done
                    ],
                )  # fmt: skip
            counts.transcribed += len(done)
            after = done[-1]


def derive(
    policy: Policy, matcher: TopicMatcher, row: Row[Any], said: list[str] | None
) -> dict[str, Any]:
    """A call's facts under ``policy``, all but its caller key: from its catalogue row and,
    once it is transcribed, its redacted transcript's segments (``said``; None while it is
    not, or when it was purged)."""
    local = _utc(row.started_at).astimezone(UK)
    hours = policy.hours_for(row.line)
    return {
        "line": row.line,
        "direction": row.direction,
        "started_at": row.started_at,
        "local_date": local.date().isoformat(),
        "local_hour": local.hour,
        "weekday": local.weekday(),
        "out_of_hours": not hours.is_open(local, is_bank_holiday(local.date())),
        "duration_s": float(row.duration_s),
        "topics": None if said is None else ",".join(matcher.topics_of(said)),
        "transcribed": said is not None,
    }


def _unindexed_after(after: str) -> Any:
    """Ids of recordings without a fact row, after ``after``, in order."""
    r = recordings.c
    return (
        select(r.id)
        .where(r.id > after, ~exists().where(demand_calls.c.recording_id == r.id))
        .order_by(r.id)
    )


def _catalogued(ids: Sequence[str]) -> Any:
    r = recordings.c
    return select(
        r.id, r.line, r.direction, r.caller, r.started_at, r.duration_s, r.purged_at
    ).where(r.id.in_(ids), ~exists().where(demand_calls.c.recording_id == r.id))


def with_redacted_transcript(conn: Connection, ids: Sequence[str]) -> set[str]:
    """Which of ``ids`` have the speech job's redacted transcript (transcribed, even when
    nobody spoke and no segment was indexed)."""
    if not ids:
        return set()
    query = select(renditions.c.recording_id).where(
        renditions.c.recording_id.in_(ids), renditions.c.kind == TRANSCRIPT_REDACTED
    )
    return {str(rid) for rid in conn.execute(query).scalars()}


def _caller_key(row: Row[Any], hasher: CallerHasher) -> str | None:
    # Outbound, the stored caller is the council's own line; withheld is no one in particular.
    if row.purged_at is not None or row.direction != INBOUND or row.caller in ("", WITHHELD):
        return None
    return hasher.caller_key(row.caller)


def _utc(stamp: str) -> datetime:
    moment = datetime.fromisoformat(stamp)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _insert_new(conn: Connection, facts: list[dict[str, Any]]) -> None:
    # A second indexer running at once (an operator's, a second worker) inserted some first:
    # theirs stand, computed the same way.
    dialect: Any = postgresql if conn.dialect.name == "postgresql" else sqlite
    conn.execute(
        dialect.insert(demand_calls).on_conflict_do_nothing(index_elements=["recording_id"]),
        facts,
    )


__all__ = ["BATCH", "INDEX", "DemandIndexer", "IndexCounts", "derive", "with_redacted_transcript"]
