"""The rights register (both legs): opening a request searches for the requester's calls, keeps
the search as evidence and, for subject access, holds what it found (s.173); the clock's
pauses and extensions as stored; the deadlines view; closing releases the holds; erasure and
objection decisions with reason codes, shredding at once with a certificate; bad input and
refusals change nothing; the audit trail never carries the requester's name or numbers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import func, select

from access.access_helpers import add_people, as_person, entries, record
from callvault.bootstrap import Services
from callvault.catalog.store import data_keys, recordings
from callvault.context import RequestContext
from callvault.errors import BadInput, Conflict, NotFound, Refused
from callvault.retention.holding import held_ids
from callvault.rights.erasure import ErasureDecisions
from callvault.rights.service import RightsService
from callvault.rights.store import rights_items, rights_requests, rights_searches
from homes import run_cli, stored_blobs

# Wednesday 25 November 2026, noon in London: a month on is Christmas Day (Friday), then a
# weekend and the Boxing Day substitute (Monday 28th): the deadline is Tuesday 29 December.
NOON = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
REQUESTER_PHONE = "020 7946 0002"  # stored as +442079460002
OTHER_PHONE = "07700 900456"
REQUESTER_NAME = "Ann Requester"


@dataclass
class World:
    services: Services
    rights: RightsService
    dana: RequestContext  # the DPO
    mine: list[str]  # the requester's two calls
    other: str  # someone else's call

    def open(self, **overrides: Any) -> Any:
        fields: dict[str, Any] = {
            "kind": "access", "ref": "SAR-2026-0001", "requester": REQUESTER_NAME,
            "contact": "ann@example.org", "received_on": "2026-11-25", "identity": "verified",
            "phones": [REQUESTER_PHONE],
        }  # fmt: skip
        fields.update(overrides)
        return self.rights.open(self.dana, **fields)

    def count(self, table: Any) -> int:
        with self.services.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def _service(services: Services, now: datetime) -> RightsService:
    return RightsService(services.engine, services.audit, services.permissions, services.holds,
                         services.policy.policy, clock=lambda: now)  # fmt: skip


@pytest.fixture
def world(services: Services, ctx: RequestContext, call_wav: Path) -> World:
    add_people(services, ctx)
    mine = [
        record(services, ctx, call_wav, "pbx-1", caller=REQUESTER_PHONE),
        record(services, ctx, call_wav, "pbx-2", caller="+44 20 7946 0002"),
    ]
    other = record(services, ctx, call_wav, "pbx-3", caller=OTHER_PHONE)
    return World(services, _service(services, NOON), as_person(services, "dana"), mine, other)


def test_opening_finds_the_requesters_calls_holds_them_and_keeps_the_search(world: World) -> None:
    request = world.open()
    assert sorted(i.recording_id for i in request.items) == sorted(world.mine)
    assert {i.outcome for i in request.items} == {"pending"}
    assert request.clock.deadline == date(2026, 12, 29)
    [search] = request.searches
    assert search["terms"] == {"phones": ["+442079460002"], "from": None, "to": None}
    assert search["matched"] == 2
    assert search["searched_by"] == "dana"
    with world.services.engine.connect() as conn:
        assert held_ids(conn, [*world.mine, world.other]) == set(world.mine)
    hold = world.services.holds.get(world.dana, search["hold_id"])
    assert (hold.reason, hold.case_ref) == ("subject_access", "SAR-2026-0001")


def test_the_audit_trail_names_the_request_not_the_requester(world: World) -> None:
    world.open()
    trail = orjson.dumps(entries(world.services)).decode()
    opened = [e for e in entries(world.services) if e["action"] == "rights.opened"]
    assert len(opened) == 1
    assert opened[0]["details"]["ref"] == "SAR-2026-0001"
    assert sorted(opened[0]["details"]["recording_ids"]) == sorted(world.mine)
    assert REQUESTER_NAME not in trail
    assert "ann@example.org" not in trail


def test_identity_awaited_stops_the_clock_until_proof_arrives(world: World) -> None:
    request = world.open(identity="awaiting", received_on="2026-11-02")
    assert request.clock.stopped and request.clock.deadline is None
    with world.services.engine.connect() as conn:
        assert conn.execute(select(rights_requests.c.deadline)).scalar_one() is None
    # Proof came on the 9th: seven days stopped; 2 December + 7 = 9 December (Wednesday).
    resumed = world.rights.resume(world.dana, "SAR-2026-0001", on="2026-11-09")
    assert resumed.identity == "verified"
    assert resumed.clock.paused_days == 7
    assert resumed.clock.deadline == date(2026, 12, 9)
    with world.services.engine.connect() as conn:
        assert conn.execute(select(rights_requests.c.deadline)).scalar_one() == "2026-12-09"


def test_clarification_pause_and_extension_move_the_stored_deadline(world: World) -> None:
    world.open(received_on="2026-11-02")
    paused = world.rights.pause(
        world.dana, "SAR-2026-0001", reason="clarification", on="2026-11-10",
        note="asked which calls she means",
    )  # fmt: skip
    assert paused.clock.stopped
    with pytest.raises(Conflict):
        world.rights.pause(world.dana, "SAR-2026-0001", reason="identity", on="2026-11-11",
                           note="again")  # fmt: skip
    resumed = world.rights.resume(world.dana, "SAR-2026-0001", on="2026-11-13")
    # 2 December + 3 paused days = Saturday 5 December -> Monday 7 December.
    assert resumed.clock.deadline == date(2026, 12, 7)
    extended = world.rights.extend(
        world.dana, "SAR-2026-0001", months=2, reason="forty calls over two years",
        told_on="2026-11-20",
    )  # fmt: skip
    # 2 February 2027 + 3 days = Friday 5 February 2027.
    assert extended.clock.deadline == date(2027, 2, 5)
    with pytest.raises(Conflict):
        world.rights.extend(world.dana, "SAR-2026-0001", months=1, reason="more",
                            told_on="2026-11-21")  # fmt: skip


def test_a_late_extension_is_refused_and_changes_nothing(world: World) -> None:
    world.open(received_on="2026-10-01")
    before = len(entries(world.services))
    # The first month ended on Monday 2 November: telling the requester on the 3rd is late.
    rights = _service(world.services, datetime(2026, 11, 4, 12, tzinfo=UTC))
    with pytest.raises(BadInput) as refused:
        rights.extend(world.dana, "SAR-2026-0001", months=1, reason="complex",
                      told_on="2026-11-03")  # fmt: skip
    assert refused.value.field == "told_on"
    with pytest.raises(BadInput) as refused:
        rights.extend(world.dana, "SAR-2026-0001", months=3, reason="complex",
                      told_on="2026-10-20")  # fmt: skip
    assert refused.value.field == "months"
    assert len(entries(world.services)) == before
    request = rights.get(world.dana, "SAR-2026-0001", audited=False)
    assert request.extension is None and request.clock.deadline == date(2026, 11, 2)


def test_the_deadlines_view_lists_soonest_first_and_filters_the_week(world: World) -> None:
    world.open(ref="SAR-2026-0001", received_on="2026-11-02")  # due Wednesday 2 December
    world.open(ref="SAR-2026-0002", received_on="2026-10-20")  # due Friday 20 Nov: overdue
    world.open(ref="SAR-2026-0003", received_on="2026-11-20")  # due Monday 21 December
    world.open(ref="SAR-2026-0004", identity="awaiting", received_on="2026-11-24")
    listed = [r.ref for r in world.rights.deadlines(world.dana)]
    assert listed == ["SAR-2026-0002", "SAR-2026-0001", "SAR-2026-0003", "SAR-2026-0004"]
    week = world.rights.deadlines(world.dana, due_by=date(2026, 12, 2))
    assert [r.ref for r in week] == ["SAR-2026-0002", "SAR-2026-0001"]
    today = world.rights.today()
    assert week[0].as_dict(today)["overdue"] is True
    assert week[1].as_dict(today)["days_left"] == 7
    auditor = as_person(world.services, "aud")
    assert len(world.rights.deadlines(auditor)) == 4


def test_closing_releases_the_holds_it_placed(world: World) -> None:
    request = world.open()
    with pytest.raises(Conflict):  # nothing reviewed yet
        world.rights.close(world.dana, request.ref, outcome="responded", note=None)
    with pytest.raises(BadInput) as refused:
        world.rights.close(world.dana, request.ref, outcome="withdrawn", note=None)
    assert refused.value.field == "note"
    closed = world.rights.close(world.dana, request.ref, outcome="withdrawn",
                                note="withdrawn by email on 26 November")  # fmt: skip
    assert closed.state == "withdrawn"
    with world.services.engine.connect() as conn:
        assert held_ids(conn, world.mine) == set()
    with pytest.raises(Conflict):
        world.rights.pause(world.dana, request.ref, reason="identity", on=None, note="x")


def test_searching_again_adds_new_calls_with_their_own_hold(world: World) -> None:
    world.open()
    again = world.rights.search(world.dana, "SAR-2026-0001", phones=[OTHER_PHONE])
    assert len(again.searches) == 2
    assert {i.recording_id for i in again.items} == {*world.mine, world.other}
    assert len(again.hold_ids) == 2
    assert again.phones == ["+442079460002", "+447700900456"]
    with world.services.engine.connect() as conn:
        assert held_ids(conn, [world.other]) == {world.other}


# (overrides, the field named): each refused on one world, which stays untouched throughout.
BAD_INPUT: list[tuple[dict[str, Any], str]] = [
    ({"ref": "SAR-26-1"}, "ref"),
    ({"kind": "portability"}, "kind"),
    ({"requester": " "}, "requester"),
    ({"identity": "maybe"}, "identity"),
    ({"phones": []}, "phone"),
    ({"phones": ["4008"]}, "phone"),
    ({"phones": ["not a number"]}, "phone"),
    ({"received_on": "2026-11-26"}, "received_on"),  # tomorrow
    ({"received_on": "25/11/2026"}, "received_on"),
    ({"started_from": "2026-11-20", "started_to": "2026-11-01"}, "from"),
]


def test_bad_input_is_named_and_writes_nothing(world: World) -> None:
    before = len(entries(world.services))
    for overrides, field in BAD_INPUT:
        with pytest.raises(BadInput) as refused:
            world.open(**overrides)
        assert refused.value.field == field, overrides
    assert world.count(rights_requests) == 0
    assert world.count(rights_searches) == 0
    assert len(entries(world.services)) == before
    with world.services.engine.connect() as conn:
        assert held_ids(conn, world.mine) == set()


def test_a_reference_is_registered_once(world: World) -> None:
    world.open()
    with pytest.raises(Conflict):
        world.open(phones=[OTHER_PHONE])
    with world.services.engine.connect() as conn:
        assert held_ids(conn, [world.other]) == set()


def test_only_the_dpo_manages_and_refusals_are_audited(world: World) -> None:
    cora = as_person(world.services, "cora")
    with pytest.raises(Refused):
        world.rights.open(cora, kind="access", ref="SAR-2026-0009", requester="x",
                          contact="y", received_on=None, identity="verified",
                          phones=[REQUESTER_PHONE])  # fmt: skip
    refused = [e for e in entries(world.services) if e["action"] == "access.refused"]
    assert refused and refused[-1]["actor"] == "cora"
    world.open()
    auditor = as_person(world.services, "aud")
    assert world.rights.get(auditor, "SAR-2026-0001").ref == "SAR-2026-0001"
    with pytest.raises(Refused):
        world.rights.pause(auditor, "SAR-2026-0001", reason="identity", on=None, note="x")
    with pytest.raises(Refused):
        world.rights.get(as_person(world.services, "mina"), "SAR-2026-0001")
    with pytest.raises(NotFound):
        world.rights.get(world.dana, "SAR-2026-0404")


def _open_erasure(world: World, kind: str = "erasure") -> Any:
    return world.open(kind=kind, ref="ERA-2026-7", phones=[REQUESTER_PHONE])


def test_erasure_shreds_at_once_and_leaves_a_certificate(world: World) -> None:
    request = _open_erasure(world)
    assert request.searches[0]["hold_id"] is None  # erasure requests hold nothing
    decisions = ErasureDecisions(world.rights, world.services.retention, world.services.audit)
    target, kept = world.mine
    blobs_before = stored_blobs(world.services)
    item = decisions.decide(world.dana, "ERA-2026-7", target, decision="erase",
                            reason_code="no_longer_necessary")  # fmt: skip
    assert item.outcome == "erased" and item.certificate_seq is not None
    with world.services.engine.connect() as conn:
        row = conn.execute(select(recordings).where(recordings.c.id == target)).one()
        keys = conn.execute(
            select(func.count()).select_from(data_keys).where(data_keys.c.recording_id == target)
        ).scalar_one()
    assert row.purged_at is not None and row.caller == ""
    assert keys == 0  # the erasure itself: without its key the ciphertext is noise
    [certificate] = [e for e in entries(world.services) if e["seq"] == item.certificate_seq]
    mine = {name for name in blobs_before if target in name}
    if certificate["action"] == "recording.purged":  # files: the bytes went at once
        assert certificate["details"]["blobs_deleted"] == sorted(mine)
        assert not mine & stored_blobs(world.services)
    else:  # the scale leg's bucket has Object Lock: the bytes wait for a later purge run
        assert certificate["action"] == "recording.shredded"
        assert world.services.engine.dialect.name == "postgresql"
        assert sorted(certificate["details"]["blobs_awaiting_deletion"]) == sorted(mine)
    assert certificate["details"]["run_id"] == request.id
    assert "ERA-2026-7" in certificate["details"]["rule"]
    assert [e.recording_id for e in world.services.ledger.entries()] == [target]
    # Keeping the other needs the weighing written down for public task.
    with pytest.raises(BadInput) as refused:
        decisions.decide(world.dana, "ERA-2026-7", kept, decision="keep",
                         reason_code="public_task")  # fmt: skip
    assert refused.value.field == "note"
    kept_item = decisions.decide(world.dana, "ERA-2026-7", kept, decision="keep",
                                 reason_code="public_task",
                                 note="open safeguarding case needs the call")  # fmt: skip
    assert kept_item.outcome == "kept"
    with pytest.raises(Conflict):
        decisions.decide(world.dana, "ERA-2026-7", kept, decision="erase",
                         reason_code="no_longer_necessary")  # fmt: skip
    closed = world.rights.close(world.dana, "ERA-2026-7", outcome="responded", note=None)
    assert closed.state == "responded"


def test_an_open_subject_access_request_blocks_erasure(world: World) -> None:
    world.open()  # holds both of the requester's calls (s.173)
    _open_erasure(world, kind="objection")
    decisions = ErasureDecisions(world.rights, world.services.retention, world.services.audit)
    before = len(entries(world.services))
    with pytest.raises(Conflict) as refused:
        decisions.decide(world.dana, "ERA-2026-7", world.mine[0], decision="erase",
                         reason_code="objection_upheld")  # fmt: skip
    assert refused.value.field == "decision"
    assert len(entries(world.services)) == before
    with world.services.engine.connect() as conn:
        outcomes = conn.execute(
            select(rights_items.c.outcome).where(rights_items.c.recording_id == world.mine[0])
        ).scalars()
        assert sorted(outcomes) == ["pending", "pending"]  # the access and the objection
    item = decisions.decide(world.dana, "ERA-2026-7", world.mine[0], decision="keep",
                            reason_code="active_hold")  # fmt: skip
    assert item.outcome == "kept"
    with pytest.raises(BadInput) as wrong:
        decisions.decide(world.dana, "SAR-2026-0001", world.mine[0], decision="erase",
                         reason_code="no_longer_necessary")  # fmt: skip
    assert wrong.value.field == "ref"
    with pytest.raises(BadInput) as wrong:
        decisions.decide(world.dana, "ERA-2026-7", world.mine[1], decision="erase",
                         reason_code="public_task")  # fmt: skip
    assert wrong.value.field == "reason_code"
    with pytest.raises(NotFound):
        decisions.decide(world.dana, "ERA-2026-7", world.other, decision="keep",
                         reason_code="not_requester")  # fmt: skip


def test_the_cli_shapes_and_exit_codes(
    world: World, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CALLVAULT_HOME", str(world.services.settings.home))
    opening = ["rights", "open", "--ref", "SAR-2026-0042", "--requester", "Ann",
               "--contact", "ann@example.org", "--identity", "verified",
               "--phone", REQUESTER_PHONE]  # fmt: skip
    code, opened, _ = run_cli([*opening, "--as", "dana"], capsys)
    assert code == 0
    assert opened["ref"] == "SAR-2026-0042" and opened["state"] == "open"
    assert sorted(i["recording_id"] for i in opened["items"]) == sorted(world.mine)
    assert opened["deadline"] is not None
    code, _, error = run_cli([*opening, "--as", "cora"], capsys)
    assert (code, error["field"]) == (3, "actor")
    code, _, error = run_cli(["rights", "extend", "SAR-2026-0042", "--months", "5",
                              "--reason", "x", "--as", "dana"], capsys)  # fmt: skip
    assert (code, error["field"]) == (2, "months")
    code, due, _ = run_cli(["rights", "due", "--days", "40", "--as", "aud"], capsys)
    assert code == 0 and [r["ref"] for r in due["requests"]] == ["SAR-2026-0042"]
