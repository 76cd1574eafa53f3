"""The access flow on both legs: request, (second) approval, play, in the audit trail."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from access.access_helpers import add_people, as_person, entries, grants, record
from callvault.bootstrap import Services
from callvault.context import RequestContext
from callvault.errors import Refused
from callvault.media.decode import decode_to_pcm


def test_complaint_request_is_approved_at_once_and_play_is_audited_first(
    services: Services, ctx: RequestContext, call_wav: Path, tmp_path: Path
) -> None:
    add_people(services, ctx)
    rec_id = record(services, ctx, call_wav)
    flow, player = grants(services).flow, grants(services).player
    before = services.audit.count()
    cora = as_person(services, "cora")
    grant = flow.request(cora, rec_id, "complaint", "CMP-2026-0001", "complaint about parking")
    assert grant.status == "approved" and grant.approver == "auto" and grant.expires_at
    out = tmp_path / "call.opus"
    result = player.play(cora, rec_id, grant.id, out)
    assert result["path"] == str(out)
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".part")]
    pcm, rate = decode_to_pcm(out)
    assert rate == 8000 and pcm.shape[0] == 2
    assert abs(pcm.shape[1] / rate - 3.0) < 0.1
    steps = entries(services, before)
    assert [e["action"] for e in steps] == [
        "access.requested",
        "access.approved",
        "recording.played",
    ]
    for entry in steps:
        assert entry["purpose"] == "complaint" and entry["case_ref"] == "CMP-2026-0001"
        assert entry["actor"] == "cora" and entry["operator"] == "operator:test"
    assert steps[1]["details"]["approver"] == "auto"
    assert steps[2]["details"]["grant_id"] == grant.id
    assert services.audit.verify().ok


def test_crime_needs_a_second_person(
    services: Services, ctx: RequestContext, call_wav: Path, tmp_path: Path
) -> None:
    add_people(services, ctx)
    rec_id = record(services, ctx, call_wav)
    flow, player = grants(services).flow, grants(services).player
    mina, max_ = as_person(services, "mina"), as_person(services, "max")
    grant = flow.request(mina, rec_id, "crime", "CRM-2026-0042", "police request")
    assert grant.status == "pending" and grant.expires_at is None
    out = tmp_path / "call.opus"
    with pytest.raises(Refused, match="pending, not approved"):
        player.play(mina, rec_id, grant.id, out)
    assert not out.exists()
    with pytest.raises(Refused, match="different person"):
        flow.approve(mina, grant.id)
    approved = flow.approve(max_, grant.id)
    assert approved.status == "approved" and approved.approver == "max"
    assert player.play(mina, rec_id, grant.id, out)["sha256"]
    actions = [e["action"] for e in entries(services) if e["case_ref"] == "CRM-2026-0042"]
    assert actions == [
        "access.requested",
        "access.refused",
        "access.refused",
        "access.approved",
        "recording.played",
    ]
    assert services.audit.verify().ok


def test_deny_and_revoke(services: Services, ctx: RequestContext, call_wav: Path) -> None:
    add_people(services, ctx)
    rec_id = record(services, ctx, call_wav)
    flow = grants(services).flow
    mina, dana = as_person(services, "mina"), as_person(services, "dana")
    denied = flow.deny(dana, flow.request(mina, rec_id, "fraud", "FRD-2026-001").id)
    assert denied.status == "denied" and denied.approver == "dana"
    own = flow.request(mina, rec_id, "complaint", "CMP-2026-0002")
    revoked = flow.revoke(mina, own.id, "case closed")
    assert revoked.status == "revoked" and revoked.revoked_reason == "case closed"
    assert flow.get(own.id).status == "revoked"
    assert [g.status for g in flow.for_recording(rec_id)] == ["denied", "revoked"]
