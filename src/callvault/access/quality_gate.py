"""Quality monitoring hears only the calls the system sampled.

The policy says calls for quality monitoring are "sampled by the system, never chosen by
browsing". Each sampled call has its own case reference (``QA-2026-0042``, made by the monthly
draw in ``analytics/sampling.py``), so a grant for the ``quality`` purpose must name the case
reference of that very call in a current (not superseded) draw: a team leader cannot pick a
call they are curious about and give it a made-up quality reference.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Engine, select

from callvault.analytics.store import quality_draws, quality_samples
from callvault.errors import Refused

QUALITY_PURPOSE = "quality"


def not_sampled(engine: Engine, recording_ids: Sequence[str], case_ref: str) -> Refused | None:
    """The refusal for a quality request whose ``case_ref`` is not the current sample's case
    reference of every one of ``recording_ids``; None when it is."""
    s, d = quality_samples.c, quality_draws.c
    query = (
        select(s.recording_id)
        .join(quality_draws, d.id == s.draw_id)
        .where(s.case_ref == case_ref, d.superseded_at.is_(None), s.recording_id.in_(recording_ids))
    )
    with engine.connect() as conn:
        sampled = set(conn.execute(query).scalars())
    missing = [rid for rid in recording_ids if rid not in sampled]
    if not missing:
        return None
    one_each = " (each sampled call has its own)" if len(recording_ids) > 1 else ""
    return Refused(
        "quality monitoring hears only calls the system sampled; "
        f"{case_ref!r} is not the current sample's case reference of recording "
        f"{', '.join(missing[:5])}{' …' if len(missing) > 5 else ''}; ask for the sample's "
        f"case reference{one_each} (callvault quality samples)",
        "case_ref",
    )


__all__ = ["QUALITY_PURPOSE", "not_sampled"]
