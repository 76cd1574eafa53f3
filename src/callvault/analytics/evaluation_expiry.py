"""Storage limitation for quality monitoring: a month's quality records go once kept long enough.

A month's records are kept for the policy's ``quality.keep_evaluations`` after the month ends
(UK time): its draws (superseded ones too), their sampled calls, the evaluations of those
calls (calibration scores too), the advisors' responses and the calibration sessions. The
retention run then deletes them, children first, in one transaction, with one audit entry
saying how many rows of each and up to which month: never a name, a score or a comment. The
audit trail itself keeps what it always had (a draw's seed and digest, an evaluation's points).

One draw may wait: in each year, the draw holding the year's highest case reference is kept
until the year's last month is due, because the next draw of that year numbers its references
on from the highest left (``sampling.py``); deleting it early would hand out again a
reference that old grants and audit entries name. Without redraws that draw is December's,
which is due last anyway.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, Table, delete, exists, func, select

from callvault.analytics.sampling_rule import (
    case_prefix,
    month_bounds,
    month_text,
    previous_month,
)
from callvault.analytics.store import (
    calibrations,
    evaluation_responses,
    quality_draws,
    quality_evaluations,
    quality_samples,
)
from callvault.audit.service import AuditLog
from callvault.context import RequestContext
from callvault.db import transaction
from callvault.policy.model import Retention
from callvault.uktime import UK

EXPIRED = "quality.records_expired"


@dataclass(frozen=True, slots=True)
class QualityExpiry:
    """What one expiry deleted (or, in a dry run, would delete), up to ``through_month``."""

    through_month: str
    responses: int = 0
    evaluations: int = 0
    calibrations: int = 0
    samples: int = 0
    draws: int = 0

    @property
    def total(self) -> int:
        return self.responses + self.evaluations + self.calibrations + self.samples + self.draws


def last_due_month(as_of: datetime, keep: Retention) -> tuple[int, int]:
    """The latest UK month whose records are due by ``as_of``: it ended ``keep`` or more
    before."""
    return previous_month(keep.back_from(as_of.astimezone(UK)))


def expire_quality_records(
    engine: Engine,
    audit: AuditLog,
    ctx: RequestContext,
    keep: Retention,
    as_of: datetime,
    *,
    dry_run: bool = False,
) -> QualityExpiry:
    """Delete the quality records of every month due by ``as_of`` (a dry run counts them and
    changes nothing, not even the audit trail)."""
    year, month = last_due_month(as_of, keep)
    through = month_text(year, month)
    if dry_run:
        with engine.connect() as conn:
            doomed = _doomed(_draws_due(conn, through))
            counts = {kind: _count(conn, table, where) for kind, (table, where) in doomed.items()}
        return QualityExpiry(through, **counts)
    with transaction(engine) as conn:
        doomed = _doomed(_draws_due(conn, through))
        # In the order _doomed lists them: a child before its parent.
        counts = {kind: _delete(conn, table, where) for kind, (table, where) in doomed.items()}
        found = QualityExpiry(through, **counts)
        if found.total:
            audit.append(
                conn, ctx, EXPIRED, object_type="quality_records", object_id=through,
                details={"through_month": through, "kept_for": keep.describe(),
                         "cutoff": month_bounds(year, month)[1].isoformat(),
                         "as_of": as_of.astimezone(UTC).isoformat(), **counts},
            )  # fmt: skip
    return found


def _draws_due(conn: Connection, through: str) -> list[str]:
    """Draws of months up to ``through``, less any that holds the highest case reference of
    a year not yet wholly due."""
    d, s = quality_draws.c, quality_samples.c
    due = {
        row.id: row.month for row in conn.execute(select(d.id, d.month).where(d.month <= through))
    }
    for year in {month[:4] for month in due.values()}:
        if f"{year}-12" <= through:
            continue
        highest = conn.execute(
            select(s.draw_id)
            .where(s.case_ref.like(f"{case_prefix(int(year))}%"))
            .order_by(func.length(s.case_ref).desc(), s.case_ref.desc())
            .limit(1)
        ).scalar()
        due.pop(highest or "", None)
    return sorted(due)


def _doomed(draw_ids: list[str]) -> dict[str, tuple[Table, Any]]:
    """Each table's rows to delete, in the order they must go (a child before its parent).

    An evaluation or session whose sampled call is gone already goes too: an evaluator may
    have submitted one for a call whose month an earlier run was deleting at that moment.
    """
    s, e, c = quality_samples.c, quality_evaluations.c, calibrations.c
    refs = select(s.case_ref).where(s.draw_id.in_(draw_ids))
    orphan_evaluation = ~exists(select(s.case_ref).where(s.case_ref == e.case_ref))
    evaluation = e.case_ref.in_(refs) | orphan_evaluation
    evaluated = select(e.id).where(evaluation)
    return {
        "responses": (
            evaluation_responses,
            evaluation_responses.c.evaluation_id.in_(evaluated),
        ),
        "evaluations": (quality_evaluations, evaluation),
        "calibrations": (
            calibrations,
            c.case_ref.in_(refs) | ~exists(select(s.case_ref).where(s.case_ref == c.case_ref)),
        ),
        "samples": (quality_samples, s.draw_id.in_(draw_ids)),
        "draws": (quality_draws, quality_draws.c.id.in_(draw_ids)),
    }


def _delete(conn: Connection, table: Table, where: Any) -> int:
    return int(conn.execute(delete(table).where(where)).rowcount)


def _count(conn: Connection, table: Table, where: Any) -> int:
    return int(conn.execute(select(func.count()).select_from(table).where(where)).scalar_one())


__all__ = ["EXPIRED", "QualityExpiry", "expire_quality_records", "last_due_month"]
