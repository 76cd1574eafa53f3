"""The recording page and asking for access through its form: visible by the search's own
rules, every read audited (the page, its holds, its trail), requests made by the grant flow
with the CSRF token as a form field, refusals that change nothing."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from access.access_helpers import record
from callvault.access.actions import ACTIONS
from callvault.access.grants import GrantService
from callvault.access.store import grants as grants_table
from callvault.bootstrap import Services
from callvault.context import RequestContext, system_context
from web_pages import (
    SignedIn,
    checked_page,
    csrf_of,
    embedded_leg,  # noqa: F401  (the embedded leg only)
    headings,
    post_form,
    tag_of,
    text_of,
)
from web_people import PASSWORD

PEOPLE = {
    "cora": "complaints_officer",
    "dana": "dpo",
    "tess": "team_leader",
    "adam": "advisor",
    "root": "administrator",
}
PARKING, ADULT_CARE = "020 7371 5678", "0800 145 6095"
SECTIONS = ["Details", "Why it was recorded", "Retention and holds", "Audit trail",
            "Request access"]  # fmt: skip


# -- reading pages as a browser would ---------------------------------------------------------
def section(html: str, heading_id: str) -> str:
    found = re.search(rf'<section aria-labelledby="{heading_id}">(.*?)</section>', html, re.S)
    return found.group(1) if found else ""


def facts(html: str) -> dict[str, str]:
    return {text_of(term): text_of(value)
            for term, value in re.findall(r"<dt>(.*?)</dt><dd>(.*?)</dd>", html, re.S)}  # fmt: skip


# -- the world --------------------------------------------------------------------------------
@dataclass
class World:
    services: Services
    clients: SignedIn
    parking: str
    care: str  # special category: team leaders never see it

    def page(self, who: str, recording_id: str | None = None) -> httpx.Response:
        response: httpx.Response = self.clients[who].get(
            f"/recordings/{recording_id or self.parking}"
        )
        return response

    def entries(self, after: int = 0) -> list[dict[str, Any]]:
        return self.services.audit.show(after=after, limit=10_000)

    def grants_of(self, who: str) -> list[Any]:
        with self.services.engine.connect() as conn:
            return list(conn.execute(grants_table.select().where(grants_table.c.requester == who)))

    def ask(self, who: str, recording_id: str | None = None, **fields: str) -> httpx.Response:
        """Post the request form as a browser does: the token as a field, not a header."""
        page = f"/recordings/{recording_id or self.parking}"
        return post_form(self.clients[who], page, f"{page}/request", **fields)


@pytest.fixture
def world(services: Services, ctx: RequestContext, call_wav: Path) -> Iterator[World]:
    admin = system_context("test")
    for name, role in PEOPLE.items():
        services.access.add_person(admin, name, role, PASSWORD)
    started = datetime(2026, 11, 20, 14, 5, tzinfo=UTC)
    times = {"started_at": started.isoformat(),
             "ended_at": (started + timedelta(seconds=3)).isoformat()}  # fmt: skip
    parking = record(services, ctx, call_wav, "rp-1", dialled=PARKING, caller="07700 900123",
                     agent="agent-17", **times)  # fmt: skip
    care = record(services, ctx, call_wav, "rp-2", dialled=ADULT_CARE, agent="agent-22")
    clients = SignedIn(services)
    yield World(services, clients, parking, care)
    clients.close()


# -- the page ---------------------------------------------------------------------------------
def test_the_page_shows_the_recording_in_its_sections_and_is_audited(world: World) -> None:
    world.clients.sign_in("cora")
    before = world.services.audit.count()
    response = world.page("cora")
    assert response.status_code == 200
    html = response.text
    checked_page(html)
    assert headings(html)[0] == (1, "Parking call, 20 Nov 2026, 14:05")
    assert [text for level, text in headings(html) if level == 2] == SECTIONS
    details = facts(section(html, "details"))
    assert details["Line"] == "Parking" and details["Direction"] == "Inbound"
    assert details["Agent"] == "agent-17" and details["Caller"] == "+447700900123"
    assert details["Started (UK time)"] == "20 Nov 2026, 14:05"
    assert details["Duration"] == "0:03" and details["Recording id"] == world.parking
    assert details["Channels"].startswith("2 (caller on channel 1, agent on channel 2")
    why = facts(section(html, "why"))
    policy = world.services.policy.policy
    assert why["Rule"] == "line:parking" and "Parking line" in why["Decision"]
    assert why["Policy version"] == f"{policy.version} (the policy in force now)"
    assert why["Number dialled"] == "+442073715678"
    assert why["Recording announcement"] == "Played to the caller"
    retention = facts(section(html, "retention"))
    rec = world.services.catalog.get(world.parking)
    assert rec.retain_until.startswith("2027-11-20")
    assert retention["Kept until"] == "20 Nov 2027" and retention["Legal hold"].startswith("None")
    # Read and trail read, both audited before the page went out.
    viewed, trail_read = world.entries(before)
    assert viewed["action"] == "recording.viewed" and viewed["object_id"] == world.parking
    assert viewed["actor"] == "cora"
    assert trail_read["action"] == "audit.read"
    assert trail_read["details"]["object"] == world.parking
    assert world.services.audit.verify().ok


def trail_rows(html: str) -> list[list[str]]:
    """The trail's body rows: [when, who, action, purpose, case reference]."""
    trail = section(html, "trail")
    return [[text_of(cell) for cell in re.findall(r"<td>(.*?)</td>", row, re.S)]
            for row in re.findall(r"<tr>(.*?)</tr>", trail, re.S)[1:]]  # fmt: skip


def test_the_trail_lists_the_recordings_own_entries_latest_first(world: World) -> None:
    world.page("dana")
    html = world.page("cora").text
    rows = trail_rows(html)
    assert [(row[1], row[2]) for row in rows] == [
        ("cora", "Details viewed"),
        ("dana", "Details viewed"),
        ("system:test", "Stored"),
    ]
    # Another recording's entries are not this one's trail.
    assert len(rows) == 3


def test_the_trail_shows_who_asked_to_hear_it_and_who_decided(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Requests are audited under the grant's id: the trail finds them by the grants that
    cover the recording, and names their purpose and their steps in words."""
    services = world.services
    services.access.add_person(system_context("test"), "mina", "authorised_manager", PASSWORD)
    cora, mina = (RequestContext(actor=services.access.person(who), origin="test")
                  for who in ("cora", "mina"))  # fmt: skip
    withdrawn = services.grants.request(cora, [world.parking], "ombudsman", "LGO-2026-0003")
    services.grants.approve(mina, withdrawn.id)
    services.grants.revoke(cora, withdrawn.id, "asked by mistake")
    denied = services.grants.request(cora, [world.parking], "ombudsman", "LGO-2026-0004")
    services.grants.deny(mina, denied.id)
    # A purpose without a second approver approves itself, said as such.
    services.grants.request(cora, [world.parking], "complaint", "CMP-2026-0006")
    # A grant for another recording alone is not this one's.
    services.grants.request(cora, [world.care], "complaint", "CMP-2026-0005")
    world.clients.sign_in("cora")
    before = world.services.audit.count()
    html = world.page("cora").text
    checked_page(html)
    ombudsman, complaint = "Ombudsman investigation", "Complaint investigation"
    assert [row[1:] for row in trail_rows(html)] == [
        ["cora", "Details viewed", "", ""],
        ["cora", "Approved automatically", complaint, "CMP-2026-0006"],
        ["cora", "Access requested", complaint, "CMP-2026-0006"],
        ["mina", "Denied", ombudsman, "LGO-2026-0004"],
        ["cora", "Access requested", ombudsman, "LGO-2026-0004"],
        ["cora", "Withdrawn", ombudsman, "LGO-2026-0003"],
        ["mina", "Approved", ombudsman, "LGO-2026-0003"],
        ["cora", "Access requested", ombudsman, "LGO-2026-0003"],
        ["system:test", "Stored", "", ""],
    ]
    # Reading it is audited, naming the grants whose entries it showed.
    (trail_read,) = [e for e in world.entries(before) if e["action"] == "audit.read"]
    assert trail_read["details"]["object"] == world.parking
    assert len(trail_read["details"]["grants"]) == 3
    assert {withdrawn.id, denied.id} < set(trail_read["details"]["grants"])
    # The page shows the latest entries, and says how many there are in all.
    monkeypatch.setattr("callvault.web.pages.recording.TRAIL_SHOWN", 3)
    html = world.page("cora").text
    assert [row[2] for row in trail_rows(html)] == [
        "Details viewed",
        "Details viewed",
        "Approved automatically",
    ]
    assert "(the latest 3 of 10)" in section(html, "trail")


def test_latest_about_reads_the_newest_entries_of_several_objects(world: World) -> None:
    audit = world.services.audit
    entries, total = audit.latest_about([world.parking, world.care, world.care], 1)
    assert total == 2 and [e["object_id"] for e in entries] == [world.care]
    both, _ = audit.latest_about([world.care, world.parking], 10)
    assert [e["object_id"] for e in both] == [world.care, world.parking]
    assert [e["seq"] for e in both] == sorted((e["seq"] for e in both), reverse=True)
    assert audit.latest_about([], 10) == ([], 0)
    assert audit.latest_about(["f" * 32], 10) == ([], 0)


def test_the_trail_shows_only_to_roles_that_may_read_it(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(ACTIONS, "recordings:trail", frozenset({"role:dpo"}))
    world.clients.sign_in("cora", "dana")
    before = world.services.audit.count()
    html = world.page("cora").text
    assert "Audit trail" not in html and 'id="trail"' not in html
    assert [e["action"] for e in world.entries(before)] == ["recording.viewed"]
    html = world.page("dana").text
    assert ">Audit trail</h2>" in html
    assert world.entries(before)[-1]["action"] == "audit.read"


def test_a_team_leader_sees_the_caller_masked(world: World) -> None:
    html = world.page("tess").text
    assert facts(section(html, "details"))["Caller"] == "+4477009•••••"
    assert "900123" not in html


def test_not_found_is_the_same_for_unknown_hidden_and_malformed_ids(world: World) -> None:
    world.clients.sign_in("cora", "tess")
    before = world.services.audit.count()
    for who, recording_id in (("cora", "f" * 32), ("tess", world.care), ("cora", "a.b")):
        response = world.page(who, recording_id)
        assert response.status_code == 404, (who, recording_id)
        assert "<h1>Not found</h1>" in response.text and "agent-22" not in response.text
    # The care line is special category: the team leader's search never finds it either.
    assert world.page("cora", world.care).status_code == 200
    # Only that last, successful read is in the trail: a 404 is not audited.
    assert {(e["actor"], e["action"]) for e in world.entries(before)} == {
        ("cora", "recording.viewed"),
        ("cora", "audit.read"),
    }


def test_roles_without_recording_access_are_refused(world: World) -> None:
    for who in ("adam", "root"):
        world.clients.sign_in(who)
        before = world.services.audit.count()
        response = world.page(who)
        assert response.status_code == 403 and "agent-17" not in response.text
        (entry,) = world.entries(before)
        assert entry["action"] == "access.refused" and entry["actor"] == who
        # Asking by posting the form straight away is refused too, and asks nothing.
        response = world.clients[who].post(
            f"/recordings/{world.parking}/request",
            data={"purpose": "complaint", "case_ref": "CMP-2026-0001", "reason": "a complaint"},
            follow_redirects=False,
        )
        assert response.status_code == 403 and not world.grants_of(who)
        assert world.entries()[-1]["action"] == "access.refused"


def test_holds_show_their_case_to_those_who_may_read_holds(world: World) -> None:
    dana = RequestContext(actor=world.services.access.person("dana"), origin="test")
    hold = world.services.holds.place(
        dana, reason="complaint", case_ref="CMP-2026-0042", recording_ids=[world.parking]
    )
    before = world.services.audit.count()
    html = world.page("cora").text
    retention = section(html, "retention")
    assert facts(retention)["Legal hold"].startswith("Held")
    assert "CMP-2026-0042" in retention and "Complaint" in text_of(retention)
    read = [e for e in world.entries(before) if e["action"] == "hold.read"]
    assert [(e["object_id"], e["case_ref"]) for e in read] == [(hold.id, "CMP-2026-0042")]
    # A team leader may not read holds: told it is held, not for which case.
    html = world.page("tess").text
    assert facts(section(html, "retention"))["Legal hold"].startswith("Held")
    assert "CMP-2026-0042" not in html


# -- asking for access ------------------------------------------------------------------------
def test_a_request_for_a_purpose_without_second_approval_is_approved(world: World) -> None:
    before = world.services.audit.count()
    response = world.ask("cora", purpose="complaint", case_ref="CMP-2026-0007",
                         reason="The caller complained about a fine.")  # fmt: skip
    assert response.status_code == 303
    assert response.headers["location"] == f"/recordings/{world.parking}"
    (grant,) = world.grants_of("cora")
    assert grant.status == "approved" and grant.case_ref == "CMP-2026-0007"
    assert grant.reason == "The caller complained about a fine."
    requested = [e for e in world.entries(before) if e["action"].startswith("access.")]
    assert [e["action"] for e in requested] == ["access.requested", "access.approved"]
    assert requested[0]["purpose"] == "complaint" and requested[0]["case_ref"] == "CMP-2026-0007"
    html = world.clients["cora"].get(response.headers["location"]).text
    checked_page(html)
    assert (
        'role="status">Access requested for Complaint investigation (CMP-2026-0007): approved'
        in (html)
    )
    mine = section(html, "your-access")
    assert "Approved" in mine
    assert f'href="/recordings/{world.parking}/listen?grant={grant.id}"' in mine


def test_a_request_needing_a_second_person_waits(world: World) -> None:
    response = world.ask("cora", purpose="ombudsman", case_ref="LGO-2026-0003",
                         reason="The ombudsman asked for the call.")  # fmt: skip
    assert response.status_code == 303
    (grant,) = world.grants_of("cora")
    assert grant.status == "pending"
    html = world.clients["cora"].get(response.headers["location"]).text
    assert "pending — waiting for a second approver" in html
    mine = section(html, "your-access")
    assert "Waiting for a second approver" in mine and "/listen" not in mine


def test_an_expired_grant_is_listed_without_a_listen_link(world: World) -> None:
    then = datetime.now(UTC) - timedelta(days=21)
    services = world.services
    flow = GrantService(services.engine, services.audit, services.policy.policy,
                        services.catalog, services.permissions, clock=lambda: then)  # fmt: skip
    cora = RequestContext(actor=services.access.person("cora"), origin="test")
    flow.request(cora, [world.parking], "complaint", "CMP-2026-0001", "old")
    mine = section(world.page("cora").text, "your-access")
    assert "Expired" in mine and "/listen" not in mine
    # Another person's grant is not listed as this person's.
    assert 'id="your-access"' not in world.page("dana").text


BAD_REQUESTS = [
    # (fields, the field named, status, what the message says)
    ({"purpose": "complaint", "case_ref": "QA-1", "reason": "r"}, "case_ref", 422,
     "does not match the format"),
    ({"purpose": "complaint", "case_ref": "CMP-2026-0001", "reason": " "}, "reason", 422,
     "fill in reason"),
    ({"purpose": "", "case_ref": "CMP-2026-0001", "reason": "r"}, "purpose", 422,
     "fill in purpose"),
    ({"purpose": "crime", "case_ref": "CRM-2026-0001", "reason": "r"}, "purpose", 403,
     "may not use purpose crime"),
]  # fmt: skip


def test_a_bad_request_is_shown_beside_its_field_and_changes_nothing(world: World) -> None:
    for fields, field, status, says in BAD_REQUESTS:
        response = world.ask("cora", **fields)
        assert response.status_code == status, fields
        html = response.text
        checked_page(html)
        assert 'class="error-summary" role="alert"' in html and f'<a href="#{field}">' in html
        assert 'aria-invalid="true"' in tag_of(html, field), fields
        error = re.search(rf'<p class="field-error" id="{field}-error">(.*?)</p>', html, re.S)
        assert error is not None and says in text_of(error.group(1)), fields
        # What was typed is kept.
        assert f'value="{fields["case_ref"]}"' in tag_of(html, "case_ref")
    assert not world.grants_of("cora")
    # The grant flow's own refusals are in the trail (a form left half empty never got
    # that far).
    refused = [e for e in world.entries() if e["action"] == "access.refused"]
    assert [(e["actor"], e["purpose"], e["details"]["field"]) for e in refused] == [
        ("cora", "complaint", "case_ref"),
        ("cora", "crime", "purpose"),
    ]


def test_a_team_leader_asking_for_a_hidden_recording_is_refused_as_the_api_would(
    world: World,
) -> None:
    client = world.clients["tess"]
    token = csrf_of(world.page("tess").text)
    client.headers.pop("X-CSRF-Token", None)
    response = client.post(
        f"/recordings/{world.care}/request",
        data={"csrf_token": token, "purpose": "quality", "case_ref": "QA-2026-0001", "reason": "r"},
    )
    assert response.status_code == 403 and "special category" in response.text
    assert "agent-22" not in response.text and not world.grants_of("tess")
    assert world.entries()[-1]["action"] == "access.refused"


def test_a_post_without_the_right_csrf_token_is_refused(world: World) -> None:
    client = world.clients["cora"]
    client.headers.pop("X-CSRF-Token", None)
    for token in (None, "not-the-token"):
        fields = {"purpose": "complaint", "case_ref": "CMP-2026-0001", "reason": "r"}
        if token is not None:
            fields["csrf_token"] = token
        response = client.post(f"/recordings/{world.parking}/request", data=fields)
        assert response.status_code == 403
        assert not world.grants_of("cora")
        assert world.entries()[-1]["action"] == "session.csrf_refused"


def test_the_form_offers_only_the_roles_purposes_with_their_case_formats(world: World) -> None:
    html = world.page("cora").text
    form = section(html, "request")
    assert 'action="/recordings/' + world.parking + '/request"' in form
    purposes = re.findall(r'<option value="([a-z_]+)"', form)
    assert purposes == ["complaint", "ombudsman"]
    assert "Ombudsman investigation (needs a second approver)" in form
    assert re.search(r"Complaint investigation: like CMP-\d{4}-001", text_of(form))
    assert "case_ref-hint" in tag_of(html, "case_ref")
    assert ">Request access</button>" in form
    html = world.page("tess").text
    assert re.findall(r'<option value="([a-z_]+)"', section(html, "request")) == [
        "quality",
        "training",
    ]
