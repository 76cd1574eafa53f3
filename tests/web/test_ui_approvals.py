"""The approvals and "my requests" pages: who sees which requests, deciding and withdrawing
through the HTML forms (CSRF token as a form field), refusals as pages that change nothing."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from access.access_helpers import record
from callvault.access.grants import Grant, GrantService
from callvault.bootstrap import Services
from callvault.context import RequestContext, system_context
from web_pages import (
    SignedIn,
    buttons,
    checked_page,
    csrf_of,
    embedded_leg,  # noqa: F401  (the embedded leg only)
    first,
    follow,
    headings,
    post_form,
    sent_back_to,
)
from web_people import PASSWORD

PEOPLE = {
    "cora": "complaints_officer",
    "mina": "authorised_manager",
    "max": "authorised_manager",
    "dana": "dpo",
    "tess": "team_leader",
    "adam": "advisor",
    "aud": "auditor",
    "root": "administrator",
}


def actions_since(services: Services, seq: int) -> list[tuple[str, str]]:
    return [(e["action"], e["actor"]) for e in services.audit.show(after=seq, limit=1000)]


# -- the world --------------------------------------------------------------------------------
@dataclass
class Office:
    services: Services
    recording: str
    clients: SignedIn
    # mina's crime request (pending: authorised managers and the DPO decide it)
    crime: Grant
    # cora's ombudsman request (pending: complaints officers and authorised managers decide)
    ombudsman: Grant

    def person(self, name: str) -> RequestContext:
        return RequestContext(actor=self.services.access.person(name), origin="test")

    def status(self, grant: Grant) -> str:
        return self.services.grants.get(grant.id).status


@pytest.fixture
def office(services: Services, ctx: RequestContext, call_wav: Path) -> Iterator[Office]:
    admin = system_context("test")
    for name, role in PEOPLE.items():
        services.access.add_person(admin, name, role, PASSWORD)
    recording = record(services, ctx, call_wav, "ui-approvals-1", agent="adam")
    clients = SignedIn(services)
    mina = RequestContext(actor=services.access.person("mina"), origin="test")
    cora = RequestContext(actor=services.access.person("cora"), origin="test")
    crime = services.grants.request(mina, [recording], "crime", "CRM-2026-0001", "theft report")
    ombudsman = services.grants.request(cora, [recording], "ombudsman", "LGO-2026-0001")
    yield Office(services, recording, clients, crime, ombudsman)
    clients.close()


# -- /approvals -------------------------------------------------------------------------------
def test_each_decider_sees_others_pending_requests_they_may_decide_never_their_own(
    office: Office,
) -> None:
    pages = {name: office.clients[name].get("/approvals") for name in ("max", "mina", "dana")}
    for response in pages.values():
        assert response.status_code == 200
        checked_page(response.text)
    # max (authorised manager) may decide both purposes, and asked for neither.
    assert "Approve request by mina for CRM-2026-0001" in buttons(pages["max"].text)
    assert "Deny request by cora for LGO-2026-0001" in buttons(pages["max"].text)
    # mina's own crime request is not hers to decide; she is pointed to My requests.
    assert buttons(pages["mina"].text)[1:] == [
        "Approve request by cora for LGO-2026-0001",
        "Deny request by cora for LGO-2026-0001",
    ]  # the first button is "Sign out"
    assert "CRM-2026-0001" not in pages["mina"].text
    assert "1 request of your own waiting" in pages["mina"].text
    # The DPO may decide crime, not ombudsman.
    assert "CRM-2026-0001" in pages["dana"].text and "LGO-2026-0001" not in pages["dana"].text
    assert f'href="/recordings/{office.recording}"' in pages["max"].text
    assert "theft report" in pages["max"].text
    # cora may not decide crime, and her own ombudsman request is not hers to decide.
    cora = office.clients["cora"].get("/approvals").text
    assert "Nothing is waiting for your decision." in cora


def test_a_second_person_approves_by_the_form_and_it_is_audited(office: Office) -> None:
    client = office.clients["max"]
    seq = office.services.audit.count()
    action = f"/approvals/{office.crime.id}/approve"
    response = post_form(client, "/approvals", action)
    assert response.headers["location"] == "/approvals"
    page = follow(client, response)
    assert "Approved: the request by mina for CRM-2026-0001" in page
    assert "Approve request by mina for CRM-2026-0001" not in buttons(page)  # decided
    decided = office.services.grants.get(office.crime.id)
    assert (decided.status, decided.approver) == ("approved", "max")
    assert ("access.approved", "max") in actions_since(office.services, seq)


def test_approving_ones_own_request_is_refused_and_changes_nothing(office: Office) -> None:
    client = office.clients["mina"]
    seq = office.services.audit.count()
    response = post_form(client, "/approvals", f"/approvals/{office.crime.id}/approve")
    assert response.status_code == 403
    assert "<h1>Not allowed</h1>" in response.text
    assert "a different person must decide it" in response.text
    assert office.status(office.crime) == "pending"
    assert actions_since(office.services, seq) == [("access.refused", "mina")]


def test_deny_then_a_second_decision_is_a_conflict(office: Office) -> None:
    seq = office.services.audit.count()
    deny = post_form(office.clients["dana"], "/approvals", f"/approvals/{office.crime.id}/deny")
    assert "Denied: the request by mina for CRM-2026-0001." in follow(office.clients["dana"], deny)
    assert office.status(office.crime) == "denied"
    assert ("access.denied", "dana") in actions_since(office.services, seq)

    again = post_form(office.clients["max"], "/approvals", f"/approvals/{office.crime.id}/approve")
    assert again.status_code == 409
    assert "only a pending grant can be approved" in again.text
    assert office.status(office.crime) == "denied"


def test_a_decider_whose_role_may_not_use_the_purpose_is_refused(office: Office) -> None:
    # cora may approve (she is a listener) but crime is not a purpose her role may use.
    response = post_form(
        office.clients["cora"], "/approvals", f"/approvals/{office.crime.id}/approve"
    )
    assert response.status_code == 403
    assert office.status(office.crime) == "pending"


@pytest.mark.parametrize("token", [None, "wrong-token"])
def test_a_decision_without_the_sessions_csrf_token_is_refused(
    office: Office, token: str | None
) -> None:
    client = office.clients["max"]
    client.headers.pop("X-CSRF-Token", None)
    data = {} if token is None else {"csrf_token": token}
    response = client.post(
        f"/approvals/{office.crime.id}/approve", data=data, follow_redirects=False
    )
    assert response.status_code == 403
    assert response.headers["content-type"].startswith("text/html")
    assert office.status(office.crime) == "pending"


@pytest.mark.parametrize("who", ["aud", "root", "adam"])
def test_roles_that_may_not_decide_are_refused(office: Office, who: str) -> None:
    client = office.clients[who]
    assert client.get("/approvals").status_code == 403
    token = csrf_of(client.get("/").text)
    client.headers.pop("X-CSRF-Token", None)
    response = client.post(
        f"/approvals/{office.crime.id}/approve", data={"csrf_token": token}, follow_redirects=False
    )
    assert response.status_code == 403
    assert office.status(office.crime) == "pending"


def test_signed_out_the_page_asks_to_sign_in_first(office: Office) -> None:
    response = office.clients["anon"].get("/approvals", follow_redirects=False)
    assert response.status_code == 303
    assert sent_back_to(response.headers["location"]) == "/approvals"


# -- /requests --------------------------------------------------------------------------------
def _expired_grant(office: Office) -> Grant:
    """mina's complaint grant approved three weeks ago (it lasted 72 hours)."""
    then = datetime.now(UTC) - timedelta(days=21)
    services = office.services
    flow = GrantService(
        services.engine,
        services.audit,
        services.policy.policy,
        services.catalog,
        services.permissions,
        clock=lambda: then,
    )
    return flow.request(office.person("mina"), [office.recording], "complaint", "CMP-2026-0009")


def test_my_requests_lists_every_state_newest_first_with_listen_links(office: Office) -> None:
    services, rid = office.services, office.recording
    expired = _expired_grant(office)
    denied = services.grants.request(office.person("mina"), [rid], "legal", "LEG-2026-0001")
    services.grants.deny(office.person("dana"), denied.id)
    revoked = services.grants.request(office.person("mina"), [rid], "complaint", "CMP-2026-0002")
    services.grants.revoke(office.person("mina"), revoked.id, "asked by mistake")
    live = services.grants.request(office.person("mina"), [rid], "complaint", "CMP-2026-0003")

    response = office.clients["mina"].get("/requests")
    assert response.status_code == 200
    page = response.text
    checked_page(page)
    assert headings(page)[0] == (1, "My requests")
    rows = re.findall(r"<tr>(.*?)</tr>", page.split("<tbody>")[1], re.S)
    cases = [first(r"([A-Z]{3}-2026-\d{4})", row) for row in rows]
    # Newest first; the expired one was asked for three weeks ago; cora's is not mina's.
    assert cases == [
        "CMP-2026-0003",
        "CMP-2026-0002",
        "LEG-2026-0001",
        "CRM-2026-0001",
        "CMP-2026-0009",
    ]
    states = [first(r'class="tag[^"]*">(\w+)<', row) for row in rows]
    assert states == ["approved", "revoked", "denied", "pending", "expired"]
    # Listen only under the live grant; withdraw only what is pending or live.
    assert re.findall(r'href="(/recordings/[^"]+/listen[^"]*)"', page) == [
        f"/recordings/{rid}/listen?grant={live.id}"
    ]
    assert expired.status == "approved"  # approved, and shown expired because its time ran out
    withdraw = [name for name in buttons(page) if name.startswith("Withdraw")]
    assert withdraw == [
        "Withdraw your request for CMP-2026-0003",
        "Withdraw your request for CRM-2026-0001",
    ]
    assert "LGO-2026-0001" not in page


def test_withdrawing_needs_a_reason_and_is_audited(office: Office) -> None:
    client = office.clients["mina"]
    action = f"/requests/{office.crime.id}/revoke"
    seq = office.services.audit.count()

    missing = post_form(client, "/requests", action, reason="  ")
    assert missing.status_code == 422
    assert "fill in reason" in missing.text
    assert office.status(office.crime) == "pending"
    assert office.services.audit.count() == seq

    done = post_form(client, "/requests", action, reason="the case was closed")
    assert "Withdrawn: the request for CRM-2026-0001." in follow(client, done)
    assert office.status(office.crime) == "revoked"
    (entry,) = [e for e in office.services.audit.show(after=seq) if e["action"] == "access.revoked"]
    assert entry["actor"] == "mina" and entry["details"]["revoked_reason"] == "the case was closed"


def test_withdrawing_without_the_csrf_token_is_refused(office: Office) -> None:
    client = office.clients["mina"]
    client.headers.pop("X-CSRF-Token", None)
    response = client.post(
        f"/requests/{office.crime.id}/revoke", data={"reason": "x"}, follow_redirects=False
    )
    assert response.status_code == 403
    assert office.status(office.crime) == "pending"


def test_nobody_withdraws_a_request_they_could_not_decide(office: Office) -> None:
    # tess (team leader) may revoke her own grants, but crime is not a purpose of hers.
    response = post_form(
        office.clients["tess"], "/requests", f"/requests/{office.crime.id}/revoke", reason="no"
    )
    assert response.status_code == 403
    assert office.status(office.crime) == "pending"


def test_an_advisor_sees_the_requests_to_hear_their_calls_without_case_or_reason(
    office: Office,
) -> None:
    response = office.clients["adam"].get("/requests")
    assert response.status_code == 200
    page = response.text
    checked_page(page)
    assert headings(page)[0] == (1, "Requests to hear your calls")
    assert "mina" in page and "cora" in page
    for hidden in ("CRM-2026-0001", "LGO-2026-0001", "theft report"):
        assert hidden not in page
    assert '<form method="post" action="/requests' not in page


@pytest.mark.parametrize("who", ["aud", "root"])
def test_roles_without_grants_read_are_refused_my_requests(office: Office, who: str) -> None:
    assert office.clients[who].get("/requests").status_code == 403
