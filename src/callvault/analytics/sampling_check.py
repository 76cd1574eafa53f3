"""Which calls a quality draw considers, and the check of a stored draw against the trail.

The audit entry of a draw is the reference: it holds the seed, the parameters and a digest of
the sample, in the hash-chained trail. ``check_draw`` re-draws from those over the calls that
were eligible when the draw was made and compares the result with the stored sample rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, or_, select

from callvault.analytics.sampling_rule import (
    NO_ADVISOR,
    Pair,
    draw_sample,
    month_bounds,
    parse_month,
    sample_digest,
    uk_month_of,
)
from callvault.analytics.store import quality_samples
from callvault.catalog.store import recordings

# Fields a draw row and its audit entry both hold; any difference is tampering.
_RECORDED = ("month", "attempt", "seed", "calls_per_advisor", "min_duration_s", "drawn_at")


@dataclass(frozen=True, slots=True)
class DrawRules:
    """What makes a call eligible and how many are drawn: the parameters a draw records."""

    per_advisor: int
    min_duration_s: float
    lines: tuple[str, ...] | None  # None: every line (a scorecard covers every line)

    def as_details(self) -> dict[str, Any]:
        lines = None if self.lines is None else list(self.lines)
        return {"calls_per_advisor": self.per_advisor, "min_duration_s": self.min_duration_s,
                "lines": lines}  # fmt: skip

    @classmethod
    def from_details(cls, details: dict[str, Any]) -> DrawRules:
        lines = details.get("lines")
        return cls(int(details["calls_per_advisor"]), float(details["min_duration_s"]),
                   None if lines is None else tuple(lines))  # fmt: skip


@dataclass(frozen=True, slots=True)
class Eligible:
    """A month's eligible calls as of one moment: those still in the catalogue (with their
    advisor), and the ids of those purged since (their advisor is no longer recorded)."""

    calls: list[Pair]
    purged_since: list[str]
    lines: dict[str, str]  # recording id -> line, of the calls


def eligible_calls(conn: Connection, year: int, month: int, rules: DrawRules, at: str) -> Eligible:
    """The calls of a UK month eligible for a draw made at ``at`` (ISO, UTC): recorded
    before ``at`` and not purged by then, inbound, long enough, on a line a scorecard covers,
    naming an advisor."""
    c = recordings.c
    start, after = month_bounds(year, month)
    # A day's margin each side in SQL; the exact UK month is checked on the parsed time.
    terms = [
        c.started_at >= (start - timedelta(days=1)).isoformat(),
        c.started_at < (after + timedelta(days=1)).isoformat(),
        c.duration_s >= rules.min_duration_s,
        c.direction == "inbound",
        c.created_at <= at,
        or_(c.purged_at.is_(None), c.purged_at > at),
    ]
    if rules.lines is not None:
        terms.append(c.line.in_(rules.lines))
    calls: list[Pair] = []
    purged: list[str] = []
    lines: dict[str, str] = {}
    for row in conn.execute(select(c.id, c.agent, c.line, c.started_at, c.purged_at).where(*terms)):
        if uk_month_of(datetime.fromisoformat(row.started_at)) != (year, month):
            continue
        if row.purged_at is not None:
            purged.append(row.id)
        elif row.agent not in NO_ADVISOR:
            calls.append((row.agent, row.id))
            lines[row.id] = row.line
    return Eligible(calls, sorted(purged), lines)


def check_draw(conn: Connection, row: Any, entry: dict[str, Any] | None) -> dict[str, Any]:
    """Re-draw the draw ``row`` from its audit ``entry`` and compare; the verify report."""
    problems: list[str] = []
    details: dict[str, Any] = entry["details"] if entry is not None else {}
    if entry is None:
        problems.append("the audit trail has no quality.drawn or quality.redrawn entry for this "
                        "draw, so nothing vouches for it")  # fmt: skip
    for key in _RECORDED:
        if entry is not None and details.get(key) != getattr(row, key):
            problems.append(f"the stored draw's {key} ({getattr(row, key)!r}) differs from "
                            f"the audit entry's ({details.get(key)!r})")  # fmt: skip
    reference = details or {key: getattr(row, key) for key in _RECORDED}
    # Without an entry the lines a scorecard covered are unknown: every line is assumed.
    rules = DrawRules.from_details({"lines": None, **reference})
    seed = str(reference["seed"])
    year, month = parse_month(str(reference["month"]))
    eligible = eligible_calls(conn, year, month, rules, str(reference["drawn_at"]))
    s = quality_samples.c
    rows = conn.execute(
        select(s.agent, s.recording_id).where(s.draw_id == row.id).order_by(s.position)
    )
    stored: list[Pair] = [(r.agent, r.recording_id) for r in rows]
    advisor_of = {rid: agent for agent, rid in stored}
    # A sampled call purged since keeps its advisor in the sample row (vouched for by the
    # digest); an unsampled one has none left, so it cannot be placed in any advisor's queue.
    checkable = eligible.calls + [
        (advisor_of[rid], rid) for rid in eligible.purged_since if rid in advisor_of
    ]
    try:
        expected = draw_sample(seed, checkable, rules.per_advisor)
    except ValueError:
        problems.append(f"the seed {seed[:70]!r} is not 64 hex digits")
        expected = []
    wanted, have = {rid for _, rid in expected}, set(advisor_of)
    missing, unexpected = sorted(wanted - have), sorted(have - wanted)
    if missing:
        problems.append(f"{len(missing)} call(s) the seed draws are not in the stored sample")
    if unexpected:
        problems.append(f"{len(unexpected)} stored call(s) are not what the seed draws")
    problems.extend(_against_entry(details, stored, eligible) if entry is not None else [])
    unplaced = len([rid for rid in eligible.purged_since if rid not in advisor_of])
    return {
        "ok": not problems, "complete": not unplaced, "draw_id": row.id,
        "month": reference["month"], "attempt": row.attempt, "seed": seed,
        "expected": len(expected), "found": len(stored), "missing": missing,
        "unexpected": unexpected, "purged_since": len(eligible.purged_since),
        "problems": problems, "note": _note(len(eligible.purged_since), unplaced),
    }  # fmt: skip


def _against_entry(details: dict[str, Any], stored: list[Pair], eligible: Eligible) -> list[str]:
    """What the stored sample and today's catalogue say against the entry's counts and digest."""
    problems = []
    if sample_digest(stored) != details.get("sample_sha256"):
        problems.append("the stored sample is not the one the audit trail recorded (its SHA-256 "
                        "digest differs): sample rows were added, removed or changed")  # fmt: skip
    if details.get("drawn") != len(stored):
        problems.append(f"the audit entry says {details.get('drawn')} calls were drawn; "
                        f"{len(stored)} are stored")  # fmt: skip
    then = details.get("eligible")
    low, high = len(eligible.calls), len(eligible.calls) + len(eligible.purged_since)
    if not isinstance(then, int) or not low <= then <= high:
        shown = str(low) if low == high else f"{low} to {high}"
        problems.append(f"the audit entry says {then} calls were eligible; the catalogue now "
                        f"shows {shown} for that moment: recordings were changed")  # fmt: skip
    return problems


def _note(purged: int, unplaced: int) -> str | None:
    if not purged:
        return None
    return (f"{purged} call(s) eligible at the draw were purged since; {purged - unplaced} of "
            f"them are in the sample and were re-checked with the advisor the sample recorded; "
            f"the other {unplaced} cannot be re-checked (their advisor is no longer recorded), "
            "so the re-draw covers the calls that are left")  # fmt: skip


__all__ = ["DrawRules", "Eligible", "check_draw", "eligible_calls"]
