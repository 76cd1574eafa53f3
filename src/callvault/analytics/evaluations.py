"""Quality evaluations: scoring the sampled calls, the advisor's response, calibration.

An evaluator scores a call the system sampled (``sampling.py``), naming it by the sample's
case reference, on the scorecard the policy gives its line. They must have listened under the
quality purpose: an approved grant of theirs names that case reference (``access/quality_gate``
lets no other be approved). Each sampled call has one evaluation of record. The advisor on the
call reads it from their own sign-in and may respond once, agreeing or not, in their own words.

A calibration session asks several evaluators to score the same sampled call, blind: nobody
sees the others' scores until all have scored (or the session is closed), so nobody anchors on
a colleague. The result shows, per question, each evaluator's points and the spread, so the
team can talk about where they judge differently. Calibration scores are about the evaluators,
not the advisor: they are not the call's evaluation of record and the advisor is not shown them.

Every act and every refusal is audited. The trail keeps points and totals, not the evaluator's
comment or the advisor's response (free text about a person; it stays with the evaluation).
"""

from __future__ import annotations

import builtins
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import orjson
from sqlalchemy import Connection, Engine, and_, insert, select, update
from sqlalchemy.exc import IntegrityError

from callvault.access.actions import Permissions
from callvault.access.grants import check_id
from callvault.access.quality_gate import QUALITY_PURPOSE
from callvault.access.refusals import record_refusal, require_permission
from callvault.access.store import grants, users
from callvault.analytics.store import (
    calibrations,
    evaluation_responses,
    quality_draws,
    quality_evaluations,
    quality_samples,
)
from callvault.audit.service import AuditLog
from callvault.catalog.store import recordings
from callvault.context import RequestContext
from callvault.db import plain, transaction
from callvault.errors import BadInput, Conflict, NotFound, Refused
from callvault.policy.analytics_model import Scorecard
from callvault.policy.model import Policy

if TYPE_CHECKING:
    from callvault.bootstrap import Services

EVALUATE, CALIBRATE, OWN, READ = (
    "quality:evaluate", "quality:calibrate", "quality:own", "quality:read"
)  # fmt: skip
OF_RECORD = ""  # calibration_id of a call's own evaluation
_MAX_TEXT = 2000
_MIN_EVALUATORS, _MAX_EVALUATORS = 2, 12

Clock = Callable[[], datetime]


class EvaluationService:
    def __init__(
        self,
        engine: Engine,
        audit: AuditLog,
        permissions: Permissions,
        policy: Policy,
        clock: Clock = lambda: datetime.now(UTC),
    ) -> None:
        self._engine, self._audit, self._permissions = engine, audit, permissions
        self._policy, self._clock = policy, clock

    @classmethod
    def for_services(cls, services: Services) -> EvaluationService:
        return cls(services.engine, services.audit, services.permissions, services.policy.policy)

    # -- evaluating -----------------------------------------------------------------------------
    def evaluate(
        self,
        ctx: RequestContext,
        case_ref: str,
        scores: Mapping[str, int],
        comment: str = "",
        *,
        calibration_id: str | None = None,
    ) -> dict[str, Any]:
        """Score the sampled call ``case_ref`` on its line's scorecard: every question, each
        from 0 to its points. Bad input changes nothing; a refusal is audited."""
        self._require(ctx, EVALUATE, case_ref)
        comment = _text(comment, "comment")
        sample = self._sample(case_ref)
        card = self._scorecard(sample["line"])
        checked = check_scores(card, scores)
        if calibration_id is not None:
            self._check_calibration_seat(ctx, check_id(calibration_id, "calibration_id"), case_ref)
        if ctx.actor.name == sample["agent"]:
            self._refuse(ctx, case_ref, "nobody evaluates their own call")
        if not self._listened_under_quality(ctx.actor.name, case_ref):
            self._refuse(
                ctx, case_ref,
                f"evaluate a call you listened to for quality monitoring: ask for access "
                f"with purpose quality and case reference {case_ref} first",
            )  # fmt: skip
        row = {
            "id": uuid.uuid4().hex, "case_ref": case_ref,
            "recording_id": sample["recording_id"], "agent": sample["agent"],
            "line": sample["line"], "evaluator": ctx.actor.name, "scorecard_id": card.id,
            "scores": orjson.dumps(checked).decode(), "total": sum(checked.values()),
            "max_total": card.max_points, "comment": comment,
            "calibration_id": calibration_id or OF_RECORD, "submitted_at": self._now(),
        }  # fmt: skip
        try:
            with transaction(self._engine) as conn:
                if calibration_id is None and _of_record(conn, case_ref) is not None:
                    raise Conflict(f"{case_ref} already has its evaluation", "case_ref")
                conn.execute(insert(quality_evaluations).values(**row))
                self._audit.append(
                    conn, _about(ctx, case_ref), "quality.evaluated",
                    object_type="recording", object_id=sample["recording_id"],
                    details={"evaluation_id": row["id"], "scorecard": card.id,
                             "scores": checked, "total": row["total"],
                             "max_total": card.max_points, "calibration_id": calibration_id},
                )  # fmt: skip
        except IntegrityError as error:  # a concurrent twin, or a second score in a session
            raise Conflict(f"you have already scored {case_ref} here", "case_ref") from error
        return self._evaluation(row["id"])

    def evaluations(
        self, ctx: RequestContext, *, case_ref: str | None = None, agent: str | None = None
    ) -> builtins.list[dict[str, Any]]:
        """Evaluations of record (not calibration scores), newest first, with responses."""
        self._require(ctx, READ, case_ref)
        e = quality_evaluations.c
        wanted = [e.calibration_id == OF_RECORD]
        if case_ref is not None:
            wanted.append(e.case_ref == case_ref)
        if agent is not None:
            wanted.append(e.agent == agent)
        return self._listed(ctx, wanted, "quality.evaluations_listed")

    def mine(self, ctx: RequestContext) -> builtins.list[dict[str, Any]]:
        """The evaluations of record of the signed-in person's own calls."""
        self._require(ctx, OWN, None)
        e = quality_evaluations.c
        wanted = [e.calibration_id == OF_RECORD, e.agent == ctx.actor.name]
        return self._listed(ctx, wanted, "quality.own_evaluations_read")

    def respond(
        self, ctx: RequestContext, evaluation_id: str, *, agrees: bool, response: str
    ) -> dict[str, Any]:
        """The advisor on the call answers its evaluation, once, from their own sign-in."""
        self._require(ctx, OWN, evaluation_id)
        check_id(evaluation_id, "evaluation_id")
        found = self._evaluation(evaluation_id)
        if found["calibration_id"] != OF_RECORD or ctx.actor.name != found["agent"]:
            why = "only the staff member on the call responds to its evaluation"
            self._refuse(ctx, found["case_ref"], why)
        if ctx.actor.operator is not None:
            self._refuse(ctx, found["case_ref"],
                         "a response is the staff member's own: sign in as yourself")  # fmt: skip
        response = _text(response, "response", required=True)
        try:
            with transaction(self._engine) as conn:
                conn.execute(
                    insert(evaluation_responses).values(
                        evaluation_id=evaluation_id, agent=ctx.actor.name, agrees=agrees,
                        response=response, responded_at=self._now(),
                    )
                )  # fmt: skip
                self._audit.append(
                    conn, _about(ctx, found["case_ref"]), "quality.responded",
                    object_type="evaluation", object_id=evaluation_id, details={"agrees": agrees},
                )  # fmt: skip
        except IntegrityError as error:
            raise Conflict(
                "you have already responded to this evaluation", "evaluation_id"
            ) from error
        return self._evaluation(evaluation_id)

    # -- calibration ----------------------------------------------------------------------------
    def calibrate(
        self, ctx: RequestContext, case_ref: str, evaluators: Sequence[str]
    ) -> dict[str, Any]:
        """Open a blind calibration session on the sampled call ``case_ref`` for
        ``evaluators`` (2 to 12 people who may evaluate, none of them the advisor)."""
        self._require(ctx, CALIBRATE, case_ref)
        sample = self._sample(case_ref)
        self._scorecard(sample["line"])
        names = sorted(set(evaluators))
        if not _MIN_EVALUATORS <= len(names) <= _MAX_EVALUATORS:
            raise BadInput(
                f"name {_MIN_EVALUATORS} to {_MAX_EVALUATORS} different evaluators", "evaluators"
            )
        for name in names:
            self._check_evaluator(name, sample["agent"])
        row = {"id": uuid.uuid4().hex, "case_ref": case_ref,
               "recording_id": sample["recording_id"], "evaluators": ",".join(names),
               "opened_by": ctx.actor.name, "opened_at": self._now()}  # fmt: skip
        with transaction(self._engine) as conn:
            conn.execute(insert(calibrations).values(**row))
            self._audit.append(
                conn, _about(ctx, case_ref), "quality.calibration_opened",
                object_type="calibration", object_id=row["id"], details={"evaluators": names},
            )  # fmt: skip
        return self.calibration(ctx, row["id"])

    def calibration(self, ctx: RequestContext, calibration_id: str) -> dict[str, Any]:
        """The session: who has scored; once all have (or it is closed), every score, and per
        question the spread between evaluators."""
        self._require(ctx, READ, calibration_id)
        session = self._session(check_id(calibration_id, "calibration_id"))
        if ctx.actor.name == _agent_of(self._engine, session["case_ref"]):
            # Calibration is about the evaluators: a team leader (who reads quality) does not
            # read the marks colleagues gave their own call.
            self._refuse(ctx, session["case_ref"], "a calibration of your own call is not yours")
        e = quality_evaluations.c
        with transaction(self._engine) as conn:
            rows = conn.execute(
                select(e.evaluator, e.scores, e.total, e.max_total, e.scorecard_id, e.comment)
                .where(e.calibration_id == calibration_id)
                .order_by(e.evaluator)
            ).all()
            self._audit.append(
                conn, _about(ctx, session["case_ref"]), "quality.calibration_read",
                object_type="calibration", object_id=calibration_id,
            )  # fmt: skip
        evaluators = session["evaluators"].split(",")
        scored = [r.evaluator for r in rows]
        result = {**session, "evaluators": evaluators, "scored": scored,
                  "waiting_for": [n for n in evaluators if n not in scored]}  # fmt: skip
        if result["waiting_for"] and session["closed_at"] is None:
            return {**result, "results": None}  # blind until everyone has scored
        return {**result, "results": compare(self._scorecard_by_id(rows), rows)}

    def calibrations(
        self, ctx: RequestContext, *, case_ref: str | None = None, open_only: bool = True
    ) -> builtins.list[dict[str, Any]]:
        """Sessions, newest first: who is in each and who has scored (never the points: those
        are read, and audited, one session at a time). The listing is audited."""
        self._require(ctx, READ, case_ref)
        c, e = calibrations.c, quality_evaluations.c
        query = select(c.id, c.case_ref, c.evaluators, c.opened_by, c.opened_at, c.closed_at)
        if case_ref is not None:
            query = query.where(c.case_ref == case_ref)
        if open_only:
            query = query.where(c.closed_at.is_(None))
        with transaction(self._engine) as conn:
            rows = conn.execute(query.order_by(c.opened_at.desc(), c.id)).all()
            scored: dict[str, list[str]] = {}
            ids = [row.id for row in rows]
            for session_id, evaluator in conn.execute(
                select(e.calibration_id, e.evaluator).where(e.calibration_id.in_(ids))
            ):
                scored.setdefault(session_id, []).append(evaluator)
            self._audit.append(
                conn, ctx, "quality.calibrations_listed", object_type="calibrations",
                details={"case_ref": case_ref, "results": len(rows)},
            )  # fmt: skip
        return [{**plain(row), "evaluators": row.evaluators.split(","),
                 "scored": sorted(scored.get(row.id, []))} for row in rows]  # fmt: skip

    def close_calibration(
        self, ctx: RequestContext, calibration_id: str, note: str
    ) -> dict[str, Any]:
        """End a session (with what the team agreed); its scores then show even if someone
        never scored."""
        self._require(ctx, CALIBRATE, calibration_id)
        note = _text(note, "note", required=True)
        session = self._session(check_id(calibration_id, "calibration_id"))
        with transaction(self._engine) as conn:
            ended = conn.execute(
                update(calibrations)
                .where(calibrations.c.id == calibration_id, calibrations.c.closed_at.is_(None))
                .values(closed_at=self._now(), note=note)
            )
            if ended.rowcount != 1:
                raise Conflict(f"calibration {calibration_id} is already closed", "calibration_id")
            self._audit.append(
                conn, _about(ctx, session["case_ref"]), "quality.calibration_closed",
                object_type="calibration", object_id=calibration_id,
            )  # fmt: skip
        return self.calibration(ctx, calibration_id)

    # -- helpers --------------------------------------------------------------------------------
    def _sample(self, case_ref: str) -> dict[str, Any]:
        if not isinstance(case_ref, str) or not 1 <= len(case_ref) <= 32:
            raise BadInput("case_ref is a sampled call's reference, e.g. QA-2026-0042", "case_ref")
        s, d = quality_samples.c, quality_draws.c
        with self._engine.connect() as conn:
            row = conn.execute(
                select(s.recording_id, s.agent, s.line, s.case_ref)
                .join(quality_draws, d.id == s.draw_id)
                .join(recordings, recordings.c.id == s.recording_id)
                .where(s.case_ref == case_ref, d.superseded_at.is_(None),
                       recordings.c.purged_at.is_(None))
            ).first()  # fmt: skip
        if row is None:
            raise NotFound(
                f"no sampled call {case_ref!r}; `callvault quality samples` lists them", "case_ref"
            )
        return plain(row)

    def _scorecard(self, line: str) -> Scorecard:
        card = self._policy.quality.scorecard_for(line)
        if card is None:
            raise BadInput(f"the policy has no scorecard for line {line!r}", "case_ref")
        return card

    def _scorecard_by_id(self, rows: Sequence[Any]) -> Scorecard | None:
        wanted = {r.scorecard_id for r in rows}
        return next((c for c in self._policy.quality.scorecards if c.id in wanted), None)

    def _listened_under_quality(self, name: str, case_ref: str) -> bool:
        g = grants.c
        with self._engine.connect() as conn:
            found = conn.execute(
                select(g.id).where(g.requester == name, g.purpose == QUALITY_PURPOSE,
                                   g.case_ref == case_ref, g.status == "approved")
            ).first()  # fmt: skip
        return found is not None

    def _check_evaluator(self, name: str, agent: str) -> None:
        with self._engine.connect() as conn:
            row = conn.execute(
                select(users.c.role, users.c.disabled)
                .where(users.c.username == name, users.c.kind == "person")
            ).first()  # fmt: skip
        if row is None or row.disabled:
            raise BadInput(f"evaluator {name[:64]!r} is not an active person", "evaluators")
        if f"role:{row.role}" not in _EVALUATOR_ROLES:
            raise BadInput(f"evaluator {name!r} ({row.role}) may not evaluate", "evaluators")
        if name == agent:
            raise BadInput(f"{name!r} is the advisor on the call", "evaluators")

    def _check_calibration_seat(
        self, ctx: RequestContext, calibration_id: str, case_ref: str
    ) -> None:
        session = self._session(calibration_id)
        if session["case_ref"] != case_ref:
            raise BadInput(
                f"calibration {calibration_id} is about {session['case_ref']}", "case_ref"
            )
        if session["closed_at"] is not None:
            raise Conflict(f"calibration {calibration_id} is closed", "calibration_id")
        if ctx.actor.name not in session["evaluators"].split(","):
            self._refuse(ctx, case_ref, f"you are not an evaluator of calibration {calibration_id}")

    def _session(self, calibration_id: str) -> dict[str, Any]:
        with self._engine.connect() as conn:
            row = conn.execute(
                select(calibrations).where(calibrations.c.id == calibration_id)
            ).first()
        if row is None:
            raise NotFound(f"no calibration {calibration_id!r}", "calibration_id")
        return plain(row)

    def _evaluation(self, evaluation_id: str) -> dict[str, Any]:
        with self._engine.connect() as conn:
            found = _rows(conn, [quality_evaluations.c.id == evaluation_id])
        if not found:
            raise NotFound(f"no evaluation {evaluation_id!r}", "evaluation_id")
        return found[0]

    def _listed(
        self, ctx: RequestContext, wanted: list[Any], action: str
    ) -> builtins.list[dict[str, Any]]:
        with transaction(self._engine) as conn:
            found = _rows(conn, wanted)
            self._audit.append(conn, ctx, action, object_type="evaluations",
                               details={"results": len(found)})  # fmt: skip
        return found

    def _require(self, ctx: RequestContext, action: str, about: str | None) -> None:
        require_permission(self._engine, self._audit, self._permissions, ctx, action,
                           object_type="evaluation", object_id=about)  # fmt: skip

    def _refuse(self, ctx: RequestContext, case_ref: str, why: str) -> None:
        record_refusal(self._engine, self._audit, _about(ctx, case_ref), Refused(why, "case_ref"),
                       object_type="evaluation", object_id=case_ref)  # fmt: skip

    def _now(self) -> str:
        return self._clock().astimezone(UTC).isoformat(timespec="microseconds")


_EVALUATOR_ROLES = frozenset({"role:team_leader", "role:authorised_manager"})


def check_scores(card: Scorecard, scores: Mapping[str, int]) -> dict[str, int]:
    """Every question of ``card`` scored, each a whole number from 0 to its points; nothing
    else. BadInput names the question."""
    if not isinstance(scores, Mapping):
        raise BadInput("scores must map each question's id to its points", "scores")
    known = {item.id for item in card.items}
    for item_id in scores:
        if item_id not in known:
            raise BadInput(f"{card.id} has no question {str(item_id)[:40]!r}; its questions: "
                           f"{', '.join(sorted(known))}", "scores")  # fmt: skip
    checked: dict[str, int] = {}
    for item in card.items:
        value = scores.get(item.id)
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= item.points:
            raise BadInput(f"score {item.id} ({item.question}) from 0 to {item.points}",
                           f"scores.{item.id}")  # fmt: skip
        checked[item.id] = value
    return checked


def compare(card: Scorecard | None, rows: Sequence[Any]) -> dict[str, Any]:
    """Per question, each evaluator's points and the spread (highest minus lowest); per
    evaluator, their total. A spread above a point marks a question to discuss."""
    scored: dict[str, dict[str, int]] = {r.evaluator: orjson.loads(r.scores) for r in rows}
    items: list[dict[str, Any]] = []
    for item in card.items if card is not None else ():
        marks = {name: points[item.id] for name, points in scored.items()}
        spread = max(marks.values()) - min(marks.values()) if marks else 0
        items.append({"item": item.id, "question": item.question, "points": item.points,
                      "by_evaluator": marks, "spread": spread})  # fmt: skip
    totals: dict[str, int] = {r.evaluator: r.total for r in rows}
    return {
        "items": items,
        "totals": totals,
        "comments": {r.evaluator: r.comment for r in rows if r.comment},
        "total_spread": max(totals.values()) - min(totals.values()) if totals else 0,
        "to_discuss": [i["item"] for i in items if i["spread"] > 1],
    }


def _rows(conn: Connection, wanted: Sequence[Any]) -> list[dict[str, Any]]:
    e, r = quality_evaluations.c, evaluation_responses.c
    statement = (
        select(quality_evaluations, r.agrees, r.response, r.responded_at)
        .outerjoin(evaluation_responses, r.evaluation_id == e.id)
        .where(and_(*wanted))
        .order_by(e.submitted_at.desc(), e.id)
    )
    found = []
    for row in conn.execute(statement):
        item = plain(row)
        item["scores"] = orjson.loads(item["scores"])
        found.append(item)
    return found


def _about(ctx: RequestContext, case_ref: str) -> RequestContext:
    return replace(ctx, purpose=QUALITY_PURPOSE, case_ref=case_ref)


def _text(value: str | None, field: str, *, required: bool = False) -> str:
    value = (value or "").strip()
    if required and not value:
        raise BadInput(f"{field} is required", field)
    if len(value) > _MAX_TEXT:
        raise BadInput(f"{field} must be at most {_MAX_TEXT} characters", field)
    return value


def _agent_of(engine: Engine, case_ref: str) -> str | None:
    with engine.connect() as conn:
        return conn.execute(
            select(quality_samples.c.agent).where(quality_samples.c.case_ref == case_ref)
        ).scalar_one_or_none()


def _of_record(conn: Connection, case_ref: str) -> str | None:
    e = quality_evaluations.c
    return conn.execute(
        select(e.id).where(e.case_ref == case_ref, e.calibration_id == OF_RECORD)
    ).scalar_one_or_none()


__all__ = ["EvaluationService", "check_scores", "compare"]
