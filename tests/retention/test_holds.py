"""Legal holds (both legs): placed by id or saved search, what purge asks (``held_ids``),
released with a reason, reminded once per review date; bad input named and changing nothing;
the CLI's JSON and exit codes; the API's allow and deny."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from access.access_helpers import add_people, as_person, entries, record, run_cli
from callvault.bootstrap import Services
from callvault.catalog.store import recordings
from callvault.cli.output import operator_context
from callvault.context import RequestContext, system_context
from callvault.db import transaction
from callvault.errors import BadInput, Conflict, NotFound, Refused
from callvault.jobs.dbqueue import DatabaseQueue
from callvault.jobs.hold_tasks import HOLD_REVIEWS
from callvault.retention.hold_terms import DEFAULT_REVIEW_DAYS
from callvault.retention.holding import held_ids
from callvault.retention.holds import HoldService
from callvault.retention.store import hold_recordings, holds
from callvault.vault.s3 import S3BlobStore
from callvault.web.app import create_app
from jobs.jobs_helpers import burst
from web_people import sign_in

NOW = datetime.now(UTC)
TODAY = NOW.date()
OTHER_CALLER = "07700 900456"  # as the PBX spells it; stored as +447700900456


@dataclass
class Home:
    services: Services
    ctx: RequestContext
    wav: Path
    first: str  # caller 07700 900123, an hour ago
    second: str  # caller 07700 900456, two hours ago

    def ingest(self, call_id: str, **meta: Any) -> str:
        return record(self.services, self.ctx, self.wav, call_id, **meta)

    def held(self, *ids: str) -> set[str]:
        with self.services.engine.connect() as conn:
            return held_ids(conn, ids or (self.first, self.second))


@pytest.fixture
def world(services: Services, ctx: RequestContext, call_wav: Path) -> Home:
    add_people(services, ctx)
    first = record(services, ctx, call_wav, "pbx-1")
    started = NOW - timedelta(hours=2)
    second = record(
        services, ctx, call_wav, "pbx-2", caller=OTHER_CALLER,
        started_at=started.isoformat(), ended_at=(started + timedelta(seconds=3)).isoformat(),
    )  # fmt: skip
    return Home(services, ctx, call_wav, first, second)


def _place(home: Home, who: str = "cora", **fields: Any) -> Any:
    fields = {"reason": "complaint", "case_ref": "CMP-2026-0042"} | fields
    return home.services.holds.place(as_person(home.services, who), **fields)


def _rows(services: Services) -> tuple[int, int]:
    with services.engine.connect() as conn:
        count = [
            conn.execute(select(func.count()).select_from(table)).scalar_one()
            for table in (holds, hold_recordings)
        ]
    return int(count[0]), int(count[1])


def _blob_hold(services: Services, request: pytest.FixtureRequest, rec_id: str) -> str:
    """The object store's legal hold on a recording's blob: "ON", "OFF", or "none" where the
    store has no Object Lock (files)."""
    store = services.blobs
    if not isinstance(store, S3BlobStore):
        return "none"
    assert store.supports_object_lock  # the scale leg's bucket is locked
    client = request.getfixturevalue("s3_server").client()
    with services.engine.connect() as conn:
        name = conn.execute(select(recordings.c.blob_name).where(recordings.c.id == rec_id))
        key = store.location.key_for(name.scalar_one())
    found = client.get_object_legal_hold(Bucket=store.location.bucket, Key=key)
    return str(found.get("LegalHold", {}).get("Status", "OFF"))


def _mirrored(world: Home, status: str) -> str:
    return status if isinstance(world.services.blobs, S3BlobStore) else "none"


def _service_at(services: Services, when: datetime) -> HoldService:
    lines = frozenset(line.id for line in services.policy.policy.lines)
    return HoldService(services.engine, services.audit, services.permissions, services.access,
                       services.vault, lines, clock=lambda: when)  # fmt: skip


def test_hold_by_id_until_released(world: Home, request: pytest.FixtureRequest) -> None:
    services = world.services
    before = services.audit.count()
    hold = _place(world, recording_ids=[world.first, world.first], note="caller disputes")
    assert hold.recording_ids == (world.first,) and hold.search is None
    assert (hold.owner, hold.placed_by) == ("cora", "cora")  # the placer owns it by default
    assert hold.review_on == (TODAY + timedelta(days=DEFAULT_REVIEW_DAYS)).isoformat()
    assert hold.active and not hold.due
    assert world.held() == {world.first}
    (placed,) = entries(services, before)
    assert (placed["action"], placed["object_id"]) == ("hold.placed", hold.id)
    assert (placed["purpose"], placed["case_ref"]) == ("complaint", "CMP-2026-0042")
    assert placed["details"]["recording_ids"] == [world.first]
    assert placed["details"]["review_on"] == hold.review_on
    assert _blob_hold(services, request, world.first) == _mirrored(world, "ON")

    released = services.holds.release(as_person(services, "dana"), hold.id, "complaint closed")
    assert not released.active and released.released_by == "dana"
    assert released.release_reason == "complaint closed"
    assert world.held() == set()
    assert [e["action"] for e in entries(services, before)] == ["hold.placed", "hold.released"]
    assert _blob_hold(services, request, world.first) == _mirrored(world, "OFF")
    assert services.audit.verify().ok


def test_saved_search_holds_calls_imported_later(world: Home) -> None:
    hold = _place(world, caller="+44 (0)7700 900456", started_from=(NOW - timedelta(days=1))
                  .isoformat(), started_to=(NOW + timedelta(days=1)).isoformat())  # fmt: skip
    assert hold.search is not None and hold.search.caller == "+447700900456"
    assert hold.recording_ids == ()
    assert world.held() == {world.second}
    # Imported after the hold was placed, and matching it: held too.
    later = world.ingest("pbx-3", caller=OTHER_CALLER)
    elsewhere = world.ingest("pbx-4", caller="07700 900789")
    assert world.held(later, elsewhere, world.first) == {later}

    by_line = _place(world, "sam", reason="injunction", case_ref="SAF-2026-0007", line="parking")
    assert world.held(later, elsewhere, world.first) == {later, elsewhere, world.first}
    world.services.holds.release(as_person(world.services, "sam"), by_line.id, "order refused")
    assert world.held(later, elsewhere, world.first) == {later}


def test_a_release_lifts_only_what_no_other_hold_covers(
    world: Home, request: pytest.FixtureRequest
) -> None:
    services = world.services
    by_id = _place(world, recording_ids=[world.first])
    by_caller = _place(world, "dana", reason="subject_access", case_ref="SAR-2026-0001",
                       caller="07700 900123")  # fmt: skip
    services.holds.release(as_person(services, "cora"), by_id.id, "complaint closed")
    assert world.held() == {world.first}
    assert _blob_hold(services, request, world.first) == _mirrored(world, "ON")
    services.holds.release(as_person(services, "dana"), by_caller.id, "request answered")
    assert world.held() == set()
    assert _blob_hold(services, request, world.first) == _mirrored(world, "OFF")
    with pytest.raises(Conflict, match="already released"):
        services.holds.release(as_person(services, "dana"), by_caller.id, "again")


def _purge(home: Home, rec_id: str) -> None:
    """What a purge leaves: the row as a tombstone."""
    with transaction(home.services.engine) as conn:
        conn.execute(
            update(recordings).where(recordings.c.id == rec_id).values(purged_at=NOW.isoformat())
        )


YESTERDAY, TOMORROW = (TODAY - timedelta(days=1)).isoformat(), (TODAY + timedelta(days=1))


BACKWARDS = {"recording_ids": [], "started_from": str(TOMORROW), "started_to": str(TODAY)}
# 10:00 at UTC+1 is 09:00 UTC: not before 09:00 UTC, whatever comparing the text would say.
BACKWARDS_ACROSS_ZONES = {
    "recording_ids": [],
    "started_from": "2026-11-01T10:00:00+01:00",
    "started_to": "2026-11-01T09:00:00Z",
}


@pytest.mark.parametrize(
    ("fields", "field", "match"),
    [
        ({"reason": None}, "reason", "reason is required; one of: complaint"),
        ({"reason": "revenge"}, "reason", "unknown reason 'revenge'"),
        ({"case_ref": ""}, "case_ref", "case_ref is required"),
        ({"case_ref": "x" * 101}, "case_ref", "1 to 100 characters"),
        # PostgreSQL refuses NUL in text: refused before it gets there, on both legs.
        ({"case_ref": "CMP\x00-1"}, "case_ref", "control characters"),
        ({"owner": "da\x00na"}, "owner", "control characters"),
        ({"recording_ids": [], "line": "park\x00ing"}, "line", "a line id from the policy"),
        ({"recording_ids": []}, "recording_ids", "name the recordings to hold"),
        ({"recording_ids": ["feedface"]}, "recording_ids", "no recording 'feedface'"),
        ({"recording_ids": ["../etc"]}, "recording_ids", "is not an id"),
        ({"recording_ids": ["PURGED"]}, "recording_ids", "was purged on"),
        ({"review_on": YESTERDAY}, "review_on", "is in the past"),
        ({"review_on": "next week"}, "review_on", "not a date as YYYY-MM-DD"),
        ({"review_on": "2026-13-01"}, "review_on", "not a date as YYYY-MM-DD"),
        ({"owner": "nobody"}, "owner", "is not a known user"),
        ({"owner": "adam"}, "owner", "may not review or release holds"),
        ({"recording_ids": [], "caller": "parking"}, "caller", "caller"),
        ({"recording_ids": [], "line": "nowhere"}, "line", "unknown line 'nowhere'"),
        ({"recording_ids": [], "started_from": "May"}, "from", "not a date or time"),
        (BACKWARDS, "from", "must be before to"),
        (BACKWARDS_ACROSS_ZONES, "from", "must be before to"),
        ({"note": "x" * 2001}, "note", "at most 2000"),
    ],
)
def test_bad_input_is_named_and_changes_nothing(
    world: Home, fields: dict[str, Any], field: str, match: str
) -> None:
    services = world.services
    _purge(world, world.second)
    fields = dict(fields)  # the parameters are shared by both legs
    given = fields.pop("recording_ids", [world.first])
    ids = [world.second if i == "PURGED" else i for i in given]
    before, rows = services.audit.count(), _rows(services)
    with pytest.raises(BadInput, match=match) as raised:
        _place(world, recording_ids=ids, **fields)
    assert raised.value.field == field
    assert _rows(services) == rows == (0, 0) and services.audit.count() == before


def test_the_operator_names_an_owner(world: Home) -> None:
    services = world.services
    with pytest.raises(BadInput, match="owner is required") as raised:
        services.holds.place(operator_context(), reason="litigation", case_ref="LEG-1",
                             recording_ids=[world.first])  # fmt: skip
    assert raised.value.field == "owner" and _rows(services) == (0, 0)
    hold = services.holds.place(operator_context(), reason="litigation", case_ref="LEG-1",
                                recording_ids=[world.first], owner="mina",
                                review_on=TODAY.isoformat())  # fmt: skip
    assert hold.owner == "mina" and hold.placed_by.startswith("operator:") and hold.due


def test_who_may_place_read_and_release(world: Home) -> None:
    services = world.services
    for who in ("cora", "mina", "sam", "dana"):
        _place(world, who, recording_ids=[world.first])
    for who in ("adam", "root", "tess", "aud"):
        before = services.audit.count()
        with pytest.raises(Refused, match="may not do holds:place"):
            _place(world, who, recording_ids=[world.first])
        assert [e["action"] for e in entries(services, before)] == ["access.refused"]
    assert len(services.holds.list(as_person(services, "aud"))) == 4
    for who in ("adam", "root", "tess"):
        with pytest.raises(Refused, match="may not do holds:read"):
            services.holds.list(as_person(services, who))
    first = services.holds.list(as_person(services, "cora"))[0]
    with pytest.raises(Refused, match="may not do holds:release"):
        services.holds.release(as_person(services, "aud"), first.id, "not mine to end")
    assert _rows(services) == (4, 4)


def test_release_needs_a_reason_and_an_existing_hold(world: Home) -> None:
    services = world.services
    hold = _place(world, recording_ids=[world.first])
    cora = as_person(services, "cora")
    before = services.audit.count()
    with pytest.raises(BadInput, match="reason is required") as raised:
        services.holds.release(cora, hold.id, "  ")
    assert raised.value.field == "reason"
    with pytest.raises(NotFound, match="no hold 'feedface'"):
        services.holds.release(cora, "feedface", "closed")
    with pytest.raises(BadInput, match="hold_id"):
        services.holds.release(cora, "../x", "closed")
    assert services.audit.count() == before and services.holds.get(cora, hold.id).active


def test_reviews_are_reminded_once_per_date(world: Home) -> None:
    services = world.services
    system = system_context("hold-reviews", origin="job")
    soon = _place(world, recording_ids=[world.first], review_on=TOMORROW.isoformat())
    _place(world, recording_ids=[world.second])  # reviewed in 90 days
    assert services.holds.remind(system) == []  # not due yet
    in_two_days = _service_at(services, NOW + timedelta(days=2))
    assert [h.id for h in in_two_days.list(as_person(services, "cora"), due_only=True)] == [soon.id]
    before = services.audit.count()
    assert in_two_days.remind(system) == [soon.id]
    assert in_two_days.remind(system) == []  # once per review date
    (reminder,) = [e for e in entries(services, before) if e["action"] == "hold.review_due"]
    assert reminder["object_id"] == soon.id and reminder["case_ref"] == "CMP-2026-0042"

    later = (TODAY + timedelta(days=30)).isoformat()
    moved = in_two_days.review(as_person(services, "dana"), soon.id, later)
    assert moved.review_on == later and not moved.due
    assert entries(services)[-1]["details"] == {"from": TOMORROW.isoformat(), "to": later}
    assert _service_at(services, NOW + timedelta(days=31)).remind(system) == [soon.id]
    with pytest.raises(Refused, match="holds:remind"):
        services.holds.remind(as_person(services, "dana"))
    with pytest.raises(BadInput, match="is required") as raised:
        services.holds.review(as_person(services, "dana"), soon.id, None)
    assert raised.value.field == "review_on"


def test_the_daily_job_writes_the_reminders(world: Home) -> None:
    services = world.services
    hold = _place(world, recording_ids=[world.first], review_on=TODAY.isoformat())
    queue = services.jobs
    assert isinstance(queue, DatabaseQueue)
    for key in ("day-1", "day-2"):
        assert queue.enqueue_periodic(HOLD_REVIEWS, key=key, queue="retention")
    ran = burst(services)  # with the recordings' verify jobs
    assert ran.failed == 0 and ran.done >= 2
    reminders = [e for e in entries(services) if e["action"] == "hold.review_due"]
    assert [(e["object_id"], e["actor"]) for e in reminders] == [(hold.id, "system:worker")]
    assert services.audit.verify().ok


def test_hold_commands(
    world: Home, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    services = world.services
    monkeypatch.setenv("CALLVAULT_HOME", str(services.settings.home))
    add = ["hold", "add", world.first, "--reason", "ombudsman", "--case", "LGO-2026-0101"]
    code, placed, _ = run_cli([*add, "--as", "cora"], capsys)
    assert code == 0 and placed["recording_ids"] == [world.first]
    assert {"hold_id", "status", "review_on", "owner", "search"} <= set(placed)
    code, _, error = run_cli([*add, "--review", YESTERDAY, "--as", "cora"], capsys)
    assert code == 2 and error["field"] == "review_on"
    code, _, error = run_cli([*add, "--as", "adam"], capsys)
    assert code == 3 and "holds:place" in error["error"]
    code, _, error = run_cli(add, capsys)  # the operator, without --owner
    assert code == 2 and error["field"] == "owner"
    code, searched, _ = run_cli(["hold", "add", "--reason", "police_request", "--case", "CRM-1",
                                 "--caller", OTHER_CALLER, "--owner", "dana"], capsys)  # fmt: skip
    assert code == 0 and searched["search"]["caller"] == "+447700900456"

    code, listed, _ = run_cli(["hold", "list", "--as", "aud"], capsys)
    assert code == 0 and {h["hold_id"] for h in listed["holds"]} == {
        placed["hold_id"],
        searched["hold_id"],
    }
    later = (TODAY + timedelta(days=14)).isoformat()
    code, reviewed, _ = run_cli(["hold", "review", placed["hold_id"], "--on", later], capsys)
    assert code == 0 and reviewed["review_on"] == later
    release = ["hold", "release", placed["hold_id"], "--reason", "ombudsman closed the case"]
    code, released, _ = run_cli(release, capsys)
    assert code == 0 and released["hold_id"] == placed["hold_id"]
    assert released["status"] == "released"
    code, _, error = run_cli(release, capsys)
    assert code == 2 and "already released" in error["error"]
    code, _, error = run_cli(["hold", "release", "f" * 32, "--reason", "x"], capsys)
    assert code == 2 and error["field"] == "hold_id"
    code, listed, _ = run_cli(["hold", "list", "--all"], capsys)
    assert code == 0 and len(listed["holds"]) == 2
    code, listed, _ = run_cli(["hold", "list", "--due"], capsys)
    assert code == 0 and listed["holds"] == []


@pytest.fixture
def signed_in(world: Home) -> Callable[[str], TestClient]:
    app = create_app(world.services)

    def client_for(username: str) -> TestClient:
        client = TestClient(app, base_url="https://testserver")
        sign_in(client, world.services, username)
        return client

    return client_for


def test_hold_api(world: Home, signed_in: Callable[[str], TestClient]) -> None:
    services = world.services
    cora, adam = signed_in("cora"), signed_in("adam")
    body = {"reason": "complaint", "case_ref": "CMP-2026-0077", "line": "parking",
            "from": (NOW - timedelta(days=1)).isoformat(), "to": NOW.isoformat()}  # fmt: skip
    placed = cora.post("/api/v1/holds", json=body)
    assert placed.status_code == 201, placed.text
    hold = placed.json()
    assert hold["search"]["line"] == "parking" and hold["owner"] == "cora"
    assert world.held() == {world.first, world.second}
    bad = cora.post("/api/v1/holds", json=body | {"reason": "spite"})
    assert bad.status_code == 422 and bad.json()["field"] == "reason"
    assert adam.post("/api/v1/holds", json=body).status_code == 403
    assert adam.get("/api/v1/holds").status_code == 403
    listed = cora.get("/api/v1/holds").json()["holds"]
    assert [h["hold_id"] for h in listed] == [hold["hold_id"]]
    release = f"/api/v1/holds/{hold['hold_id']}/release"
    assert cora.post(release).status_code == 422  # no reason
    assert adam.post(release, json={"reason": "x"}).status_code == 403
    done = cora.post(release, json={"reason": "resolved at stage 1"})
    assert done.status_code == 200 and done.json()["status"] == "released"
    assert cora.post(release, json={"reason": "again"}).status_code == 409
    assert cora.get("/api/v1/holds?all=true").json()["holds"][0]["status"] == "released"
    assert world.held() == set() and _rows(services) == (1, 0)
