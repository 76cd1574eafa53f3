"""The holds and retention pages: the hold register read, placed and released through the
HTML forms (bad input names the field and changes nothing), and the retention outlook
listing exactly what the purge would delete, held ones marked."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from access.access_helpers import record
from callvault.bootstrap import Services
from callvault.catalog.store import recordings
from callvault.context import RequestContext, system_context
from callvault.retention.holding import held_ids, holds_covering
from callvault.retention.holds import Hold
from callvault.retention.purge import RetentionService
from callvault.retention.store import holds
from web_pages import (
    SignedIn,
    buttons,
    checked_page,
    csrf_of,
    embedded_leg,  # noqa: F401  (the embedded leg only)
    follow,
    headings,
    post_form,
    text_of,
)
from web_people import PASSWORD

PEOPLE = {
    "cora": "complaints_officer",
    "dana": "dpo",
    "aud": "auditor",
    "tess": "team_leader",
    "adam": "advisor",
    "root": "administrator",
}
# The example policy keeps parking calls 12 months; the caller every test call comes from.
CALLER_DIGITS = ("07700 900123", "7700900123")


@dataclass
class Register:
    services: Services
    clients: SignedIn
    recordings: list[str]

    def person(self, name: str) -> RequestContext:
        return RequestContext(actor=self.services.access.person(name), origin="test")

    def hold_count(self) -> int:
        with self.services.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(holds)).scalar_one())

    def active(self) -> list[str]:
        """The ids of the active holds (read directly: listing them would be audited)."""
        with self.services.engine.connect() as conn:
            return list(conn.scalars(select(holds.c.id).where(holds.c.released_at.is_(None))))

    def hold(self, hold_id: str) -> Hold:
        return self.services.holds.get(self.person("dana"), hold_id)


def _started_for(days_left: float) -> datetime:
    """When a parking call started whose retention date (12 calendar months on) comes about
    ``days_left`` days from now (within a day: a year is 365 or 366 days)."""
    return datetime.now(UTC) + timedelta(days=days_left) - timedelta(days=365)


def _retain_until(services: Services, recording_id: str) -> datetime:
    with services.engine.connect() as conn:
        value = conn.scalar(
            select(recordings.c.retain_until).where(recordings.c.id == recording_id)
        )
    return datetime.fromisoformat(str(value))


def _purge_as_of(services: Services, now: datetime) -> RetentionService:
    """The purge with its clock at ``now``."""
    return RetentionService(
        services.engine,
        services.audit,
        services.policy.policy,
        services.vault,
        services.ledger,
        clock=lambda: now,
    )


def _record_started(
    services: Services, ctx: RequestContext, audio: Path, call_id: str, started: datetime
) -> str:
    return record(
        services,
        ctx,
        audio,
        call_id,
        started_at=started.isoformat(),
        ended_at=(started + timedelta(seconds=3)).isoformat(),
    )


@pytest.fixture
def register(services: Services, ctx: RequestContext, call_wav: Path) -> Iterator[Register]:
    admin = system_context("test")
    for name, role in PEOPLE.items():
        services.access.add_person(admin, name, role, PASSWORD)
    made = [record(services, ctx, call_wav, f"ui-holds-{n}") for n in range(3)]
    clients = SignedIn(services)
    yield Register(services, clients, made)
    clients.close()


# -- /holds -----------------------------------------------------------------------------------
def test_keepers_see_the_register_with_its_forms_auditors_read_only(register: Register) -> None:
    first = register.recordings[0]
    register.services.holds.place(
        register.person("dana"),
        reason="ombudsman",
        case_ref="LGO-2026-0007",
        recording_ids=[first],
        note="stage 2",
    )
    for who in ("cora", "dana", "aud"):
        response = register.clients[who].get("/holds")
        assert response.status_code == 200, who
        page = response.text
        checked_page(page)
        assert headings(page)[:2] == [(1, "Legal holds"), (2, "Active holds")]
        assert "LGO-2026-0007" in page and "Ombudsman investigation" in page
        assert "stage 2" in page and f'href="/recordings/{first}"' in page
        if who == "aud":
            assert 'action="/holds' not in page
            assert buttons(page) == ["Sign out"]
        else:
            assert 'action="/holds"' in page
            assert "Release hold for LGO-2026-0007" in buttons(page)
            assert "Place hold" in buttons(page)
            assert '<label for="recording_ids">' in page and '<label for="case_ref">' in page
    # Every reading of the register is audited (case references are personal data).
    readers = [
        e["actor"] for e in register.services.audit.show(limit=1000) if e["action"] == "hold.listed"
    ]
    assert readers == ["cora", "dana", "aud"]


@pytest.mark.parametrize("who", ["tess", "adam", "root"])
def test_roles_outside_evidence_are_refused_the_register(register: Register, who: str) -> None:
    client = register.clients[who]
    assert client.get("/holds").status_code == 403
    token = csrf_of(client.get("/").text)
    client.headers.pop("X-CSRF-Token", None)
    response = client.post(
        "/holds",
        data={
            "csrf_token": token,
            "recording_ids": register.recordings[0],
            "reason": "complaint",
            "case_ref": "CMP-2026-0001",
        },
        follow_redirects=False,
    )
    assert response.status_code == 403
    assert register.hold_count() == 0


def test_placing_a_hold_by_the_form_holds_every_recording_named_and_is_audited(
    register: Register,
) -> None:
    client = register.clients["cora"]
    one, two, three = register.recordings
    seq = register.services.audit.count()
    response = post_form(
        client,
        "/holds",
        "/holds",
        recording_ids=f"{one}\r\n{two}, {three}\n{one}",
        reason="complaint",
        case_ref="CMP-2026-0042",
        review_on="",
        note="",
    )
    assert response.headers["location"] == "/holds"
    page = follow(client, response)
    assert "Hold placed for CMP-2026-0042: 3 recordings kept until it is released." in page
    (hold_id,) = register.active()
    hold = register.hold(hold_id)
    assert set(hold.recording_ids) == {one, two, three}
    assert (hold.reason, hold.case_ref, hold.placed_by, hold.owner) == (
        "complaint",
        "CMP-2026-0042",
        "cora",
        "cora",
    )
    placed = [e for e in register.services.audit.show(after=seq) if e["action"] == "hold.placed"]
    assert [e["actor"] for e in placed] == ["cora"]


@pytest.mark.parametrize(
    ("fields", "field", "says"),
    [
        ({"case_ref": ""}, "case_ref", "case_ref is required"),
        ({"reason": ""}, "reason", "reason is required"),
        ({"reason": "curiosity"}, "reason", "unknown reason"),
        ({"recording_ids": ""}, "recording_ids", "name the recordings to hold"),
        ({"recording_ids": "f" * 32}, "recording_ids", "no recording"),
        ({"recording_ids": "../etc/passwd"}, "recording_ids", "is not an id"),
        ({"review_on": "2020-01-01"}, "review_on", "is in the past"),
        ({"review_on": "next week"}, "review_on", "review_on"),
        ({"case_ref": "x" * 101}, "case_ref", "case_ref is required"),
    ],
)
def test_bad_input_names_the_field_keeps_what_was_entered_and_changes_nothing(
    register: Register, fields: dict[str, str], field: str, says: str
) -> None:
    client = register.clients["dana"]
    token = csrf_of(client.get("/holds").text)
    client.headers.pop("X-CSRF-Token", None)
    seq = register.services.audit.count()
    good = {
        "recording_ids": register.recordings[0],
        "reason": "complaint",
        "case_ref": "CMP-2026-0043",
        "review_on": "",
        "note": "kept for the panel",
    }
    response = client.post(
        "/holds", data={"csrf_token": token, **good, **fields}, follow_redirects=False
    )
    assert response.status_code == 422
    page = response.text
    checked_page(page)
    assert headings(page)[:2] == [(1, "Place a hold"), (2, "There is a problem")]
    summary = page.split('class="error-summary"')[1].split("</div>")[0]
    assert f'href="#{field}"' in summary and says in text_of(summary)
    assert re.search(rf'<(?:input|select|textarea) id="{field}"[^>]*aria-invalid="true"', page)
    assert "kept for the panel" in page  # what was entered is not lost
    assert register.hold_count() == 0
    assert register.services.audit.count() == seq


def test_placing_without_the_sessions_csrf_token_is_refused(register: Register) -> None:
    client = register.clients["dana"]
    client.headers.pop("X-CSRF-Token", None)
    for token in ({}, {"csrf_token": "forged"}):
        response = client.post(
            "/holds",
            data={
                **token,
                "recording_ids": register.recordings[0],
                "reason": "complaint",
                "case_ref": "CMP-2026-0044",
            },
            follow_redirects=False,
        )
        assert response.status_code == 403
    assert register.hold_count() == 0


def test_release_needs_a_reason_is_audited_and_anyone_who_may_releases(
    register: Register,
) -> None:
    hold = register.services.holds.place(
        register.person("dana"),
        reason="complaint",
        case_ref="CMP-2026-0045",
        recording_ids=register.recordings[:1],
    )
    client = register.clients["cora"]
    action = f"/holds/{hold.id}/release"
    seq = register.services.audit.count()

    missing = post_form(client, "/holds", action, reason="")
    assert missing.status_code == 422 and "fill in reason" in missing.text
    assert register.active() != []
    assert [e["action"] for e in register.services.audit.show(after=seq)] == ["hold.listed"]

    seq = register.services.audit.count()
    done = post_form(client, "/holds", action, reason="complaint closed 1 Dec")
    assert "Hold for CMP-2026-0045 released." in follow(client, done)
    assert register.active() == []
    released = [
        e for e in register.services.audit.show(after=seq) if e["action"] == "hold.released"
    ]
    assert released[0]["actor"] == "cora"
    assert released[0]["details"]["reason"] == "complaint closed 1 Dec"

    again = post_form(client, "/holds", action, reason="twice")
    assert again.status_code == 409


def test_auditors_may_not_release(register: Register) -> None:
    hold = register.services.holds.place(
        register.person("dana"),
        reason="complaint",
        case_ref="CMP-2026-0046",
        recording_ids=register.recordings[:1],
    )
    response = post_form(
        register.clients["aud"], "/holds", f"/holds/{hold.id}/release", reason="closed"
    )
    assert response.status_code == 403
    assert register.active() == [hold.id]


def test_release_buttons_have_distinct_names_for_the_same_case(register: Register) -> None:
    for rid in register.recordings[:2]:
        register.services.holds.place(
            register.person("dana"),
            reason="complaint",
            case_ref="CMP-2026-0047",
            recording_ids=[rid],
        )
    names = [
        b for b in buttons(register.clients["dana"].get("/holds").text) if b.startswith("Release")
    ]
    assert len(names) == 2 and len(set(names)) == 2
    assert all(name.startswith("Release hold for CMP-2026-0047, placed ") for name in names)


# -- /retention -------------------------------------------------------------------------------
@dataclass
class Schedule:
    soon: str  # due in 3 days
    held_by_id: str  # due in 10 days, held by a hold naming it
    held_by_search: str  # due in 20 days, held by a saved-search hold
    later: str  # due in 60 days
    overdue_held: str  # past its date already, held
    fresh: str  # a call of an hour ago: a year to go


@pytest.fixture
def schedule(register: Register, ctx: RequestContext, call_wav: Path) -> Schedule:
    services = register.services

    def call(name: str, days_left: float) -> str:
        return _record_started(services, ctx, call_wav, name, _started_for(days_left))

    made = Schedule(
        soon=call("due-3", 3),
        held_by_id=call("due-10", 10),
        held_by_search=call("due-20", 20),
        later=call("due-60", 60),
        overdue_held=call("due-past", -2),
        fresh=register.recordings[0],
    )
    dana = register.person("dana")
    services.holds.place(
        dana,
        reason="complaint",
        case_ref="CMP-2026-0101",
        recording_ids=[made.held_by_id, made.overdue_held],
    )
    around = _started_for(20)
    services.holds.place(
        dana,
        reason="litigation",
        case_ref="CLAIM-77",
        line="parking",
        started_from=(around - timedelta(minutes=1)).isoformat(),
        started_to=(around + timedelta(minutes=1)).isoformat(),
    )
    return made


def _listed(page: str) -> dict[str, str]:
    """recording id -> its "what happens" cell, in the order the table lists them."""
    body = page.split("<tbody>")[1].split("</tbody>", maxsplit=1)[0]
    rows = re.findall(r"<tr>(.*?)</tr>", body, re.S)
    found = {}
    for row in rows:
        rid = re.search(r'href="/recordings/([0-9a-f]+)"', row)
        assert rid
        found[rid.group(1)] = text_of(re.findall(r"<td>(.*?)</td>", row, re.S)[-1])
    return found


def test_the_outlook_lists_exactly_what_the_purge_would_delete_and_marks_holds(
    register: Register, schedule: Schedule, ctx: RequestContext
) -> None:
    client = register.clients["dana"]
    response = client.get("/retention?within=30")
    assert response.status_code == 200
    page = response.text
    checked_page(page)
    listed = _listed(page)
    # Soonest date first; the 60-day one is outside the window, the fresh call a year away.
    assert list(listed) == [
        schedule.overdue_held,
        schedule.soon,
        schedule.held_by_id,
        schedule.held_by_search,
    ]
    assert listed[schedule.soon] == "deleted at the first purge after its date"
    assert listed[schedule.held_by_id] == "kept by hold CMP-2026-0101 (Complaint)"
    assert listed[schedule.overdue_held] == "kept by hold CMP-2026-0101 (Complaint)"
    assert listed[schedule.held_by_search] == "kept by hold CLAIM-77 (Litigation)"

    # What the purge itself would delete as of 30 days on: the same, less the held ones.
    month_on = datetime.now(UTC) + timedelta(days=30)
    dry = _purge_as_of(register.services, month_on).run(ctx, dry_run=True)
    unheld = {rid for rid, what in listed.items() if not what.startswith("kept")}
    assert set(dry.due) == unheld == {schedule.soon}
    assert dry.counts.held == 3

    facts = dict(re.findall(r"<dt>(.*?)</dt>\s*<dd>(\d+)</dd>", page))
    assert facts == {
        "Due to be deleted this week": "1",
        "Due to be deleted within 30 days": "1",
        "Kept by a hold past their date already": "1",
        "Kept by a hold within 30 days": "3",
    }
    # Dates as London reads them, and no caller number anywhere.
    until = _retain_until(register.services, schedule.soon).astimezone(ZoneInfo("Europe/London"))
    assert f"{until.day} {until:%b %Y}" in page
    for digits in CALLER_DIGITS:
        assert digits not in page.replace(" ", "") and digits not in page
    (entry,) = [
        e for e in register.services.audit.show(limit=1000) if e["action"] == "retention.outlook"
    ]
    assert entry["actor"] == "dana" and entry["details"]["due"] == 1


def test_a_wider_window_lists_more_and_the_soonest_week_alone_less(
    register: Register, schedule: Schedule
) -> None:
    client = register.clients["aud"]
    ninety = _listed(client.get("/retention?within=90").text)
    assert schedule.later in ninety and schedule.fresh not in ninety
    week = _listed(client.get("/retention?within=7").text)
    assert list(week) == [schedule.overdue_held, schedule.soon]


def test_holds_covering_names_the_same_recordings_held_ids_finds(
    register: Register, schedule: Schedule
) -> None:
    everything = [
        *register.recordings,
        schedule.soon,
        schedule.held_by_id,
        schedule.held_by_search,
        schedule.later,
        schedule.overdue_held,
    ]
    with register.services.engine.connect() as conn:
        covering = holds_covering(conn, everything)
        assert set(covering) == held_ids(conn, everything)
    assert [ref.case_ref for ref in covering[schedule.held_by_search]] == ["CLAIM-77"]


@pytest.mark.parametrize("within", ["5", "365", "soon"])
def test_only_the_offered_windows_are_read(register: Register, within: str) -> None:
    response = register.clients["dana"].get(f"/retention?within={within}")
    assert response.status_code == 422
    assert "within" in response.text


@pytest.mark.parametrize("who", ["tess", "adam", "root"])
def test_roles_outside_retention_are_refused_the_outlook(register: Register, who: str) -> None:
    assert register.clients[who].get("/retention").status_code == 403
