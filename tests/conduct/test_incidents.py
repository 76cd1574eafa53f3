"""Customer conduct incidents: linking recordings holds them under the incident's reference,
evidence bundles made under that reference are listed, closing keeps or releases the holds by
outcome, and every act (and refusal) is in the audit trail without the incident's summary."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select

from access.access_helpers import add_people, as_person, record, run_cli
from callvault.bootstrap import Services
from callvault.conduct.evidence import bundle_incident
from callvault.conduct.service import IncidentService
from callvault.conduct.store import incident_recordings, incidents
from callvault.context import RequestContext
from callvault.errors import BadInput, CallvaultError, Conflict, NotFound, Refused
from callvault.evidence.service import EvidenceService
from callvault.retention.store import holds

SUMMARY = "Caller threatened the advisor on a parking call; second time this month."


@pytest.fixture
def people(services: Services, ctx: RequestContext) -> IncidentService:
    add_people(services, ctx)
    return IncidentService.for_services(services)


def _calls(services: Services, ctx: RequestContext, call_wav: Path, n: int) -> list[str]:
    return [record(services, ctx, call_wav, call_id=f"pbx-{i}") for i in range(n)]


def _active_holds(services: Services, case_ref: str) -> int:
    with services.engine.connect() as conn:
        rows = conn.execute(
            select(holds.c.id).where(holds.c.case_ref == case_ref, holds.c.released_at.is_(None))
        )
        return len(rows.all())


def test_opening_holds_each_recording_under_the_incidents_reference(
    services: Services, ctx: RequestContext, call_wav: Path, people: IncidentService
) -> None:
    first, second = _calls(services, ctx, call_wav, 2)
    sam = as_person(services, "sam")
    opened = people.open(sam, SUMMARY, recording_ids=[first])
    ref = opened["ref"]
    assert ref.startswith("SAF-") and opened["summary"] == SUMMARY
    assert [r["recording_id"] for r in opened["recordings"]] == [first]
    assert opened["recordings"][0]["hold_released_at"] is None
    linked = people.link(sam, ref, recording_id=second, note="same caller, a week later")
    assert {r["recording_id"] for r in linked["recordings"]} == {first, second}
    assert _active_holds(services, ref) == 2
    # The reference fits the staff_safety purpose, so a grant can name it.
    grant = services.grants.request(sam, first, "staff_safety", ref)
    assert grant.status == "approved"
    [listed] = people.get(sam, ref)["grants"]
    assert (listed["id"], listed["recording_ids"]) == (grant.id, [first])
    # The trail names the incident by reference; its summary (which may describe the caller)
    # is kept only with the incident.
    trail = services.audit.show(limit=10_000)
    acts = [e["action"] for e in trail if (e.get("details") or {}).get("ref") == ref
            or e["object_id"] == ref]  # fmt: skip
    # Opening and linking say what they did; only reading the incident is "viewed".
    assert acts.count("incident.viewed") == 1 and acts.count("incident.linked") == 2
    assert acts.count("incident.opened") == 1
    assert all(SUMMARY not in str(e) for e in trail)


def test_a_second_incident_counts_on_and_a_linked_call_is_not_linked_twice(
    services: Services, ctx: RequestContext, call_wav: Path, people: IncidentService
) -> None:
    [call] = _calls(services, ctx, call_wav, 1)
    sam = as_person(services, "sam")
    first = people.open(sam, SUMMARY, recording_ids=[call])["ref"]
    second = people.open(sam, "Another caller", recording_ids=[call])["ref"]
    assert int(second.rsplit("-", 1)[1]) == int(first.rsplit("-", 1)[1]) + 1
    before = services.audit.count()
    with pytest.raises(Conflict):
        people.link(sam, first, recording_id=call)
    assert _active_holds(services, first) == 1
    assert services.audit.count() == before


def test_bad_input_names_the_field_and_changes_nothing(
    services: Services, ctx: RequestContext, call_wav: Path, people: IncidentService
) -> None:
    [call] = _calls(services, ctx, call_wav, 1)
    sam = as_person(services, "sam")
    before = services.audit.count()

    def opening(
        summary: str = SUMMARY, recordings: tuple[str, ...] = (call,), flags: tuple[str, ...] = ()
    ) -> Callable[[], object]:
        return lambda: people.open(sam, summary, recording_ids=recordings, flag_ids=flags)

    cases: list[tuple[Callable[[], object], str, type[CallvaultError]]] = [
        (opening(summary="  "), "summary", BadInput),
        (opening(summary="x" * 4001), "summary", BadInput),
        (opening(recordings=()), "flag_ids", BadInput),
        (opening(recordings=("../etc",)), "recording_id", BadInput),
        (opening(recordings=("0" * 32,)), "recording_id", NotFound),
        (opening(recordings=(call, call)), "recording_ids", BadInput),
        (opening(flags=("f" * 32,)), "flag_id", NotFound),
    ]
    for act, field, error in cases:
        with pytest.raises(error) as caught:
            act()
        assert caught.value.field == field
    with services.engine.connect() as conn:
        assert conn.execute(select(incidents.c.id)).first() is None
        assert conn.execute(select(holds.c.id)).first() is None
    assert services.audit.count() == before
    ref = people.open(sam, SUMMARY, recording_ids=[call])["ref"]
    for bad_outcome, note, field in (("sorted", "done", "outcome"), ("warning_letter", "", "note")):
        with pytest.raises(BadInput) as caught_close:
            people.close(sam, ref, bad_outcome, note)
        assert caught_close.value.field == field
    for empty in ({}, {"recording_id": ""}, {"recording_id": call, "flag_id": "f" * 32}):
        with pytest.raises(BadInput):  # one recording or one flag, never neither or both
            people.link(sam, ref, **empty)


@pytest.mark.parametrize(("outcome", "kept"), [("injunction", 1), ("warning_letter", 0)])
def test_closing_keeps_the_evidence_only_where_proceedings_need_it(
    services: Services,
    ctx: RequestContext,
    call_wav: Path,
    people: IncidentService,
    outcome: str,
    kept: int,
) -> None:
    [call] = _calls(services, ctx, call_wav, 1)
    sam = as_person(services, "sam")
    ref = people.open(sam, SUMMARY, recording_ids=[call])["ref"]
    closed = people.close(sam, ref, outcome, "Decided at the case meeting on 20 November.")
    assert closed["outcome"] == outcome and closed["closed_by"] == "sam"
    assert _active_holds(services, ref) == kept
    with pytest.raises(Conflict):
        people.close(sam, ref, outcome, "again")
    with pytest.raises(Conflict):
        people.link(sam, ref, recording_id=call)
    assert [i["ref"] for i in people.list(sam)] == []
    assert [i["ref"] for i in people.list(sam, open_only=False)] == [ref]


def test_evidence_bundles_under_the_reference_are_listed(
    services: Services, ctx: RequestContext, call_wav: Path, people: IncidentService, tmp_path: Path
) -> None:
    [call] = _calls(services, ctx, call_wav, 1)
    sam = as_person(services, "sam")
    ref = people.open(sam, SUMMARY, recording_ids=[call])["ref"]
    grant = services.grants.request(sam, call, "staff_safety", ref)
    bundle = EvidenceService.for_services(services).bundle(
        sam, call, grant.id, tmp_path / "evidence.zip", recipient="County Court",
        organisation="HM Courts & Tribunals Service", reason="injunction application",
        method="secure_email",
    )  # fmt: skip
    [listed] = people.get(sam, ref)["bundles"]
    assert listed["id"] == bundle["export_id"] and listed["file_sha256"] == bundle["sha256"]
    assert listed["grant_id"] == grant.id and listed["completed_at"] is not None
    assert listed["recording_ids"] == [call]


@pytest.mark.parametrize("name", ["adam", "tess", "cora", "root"])
def test_others_are_refused_and_the_refusal_is_audited(
    services: Services, ctx: RequestContext, call_wav: Path, people: IncidentService, name: str
) -> None:
    [call] = _calls(services, ctx, call_wav, 1)
    ref = people.open(as_person(services, "sam"), SUMMARY, recording_ids=[call])["ref"]
    someone = as_person(services, name)
    for act in (
        lambda: people.open(someone, SUMMARY, recording_ids=[call]),
        lambda: people.get(someone, ref),
        lambda: people.list(someone),
        lambda: people.close(someone, ref, "no_further_action", "not mine to close"),
    ):
        before = services.audit.count()
        with pytest.raises(Refused):
            act()
        [refusal] = services.audit.show(after=before)
        assert refusal["action"] == "access.refused" and refusal["actor"] == name
    with services.engine.connect() as conn:
        assert len(conn.execute(select(incident_recordings.c.recording_id)).all()) == 1


def test_the_dpo_and_auditors_read_but_do_not_act(
    services: Services, ctx: RequestContext, call_wav: Path, people: IncidentService
) -> None:
    [call] = _calls(services, ctx, call_wav, 1)
    ref = people.open(as_person(services, "sam"), SUMMARY, recording_ids=[call])["ref"]
    for name in ("dana", "aud"):
        reader = as_person(services, name)
        assert people.get(reader, ref)["ref"] == ref
        with pytest.raises(Refused):
            people.close(reader, ref, "no_further_action", "closing someone else's case")


def test_the_commands(
    services: Services,
    ctx: RequestContext,
    call_wav: Path,
    people: IncidentService,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CALLVAULT_HOME", str(services.settings.home))
    first, second = _calls(services, ctx, call_wav, 2)
    code, opened, _ = run_cli(
        ["incident", "open", "--summary", SUMMARY, "--recording", first, "--as", "sam"], capsys
    )
    assert code == 0 and [r["recording_id"] for r in opened["recordings"]] == [first]
    ref = opened["ref"]
    code, linked, _ = run_cli(["incident", "link", ref, "--recording", second, "--as", "sam"],
                              capsys)  # fmt: skip
    assert code == 0 and len(linked["recordings"]) == 2
    code, _, error = run_cli(["incident", "close", ref, "--outcome", "warning_letter",
                              "--note", "", "--as", "sam"], capsys)  # fmt: skip
    assert (code, error["field"]) == (2, "note")
    code, _, error = run_cli(["incident", "show", ref, "--as", "adam"], capsys)
    assert code == 3
    code, closed, _ = run_cli(["incident", "close", ref, "--outcome", "warning_letter",
                               "--note", "Letter sent", "--as", "sam"], capsys)  # fmt: skip
    assert code == 0 and all(r["hold_released_at"] for r in closed["recordings"])
    code, listed, _ = run_cli(["incident", "list", "--all", "--as", "aud"], capsys)
    assert code == 0 and [i["ref"] for i in listed["incidents"]] == [ref]


def test_the_incident_bundle_needs_a_grant_for_every_call_then_makes_them_all(
    services: Services,
    ctx: RequestContext,
    call_wav: Path,
    people: IncidentService,
    tmp_path: Path,
) -> None:
    first, second = _calls(services, ctx, call_wav, 2)
    sam = as_person(services, "sam")
    ref = people.open(sam, SUMMARY, recording_ids=[first, second])["ref"]
    out = tmp_path / "evidence"
    out.mkdir()
    services.grants.request(sam, first, "staff_safety", ref)
    fields = {"recipient": "County Court", "organisation": "HMCTS",
              "reason": "injunction application", "method": "secure_email"}  # fmt: skip
    before = services.audit.count()
    with pytest.raises(Refused, match=second):
        bundle_incident(services, sam, ref, out, **fields)
    assert list(out.iterdir()) == []  # nothing written: not even the first call's bundle
    refusals = [e for e in services.audit.show(after=before) if e["action"] == "access.refused"]
    assert [e["details"]["missing"] for e in refusals] == [[second]]
    services.grants.request(sam, second, "staff_safety", ref)
    made = bundle_incident(services, sam, ref, out, **fields)
    assert sorted(p.name for p in out.iterdir()) == [f"{ref}-1.zip", f"{ref}-2.zip"]
    assert {b["recording_id"] for b in made["bundles"]} == {first, second}
    listed = people.get(sam, ref)["bundles"]
    assert {b["id"] for b in listed} == {b["export_id"] for b in made["bundles"]}
    with pytest.raises(BadInput):
        bundle_incident(services, sam, ref, tmp_path / "no-such-folder", **fields)
