"""Grants over several recordings, and who sees which grants."""

from __future__ import annotations

from pathlib import Path

import pytest

from access.access_helpers import add_people, as_person, entries, grants, record
from callvault.access.grant_views import visible_grants
from callvault.bootstrap import Services
from callvault.context import RequestContext
from callvault.errors import BadInput, Refused


def _views(services: Services, who: str) -> list[dict[str, object]]:
    actor = as_person(services, who).actor
    return visible_grants(services.engine, services.policy.policy, services.permissions, actor)


def test_one_grant_covers_a_subject_access_request_for_several_calls(
    services: Services, ctx: RequestContext, call_wav: Path, tmp_path: Path
) -> None:
    add_people(services, ctx)
    first = record(services, ctx, call_wav, "sar-1", caller="07700 900777")
    second = record(services, ctx, call_wav, "sar-2", caller="07700 900777")
    third = record(services, ctx, call_wav, "sar-3")
    dana = as_person(services, "dana")
    before = services.audit.count()
    grant = grants(services).flow.request(
        dana, [first, second, first], "subject_access", "SAR-2026-0007", "caller's own calls"
    )
    assert grant.status == "approved" and grant.recording_ids == tuple(sorted([first, second]))
    requested = entries(services, before)[0]
    assert requested["object_id"] == grant.id
    assert sorted(requested["details"]["recording_ids"]) == sorted([first, second])
    player = grants(services).player
    for rec_id in (first, second):
        player.play(dana, rec_id, grant.id, tmp_path / f"{rec_id}.opus")
    with pytest.raises(Refused, match="does not cover"):
        player.play(dana, third, grant.id, tmp_path / "third.opus")
    assert not (tmp_path / "third.opus").exists()


def test_one_refused_recording_refuses_the_whole_request(
    services: Services, ctx: RequestContext, call_wav: Path
) -> None:
    add_people(services, ctx)
    parking = record(services, ctx, call_wav, "m-parking")
    care = record(services, ctx, call_wav, "m-care", dialled="0800 145 6095")  # special category
    tess = as_person(services, "tess")
    before = services.audit.count()
    with pytest.raises(Refused, match="special category"):
        grants(services).flow.request(tess, [parking, care], "quality", "QA-2026-0001")
    assert [e["action"] for e in entries(services, before)] == ["access.refused"]
    assert grants(services).flow.for_recording(parking) == []
    with pytest.raises(BadInput, match="at least one"):
        grants(services).flow.request(tess, [], "quality", "QA-2026-0001")
    with pytest.raises(BadInput, match="at most 500"):
        grants(services).flow.request(tess, [parking] * 501, "quality", "QA-2026-0001")


def test_who_sees_which_grants(services: Services, ctx: RequestContext, call_wav: Path) -> None:
    add_people(services, ctx)
    adams_call = record(services, ctx, call_wav, "v-1", agent="adam")
    other_call = record(services, ctx, call_wav, "v-2", agent="bea")
    flow = grants(services).flow
    crime = flow.request(
        as_person(services, "mina"), [adams_call, other_call], "crime", "CRM-2026-0009", "police"
    )
    complaint = flow.request(as_person(services, "cora"), [other_call], "complaint", "CMP-2026-001")
    # The requester sees their own; a person who may decide a pending crime grant sees it.
    assert [g["id"] for g in _views(services, "mina")] == [crime.id]
    assert {g["id"] for g in _views(services, "dana")} == {crime.id}
    assert [g["id"] for g in _views(services, "cora")] == [complaint.id]
    # The advisor sees the request on their call: who, why (purpose), not the case or reason,
    # and only their own recording in it.
    (seen,) = _views(services, "adam")
    assert seen["id"] == crime.id and seen["requester"] == "mina" and seen["purpose"] == "crime"
    assert seen["recording_ids"] == [adams_call]
    assert "case_ref" not in seen and "reason" not in seen
    # No recording access, no grants: auditors and administrators see none.
    assert _views(services, "aud") == [] and _views(services, "root") == []
    assert {g["id"] for g in _views(services, "max")} == {crime.id}
    flow.approve(as_person(services, "max"), crime.id)
    assert [g["id"] for g in _views(services, "dana")] == []  # no longer pending
    assert [g["status"] for g in _views(services, "max")] == ["approved"]  # max decided it
