"""The monthly quality sample: the system, not a person, picks the calls evaluators hear.

Once a month is over and its draw day has come (``quality.draw_on_day`` of the month after,
UK time, so that calls a PBX uploads days late are in), the month is drawn: for each advisor,
``calls_per_advisor`` calls at random (the policy's ``quality:`` section) from their eligible
calls, by the rule in ``sampling_rule.py``. A person may draw before the draw day only by
asking for an early draw, which its audit entry records. A call is eligible when it was
recorded (and not purged), started in that UK calendar month, is inbound, lasted at least
``min_duration_s``, names an advisor, is on a line some scorecard covers, and was catalogued
before the draw.

The draw's seed, its parameters and a digest of the sample go into the audit trail in the same
transaction as the draw, so anyone can re-draw the sample from the trail alone and compare
(``verify``). A month is drawn once: drawing it again needs a reason, keeps the earlier draw
(marked superseded, its samples untouched) and is audited as a redraw. Each sampled call gets a
case reference (``QA-<year>-<n>``), which is what a quality grant must name
(``access/quality_gate.py``).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, func, insert, select, text, update
from sqlalchemy.exc import IntegrityError

from callvault.access.actions import Permissions
from callvault.access.grants import check_id
from callvault.access.quality_gate import QUALITY_PURPOSE
from callvault.access.refusals import require_permission
from callvault.analytics.evaluation_expiry import last_due_month
from callvault.analytics.sampling_check import DrawRules, check_draw, eligible_calls
from callvault.analytics.sampling_rule import (
    MAX_CASE_NUMBER,
    Pair,
    case_number,
    case_prefix,
    case_ref,
    draw_opens,
    draw_sample,
    due_month,
    month_bounds,
    month_text,
    new_seed,
    parse_month,
    previous_month,
    sample_digest,
    uk_day_text,
)
from callvault.analytics.store import quality_draws, quality_samples
from callvault.audit.service import AuditLog
from callvault.catalog.store import recordings
from callvault.context import RequestContext
from callvault.db import plain, transaction
from callvault.errors import BadInput, Conflict, NotFound
from callvault.policy.model import Policy

if TYPE_CHECKING:
    from callvault.bootstrap import Services

DRAW, READ = "quality:draw", "quality:read"
DRAWN, REDRAWN, VERIFIED = "quality.drawn", "quality.redrawn", "quality.verified"
# Named in every draw's audit entry, so a later change of rule cannot be mistaken for this one.
RULE = "hmac-sha256-rank/v1"
MIN_REASON, MAX_REASON = 10, 2000
_MAX_AGENT = 64
# PostgreSQL advisory lock key for drawing ("cvqual" as an integer): one draw at a time, as
# SQLite's BEGIN IMMEDIATE already gives; the (month, attempt) constraint is the backstop.
_DRAW_LOCK = 0x63767175616C
Clock = Callable[[], datetime]


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def _too_early(label: str, opens: datetime, day: int) -> str:
    return (
        f"{label} is drawn from {uk_day_text(opens)} (the policy's quality.draw_on_day is "
        f"{day}), once calls uploaded late are in; drawn now, it would leave out every call "
        f"of {label} not uploaded yet, and a month is drawn once. To draw it now anyway, ask "
        "for an early draw (`callvault quality draw --early`, or `early: true` over the API)"
    )


def _reason(reason: str | None) -> str | None:
    if reason is None:
        return None
    text_ = reason.strip()
    if not MIN_REASON <= len(text_) <= MAX_REASON:
        raise BadInput(
            f"reason must be {MIN_REASON} to {MAX_REASON} characters: say why the month is "
            "drawn again (e.g. which calls the first draw wrongly left out)",
            "reason",
        )
    return text_


class QualitySampler:
    """Draws, lists and verifies the monthly quality samples."""

    def __init__(
        self,
        engine: Engine,
        audit: AuditLog,
        permissions: Permissions,
        policy: Policy,
        clock: Clock | None = None,
    ) -> None:
        self._engine, self._audit, self._permissions = engine, audit, permissions
        self._policy = policy
        self._clock: Clock = clock or (lambda: datetime.now(UTC))

    @classmethod
    def for_services(cls, services: Services) -> QualitySampler:
        return cls(services.engine, services.audit, services.permissions, services.policy.policy)

    # -- drawing ---------------------------------------------------------------------------------
    def draw(
        self, ctx: RequestContext, month: str, reason: str | None = None, *, early: bool = False
    ) -> dict[str, Any]:
        """Draw ``month``'s sample (``YYYY-MM``, a UK month that is over) from its draw day on
        (``quality.draw_on_day`` of the month after), or before it only when ``early`` (the
        entry then says so: calls uploaded after the draw are not in it). A month already
        drawn is drawn again only with a ``reason``: the earlier draw is kept, superseded."""
        self._require(ctx, DRAW, None)
        year, mon = parse_month(month)
        label, why = month_text(year, mon), _reason(reason)
        now = self._clock()
        if now < month_bounds(year, mon)[1]:
            raise BadInput(f"{label} is not over yet; a month is drawn once it has ended "
                           "(the daily job draws it from its draw day)", "month")  # fmt: skip
        keep = self._policy.quality.keep_evaluations
        if label <= month_text(*last_due_month(now, keep)):
            # Its records would be deleted at the next retention run, and a year whose samples
            # are all gone would number references from 1 again, handing out old ones.
            raise BadInput(f"{label} ended more than {keep.describe()} ago (the policy's "
                           "quality.keep_evaluations): its samples and evaluations would be "
                           "deleted at once, so it is not drawn", "month")  # fmt: skip
        day = self._policy.quality.draw_on_day
        opens = draw_opens(year, mon, day)
        if now < opens and not early:
            raise BadInput(_too_early(label, opens, day), "early")
        rules = self._rules(year)
        timing = {"draw_on_day": day, "early": now < opens}
        ctx = replace(ctx, purpose=QUALITY_PURPOSE, case_ref=None)
        try:
            with transaction(self._engine) as conn:
                return self._draw(conn, ctx, (year, mon), rules, why, _iso(now), timing)
        except IntegrityError:
            raise Conflict(f"{label} was drawn by someone else at the same moment; nothing was "
                           f"changed: see `callvault quality draws --month {label}`",
                           "month") from None  # fmt: skip

    def draw_due_month(self, ctx: RequestContext) -> dict[str, Any]:
        """The daily job: draw the latest UK month whose draw day has come (``due_month``),
        unless it is drawn already or the policy asks for no sampling (no scorecard). Says
        what it did (``outcome``) and, while the month just gone still waits for calls
        uploaded late, from when it is drawn (``waiting``). Idempotent."""
        self._require(ctx, DRAW, None)
        now, day = self._clock(), self._policy.quality.draw_on_day
        label = month_text(*due_month(now, day))
        just_gone = previous_month(now)
        opens = draw_opens(*just_gone, day)
        waiting = None if now >= opens else {"month": month_text(*just_gone),
                                             "draw_from": opens.isoformat()}  # fmt: skip
        done: dict[str, Any] = {"month": label, "waiting": waiting, "draw": None}
        if not self._policy.quality.scorecards:
            return done | {"outcome": "no_scorecard"}
        with self._engine.connect() as conn:
            if self._latest(conn, label) is not None:
                return done | {"outcome": "drawn_already"}
        try:
            drawn = self.draw(ctx, label)
        except Conflict:  # drawn meanwhile (a manager, another worker): that draw stands
            return done | {"outcome": "drawn_already"}
        outcome = "drawn" if drawn["draw_id"] is not None else "no_eligible_calls"
        return done | {"outcome": outcome, "draw": drawn}

    def _draw(
        self,
        conn: Connection,
        ctx: RequestContext,
        when: tuple[int, int],
        rules: DrawRules,
        why: str | None,
        drawn_at: str,
        timing: dict[str, Any],
    ) -> dict[str, Any]:
        (year, month), label = when, month_text(*when)
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _DRAW_LOCK})
        current = self._latest(conn, label)
        if current is not None and why is None:
            raise Conflict(
                f"{label} was already drawn on {current.drawn_at} by {current.drawn_by} (draw "
                f"{current.id}); nothing was changed. To draw again, give a reason (at least "
                f"{MIN_REASON} characters): the first draw is kept, marked superseded",
                "month",
            )
        eligible = eligible_calls(conn, year, month, rules, drawn_at)
        if not eligible.calls:
            return {"draw_id": None, "month": label, "eligible": 0, "drawn": 0, "samples": [],
                    **timing}  # fmt: skip
        seed = new_seed()
        sample = draw_sample(seed, eligible.calls, rules.per_advisor)
        attempt = 1 if current is None else current.attempt + 1
        draw_id = uuid.uuid4().hex
        row = {"id": draw_id, "month": label, "attempt": attempt, "seed": seed,
               "calls_per_advisor": rules.per_advisor, "min_duration_s": rules.min_duration_s,
               "eligible": len(eligible.calls), "drawn": len(sample),
               "policy_version": self._policy.version, "drawn_at": drawn_at,
               "drawn_by": ctx.actor.name, "reason": why or "", "superseded_at": None}  # fmt: skip
        conn.execute(insert(quality_draws).values(**row))
        if current is not None:
            self._supersede(conn, current.id, drawn_at)
        samples = self._store_samples(conn, draw_id, year, sample, eligible.lines)
        details: dict[str, Any] = {
            "month": label, "attempt": attempt, "seed": seed, "rule": RULE,
            **rules.as_details(), "drawn_at": drawn_at, "eligible": len(eligible.calls),
            "drawn": len(sample), "advisors": len({agent for agent, _ in sample}),
            "policy_version": self._policy.version, "sample_sha256": sample_digest(sample),
            **timing,
        }  # fmt: skip
        if why is not None:
            details["reason"] = why
        if current is not None:
            details |= {"superseded_draw_id": current.id, "superseded_seed": current.seed}
        self._audit.append(conn, ctx, DRAWN if current is None else REDRAWN,
                           object_type="quality_draw", object_id=draw_id,
                           details=details)  # fmt: skip
        shown = {key: value for key, value in row.items() if key != "id"}
        return {"draw_id": draw_id, **shown, "digest": details["sample_sha256"],
                "superseded_draw_id": current.id if current else None, **timing,
                "samples": samples}  # fmt: skip

    def _supersede(self, conn: Connection, draw_id: str, at: str) -> None:
        d = quality_draws.c
        changed = conn.execute(
            update(quality_draws)
            .where(d.id == draw_id, d.superseded_at.is_(None))
            .values(superseded_at=at)
        ).rowcount
        if changed != 1:
            raise Conflict(f"draw {draw_id} was superseded meanwhile; nothing was changed: "
                           "see `callvault quality draws`", "month")  # fmt: skip

    def _store_samples(
        self,
        conn: Connection,
        draw_id: str,
        year: int,
        sample: Sequence[Pair],
        lines: dict[str, str],
    ) -> list[dict[str, Any]]:
        """One row per drawn call, numbered on from the year's last case reference."""
        s = quality_samples.c
        last = conn.execute(
            select(s.case_ref)
            .where(s.case_ref.like(f"{case_prefix(year)}%"))
            .order_by(func.length(s.case_ref).desc(), s.case_ref.desc())
            .limit(1)
        ).scalar()
        first = 1 if last is None else case_number(last) + 1
        if first + len(sample) - 1 > MAX_CASE_NUMBER:
            raise Conflict(f"{year}'s quality case numbers would pass {MAX_CASE_NUMBER}; the "
                           "case reference pattern allows no more", "month")  # fmt: skip
        rows = [
            {"draw_id": draw_id, "recording_id": rid, "agent": agent, "line": lines[rid],
             "position": position, "case_ref": case_ref(year, first + position - 1)}
            for position, (agent, rid) in enumerate(sample, start=1)
        ]  # fmt: skip
        conn.execute(insert(quality_samples), rows)
        return rows

    def _rules(self, year: int) -> DrawRules:
        """The policy's sampling rule, once it can make case references its purpose takes."""
        quality = self._policy.quality
        if not quality.scorecards:
            raise BadInput("the policy defines no quality scorecard, so no call can be judged: "
                           "add one under `quality: scorecards:` (docs/policy-format.md)",
                           "quality.scorecards")  # fmt: skip
        purpose = next((p for p in self._policy.purposes if p.id == QUALITY_PURPOSE), None)
        if purpose is None or not re.fullmatch(purpose.case_ref_pattern, case_ref(year, 1)):
            raise BadInput(
                f"the policy needs a `{QUALITY_PURPOSE}` purpose whose case_ref_pattern takes "
                rf"the sample's references ({case_ref(year, 1)}): e.g. '^QA-\d{{4}}-\d{{3,6}}$'",
                "purposes",
            )
        general = any(not card.lines for card in quality.scorecards)
        named = sorted({line for card in quality.scorecards for line in card.lines})
        return DrawRules(quality.calls_per_advisor, quality.min_duration_s,
                         None if general else tuple(named))  # fmt: skip

    # -- reading ---------------------------------------------------------------------------------
    def samples(
        self,
        ctx: RequestContext,
        month: str | None = None,
        agent: str | None = None,
        case_ref: str | None = None,
    ) -> list[dict[str, Any]]:
        """The calls of current draws (newest month first), with the case reference each
        evaluator's grant names; optionally one month's, one advisor's, or the one call with
        ``case_ref``. Audited."""
        self._require(ctx, READ, None)
        s, d, r = quality_samples.c, quality_draws.c, recordings.c
        query = (
            select(s.case_ref, s.recording_id, s.agent, s.line, s.position, s.draw_id, d.month,
                   r.started_at, r.purged_at)
            .join(quality_draws, d.id == s.draw_id)
            .join(recordings, r.id == s.recording_id)
            .where(d.superseded_at.is_(None))
            .order_by(d.month.desc(), s.position)
        )  # fmt: skip
        if month is not None:
            query = query.where(d.month == month_text(*parse_month(month)))
        if agent is not None:
            if not agent.strip() or len(agent) > _MAX_AGENT:
                raise BadInput(f"agent must be an advisor's id, 1 to {_MAX_AGENT} characters",
                               "agent")  # fmt: skip
            query = query.where(s.agent == agent.strip())
        if case_ref is not None:
            query = query.where(s.case_ref == case_ref[:32])
        with transaction(self._engine) as conn:
            found = [self._sample(row) for row in conn.execute(query)]
            self._audit.append(conn, ctx, "quality.samples_listed", object_type="quality_samples",
                               details={"month": month, "agent": agent, "case_ref": case_ref,
                                        "results": len(found)})  # fmt: skip
        return found

    def _sample(self, row: Any) -> dict[str, Any]:
        card = self._policy.quality.scorecard_for(row.line)
        return {"case_ref": row.case_ref, "recording_id": row.recording_id, "agent": row.agent,
                "line": row.line, "started_at": row.started_at,
                "scorecard": card.id if card else None, "month": row.month,
                "draw_id": row.draw_id, "position": row.position,
                "purged": row.purged_at is not None}  # fmt: skip

    def draws(self, ctx: RequestContext, month: str | None = None) -> list[dict[str, Any]]:
        """Every draw, superseded ones too (with the reasons for redraws), newest month and
        attempt first. Audited."""
        self._require(ctx, READ, None)
        d = quality_draws.c
        query = select(quality_draws).order_by(d.month.desc(), d.attempt.desc())
        if month is not None:
            query = query.where(d.month == month_text(*parse_month(month)))
        with transaction(self._engine) as conn:
            found = [
                {**plain(row),
                 "current": row.superseded_at is None}
                for row in conn.execute(query)
            ]  # fmt: skip
            self._audit.append(conn, ctx, "quality.draws_listed", object_type="quality_draws",
                               details={"month": month, "results": len(found)})  # fmt: skip
        return found

    # -- verifying -------------------------------------------------------------------------------
    def verify(self, ctx: RequestContext, draw_id: str) -> dict[str, Any]:
        """Re-draw a stored draw from the seed in its audit entry and compare it with the
        stored sample and the entry's digest. Calls purged since the draw are counted in
        ``purged_since``: those not in the sample cannot be re-checked (no advisor left)."""
        self._require(ctx, READ, check_id(draw_id, "draw_id"))
        with self._engine.connect() as conn:
            row = conn.execute(select(quality_draws).where(quality_draws.c.id == draw_id)).first()
            if row is None:
                raise NotFound(f"no quality draw {draw_id!r}; see `callvault quality draws`",
                               "draw_id")  # fmt: skip
            entry = self._draw_entry(draw_id)
            result = check_draw(conn, row, entry)
        summary = {k: result[k] for k in ("ok", "complete", "expected", "found", "purged_since")}
        with transaction(self._engine) as conn:
            self._audit.append(
                conn, replace(ctx, purpose=QUALITY_PURPOSE), VERIFIED,
                object_type="quality_draw", object_id=draw_id,
                details=summary | {"missing": result["missing"],
                                   "unexpected": result["unexpected"]},
            )  # fmt: skip
        return result

    def _draw_entry(self, draw_id: str) -> dict[str, Any] | None:
        """The audit entry that recorded the draw (the trail is the reference, not the row)."""
        entries = self._audit.show(object_id=draw_id, limit=100)
        return next((e for e in entries if e["action"] in {DRAWN, REDRAWN}), None)

    # -- helpers ---------------------------------------------------------------------------------
    def _latest(self, conn: Connection, month: str) -> Any:
        """The month's current draw (not superseded), or None."""
        d = quality_draws.c
        return conn.execute(
            select(quality_draws)
            .where(d.month == month, d.superseded_at.is_(None))
            .order_by(d.attempt.desc())
            .limit(1)
        ).first()

    def _require(self, ctx: RequestContext, action: str, object_id: str | None) -> None:
        require_permission(self._engine, self._audit, self._permissions, ctx, action,
                           object_type="quality_draw", object_id=object_id)  # fmt: skip


__all__ = ["DRAW", "READ", "RULE", "QualitySampler"]
