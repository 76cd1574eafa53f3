"""Purge: destroy what the retention schedule says is due, and prove it.

For each expired recording no active hold covers, in batches:

1. the erasure is written to the ledger (outside the database, fsynced), so a restore of an
   older backup re-applies it;
2. its wrapped data key is deleted, with a ``disposals`` row in state ``shredded``, in one
   transaction: from this commit on the audio cannot be decrypted by anyone (crypto-shredding);
3. its blob and every rendition are deleted from the store;
4. in one transaction: its transcript rows and rendition rows are deleted, the catalogue row
   becomes a tombstone (caller, agent and source hash blanked, ``purged_at`` set), the
   disposal is marked ``done`` and its certificate (what, when, under which rule, key
   destroyed, blobs deleted) is appended to the audit trail.

A crash anywhere leaves a state the next run finishes: ``shredded`` disposals are resumed
before new work; a ledger entry without a disposal is harmless (the next run writes the same
erasure again). Blobs an Object Lock still keeps stay ``shredded`` (unreadable, counted as
pending) and are deleted by a later run.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import (
    Connection,
    Engine,
    bindparam,
    delete,
    exists,
    func,
    insert,
    select,
    text,
    update,
)

from callvault.access.actions import require
from callvault.analytics.store import demand_calls
from callvault.audit.service import AuditAct, AuditLog, utc_now_iso
from callvault.catalog.fulltext import delete_segments_of
from callvault.catalog.store import data_keys, recordings, renditions
from callvault.context import RequestContext
from callvault.db import transaction
from callvault.errors import BadInput
from callvault.policy.model import Policy
from callvault.retention.holding import (
    HoldRef,
    active_hold_clause,
    exclude_purges,
    held_ids,
    holds_covering,
)
from callvault.retention.ledger import Erasure, ErasureLedger
from callvault.retention.periods import apply_policy_periods
from callvault.retention.records import expire_records
from callvault.retention.runs import RunCounts, beat, fail_run, finish_run, start_run
from callvault.retention.store import disposals
from callvault.speech.store import redactions, review_flags
from callvault.vault.service import Vault

# Recordings per batch: one ledger fsync, two commits and one flush per blob folder each.
BATCH = 2000
# A purge may not run ahead of the real clock: that would delete before the period ends.
CLOCK_SLACK = timedelta(minutes=5)
RUN = "retention:run"
# Shredding one recording now, for a granted erasure request (rights/erasure.py).
ERASE = "recordings:erase"
OUTLOOK = "retention:read"
# An outlook lists at most this many recordings, soonest first; its counts cover them all.
OUTLOOK_LIMIT = 500
# A year ahead covers every period the policy can set; further is not a schedule but a guess.
_OUTLOOK_MAX = timedelta(days=366)


@dataclass(frozen=True, slots=True)
class Due:
    """An expired recording to purge, with what its certificate names."""

    recording_id: str
    line: str
    retain_until: str
    blob_names: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Upcoming:
    """A live recording whose retention date falls within an outlook's window."""

    recording_id: str
    line: str
    started_at: str
    retain_until: str
    # The active holds keeping it past its date; empty: the first purge after the date
    # deletes it.
    held_by: tuple[HoldRef, ...]


@dataclass(frozen=True, slots=True)
class Outlook:
    """What purges will delete from now until ``until``: the dry run's selection (the same
    clauses), for a person to read. Counts cover the whole window; ``recordings`` the soonest
    of it."""

    as_of: str
    until: str
    # A purge at ``until`` deletes these (no hold keeps them), overdue ones included.
    due: int
    # Past their date by ``until``, but an active hold keeps them.
    held: int
    # A purge a week from now deletes these.
    due_within_week: int
    # Past their date already, kept only by a hold.
    held_past_date: int
    recordings: list[Upcoming]

    @property
    def total(self) -> int:
        return self.due + self.held


@dataclass(frozen=True, slots=True)
class RunReport:
    run_id: str | None
    as_of: str
    dry_run: bool
    counts: RunCounts
    recomputed: list[dict[str, Any]]
    due: list[str]
    # Records built on recordings deleted (a dry run: due) as of the run (retention/records.py).
    expired: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "as_of": self.as_of,
            "dry_run": self.dry_run,
            "purged": self.counts.purged,
            "held": self.counts.held,
            "kept": self.counts.kept,
            "pending": self.counts.pending,
            "recomputed": self.recomputed,
            # A dry run names what it would purge (at most the first thousand).
            "would_purge": self.due[:1000] if self.dry_run else [],
            **self.expired,
        }


class RetentionService:
    def __init__(
        self,
        engine: Engine,
        audit: AuditLog,
        policy: Policy,
        vault: Vault,
        ledger: ErasureLedger,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._engine, self._audit, self._policy = engine, audit, policy
        self._vault, self._ledger, self._clock = vault, ledger, clock

    # -- the scheduled purge ------------------------------------------------------------------
    def run(
        self, ctx: RequestContext, *, now: datetime | None = None, dry_run: bool = False
    ) -> RunReport:
        """Purge everything due as of ``now`` (default: the clock) that no hold covers."""
        require(ctx.actor, RUN)
        real_now = self._clock()
        as_of = _as_of(now, real_now, dry_run)
        if dry_run:
            expired = expire_records(
                self._engine, self._audit, ctx, self._policy, as_of, dry_run=True
            )
            return replace(self._preview(as_of), expired=expired)
        run_id = start_run(self._engine, ctx.actor.name, as_of, real_now)
        try:
            with transaction(self._engine) as conn:
                recomputed = apply_policy_periods(conn, self._audit, ctx, self._policy, real_now)
            resumed, _still_locked = self._finish_shredded(ctx)
            purged, held = self._purge_due(ctx, run_id, as_of)
            expired = expire_records(self._engine, self._audit, ctx, self._policy, as_of)
            counts = RunCounts(
                resumed + purged, held, self._count_kept(as_of), self._count_pending()
            )
            self._settle(ctx, run_id, as_of, counts)
        except BaseException:
            fail_run(self._engine, run_id, self._clock())
            raise
        return RunReport(run_id, as_of.isoformat(), False, counts, recomputed, [], expired)

    def reapply(self, ctx: RequestContext, erasures: Sequence[Erasure]) -> int:
        """Erase again what the ledger says was erased (after a restore); return how many.

        A recording the restored database still holds is shredded and scrubbed as a purge
        would (its certificate written again, naming this re-application); a blob a restore
        brought back is deleted by the name the ledger gives; a disposal the backup caught
        half done is finished. A recording a legal hold covers now is left alone: a hold says
        keep it, and the next purge after its release erases it again.
        """
        require(ctx.actor, RUN)
        by_id = {e.recording_id: e for e in erasures}
        with self._engine.connect() as conn:
            held = held_ids(conn, by_id)
        self._vault.delete_many(
            sorted({n for e in by_id.values() if e.recording_id not in held for n in e.blob_names})
        )
        erased = 0
        ids = [rid for rid in by_id if rid not in held]
        for start in range(0, len(ids), BATCH):
            with self._engine.connect() as conn:
                found = _due_rows(conn, recordings.c.id.in_(ids[start : start + BATCH]))
            if found:
                rules = {d.recording_id: by_id[d.recording_id].rule for d in found}
                erased += self._dispose(ctx, "reapply", found, rules, ledger=False)
        return erased + self._finish_shredded(ctx)[0]

    def erase(
        self, ctx: RequestContext, recording_ids: Sequence[str], *, run_id: str, rule: str
    ) -> dict[str, int]:
        """Crypto-shred ``recording_ids`` now, for a granted erasure request: the erasure
        ledger first, then the data keys, then the blobs, and a disposal certificate each, as
        a purge does. A recording a legal hold covers is left alone (the caller decides what
        to tell the requester). Returns {recording id: its certificate's audit entry} for
        each one erased; where an Object Lock keeps the ciphertext, the certificate says the
        key is destroyed and which blobs a later purge run deletes.
        """
        require(ctx.actor, ERASE)
        ids = list(dict.fromkeys(recording_ids))
        with self._engine.connect() as conn:
            found = _due_rows(conn, recordings.c.id.in_(ids), limit=None)
        if found:
            self._dispose(ctx, run_id, found, dict.fromkeys(ids, rule), reason="erasure_request")
        self._certify_locked(ctx, ids)
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(disposals.c.recording_id, disposals.c.certificate_seq).where(
                    disposals.c.recording_id.in_(ids), disposals.c.certificate_seq.is_not(None)
                )
            ).all()
        return {r.recording_id: r.certificate_seq for r in rows}

    def _certify_locked(self, ctx: RequestContext, ids: Sequence[str]) -> None:
        """Scrub and certify erased recordings whose ciphertext an Object Lock still keeps.

        The data key is gone, so what the lock keeps can never be read again: that is the
        erasure, and the requester is owed it now, not when the lock lapses. The catalogue's
        copy of what was said (transcript text, caller) goes at once; a later purge run
        deletes the locked bytes and writes the final certificate.
        """
        now = utc_now_iso()
        with transaction(self._engine) as conn:
            rows = conn.execute(
                select(disposals).where(
                    disposals.c.recording_id.in_(ids),
                    disposals.c.state == "shredded",
                    disposals.c.certificate_seq.is_(None),
                )
            ).all()
            if not rows:
                return
            segments = _scrub(conn, [r.recording_id for r in rows], now)
            acts = [
                AuditAct(
                    "recording.shredded",
                    "recording",
                    r.recording_id,
                    _certificate(r, (), segments.get(r.recording_id, 0), now)
                    | {"blobs_awaiting_deletion": orjson.loads(r.blobs)},
                )
                for r in rows
            ]
            seqs = self._audit.append_many(conn, ctx, acts)
            conn.execute(
                update(disposals)
                .where(disposals.c.recording_id == bindparam("rid"))
                .values(certificate_seq=bindparam("seq")),
                [{"rid": r.recording_id, "seq": seq} for r, seq in zip(rows, seqs, strict=True)],
            )

    def outlook(
        self, ctx: RequestContext, within: timedelta, limit: int = OUTLOOK_LIMIT
    ) -> Outlook:
        """The recordings whose retention date falls by ``within`` from now, soonest first,
        each with the holds that keep it; what a dry run as of then would purge is exactly
        the ones no hold keeps. Reading it is audited: the holds it names carry case
        references."""
        require(ctx.actor, OUTLOOK)
        if not timedelta(0) <= within <= _OUTLOOK_MAX:
            raise BadInput(f"within must be 0 to {_OUTLOOK_MAX.days} days", "within")
        now = self._clock().astimezone(UTC)
        until = now + within
        undisposed = _undisposed()
        with transaction(self._engine) as conn:

            def count(as_of: datetime, *where: Any) -> int:
                found = conn.execute(
                    select(func.count())
                    .select_from(recordings)
                    .where(_due_clause(as_of), undisposed, *where)
                )
                return int(found.scalar_one())

            rows = conn.execute(
                select(
                    recordings.c.id,
                    recordings.c.line,
                    recordings.c.started_at,
                    recordings.c.retain_until,
                )
                .where(_due_clause(until), undisposed)
                .order_by(recordings.c.retain_until, recordings.c.id)
                .limit(limit)
            ).all()
            covering = holds_covering(conn, [row.id for row in rows])
            found = Outlook(
                as_of=now.isoformat(),
                until=until.isoformat(),
                due=count(until, ~active_hold_clause()),
                held=count(until, active_hold_clause()),
                due_within_week=count(now + timedelta(days=7), ~active_hold_clause()),
                held_past_date=count(now, active_hold_clause()),
                recordings=[
                    Upcoming(
                        r.id, r.line, r.started_at, r.retain_until, tuple(covering.get(r.id, ()))
                    )
                    for r in rows
                ],
            )
            self._audit.append(
                conn, ctx, "retention.outlook", object_type="retention", object_id=None,
                details={"until": found.until, "due": found.due, "held": found.held},
            )  # fmt: skip
        return found

    # -- steps --------------------------------------------------------------------------------
    def _preview(self, as_of: datetime) -> RunReport:
        with self._engine.connect() as conn:
            due = [d.recording_id for d in _due_rows(conn, _due_clause(as_of), limit=None)]
            held = held_ids(conn, due)
        counts = RunCounts(len(due) - len(held), len(held), self._count_kept(as_of))
        would = [rid for rid in due if rid not in held]
        return RunReport(None, as_of.isoformat(), True, counts, [], would)

    def _purge_due(self, ctx: RequestContext, run_id: str, as_of: datetime) -> tuple[int, int]:
        purged = 0
        after = ""
        while True:
            with self._engine.connect() as conn:
                batch = _due_rows(
                    conn, _due_clause(as_of), ~active_hold_clause(), after=after, limit=BATCH
                )
            if not batch:
                break
            after = batch[-1].recording_id
            purged += self._dispose(
                ctx, run_id, batch, {d.recording_id: self._rule(d) for d in batch}
            )
        with self._engine.connect() as conn:
            held = conn.execute(
                select(func.count())
                .select_from(recordings)
                .where(_due_clause(as_of), active_hold_clause())
            ).scalar_one()
        return purged, int(held)

    def _dispose(
        self,
        ctx: RequestContext,
        run_id: str,
        batch: list[Due],
        rules: dict[str, str],
        *,
        ledger: bool = True,
        reason: str = "retention",
    ) -> int:
        """Destroy the keys of ``batch`` (less any a hold now covers), then finish them."""
        at = utc_now_iso()
        with transaction(self._engine) as conn:
            # Holds are read again in the shredding transaction, which placing a hold waits
            # for: one placed since the batch was chosen keeps its recording.
            exclude_purges(conn)
            held = held_ids(conn, [d.recording_id for d in batch])
            batch = [d for d in batch if d.recording_id not in held]
            if not batch:
                return 0
            if ledger:  # before the keys go: no restore may bring back an unrecorded erasure
                self._ledger.record(
                    [
                        Erasure(d.recording_id, d.blob_names, at, reason, rules[d.recording_id])
                        for d in batch
                    ]
                )
            ids = [d.recording_id for d in batch]
            conn.execute(delete(data_keys).where(data_keys.c.recording_id.in_(ids)))
            conn.execute(
                insert(disposals),
                [
                    {
                        "recording_id": d.recording_id,
                        "run_id": run_id,
                        "state": "shredded",
                        "rule": rules[d.recording_id],
                        "policy_version": self._policy.version,
                        "retain_until": d.retain_until,
                        "blobs": orjson.dumps(list(d.blob_names)).decode(),
                        "key_destroyed_at": at,
                    }
                    for d in batch
                ],
            )
            beat(conn, run_id, self._clock())
        return self._complete(ctx, [(d.recording_id, d.blob_names) for d in batch])

    def _finish_shredded(self, ctx: RequestContext) -> tuple[int, int]:
        """Finish disposals an earlier run left after destroying the key: (done, pending)."""
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(disposals.c.recording_id, disposals.c.blobs).where(
                    disposals.c.state == "shredded"
                )
            ).all()
        left = [(r.recording_id, tuple(orjson.loads(r.blobs))) for r in rows]
        done = self._complete(ctx, left) if left else 0
        return done, len(left) - done

    def _complete(self, ctx: RequestContext, shredded: list[tuple[str, tuple[str, ...]]]) -> int:
        """Delete the blobs of shredded recordings, then scrub and certify those whose blobs
        are all gone, in one transaction. Returns how many were completed."""
        # The key is gone already; bytes an Object Lock keeps are deleted by a later run.
        locked = set(self._vault.delete_many([n for _rid, names in shredded for n in names]))
        gone = [item for item in shredded if locked.isdisjoint(item[1])]
        if not gone:
            return 0
        ids = [rid for rid, _names in gone]
        now = utc_now_iso()
        with transaction(self._engine) as conn:
            segments = _scrub(conn, ids, now)
            rows = {
                r.recording_id: r
                for r in conn.execute(select(disposals).where(disposals.c.recording_id.in_(ids)))
            }
            acts = [
                AuditAct(
                    "recording.purged",
                    "recording",
                    rid,
                    _certificate(rows[rid], names, segments.get(rid, 0), now),
                )
                for rid, names in gone
            ]
            seqs = self._audit.append_many(conn, ctx, acts)
            conn.execute(
                update(disposals)
                .where(disposals.c.recording_id == bindparam("rid"))
                .values(state="done", completed_at=now, certificate_seq=bindparam("seq")),
                [{"rid": rid, "seq": seq} for (rid, _n), seq in zip(gone, seqs, strict=True)],
            )
        return len(gone)

    def _settle(self, ctx: RequestContext, run_id: str, as_of: datetime, counts: RunCounts) -> None:
        with transaction(self._engine) as conn:
            if conn.dialect.name == "sqlite":
                # Deleted transcript text must not linger in FTS5's segments.
                conn.execute(
                    text("INSERT INTO transcript_segments(transcript_segments) VALUES('optimize')")
                )
            finish_run(conn, run_id, counts, self._clock())
            self._audit.append(
                conn,
                ctx,
                "retention.run",
                object_type="retention_run",
                object_id=run_id,
                details={
                    "as_of": as_of.isoformat(),
                    "purged": counts.purged,
                    "held": counts.held,
                    "kept": counts.kept,
                    "pending": counts.pending,
                    "policy_version": self._policy.version,
                },
            )
        if self._engine.dialect.name == "sqlite":
            # Old pages of the purged rows must not outlive the purge in the write-ahead log.
            with self._engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")

    def _count_pending(self) -> int:
        """Recordings whose key is destroyed but a blob is still kept by an Object Lock."""
        with self._engine.connect() as conn:
            return int(
                conn.execute(
                    select(func.count())
                    .select_from(disposals)
                    .where(disposals.c.state == "shredded")
                ).scalar_one()
            )

    def _count_kept(self, as_of: datetime) -> int:
        with self._engine.connect() as conn:
            return int(
                conn.execute(
                    select(func.count())
                    .select_from(recordings)
                    .where(
                        recordings.c.purged_at.is_(None),
                        recordings.c.retain_until > as_of.isoformat(),
                    )
                ).scalar_one()
            )

    def _rule(self, due: Due) -> str:
        line = next((ln for ln in self._policy.lines if ln.id == due.line), None)
        period = (
            line.retention.describe()
            if line
            else "the period set at ingest (line no longer in the policy)"
        )
        return f"line {due.line}: {period}, kept until {due.retain_until}"


def blobs_being_purged(engine: Engine) -> set[str]:
    """The blobs of recordings whose key is destroyed and whose purge is not finished."""
    with engine.connect() as conn:
        rows = conn.execute(select(disposals.c.blobs).where(disposals.c.state == "shredded"))
        return {name for row in rows for name in orjson.loads(row.blobs)}


def _as_of(now: datetime | None, real_now: datetime, dry_run: bool) -> datetime:
    if now is None:
        return real_now
    if now.tzinfo is None:
        raise BadInput(
            f"--now {now.isoformat()} has no time zone; add Z or an offset like +00:00", "now"
        )
    now = now.astimezone(UTC)
    if not dry_run and now > real_now + CLOCK_SLACK:
        raise BadInput(
            f"--now {now.isoformat()} is ahead of the clock ({real_now.isoformat()}): a purge "
            "then would delete recordings before their retention period ends; use --dry-run "
            "to see what that day would purge",
            "now",
        )
    return now


def _due_clause(as_of: datetime) -> Any:
    return (recordings.c.purged_at.is_(None)) & (recordings.c.retain_until <= as_of.isoformat())


def _undisposed() -> Any:
    # One disposal per recording: one begun is finished by _finish_shredded instead.
    return ~exists(
        select(disposals.c.recording_id).where(disposals.c.recording_id == recordings.c.id)
    )


def _due_rows(
    conn: Connection, *where: Any, after: str = "", limit: int | None = BATCH
) -> list[Due]:
    statement = (
        select(
            recordings.c.id, recordings.c.line, recordings.c.retain_until, recordings.c.blob_name
        )
        .where(
            *where,
            recordings.c.purged_at.is_(None),
            _undisposed(),
            recordings.c.id > after,
        )
        .order_by(recordings.c.id)
    )
    if limit is not None:
        statement = statement.limit(limit)
    rows = conn.execute(statement).all()
    extra: dict[str, list[str]] = {}
    if rows:
        for rid, name in conn.execute(
            select(renditions.c.recording_id, renditions.c.blob_name).where(
                renditions.c.recording_id.in_([r.id for r in rows])
            )
        ):
            extra.setdefault(rid, []).append(name)
    return [
        Due(r.id, r.line, r.retain_until, (r.blob_name, *sorted(extra.get(r.id, [])))) for r in rows
    ]


def _scrub(conn: Connection, ids: Sequence[str], now: str) -> dict[str, int]:
    """Remove what the catalogue still says of shredded recordings (transcript text, redaction
    log, flags, caller and agent, the caller's hash in demand figures) and mark them purged;
    return transcript segments deleted."""
    segments = delete_segments_of(conn, ids)
    conn.execute(delete(renditions).where(renditions.c.recording_id.in_(ids)))
    conn.execute(delete(redactions).where(redactions.c.recording_id.in_(ids)))
    conn.execute(delete(review_flags).where(review_flags.c.recording_id.in_(ids)))
    conn.execute(
        update(recordings)
        .where(recordings.c.id.in_(ids))
        .values(caller="", agent="", source_sha256="", purged_at=now)
    )
    # Demand figures keep the call (no personal data in them) but not who made it: without
    # its key the call no longer joins the caller's other calls. After the update above, so
    # an indexer that share-locked these rows has committed its row by now (demand_index.py).
    conn.execute(
        update(demand_calls).where(demand_calls.c.recording_id.in_(ids)).values(caller_key=None)
    )
    return segments


def _certificate(disposal: Any, names: tuple[str, ...], segments: int, at: str) -> dict[str, Any]:
    """The disposal certificate: no personal data, only what was destroyed, when and why."""
    return {
        "run_id": disposal.run_id,
        "rule": disposal.rule,
        "policy_version": disposal.policy_version,
        "retain_until": disposal.retain_until,
        "key_destroyed_at": disposal.key_destroyed_at,
        "blobs_deleted": list(names),
        "transcript_segments_deleted": segments,
        "completed_at": at,
    }
