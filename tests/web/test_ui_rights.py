"""The rights pages: the deadlines view sorts requests into overdue, due this week, later and
clock stopped (closed on request), with each deadline as the statutory clock works it out;
the DPO opens a request through the form (its calls held, post/redirect/get) and works it
(pause, resume, extend, search again, close, erasure decisions) from its page; bad input
names the field and changes nothing; auditors read without forms; everyone else is refused,
and the refusal audited.

The pages use the real clock, so the requests are received on days counted back from today
and the expected deadlines come from ``rights.clock.statutory_clock``, worked for that today
(bank holidays included), not from the page's code.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from access.access_helpers import record
from callvault.bootstrap import Services
from callvault.context import RequestContext, system_context
from callvault.retention.holding import held_ids
from callvault.retention.store import holds
from callvault.rights.bank_holidays import HolidayCalendar
from callvault.rights.clock import Extension, Pause, statutory_clock
from callvault.rights.model import RightsRequest
from callvault.rights.service import RightsService
from callvault.rights.store import rights_pauses, rights_requests
from web_pages import (
    SignedIn,
    buttons,
    checked_page,
    csrf_of,
    embedded_leg,  # noqa: F401
    follow,
    headings,
    post_form,
    text_of,
)
from web_people import PASSWORD

PEOPLE = {"dana": "dpo", "aud": "auditor", "cora": "complaints_officer", "root": "administrator"}
PHONE = "020 7946 0002"  # the requester's number, stored as +442079460002
OTHER_PHONE = "07700 900456"
CALENDAR = HolidayCalendar()
UK = ZoneInfo("Europe/London")


@dataclass
class Register:
    services: Services
    clients: SignedIn
    mine: list[str]  # the requester's two calls
    other: str  # someone else's call

    def person(self, name: str) -> RequestContext:
        return RequestContext(actor=self.services.access.person(name), origin="test")

    @property
    def rights(self) -> RightsService:
        return RightsService.for_services(self.services)

    def open(self, ref: str, **overrides: Any) -> RightsRequest:
        fields: dict[str, Any] = {
            "kind": "access",
            "ref": ref,
            "requester": "Ann Requester",
            "contact": "ann@example.org",
            "received_on": None,
            "identity": "verified",
            "phones": [PHONE],
        } | overrides
        return self.rights.open(self.person("dana"), **fields)

    def stored(self, ref: str) -> RightsRequest:
        return self.rights.get(self.person("dana"), ref, audited=False)

    def count(self, table: Any) -> int:
        with self.services.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


@pytest.fixture
def register(services: Services, ctx: RequestContext, call_wav: Path) -> Iterator[Register]:
    admin = system_context("test")
    for name, role in PEOPLE.items():
        services.access.add_person(admin, name, role, PASSWORD)
    mine = [
        record(services, ctx, call_wav, "rights-1", caller=PHONE),
        record(services, ctx, call_wav, "rights-2", caller="+44 20 7946 0002"),
    ]
    other = record(services, ctx, call_wav, "rights-3", caller=OTHER_PHONE)
    clients = SignedIn(services)
    yield Register(services, clients, mine, other)
    clients.close()


def today() -> date:
    return datetime.now(UK).date()


def deadline_words(day: date | None) -> str:
    """A deadline as a person writes it: "Tuesday 29 Dec 2026"."""
    assert day is not None
    return f"{day:%A} {day.day} {day:%b %Y}"


def left_words(days: int, working: int) -> str:
    """Time left as the deadlines view words it: "5 days left (3 working days)"."""
    if days == 0:
        return "Due today"

    def count(number: int, word: str) -> str:
        return f"{number} {word}{'' if number == 1 else 's'}"

    side = "overdue" if days < 0 else "left"
    return f"{count(abs(days), 'day')} {side} ({count(abs(working), 'working day')})"


def received_for(wanted: Any) -> date:
    """The latest day received (counting back from today) whose one-month deadline, as the
    statutory clock works it, satisfies ``wanted``."""
    for back in range(90):
        received = today() - timedelta(days=back)
        if wanted(statutory_clock(received, calendar=CALENDAR).deadline):
            return received
    raise AssertionError("no such day")


def section(page: str, name: str) -> str:
    """The HTML of the deadlines view's section ``name`` ("" when it is not shown)."""
    found = re.search(rf'<section aria-labelledby="{name}">(.*?)</section>', page, re.S)
    return found.group(1) if found else ""


def row_of(html: str, ref: str) -> list[str]:
    """The cells' text of the table row whose reference is ``ref``."""
    for row in re.findall(r"<tr>(.*?)</tr>", html, re.S):
        if f">{ref}</a>" in row:
            return [text_of(cell) for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)]
    raise AssertionError(f"{ref} is not listed")


def posted(register: Register, who: str, action: str, **fields: str) -> Any:
    """``fields`` posted to ``action`` with the CSRF token read from the home page."""
    client = register.clients[who]
    token = csrf_of(client.get("/").text)
    client.headers.pop("X-CSRF-Token", None)
    return client.post(action, data={"csrf_token": token, **fields}, follow_redirects=False)


# -- the deadlines view -----------------------------------------------------------------------
def test_the_deadlines_view_puts_each_request_in_its_section(register: Register) -> None:
    day = today()
    overdue = received_for(lambda due: due < day)
    this_week = received_for(lambda due: day <= due <= day + timedelta(days=7))
    register.open("SAR-2026-0001", received_on=overdue.isoformat())
    register.open("SAR-2026-0002", received_on=this_week.isoformat())
    register.open("SAR-2026-0003", received_on=day.isoformat())  # a month to go
    register.open("SAR-2026-0004", identity="awaiting", phones=[OTHER_PHONE])
    register.open("ER-2026-5", kind="erasure", phones=[OTHER_PHONE])
    register.rights.close(
        register.person("dana"), "ER-2026-5", outcome="withdrawn", note="withdrawn by phone"
    )

    page = register.clients["dana"].get("/rights").text
    checked_page(page)
    assert headings(page)[:6] == [
        (1, "Rights requests"),
        (2, "Overdue (1)"),
        (2, "Due this week (1)"),
        (2, "Later (1)"),
        (2, "Clock stopped (1)"),
        (2, "Open a request"),
    ]
    assert "SAR-2026-0001" in section(page, "overdue")
    assert "SAR-2026-0002" in section(page, "week")
    assert "SAR-2026-0003" in section(page, "later")
    assert "SAR-2026-0004" in section(page, "stopped")
    assert "ER-2026-5" not in page and 'href="/rights?closed=true"' in page

    for ref, received, part in [
        ("SAR-2026-0001", overdue, "overdue"),
        ("SAR-2026-0002", this_week, "week"),
        ("SAR-2026-0003", day, "later"),
    ]:
        clock = statutory_clock(received, calendar=CALENDAR)
        days, working = clock.days_left(day), clock.working_days_left(day, CALENDAR)
        assert days is not None and working is not None
        cells = row_of(section(page, part), ref)
        assert cells[:4] == [
            ref,
            "Subject access (Art. 15)",
            f"{received.day} {received:%b %Y}",
            deadline_words(clock.deadline),
        ]
        assert cells[4] == left_words(days, working)
        assert cells[5:] == ["No", "2", "Open"]  # not extended; the requester's two calls
    stopped = row_of(section(page, "stopped"), "SAR-2026-0004")
    assert stopped[3:] == [
        "Proof of identity",
        f"{day.day} {day:%b %Y}",
        "No",
        "1",
        "Open, identity not yet verified",
    ]
    assert 'href="/rights/SAR-2026-0004"' in page

    closed = register.clients["dana"].get("/rights?closed=true").text
    checked_page(closed)
    assert row_of(section(closed, "closed"), "ER-2026-5")[-1] == "Withdrawn"
    assert 'href="/rights"' in closed  # the toggle back


def test_auditors_read_the_register_and_a_request_without_forms(register: Register) -> None:
    register.open("SAR-2026-0010")
    register.rights.extend(
        register.person("dana"),
        "SAR-2026-0010",
        months=1,
        reason="calls on two lines",
        told_on=None,
    )
    seq = register.services.audit.count()
    for who in ("dana", "aud"):
        page = register.clients[who].get("/rights").text
        checked_page(page)
        assert "SAR-2026-0010" in page
        shown = register.clients[who].get("/rights/SAR-2026-0010").text
        checked_page(shown)
        assert "Ann Requester" in shown and "+442079460002" in shown
        assert "1 month (Art. 12(3)): calls on two lines." in text_of(shown)
        if who == "aud":
            assert "<form" not in page.split("</header>")[1]
            assert "<form" not in shown.split("</header>")[1]
            assert buttons(page) == buttons(shown) == ["Sign out"]
            # Auditors do not hear recordings: the ids show, not links to them.
            assert 'href="/recordings/' not in shown
        else:
            assert "Open request" in buttons(page)
            # Extended once already: an extension is made once, for the whole time needed.
            assert "Extend the deadline" not in buttons(shown)
            assert {
                "Stop the clock",
                "Search again",
                "Close the request",
            } <= set(buttons(shown))
            assert f'href="/recordings/{register.mine[0]}"' in shown
    # Every reading is audited by the service: the register holds requesters' details.
    read = [
        (e["action"], e["actor"])
        for e in register.services.audit.show(after=seq)
        if e["action"].startswith("rights.")
    ]
    assert read == [
        ("rights.listed", "dana"),
        ("rights.viewed", "dana"),
        ("rights.listed", "aud"),
        ("rights.viewed", "aud"),
    ]


@pytest.mark.parametrize("who", ["cora", "root"])
def test_other_roles_are_refused_every_page_and_form_and_it_is_audited(
    register: Register, who: str
) -> None:
    register.open("SAR-2026-0020")
    base = "/rights/SAR-2026-0020"
    client = register.clients[who]
    assert client.get("/rights").status_code == 403
    assert client.get(base).status_code == 403
    assert "/rights" not in client.get("/").text  # no link that would be refused
    before = register.stored("SAR-2026-0020")
    seq = register.services.audit.count()
    actions = {
        "/rights": {
            "kind": "access",
            "ref": "SAR-2026-0021",
            "requester": "X",
            "contact": "x",
            "identity": "verified",
            "phones": PHONE,
        },
        f"{base}/pause": {"reason": "identity", "note": "asked"},
        f"{base}/resume": {},
        f"{base}/extend": {"months": "1", "reason": "complex"},
        f"{base}/search": {},
        f"{base}/close": {"outcome": "withdrawn", "note": "x"},
        f"{base}/recordings/{register.mine[0]}/decision": {
            "decision": "keep",
            "reason_code": "legal_claims",
        },
    }
    for action, fields in actions.items():
        assert posted(register, who, action, **fields).status_code == 403, action
    refused = [
        e for e in register.services.audit.show(after=seq) if e["action"] == "access.refused"
    ]
    assert [e["details"]["path"] for e in refused] == list(actions)
    assert {e["actor"] for e in refused} == {who}
    assert register.stored("SAR-2026-0020") == before
    assert register.count(rights_requests) == 1


def test_auditors_may_not_change_a_request(register: Register) -> None:
    register.open("SAR-2026-0025")
    response = posted(register, "aud", "/rights/SAR-2026-0025/close", outcome="withdrawn", note="x")
    assert response.status_code == 403
    assert register.stored("SAR-2026-0025").state == "open"


def test_a_post_without_the_sessions_csrf_token_is_refused(register: Register) -> None:
    register.open("SAR-2026-0030")
    client = register.clients["dana"]
    client.headers.pop("X-CSRF-Token", None)
    for token in ({}, {"csrf_token": "forged"}):
        response = client.post(
            "/rights/SAR-2026-0030/close",
            data={**token, "outcome": "withdrawn", "note": "forged"},
            follow_redirects=False,
        )
        assert response.status_code == 403
        opened = client.post(
            "/rights",
            data={
                **token,
                "kind": "access",
                "ref": "SAR-2026-0031",
                "requester": "X",
                "contact": "x",
                "identity": "verified",
                "phones": PHONE,
            },
            follow_redirects=False,
        )
        assert opened.status_code == 403
    assert register.stored("SAR-2026-0030").state == "open"
    assert register.count(rights_requests) == 1


# -- opening a request ------------------------------------------------------------------------
def test_opening_through_the_form_holds_the_calls_and_shows_the_request(
    register: Register,
) -> None:
    client = register.clients["dana"]
    received = today() - timedelta(days=3)
    response = post_form(
        client,
        "/rights",
        "/rights",
        kind="access",
        ref="SAR-2026-0101",
        requester="Ann Requester",
        contact="ann@example.org",
        received_on=received.isoformat(),
        identity="verified",
        phones=f"{PHONE}\r\n\r\n07700 900999",
        **{"from": "", "to": ""},
        note="by letter",
    )
    assert response.headers["location"] == "/rights/SAR-2026-0101"
    page = follow(client, response)
    checked_page(page)
    deadline = deadline_words(statutory_clock(received, calendar=CALENDAR).deadline)
    assert (
        "Request SAR-2026-0101 opened: 2 recordings found and held until the request is "
        f"closed. Answer by {deadline}." in text_of(page)
    )
    assert headings(page)[:4] == [
        (1, "Request SAR-2026-0101"),
        (2, "The clock"),
        (2, "Searches"),
        (2, "Recordings found"),
    ]
    assert "Ann Requester" in page and "ann@example.org" in page
    with register.services.engine.connect() as conn:
        assert held_ids(conn, [*register.mine, register.other]) == set(register.mine)
    stored = register.stored("SAR-2026-0101")
    assert stored.received_on == received and stored.opened_by == "dana"
    [search] = stored.searches
    assert search["terms"]["phones"] == ["+442079460002", "+447700900999"]
    # The search is the evidence: who, what for, how many, and the hold it placed.
    searches = text_of(page.split("<caption>Searches made")[1].split("</table>")[0])
    assert "dana" in searches and "+442079460002, +447700900999" in searches
    assert "All dates" in searches and 'href="/holds"' in page
    assert f"Hold {search['hold_id'][:8]}" in searches
    for rid in register.mine:
        assert f'href="/recordings/{rid}"' in page
    assert register.other not in page


@pytest.mark.parametrize(
    ("fields", "field", "says"),
    [
        ({"kind": "complaint"}, "kind", "kind must be one of access, erasure, objection"),
        ({"ref": "SAR-26"}, "ref", "does not match the policy's pattern"),
        ({"requester": ""}, "requester", "requester is required"),
        ({"contact": "  "}, "contact", "contact is required"),
        ({"identity": ""}, "identity", "identity must be one of awaiting, verified"),
        ({"phones": ""}, "phones", "give at least one phone number"),
        ({"phones": "not a number"}, "phones", "phone"),
        ({"received_on": "2999-01-01"}, "received_on", "is in the future"),
        ({"received_on": "last week"}, "received_on", "is not a date as YYYY-MM-DD"),
        ({"from": "2026-06-01", "to": "2026-01-01"}, "from", "swap them"),
        ({"requester": "x" * 500}, "requester", "requester is longer than 400 characters"),
    ],
)
def test_bad_input_names_the_field_keeps_what_was_entered_and_writes_nothing(
    register: Register, fields: dict[str, str], field: str, says: str
) -> None:
    client = register.clients["dana"]
    token = csrf_of(client.get("/").text)
    client.headers.pop("X-CSRF-Token", None)
    seq = register.services.audit.count()
    good = {
        "kind": "access",
        "ref": "SAR-2026-0102",
        "requester": "Ann Requester",
        "contact": "ann@example.org",
        "identity": "verified",
        "phones": PHONE,
        "note": "kept for the file",
    }
    response = client.post(
        "/rights", data={"csrf_token": token, **good, **fields}, follow_redirects=False
    )
    assert response.status_code == 422
    page = response.text
    checked_page(page)
    assert headings(page)[:2] == [(1, "Open a rights request"), (2, "There is a problem")]
    summary = page.split('class="error-summary"')[1].split("</div>")[0]
    assert f'href="#open-{field}"' in summary and says in text_of(summary)
    assert re.search(rf'<(?:input|select|textarea) id="open-{field}"[^>]*aria-invalid="true"', page)
    assert "kept for the file" in page  # what was entered is not lost
    assert register.count(rights_requests) == 0 and register.count(holds) == 0
    assert register.services.audit.count() == seq  # not even a reading of the register


def test_a_reference_already_registered_is_a_conflict_on_the_field(register: Register) -> None:
    register.open("SAR-2026-0103")
    response = posted(
        register,
        "dana",
        "/rights",
        kind="access",
        ref="SAR-2026-0103",
        requester="B",
        contact="b@example.org",
        identity="verified",
        phones=OTHER_PHONE,
    )
    assert response.status_code == 409
    assert 'href="#open-ref"' in response.text and "already registered" in response.text
    assert register.count(rights_requests) == 1


# -- working a request ------------------------------------------------------------------------
def test_pause_resume_extend_and_close_through_the_forms(register: Register) -> None:
    register.open("SAR-2026-0201")
    client = register.clients["dana"]
    base = "/rights/SAR-2026-0201"
    day = today()

    paused = post_form(
        client,
        base,
        f"{base}/pause",
        reason="clarification",
        on="",
        note="asked which calls she means, by email",
    )
    assert paused.headers["location"] == base
    page = follow(client, paused)
    assert (
        f"The clock of SAR-2026-0201 is stopped from {day.day} {day:%b %Y} while waiting for "
        "clarification." in text_of(page)
    )
    checked_page(page)
    assert "Restart the clock" in buttons(page) and "Stop the clock" not in buttons(page)
    assert "asked which calls she means, by email" in page
    assert register.stored("SAR-2026-0201").clock.stopped

    resumed = follow(client, post_form(client, base, f"{base}/resume", on=""))
    pauses = [Pause(day, day, "clarification")]
    due = statutory_clock(day, pauses=pauses, calendar=CALENDAR).deadline
    assert f"is running again. Answer by {deadline_words(due)}." in text_of(resumed)

    extended = post_form(
        client, base, f"{base}/extend", months="2", reason="forty calls over two years", told_on=""
    )
    extension = Extension(2, "forty calls over two years", day)
    due = statutory_clock(day, pauses=pauses, extension=extension, calendar=CALENDAR).deadline
    page = follow(client, extended)
    assert f"SAR-2026-0201 is extended by 2 months. Answer by {deadline_words(due)}." in page
    assert "forty calls over two years" in page and "Extend the deadline" not in buttons(page)
    assert register.stored("SAR-2026-0201").clock.deadline == due

    seq = register.services.audit.count()
    closed = post_form(
        client, base, f"{base}/close", outcome="withdrawn", note="the requester withdrew by phone"
    )
    page = follow(client, closed)
    assert "SAR-2026-0201 is closed: Withdrawn. The holds it placed are released." in page
    assert buttons(page) == ["Sign out"]  # nothing more can change
    with register.services.engine.connect() as conn:
        assert held_ids(conn, register.mine) == set()
    acts = [e["action"] for e in register.services.audit.show(after=seq)]
    assert "rights.closed" in acts and "hold.released" in acts


def test_searching_again_adds_what_a_new_number_finds(register: Register) -> None:
    register.open("SAR-2026-0202")
    client = register.clients["dana"]
    base = "/rights/SAR-2026-0202"
    page = follow(
        client,
        post_form(client, base, f"{base}/search", phones=OTHER_PHONE, **{"from": "", "to": ""}),
    )
    assert "Searched again for SAR-2026-0202: 1 more recording found and held." in page
    stored = register.stored("SAR-2026-0202")
    assert len(stored.searches) == 2
    assert {i.recording_id for i in stored.items} == {*register.mine, register.other}


@pytest.mark.parametrize(
    ("action", "fields", "status", "field_id", "says"),
    [
        ("pause", {"reason": "identity", "note": ""}, 422, "pause-note", "note is required"),
        ("pause", {"reason": "holiday", "note": "x"}, 422, "pause-reason", "reason must be"),
        (
            "pause",
            {"reason": "identity", "on": "2026-01-05", "note": "x"},
            422,
            "pause-on",
            "is before the request was received",
        ),
        ("resume", {"on": "x"}, 409, "resume-on", "nothing to resume"),
        ("extend", {"months": "3", "reason": "big"}, 422, "extend-months", "months must be 1"),
        ("extend", {"months": "one", "reason": "big"}, 422, "extend-months", "months must be"),
        ("extend", {"months": "1", "reason": ""}, 422, "extend-reason", "reason is required"),
        (
            "search",
            {"phones": "", "from": "2026-05-02", "to": "2026-05-01"},
            422,
            "search-from",
            "swap them",
        ),
        ("close", {"outcome": "", "note": "x"}, 422, "close-outcome", "outcome must be one of"),
        ("close", {"outcome": "responded"}, 409, "close-outcome", "are not reviewed yet"),
    ],
)
def test_a_bad_form_on_a_request_comes_back_alone_and_changes_nothing(
    register: Register,
    action: str,
    fields: dict[str, str],
    status: int,
    field_id: str,
    says: str,
) -> None:
    register.open("SAR-2026-0203")
    register.clients.sign_in("dana")
    before = register.stored("SAR-2026-0203")
    seq = register.services.audit.count()
    response = posted(register, "dana", f"/rights/SAR-2026-0203/{action}", **fields)
    assert response.status_code == status, response.text
    page = response.text
    checked_page(page)
    assert headings(page)[1] == (2, "There is a problem")
    summary = text_of(page.split('class="error-summary"')[1].split("</div>")[0])
    assert says in summary and f'href="#{field_id}"' in page
    assert re.search(rf'id="{field_id}"[^>]*aria-invalid="true"', page)
    assert "Ann Requester" not in page  # the request is not read again (nor audited)
    assert register.stored("SAR-2026-0203") == before
    assert register.services.audit.count() == seq
    assert register.count(rights_pauses) == 0


def test_a_closed_or_unknown_request_is_the_error_page(register: Register) -> None:
    register.open("SAR-2026-0204")
    register.rights.close(
        register.person("dana"), "SAR-2026-0204", outcome="withdrawn", note="withdrawn"
    )
    closed = posted(register, "dana", "/rights/SAR-2026-0204/pause", reason="identity", note="x")
    assert closed.status_code == 409 and "is closed" in closed.text
    assert register.clients["dana"].get("/rights/SAR-2026-9999").status_code == 404


# -- erasure and objection decisions ----------------------------------------------------------
def test_erasure_decisions_per_recording_with_the_law_each_rests_on(register: Register) -> None:
    register.open("ER-2026-1", kind="erasure")
    client = register.clients["dana"]
    base = "/rights/ER-2026-1"
    keep, erase = register.mine
    page = client.get(base).text
    checked_page(page)
    assert {f"Decide recording {keep[:8]}", f"Decide recording {erase[:8]}"} <= set(buttons(page))
    # The reason codes are offered with the law each rests on, grouped by the decision.
    assert '<optgroup label="Keep: the exemptions">' in page
    assert "legal claims: Art. 17(3)(e)" in page and "no longer necessary: Art. 17(1)(a)" in page

    wrong = posted(
        register,
        "dana",
        f"{base}/recordings/{keep}/decision",
        decision="erase",
        reason_code="legal_claims",
        note="",
    )
    assert wrong.status_code == 422
    assert f'href="#decide-{keep}-reason_code"' in wrong.text
    assert register.stored("ER-2026-1").items[0].outcome == "pending"

    kept = post_form(
        client,
        base,
        f"{base}/recordings/{keep}/decision",
        decision="keep",
        reason_code="legal_claims",
        note="a claim is threatened",
    )
    assert kept.headers["location"] == base
    assert f"Recording {keep[:8]} is kept (legal_claims)." in follow(client, kept)

    erased = post_form(
        client,
        base,
        f"{base}/recordings/{erase}/decision",
        decision="erase",
        reason_code="no_longer_necessary",
        note="",
    )
    page = follow(client, erased)
    item = next(i for i in register.stored("ER-2026-1").items if i.recording_id == erase)
    assert item.outcome == "erased" and item.certificate_seq
    seq = item.certificate_seq
    assert (
        f"Recording {erase[:8]} is erased; its disposal certificate is audit entry {seq}." in page
    )
    assert f'href="/audit?object={erase}&amp;before={seq + 1}">Audit entry {seq}</a>' in page
    assert "Art. 17(3)(e)" in page and "Art. 17(1)(a)" in page  # each decision's basis
    assert not any(b.startswith("Decide") for b in buttons(page))  # both decided
    certificate = register.services.audit.show(after=seq - 1, limit=1)[0]
    assert certificate["object_id"] == erase


def test_subject_access_requests_have_no_decide_forms(register: Register) -> None:
    register.open("SAR-2026-0301")
    page = register.clients["dana"].get("/rights/SAR-2026-0301").text
    assert not any(b.startswith("Decide") for b in buttons(page))
    response = posted(
        register,
        "dana",
        f"/rights/SAR-2026-0301/recordings/{register.mine[0]}/decision",
        decision="keep",
        reason_code="legal_claims",
    )
    assert response.status_code == 422 and "subject access request" in response.text
