"""The scope proof: over a window, what each line kept and declined, and that nothing was kept
outside the policy (Investigatory Powers Act 2016 s.46: only the listed service numbers;
direct-dialled extensions never).

Every recording whose call started in the window, live or purged (a purged one keeps its row
as a tombstone, dialled number included), is checked again:

1. it has its stored decision, the decision says record, and decision and recording agree on
   the line, the number dialled and the direction;
2. if the decision was made under the policy loaded now, ``decide`` run again on the stored
   number gives the same answer: a recorded line, and the same line. So a number that is no
   line's (``not-listed``), an internal extension, or one an exclusion covers and that is not
   a line's exact number, is a violation. A decision made under another policy version is not
   re-judged by today's rules: it is counted under that version, with the rule the current
   policy would apply, for the DPO to read.

Declined calls come from ``call_decisions`` (they hold no audio and no caller number), counted
by the rule that declined them. Recordings are windowed by when the call started; declined
calls by when they were decided, the only time they carry (within seconds of the call's end
for live capture).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Engine, false, func, select

from callvault.access.actions import Permissions
from callvault.access.bulk_access import refuse
from callvault.access.oversight import months_before
from callvault.access.searching import parse_when
from callvault.audit.service import AuditLog
from callvault.catalog.store import call_decisions, recordings
from callvault.context import RequestContext
from callvault.db import transaction
from callvault.errors import BadInput
from callvault.policy.decide import INBOUND, decide
from callvault.policy.model import Line, Policy

SCOPE = "scope:read"
DEFAULT_MONTHS = 1
# Rows fetched at a time while re-checking: memory stays flat however long the window.
_BATCH = 2000


@dataclass(frozen=True, slots=True)
class ScopeWindow:
    start: datetime
    end: datetime

    @classmethod
    def parse(cls, start: str | None, end: str | None, now: datetime | None = None) -> ScopeWindow:
        """From ``--from``/``--to`` (dates or ISO times, UTC); by default the month to now."""
        until = parse_when(end, "to") or now or datetime.now(UTC)
        since = parse_when(start, "from") or months_before(until, DEFAULT_MONTHS)
        if since >= until:
            raise BadInput("from must be before to", "from")
        return cls(since.astimezone(UTC), until.astimezone(UTC))

    def as_dict(self) -> dict[str, str]:
        return {"from": self.start.isoformat(), "to": self.end.isoformat()}


@dataclass(frozen=True, slots=True)
class Kept:
    """One recording as the check reads it, with the decision stored beside it."""

    recording_id: str
    call_id: str
    line: str
    direction: str
    dialled: str
    caller: str  # "" once purged: the tombstone keeps no caller
    started_at: str
    purged: bool
    decided: bool  # a decision row exists
    record: bool
    decided_line: str | None
    decided_dialled: str
    decided_direction: str
    rule: str
    policy_version: str


def scope_report_as(
    engine: Engine,
    audit: AuditLog,
    permissions: Permissions,
    policy: Policy,
    ctx: RequestContext,
    window: ScopeWindow,
) -> dict[str, Any]:
    """The scope proof for ``window`` (``scope:read``; a refusal is audited). Reading it is
    audited too, with its verdict: the report is evidence."""
    if not permissions.allowed(ctx.actor, SCOPE):
        refuse(engine, audit, ctx, SCOPE)
    report = scope_report(engine, policy, window)
    with transaction(engine) as conn:
        audit.append(
            conn, ctx, "report.scope", object_type="report",
            details={**window.as_dict(), "ok": report["ok"], "checked": report["checked"],
                     "violations": len(report["violations"]),
                     "policy_version": policy.version},
        )  # fmt: skip
    return report


def scope_report(engine: Engine, policy: Policy, window: ScopeWindow) -> dict[str, Any]:
    """Per line: recorded (live and purged), declined, the line's settings; declined calls by
    rule; each exclusion's proof; recordings decided under other versions; violations."""
    tally = _Tally(policy)
    with engine.connect() as conn:
        for kept in _kept_in(conn, window):
            tally.add(kept)
        declined_by_rule = _declined_by_rule(conn, window)
        declined_by_number = _declined_to_line_numbers(conn, policy, window)
    lines = [_line_row(line, tally, declined_by_number) for line in policy.lines]
    # Lines in the catalogue but not in the policy now (removed since): still accounted for.
    known = {line.id for line in policy.lines}
    lines += [_gone_line_row(line_id, tally) for line_id in sorted(set(tally.recorded) - known)]
    return {
        **window.as_dict(),
        "policy_version": policy.version,
        "ok": not tally.violations,
        "checked": tally.checked,
        "lines": lines,
        "declined": [
            {"rule": rule, "calls": calls, "reason": _reason(policy, rule)}
            for rule, calls in sorted(declined_by_rule.items())
        ],
        "exclusions": [
            {
                "id": exclusion.id,
                "reason": exclusion.reason,
                "declined": declined_by_rule.get(f"exclusion:{exclusion.id}", 0),
                "kept": tally.kept_excluded[exclusion.id],
            }
            for exclusion in policy.exclusions
        ],
        "other_versions": [
            {"policy_version": version, "current_rule": rule, "recordings": count}
            for (version, rule), count in sorted(tally.other_versions.items())
        ],
        "violations": tally.violations,
        "basis": "recordings by call start (started_at), live and purged; declined calls by "
        "decision time (decided_at)",
    }


class _Tally:
    """Counts and findings, one recording at a time."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self.checked = 0
        self.recorded: Counter[str] = Counter()
        self.purged: Counter[str] = Counter()
        self.by_other_version: Counter[str] = Counter()
        self.violations_by_line: Counter[str] = Counter()
        self.other_versions: Counter[tuple[str, str]] = Counter()
        self.kept_excluded: Counter[str] = Counter()
        self.violations: list[dict[str, Any]] = []

    def add(self, kept: Kept) -> None:
        self.checked += 1
        self.recorded[kept.line] += 1
        self.purged[kept.line] += kept.purged
        found = _stored_problem(kept)
        if found is None and kept.policy_version != self.policy.version:
            self.by_other_version[kept.line] += 1
            self.other_versions[(kept.policy_version, _current_rule(self.policy, kept))] += 1
            return
        if found is None:
            found = _policy_problem(self.policy, kept)
        if found is None:
            return
        problem, rule, detail = found
        self.violations_by_line[kept.line] += 1
        if rule.startswith("exclusion:"):
            self.kept_excluded[rule.removeprefix("exclusion:")] += 1
        self.violations.append(_violation(kept, problem, rule, detail))


def _kept_in(conn: Connection, window: ScopeWindow) -> Iterator[Kept]:
    """Every recording whose call started in the window, with its decision, in batches."""
    r, d = recordings.c, call_decisions.c
    query = (
        select(
            r.id, r.call_id, r.line, r.direction, r.dialled, r.caller, r.started_at,
            r.purged_at, d.id.label("decision"), d.record, d.line.label("decided_line"),
            d.dialled.label("decided_dialled"), d.direction.label("decided_direction"),
            d.rule, d.policy_version,
        )
        .select_from(recordings.outerjoin(call_decisions, d.id == r.decision_id))
        .where(r.started_at >= window.start.isoformat(), r.started_at < window.end.isoformat())
        .order_by(r.started_at, r.id)
    )  # fmt: skip
    for row in conn.execute(query.execution_options(yield_per=_BATCH)):
        yield Kept(
            recording_id=row.id, call_id=row.call_id, line=row.line, direction=row.direction,
            dialled=row.dialled, caller=row.caller or "", started_at=row.started_at,
            purged=row.purged_at is not None, decided=row.decision is not None,
            record=bool(row.record), decided_line=row.decided_line,
            decided_dialled=row.decided_dialled or "",
            decided_direction=row.decided_direction or "", rule=row.rule or "",
            policy_version=row.policy_version or "",
        )  # fmt: skip


def _stored_problem(kept: Kept) -> tuple[str, str, str] | None:
    """What is wrong with the recording and its stored decision, under any policy: (problem,
    the stored rule, detail)."""
    if not kept.decided:
        return "no_decision", "", "kept without a stored decision"
    if not kept.record:
        return "decided_not_to_record", kept.rule, f"its decision declined it ({kept.rule})"
    if kept.decided_line != kept.line:
        detail = f"decided for line {kept.decided_line!r}, kept as line {kept.line!r}"
        return "line_differs", kept.rule, detail
    if (kept.decided_dialled, kept.decided_direction) != (kept.dialled, kept.direction):
        detail = (
            f"decided for {kept.decided_direction} {kept.decided_dialled}, kept as "
            f"{kept.direction} {kept.dialled}"
        )
        return "decision_differs", kept.rule, detail
    return None


def _current_rule(policy: Policy, kept: Kept) -> str:
    """The rule the loaded policy applies to the stored call (``unreadable`` if it cannot)."""
    caller = kept.caller if kept.direction != INBOUND else None
    if kept.direction != INBOUND and not caller:
        # A purged outbound call keeps no caller: judge it by its line's setting alone.
        line = _line_or_none(policy, kept.line)
        covered = line is not None and line.record_outbound
        return f"line:{kept.line}:outbound" if covered else "outbound-not-covered"
    try:
        return decide(policy, kept.dialled, direction=kept.direction, caller=caller).rule
    except BadInput:
        return "unreadable"


# The rule the loaded policy applies -> (problem, what it says about the number).
_PROBLEMS = {
    "not-listed": ("not_a_line_number", "is not a number of any line"),
    "internal-extension": ("internal_extension", "is an internal extension"),
    "outbound-not-covered": (
        "outbound_not_covered",
        "is an outbound call from a line that does not record them",
    ),
    "unreadable": ("unreadable_number", "is not a readable number"),
}


def _policy_problem(policy: Policy, kept: Kept) -> tuple[str, str, str] | None:
    """Under the loaded policy (the one it was decided under), would it be kept, on its line?
    (problem, the rule the policy applies now, detail), or None."""
    rule = _current_rule(policy, kept)
    expected = f"line:{kept.line}" + (":outbound" if kept.direction != INBOUND else "")
    if rule == expected:
        return None
    if rule.startswith("exclusion:"):
        return "excluded_number", rule, f"{kept.dialled} is covered by {rule}, and no line's"
    if rule.startswith("line:"):
        return "line_differs", rule, f"{kept.dialled} belongs to {rule}, kept as {kept.line!r}"
    problem, what = _PROBLEMS.get(rule, ("not_recorded_by_policy", f"is declined by {rule}"))
    return problem, rule, f"{kept.dialled} {what}"


def _violation(kept: Kept, problem: str, rule: str, detail: str) -> dict[str, Any]:
    return {
        "recording_id": kept.recording_id,
        "call_id": kept.call_id,
        "line": kept.line,
        "direction": kept.direction,
        "dialled": kept.dialled,
        "started_at": kept.started_at,
        "purged": kept.purged,
        "policy_version": kept.policy_version,
        "decided_rule": kept.rule,
        "current_rule": rule,
        "problem": problem,
        "detail": detail,
    }


def _declined_by_rule(conn: Connection, window: ScopeWindow) -> dict[str, int]:
    d = call_decisions.c
    rows = conn.execute(
        select(d.rule, func.count())
        .where(d.record == false(), *_decided_in(window))
        .group_by(d.rule)
    ).all()
    return {str(rule): int(count) for rule, count in rows}


def _declined_to_line_numbers(
    conn: Connection, policy: Policy, window: ScopeWindow
) -> dict[str, int]:
    """Declined inbound calls to a number that is a line's now: normally none, as a call to a
    line's number is recorded; some mean calls decided under a version without that line."""
    numbers = list(policy.index.line_by_number)
    if not numbers:
        return {}
    d = call_decisions.c
    rows = conn.execute(
        select(d.dialled, func.count())
        .where(d.record == false(), d.direction == INBOUND, d.dialled.in_(numbers),
               *_decided_in(window))
        .group_by(d.dialled)
    ).all()  # fmt: skip
    return {str(number): int(count) for number, count in rows}


def _decided_in(window: ScopeWindow) -> tuple[ColumnElement[bool], ...]:
    # decided_at is written with microseconds (utc_now_iso), so the bounds are too.
    decided_at = call_decisions.c.decided_at
    return (
        decided_at >= window.start.isoformat(timespec="microseconds"),
        decided_at < window.end.isoformat(timespec="microseconds"),
    )


def _line_row(line: Line, tally: _Tally, declined_by_number: dict[str, int]) -> dict[str, Any]:
    recorded, purged = tally.recorded[line.id], tally.purged[line.id]
    return {
        "line": line.id,
        "name": line.name,
        "numbers": list(line.numbers),
        "in_policy": True,
        "recorded": recorded,
        "recorded_live": recorded - purged,
        "recorded_purged": purged,
        "declined": sum(declined_by_number.get(number, 0) for number in line.numbers),
        "decided_under_other_versions": tally.by_other_version[line.id],
        "violations": tally.violations_by_line[line.id],
        "when_recorder_down": line.when_recorder_down,
        "record_outbound": line.record_outbound,
        "on_transfer": line.on_transfer,
    }


def _gone_line_row(line_id: str, tally: _Tally) -> dict[str, Any]:
    recorded, purged = tally.recorded[line_id], tally.purged[line_id]
    return {
        "line": line_id,
        "name": None,
        "numbers": [],
        "in_policy": False,
        "recorded": recorded,
        "recorded_live": recorded - purged,
        "recorded_purged": purged,
        "declined": 0,
        "decided_under_other_versions": tally.by_other_version[line_id],
        "violations": tally.violations_by_line[line_id],
        "when_recorder_down": None,
        "record_outbound": None,
        "on_transfer": None,
    }


def _line_or_none(policy: Policy, line_id: str) -> Line | None:
    return next((line for line in policy.lines if line.id == line_id), None)


def _reason(policy: Policy, rule: str) -> str:
    """Why a rule declines, in words (an exclusion's own reason where it is one)."""
    if rule.startswith("exclusion:"):
        wanted = rule.removeprefix("exclusion:")
        found = next((e for e in policy.exclusions if e.id == wanted), None)
        return found.reason if found else "an exclusion no longer in the policy"
    return {
        "not-listed": "the number is not a number of any line",
        "internal-extension": "an internal extension (2 to 6 digits)",
        "outbound-not-covered": "an outbound call from a line that does not record them",
    }.get(rule, rule)
