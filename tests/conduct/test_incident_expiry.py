"""Storage limitation for customer conduct incidents (both legs): the retention run deletes a
closed incident six years (the policy's ``conduct.keep_closed_incidents``) after it closed,
never an open one, nor one a hold for proceedings still keeps; a dry run changes nothing; the
audit entry says how many and the cutoff, never the summary, and the chain still verifies."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from access.access_helpers import add_people, as_person, record
from callvault.bootstrap import Services
from callvault.conduct.expiry import EXPIRED
from callvault.conduct.service import IncidentService
from callvault.conduct.store import incident_recordings, incidents
from callvault.context import RequestContext
from callvault.errors import NotFound
from callvault.retention.purge import RetentionService
from callvault.retention.store import holds

SUMMARY = "Caller threatened the advisor on a parking call; second time this month."
# Six years of calendar months is 2190 to 2192 days.
SIX_YEARS_AT_MOST, SIX_YEARS_AT_LEAST = timedelta(days=2192), timedelta(days=2190)


def _run(services: Services, ctx: RequestContext, at: datetime) -> dict[str, Any]:
    """A retention run with its clock at ``at`` (the simulated clock)."""
    purge = RetentionService(services.engine, services.audit, services.policy.policy,
                             services.vault, services.ledger, clock=lambda: at)  # fmt: skip
    return purge.run(ctx).as_dict()


def _refs(services: Services) -> set[str]:
    with services.engine.connect() as conn:
        return set(conn.execute(select(incidents.c.ref)).scalars())


def _links(services: Services) -> int:
    with services.engine.connect() as conn:
        found = conn.execute(select(func.count()).select_from(incident_recordings))
        return int(found.scalar_one())


@pytest.fixture
def cases(services: Services, ctx: RequestContext, call_wav: Path) -> dict[str, str]:
    """Three incidents, one call each: closed with the holds released, closed with them kept
    for proceedings, and still open."""
    add_people(services, ctx)
    people, sam = IncidentService.for_services(services), as_person(services, "sam")
    refs = {}
    for n, (name, outcome) in enumerate(
        [("warned", "warning_letter"), ("injunction", "injunction"), ("open", None)]
    ):
        call = record(services, ctx, call_wav, call_id=f"pbx-{n}")
        refs[name] = people.open(sam, SUMMARY, recording_ids=[call])["ref"]
        if outcome is not None:
            people.close(sam, refs[name], outcome, "Decided at the case meeting.")
    return refs


def test_a_closed_incident_goes_six_years_after_closing_open_and_held_ones_stay(
    services: Services, ctx: RequestContext, cases: dict[str, str]
) -> None:
    now = datetime.now(UTC)
    early = _run(services, ctx, now + SIX_YEARS_AT_LEAST - timedelta(days=2))
    assert (early["incidents_expired"], early["incidents_held"]) == (0, 0)
    assert _refs(services) == set(cases.values()) and _links(services) == 3

    before = services.audit.count()
    due = _run(services, ctx, now + SIX_YEARS_AT_MOST + timedelta(days=1))
    assert (due["incidents_expired"], due["incidents_held"]) == (1, 1)
    assert {"purged", "held", "kept"} <= due.keys()  # the run's own keys stay as they were
    assert _refs(services) == {cases["injunction"], cases["open"]} and _links(services) == 2
    with pytest.raises(NotFound):
        IncidentService.for_services(services).get(as_person(services, "sam"), cases["warned"])
    # The hold register keeps its own record of the released hold under the reference.
    with services.engine.connect() as conn:
        kept = conn.execute(select(func.count()).where(holds.c.case_ref == cases["warned"]))
        assert kept.scalar_one() == 1

    [entry] = [e for e in services.audit.show(after=before, limit=1000) if e["action"] == EXPIRED]
    assert entry["details"]["incidents"] == 1 and entry["details"]["links"] == 1
    assert entry["details"]["held"] == 1 and entry["details"]["kept_for"] == "72 months"
    # Incidents closed up to six years before the run: here, up to a day or so from now.
    assert now.isoformat() < entry["details"]["cutoff"] < (now + timedelta(days=4)).isoformat()
    assert all(SUMMARY not in str(e) for e in services.audit.show(limit=100_000))
    assert services.audit.verify().ok

    # Released once the proceedings end, the incident goes with the next run; an open one
    # never goes, however old.
    sam = as_person(services, "sam")
    [hold_id] = [h.hold_id for h in _hold_ids(services, cases["injunction"])]
    services.holds.release(sam, hold_id, "injunction granted; proceedings over")
    later = _run(services, ctx, now + SIX_YEARS_AT_MOST + timedelta(days=2))
    assert (later["incidents_expired"], later["incidents_held"]) == (1, 0)
    assert _refs(services) == {cases["open"]}
    assert _run(services, ctx, now + 3 * SIX_YEARS_AT_MOST)["incidents_expired"] == 0
    assert _refs(services) == {cases["open"]} and services.audit.verify().ok


def _hold_ids(services: Services, ref: str) -> list[Any]:
    with services.engine.connect() as conn:
        return list(
            conn.execute(
                select(incident_recordings.c.hold_id)
                .join(incidents, incidents.c.id == incident_recordings.c.incident_id)
                .where(incidents.c.ref == ref)
            )
        )


def test_a_dry_run_counts_and_changes_nothing(
    services: Services, ctx: RequestContext, cases: dict[str, str]
) -> None:
    before = services.audit.count()
    ahead = datetime.now(UTC) + SIX_YEARS_AT_MOST + timedelta(days=1)
    preview = services.retention.run(ctx, now=ahead, dry_run=True).as_dict()
    assert (preview["incidents_expired"], preview["incidents_held"]) == (1, 1)
    assert _refs(services) == set(cases.values()) and _links(services) == 3
    assert services.audit.count() == before
