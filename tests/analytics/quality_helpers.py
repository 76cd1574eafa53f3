"""Quality samples for tests: a call's case reference from a real draw, and the rule again.

Quality grants must name the case reference the monthly draw gave the call
(``access/quality_gate.py``), so a test that listens for quality draws the call's month first,
with the system's own sampler.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from callvault.analytics.sampling import QualitySampler
from callvault.analytics.sampling_rule import draw_opens, due_month, month_text, uk_month_of
from callvault.analytics.store import quality_draws, quality_samples
from callvault.bootstrap import Services
from callvault.context import system_context
from callvault.policy.model import Policy

# The most calls per advisor the policy format allows: in a test, every call of the month.
EVERY_CALL = 100


def every_call(policy: Policy) -> Policy:
    """``policy`` with sampling that takes every call: test calls last seconds, and a test
    has far fewer calls per advisor than this."""
    quality = replace(policy.quality, calls_per_advisor=EVERY_CALL, min_duration_s=0.0)
    return replace(policy, quality=quality)


def drawable_month(services: Services) -> str:
    """The latest UK month a person may draw now without asking for an early draw (its draw
    day has come): last month from the policy's draw day on, the month before until then."""
    return month_text(*due_month(datetime.now(UTC), services.policy.policy.quality.draw_on_day))


def current_case_ref(services: Services, recording_id: str) -> str | None:
    """The recording's case reference in a current (not superseded) draw, if it has one."""
    s, d = quality_samples.c, quality_draws.c
    with services.engine.connect() as conn:
        return conn.execute(
            select(s.case_ref)
            .join(quality_draws, d.id == s.draw_id)
            .where(s.recording_id == recording_id, d.superseded_at.is_(None))
        ).scalar()


def sampled_case_ref(services: Services, recording_id: str) -> str:
    """The case reference a quality grant for ``recording_id`` must name.

    Drawn by the real sampler (its rule, scorecards and audit entries), taking every call of
    the recording's month (``every_call``), on that month's draw day (the policy's
    ``quality.draw_on_day`` of the month after; test calls are made this month). A month drawn
    before this recording arrived is drawn again, with a reason, as a manager would.
    """
    found = current_case_ref(services, recording_id)
    if found is not None:
        return found
    started = datetime.fromisoformat(services.catalog.get(recording_id).started_at)
    year, month = uk_month_of(started)
    opens = draw_opens(year, month, services.policy.policy.quality.draw_on_day)
    after = opens + timedelta(minutes=1)
    sampler = QualitySampler(
        services.engine, services.audit, services.permissions,
        every_call(services.policy.policy), clock=lambda: max(datetime.now(UTC), after),
    )  # fmt: skip
    label = month_text(year, month)
    with services.engine.connect() as conn:
        drawn = conn.execute(select(quality_draws.c.id).where(quality_draws.c.month == label))
        again = drawn.first() is not None
    reason = "a test call arrived after this month was drawn" if again else None
    sampler.draw(system_context("test"), label, reason)
    found = current_case_ref(services, recording_id)
    assert found is not None, f"{recording_id} is not eligible (inbound, an advisor, a line)"
    return found


def redraw_by_hand(seed: str, calls: list[tuple[str, str]], per_advisor: int) -> set[str]:
    """The draw rule as docs/quality.md states it, written again without callvault's code."""
    key = bytes.fromhex(seed)
    queues: dict[str, list[str]] = {}
    for agent, recording_id in calls:
        queues.setdefault(agent, []).append(recording_id)
    chosen: set[str] = set()
    for agent in sorted(queues):
        ranked = sorted(
            queues[agent], key=lambda rid: hmac.new(key, rid.encode(), hashlib.sha256).digest()
        )
        chosen.update(ranked[:per_advisor])
    return chosen


def digest_by_hand(pairs: list[tuple[str, str]]) -> str:
    lines = sorted(f"{agent}:{rid}" for agent, rid in pairs)
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()
