"""Storage limitation for quality monitoring (both legs): the retention run deletes a month's
draw, samples, evaluations, responses and calibration sessions two years (the policy's
``quality.keep_evaluations``) after the month ends, and nothing sooner; a dry run changes
nothing; the audit entry counts rows, never a comment or a response, and the chain verifies.
A month already past that period is not drawn, and a year's highest case reference stays
until the whole year is due, so no reference is ever handed out twice."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, insert, select

from access.access_helpers import add_people, as_person, record
from analytics.quality_helpers import sampled_case_ref
from callvault.analytics.evaluation_expiry import EXPIRED, expire_quality_records
from callvault.analytics.evaluations import EvaluationService
from callvault.analytics.sampling import QualitySampler
from callvault.analytics.sampling_rule import month_bounds, previous_month
from callvault.analytics.store import (
    calibrations,
    evaluation_responses,
    quality_draws,
    quality_evaluations,
    quality_samples,
)
from callvault.bootstrap import Services
from callvault.context import RequestContext
from callvault.errors import BadInput
from callvault.policy.model import Retention
from callvault.retention.purge import RetentionService

FULL = {"greeting": 2, "identity": 3, "understanding": 3, "resolution": 4, "courtesy": 3,
        "data_protection": 3}  # fmt: skip
COMMENT = "Good greeting; the caller's date of birth was asked twice."
RESPONSE = "The caller gave a different date the first time, so I checked again."
# Two years of calendar months is 730 or 731 days.
TWO_YEARS_AT_MOST, TWO_YEARS_AT_LEAST = timedelta(days=731), timedelta(days=730)
TABLES = {
    "responses": evaluation_responses,
    "evaluations": quality_evaluations,
    "calibrations": calibrations,
    "samples": quality_samples,
    "draws": quality_draws,
}


def _rows(services: Services) -> dict[str, int]:
    with services.engine.connect() as conn:
        return {kind: int(conn.execute(select(func.count()).select_from(table)).scalar_one())
                for kind, table in TABLES.items()}  # fmt: skip


def _run(services: Services, ctx: RequestContext, at: datetime) -> dict[str, Any]:
    """A retention run with its clock at ``at`` (the simulated clock)."""
    purge = RetentionService(services.engine, services.audit, services.policy.policy,
                             services.vault, services.ledger, clock=lambda: at)  # fmt: skip
    return purge.run(ctx).as_dict()


def _listen(services: Services, name: str, case_ref: str) -> None:
    sample = EvaluationService.for_services(services)._sample(case_ref)
    grant = services.grants.request(as_person(services, name), sample["recording_id"], "quality",
                                    case_ref)  # fmt: skip
    assert grant.status == "approved"


def _evaluated(services: Services, ctx: RequestContext, call_wav: Path, started: datetime) -> str:
    """A call of adam's at ``started``, sampled, evaluated by tess, answered by adam, and
    scored by tess in a calibration session; its case reference."""
    recording_id = record(services, ctx, call_wav, f"pbx-{uuid.uuid4().hex[:8]}", agent="adam",
                          started_at=started.isoformat(),
                          ended_at=(started + timedelta(seconds=3)).isoformat())  # fmt: skip
    case = sampled_case_ref(services, recording_id)
    evaluations, tess = EvaluationService.for_services(services), as_person(services, "tess")
    _listen(services, "tess", case)
    made = evaluations.evaluate(tess, case, FULL, COMMENT)
    adam = RequestContext(actor=services.access.person("adam"), origin="web")
    evaluations.respond(adam, made["id"], agrees=False, response=RESPONSE)
    session = evaluations.calibrate(as_person(services, "mina"), case, ["tess", "max"])
    evaluations.evaluate(tess, case, FULL, COMMENT, calibration_id=session["id"])
    return case


def test_a_months_records_go_two_years_after_it_ends_and_no_sooner(
    services: Services, ctx: RequestContext, call_wav: Path
) -> None:
    add_people(services, ctx)
    now = datetime.now(UTC)
    last_month = previous_month(now - timedelta(minutes=1))
    # Last month's first (lower case references), then this month's.
    old = _evaluated(services, ctx, call_wav, month_bounds(*last_month)[0] + timedelta(hours=10))
    new = _evaluated(services, ctx, call_wav, now - timedelta(minutes=1))
    both = _rows(services)
    assert both == {"responses": 2, "evaluations": 4, "calibrations": 2, "samples": 2, "draws": 2}
    ends = month_bounds(*last_month)[1]

    early = _run(services, ctx, ends + TWO_YEARS_AT_LEAST - timedelta(days=2))
    assert (early["evaluations_expired"], early["quality_samples_expired"]) == (0, 0)
    assert _rows(services) == both

    before = services.audit.count()
    due = ends + TWO_YEARS_AT_MOST + timedelta(days=1)
    preview = services.retention.run(ctx, now=due, dry_run=True).as_dict()
    assert (preview["evaluations_expired"], preview["quality_samples_expired"]) == (2, 1)
    assert _rows(services) == both and services.audit.count() == before

    done = _run(services, ctx, due)
    assert (done["evaluations_expired"], done["quality_samples_expired"]) == (2, 1)
    assert {"purged", "held", "kept", "pending"} <= done.keys()
    assert _rows(services) == {k: v // 2 for k, v in both.items()}
    listed = EvaluationService.for_services(services).evaluations(as_person(services, "mina"))
    assert [e["case_ref"] for e in listed] == [new]
    [entry] = [e for e in services.audit.show(after=before, limit=1000) if e["action"] == EXPIRED]
    details = entry["details"]
    counted = {k: details[k] for k in TABLES}
    assert counted == {"responses": 1, "evaluations": 2, "calibrations": 1, "samples": 1,
                       "draws": 1}  # fmt: skip
    assert details["through_month"] == "{:04d}-{:02d}".format(*last_month)
    assert details["cutoff"] == ends.isoformat() and details["kept_for"] == "24 months"
    trail = services.audit.show(limit=100_000)
    assert all(COMMENT not in str(e) and RESPONSE not in str(e) for e in trail)
    assert services.audit.verify().ok
    assert old not in str(details)  # the entry counts; it does not list the calls


def _draw(services: Services, month: str, refs: list[str], recording_ids: list[str]) -> str:
    draw_id = uuid.uuid4().hex
    with services.engine.begin() as conn:
        conn.execute(insert(quality_draws).values(
            id=draw_id, month=month, attempt=1, seed="0" * 64, calls_per_advisor=4,
            min_duration_s=60.0, eligible=len(refs), drawn=len(refs), policy_version="test",
            drawn_at=datetime.now(UTC).isoformat(), drawn_by="system:test", reason="",
        ))  # fmt: skip
        conn.execute(insert(quality_samples), [
            {"draw_id": draw_id, "recording_id": rid, "agent": "adam", "line": "parking",
             "position": n, "case_ref": ref}
            for n, (ref, rid) in enumerate(zip(refs, recording_ids, strict=True), start=1)
        ])  # fmt: skip
    return draw_id


def _months(services: Services) -> list[str]:
    with services.engine.connect() as conn:
        return sorted(conn.execute(select(quality_draws.c.month)).scalars())


def test_the_years_highest_case_reference_stays_until_the_whole_year_is_due(
    services: Services, ctx: RequestContext, call_wav: Path
) -> None:
    calls = [record(services, ctx, call_wav, f"pbx-{n}") for n in range(3)]
    # April 2020 was drawn first; March 2020 was drawn again later, so it holds the year's
    # highest reference, which the next draw of 2020 would number on from.
    _draw(services, "2020-04", ["QA-2020-0001"], calls[:1])
    _draw(services, "2020-03", ["QA-2020-0002"], calls[1:2])
    _draw(services, "2021-01", ["QA-2021-0001"], calls[2:])
    # An evaluation whose sampled call an earlier expiry deleted as it was being submitted.
    with services.engine.begin() as conn:
        conn.execute(insert(quality_evaluations).values(
            id=uuid.uuid4().hex, case_ref="QA-2019-0007", recording_id=calls[0], agent="adam",
            line="parking", evaluator="tess", scorecard_id="standard", scores="{}", total=0,
            max_total=18, comment=COMMENT, calibration_id="", submitted_at="2019-08-01",
        ))  # fmt: skip
    two_years = Retention(months=24)

    mid = expire_quality_records(services.engine, services.audit, ctx, two_years,
                                 datetime(2022, 6, 15, tzinfo=UTC))  # fmt: skip
    assert (mid.through_month, mid.draws, mid.samples, mid.evaluations) == ("2020-05", 1, 1, 1)
    assert _months(services) == ["2020-03", "2021-01"]

    year_end = expire_quality_records(services.engine, services.audit, ctx, two_years,
                                      datetime(2023, 1, 15, tzinfo=UTC))  # fmt: skip
    assert (year_end.through_month, year_end.draws) == ("2020-12", 1)
    assert _months(services) == ["2021-01"]
    assert services.audit.verify().ok


def test_a_month_past_its_keeping_period_is_not_drawn(
    services: Services, ctx: RequestContext
) -> None:
    policy = services.policy.policy
    short = replace(policy, quality=replace(policy.quality, keep_evaluations=Retention(months=3)))
    sampler = QualitySampler(services.engine, services.audit, services.permissions, short)
    year, month = previous_month(datetime.now(UTC) - timedelta(days=200))
    before = services.audit.count()
    with pytest.raises(BadInput, match="keep_evaluations") as refused:
        sampler.draw(ctx, f"{year:04d}-{month:02d}")
    assert refused.value.field == "month" and services.audit.count() == before
