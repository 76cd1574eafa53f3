"""Bad input and abuse: each refused with a clear message, an audit entry, and nothing played."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from access.access_helpers import add_people, as_person, entries, grants, record
from callvault.bootstrap import Services
from callvault.context import RequestContext
from callvault.errors import BadInput, CallvaultError, Conflict, NotFound, Refused
from homes import tamper

SOCIAL_CARE = "0800 145 6095"  # a special category line in the example policy


@pytest.fixture
def world(services: Services, ctx: RequestContext, call_wav: Path) -> tuple[Services, str]:
    add_people(services, ctx)
    return services, record(services, ctx, call_wav)


def _refused_request(
    services: Services,
    who: str,
    rec_id: str,
    purpose: str | None,
    case_ref: str | None,
    error: type[CallvaultError],
    match: str,
) -> None:
    before = services.audit.count()
    with pytest.raises(error, match=match) as raised:
        grants(services).flow.request(as_person(services, who), rec_id, purpose, case_ref)
    assert raised.value.exit_code == (3 if error is Refused else 2)
    new = entries(services, before)
    assert [e["action"] for e in new] == ["access.refused"]
    assert new[0]["details"]["why"] == raised.value.message and new[0]["actor"] == who
    assert grants(services).flow.for_recording(rec_id) == []
    assert services.audit.verify().ok


@pytest.mark.parametrize(
    ("who", "purpose", "case_ref", "error", "match"),
    [
        ("cora", None, "CMP-2026-0001", Refused, "a purpose is required; one of: complaint"),
        ("cora", "", "CMP-2026-0001", Refused, "a purpose is required"),
        ("cora", "curiosity", "CMP-2026-0001", Refused, "unknown purpose 'curiosity'"),
        ("cora", "crime", "CRM-2026-0001", Refused, "role complaints_officer may not use"),
        ("tess", "complaint", "CMP-2026-0001", Refused, "role team_leader may not use"),
        ("cora", "complaint", "2026/1", BadInput, r"does not match the format for complaint"),
        ("cora", "complaint", None, BadInput, "case reference"),
        ("cora", "complaint", "CMP-2026-0001\n", BadInput, "case reference"),
        ("adam", "complaint", "CMP-2026-0001", Refused, "adam may not do recordings:request"),
        ("aud", "complaint", "CMP-2026-0001", Refused, "aud may not do recordings:request"),
        ("root", "complaint", "CMP-2026-0001", Refused, "root may not do recordings:request"),
    ],
)
def test_bad_requests_are_refused_and_audited(
    world: tuple[Services, str],
    who: str,
    purpose: str | None,
    case_ref: str | None,
    error: type[CallvaultError],
    match: str,
) -> None:
    services, rec_id = world
    _refused_request(services, who, rec_id, purpose, case_ref, error, match)


def test_unknown_recording_is_refused_and_audited(world: tuple[Services, str]) -> None:
    services, _ = world
    _refused_request(
        services, "cora", "f" * 32, "complaint", "CMP-2026-0001", NotFound, "no recording"
    )


def test_team_leader_may_not_hear_special_category(
    services: Services, ctx: RequestContext, call_wav: Path
) -> None:
    add_people(services, ctx)
    rec_id = record(services, ctx, call_wav, dialled=SOCIAL_CARE)
    assert services.catalog.get(rec_id).sensitivity == "special_category"
    _refused_request(services, "tess", rec_id, "quality", "QA-2026-001", Refused, "special")
    # A complaints officer may, for a complaint.
    grant = grants(services).flow.request(
        as_person(services, "cora"), rec_id, "complaint", "CMP-2026-0003"
    )
    assert grant.status == "approved"


@pytest.mark.parametrize("bad_id", ["../x", "..", "a/b", "x" * 41, "x" * 10_000, "", "a b"])
def test_path_tricks_in_ids_are_bad_input_and_change_nothing(
    world: tuple[Services, str], tmp_path: Path, bad_id: str
) -> None:
    services, rec_id = world
    flow, player = grants(services).flow, grants(services).player
    cora = as_person(services, "cora")
    good = flow.request(cora, rec_id, "complaint", "CMP-2026-0001")
    before = services.audit.count()
    out = tmp_path / "out.opus"
    attempts: list[Callable[[], object]] = [
        lambda: flow.request(cora, bad_id, "complaint", "CMP-2026-0001"),
        lambda: flow.approve(as_person(services, "mina"), bad_id),
        lambda: flow.revoke(cora, bad_id, "no"),
        lambda: player.play(cora, bad_id, good.id, out),
        lambda: player.play(cora, rec_id, bad_id, out),
    ]
    for attempt in attempts:
        with pytest.raises(BadInput) as raised:
            attempt()
        assert len(raised.value.message) < 200
    assert services.audit.count() == before
    assert not out.exists()


def _play_refused(
    services: Services, who: str, rec_id: str, grant_id: str, out: Path, match: str
) -> None:
    before = services.audit.count()
    with pytest.raises(Refused, match=match):
        grants(services).player.play(as_person(services, who), rec_id, grant_id, out)
    new = entries(services, before)
    assert [e["action"] for e in new] == ["access.refused"]
    assert new[0]["details"]["grant_id"] == grant_id
    assert not out.exists()
    assert list(out.parent.iterdir()) == []
    assert services.audit.verify().ok


def test_grant_misuse_plays_nothing(
    services: Services, ctx: RequestContext, call_wav: Path, tmp_path: Path
) -> None:
    add_people(services, ctx)
    rec_id = record(services, ctx, call_wav)
    other_id = record(services, ctx, call_wav, call_id="pbx-0002")
    flow = grants(services).flow
    cora = as_person(services, "cora")
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    out = out_dir / "call.opus"
    grant = flow.request(cora, rec_id, "complaint", "CMP-2026-0001")
    _play_refused(services, "cora", other_id, grant.id, out, "does not cover recording")
    _play_refused(services, "mina", rec_id, grant.id, out, "given to cora, not mina")
    _play_refused(services, "cora", rec_id, "0" * 32, out, "no grant")
    _play_refused(services, "adam", rec_id, grant.id, out, "adam may not do recordings:play")

    expired = flow.request(cora, rec_id, "complaint", "CMP-2026-0004")
    tamper(services, f"UPDATE grants SET expires_at = '2020-01-01T00:00:00+00:00' "
                     f"WHERE id = '{expired.id}'")  # fmt: skip
    _play_refused(services, "cora", rec_id, expired.id, out, "expired")

    flow.revoke(as_person(services, "mina"), grant.id, "complaint withdrawn")
    _play_refused(services, "cora", rec_id, grant.id, out, "is revoked, not approved")
    with pytest.raises(Conflict, match="revoked"):
        flow.revoke(cora, grant.id, "again")


def test_deciders_must_be_entitled(services: Services, ctx: RequestContext, call_wav: Path) -> None:
    add_people(services, ctx)
    rec_id = record(services, ctx, call_wav)
    flow = grants(services).flow
    pending = flow.request(as_person(services, "mina"), rec_id, "crime", "CRM-2026-0001")
    for who, match in [
        ("mina", "different person"),
        ("cora", "may not use purpose crime"),
        ("root", "root may not do recordings:approve"),
        ("adam", "adam may not do recordings:approve"),
    ]:
        before = services.audit.count()
        with pytest.raises(Refused, match=match):
            flow.approve(as_person(services, who), pending.id)
        assert [e["action"] for e in entries(services, before)] == ["access.refused"]
    assert flow.get(pending.id).status == "pending"
    approved = flow.approve(as_person(services, "dana"), pending.id)
    with pytest.raises(Conflict, match="only a pending grant"):
        flow.approve(as_person(services, "max"), approved.id)


def test_existing_out_file_is_not_overwritten(world: tuple[Services, str], tmp_path: Path) -> None:
    services, rec_id = world
    cora = as_person(services, "cora")
    grant = grants(services).flow.request(cora, rec_id, "complaint", "CMP-2026-0001")
    out = tmp_path / "exists.opus"
    out.write_bytes(b"keep")
    with pytest.raises(BadInput, match="already exists"):
        grants(services).player.play(cora, rec_id, grant.id, out)
    assert out.read_bytes() == b"keep"


def test_disabled_person_cannot_act(world: tuple[Services, str], ctx: RequestContext) -> None:
    services, _ = world
    services.access.disable(ctx, "cora")
    with pytest.raises(Refused, match="disabled"):
        as_person(services, "cora")
    with pytest.raises(Refused, match="does not exist"):
        as_person(services, "nobody")
