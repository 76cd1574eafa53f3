"""The customer conduct pages: the safety officer reviews the queue of conduct flags, opens an
incident from one (its call held under the incident's reference) and closes it (the holds
released or kept by outcome), all through the HTML forms; the DPO closes flags but opens no
incident; auditors read incidents without the queue or any form; nobody else gets in. A form
with a mistake comes back naming the field, with what was typed, and changes nothing."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from speech_helpers import ingest_clip, needs_corpus_tools
from sqlalchemy import func, select

from access.access_helpers import record
from callvault.bootstrap import Services
from callvault.conduct.service import IncidentService
from callvault.conduct.store import incidents
from callvault.context import RequestContext
from callvault.retention.store import holds
from callvault.speech.flags import FlagQuery
from callvault.speech.store import review_flags
from callvault.web.pages.when import when_text
from homes import store_conduct_flag, worker_context
from speech_corpus import short_clip
from web_pages import (
    Desk,
    buttons,
    checked_page,
    embedded_leg,  # noqa: F401
    follow,
    headings,
    post_form,
    seated,
    tag_of,
    text_of,
)

PEOPLE = {
    "sam": "safety_officer",
    "dana": "dpo",
    "aud": "auditor",
    "adam": "advisor",
    "bea": "business_intelligence",
}
SUMMARY = "Caller threatened the advisor about a parking fine; second call this month."


class ConductDesk(Desk):
    def call(self, call_id: str) -> str:
        return record(self.services, self.ctx, self.call_wav, call_id)

    def incident(self, *recording_ids: str) -> str:
        """An incident opened by sam about ``recording_ids``, through the service."""
        opened = IncidentService.for_services(self.services).open(
            self.person("sam"), SUMMARY, recording_ids=recording_ids
        )
        return str(opened["ref"])

    def flag(self, recording_id: str) -> str:
        """A conduct flag on the recording, stored as the speech job stores one."""
        return store_conduct_flag(self.services, recording_id, rule="threat:kill-you",
                                  start_s=41.2, end_s=42.9)  # fmt: skip

    def flag_row(self, flag_id: str) -> Any:
        with self.services.engine.connect() as conn:
            return conn.execute(select(review_flags).where(review_flags.c.id == flag_id)).one()

    def state(self) -> tuple[int, int, int]:
        """Incidents, holds, and holds in force (read directly: listing is audited)."""
        with self.services.engine.connect() as conn:
            count = conn.execute(select(func.count()).select_from(incidents)).scalar_one()
            placed = conn.execute(select(func.count()).select_from(holds)).scalar_one()
            active = conn.execute(
                select(func.count()).select_from(holds).where(holds.c.released_at.is_(None))
            ).scalar_one()
        return int(count), int(placed), int(active)

    def closed_at(self, ref: str) -> str | None:
        with self.services.engine.connect() as conn:
            found = conn.execute(select(incidents.c.closed_at).where(incidents.c.ref == ref))
            value = found.scalar_one()
        return None if value is None else str(value)


@pytest.fixture
def desk(services: Services, ctx: RequestContext, call_wav: Path) -> Iterator[ConductDesk]:
    clients = seated(services, PEOPLE)
    yield ConductDesk(services, clients, ctx, call_wav)
    clients.close()


def _posts(html: str) -> list[str]:
    """Where the page's forms post, the sign-out form left out."""
    return [a for a in re.findall(r'<form method="post" action="([^"]+)"', html) if a != "/signout"]


# -- the whole flow, from a spoken abusive call -----------------------------------------------
@needs_corpus_tools
def test_from_a_spoken_flag_to_an_incident_closed_with_a_warning_letter(
    desk: ConductDesk, tmp_path: Path
) -> None:
    services, sam = desk.services, desk.clients["sam"]
    rec_id = ingest_clip(services, short_clip(tmp_path, "ABUSE"))
    services.speech.process(worker_context(), rec_id)
    [flag] = services.flags.list(desk.person("sam"), FlagQuery(kind="conduct"))

    # The queue: the call (linked to its page, at UK time), the rule and the moment.
    page = sam.get("/conduct")
    assert page.status_code == 200
    checked_page(page.text)
    assert [h for h in headings(page.text) if h[0] <= 2] == [
        (1, "Customer conduct"), (2, "Flags to review"), (2, "Open incidents")
    ]  # fmt: skip
    said = text_of(page.text)
    assert flag["rule"] in said and when_text(flag["started_at"]) in said
    assert f'href="/recordings/{rec_id}"' in page.text
    assert 'href="/conduct"' in page.text  # the navigation's Conduct item
    assert any(b.startswith("Open an incident about flag ") for b in buttons(page.text))
    assert any(b.startswith("Misheard for flag ") for b in buttons(page.text))

    # An empty summary comes back naming the field, and opens nothing.
    action = f"/conduct/flags/{flag['id']}/incident"
    response = post_form(sam, "/conduct", action, summary="  ")
    assert response.status_code == 422
    checked_page(response.text)
    assert f'href="#open-{flag["id"]}-summary"' in response.text
    assert 'aria-invalid="true"' in tag_of(response.text, f"open-{flag['id']}-summary")
    assert desk.state() == (0, 0, 0) and desk.flag_row(flag["id"]).reviewed_at is None

    response = post_form(sam, "/conduct", action, summary=SUMMARY)
    assert response.status_code == 303, response.text
    location = response.headers["location"]
    assert location.startswith("/conduct/incidents/SAF-")
    ref = location.rsplit("/", 1)[1]
    shown = follow(sam, response)
    checked_page(shown)
    said = text_of(shown)
    assert f"Incident {ref} opened" in said and SUMMARY in said
    assert "Held" in said and flag["rule"] in said and f'href="/recordings/{rec_id}"' in shown
    # How to listen: a staff_safety grant quoting the incident's reference.
    assert f"quoting {ref} as the case reference" in said
    assert f"callvault incident bundle {ref} --out FOLDER" in said
    assert {"Link and hold the recording", "Close the incident"} <= set(buttons(shown))
    assert desk.state() == (1, 1, 1)
    assert desk.flag_row(flag["id"]).outcome == "action_taken"

    # The flag has left the queue; the incident is listed.
    queue = sam.get("/conduct").text
    assert "No conduct flags are waiting for review." in text_of(queue)
    assert f'href="/conduct/incidents/{ref}"' in queue

    response = post_form(sam, location, f"{location}/close", outcome="warning_letter",
                         note="Warning letter sent 3 December.")  # fmt: skip
    assert response.status_code == 303, response.text
    closed = follow(sam, response)
    checked_page(closed)
    said = text_of(closed)
    assert f"{ref} closed: warning letter" in said and "Released" in said
    assert _posts(closed) == []  # a closed incident takes no more links
    assert desk.state() == (1, 1, 0) and desk.closed_at(ref) is not None
    assert f'href="/conduct/incidents/{ref}"' not in sam.get("/conduct").text
    assert f'href="/conduct/incidents/{ref}"' in sam.get("/conduct?all=1").text


# -- who sees what ----------------------------------------------------------------------------
def test_the_auditor_reads_incidents_without_the_queue_or_any_form(desk: ConductDesk) -> None:
    call = desk.call("conduct-aud")
    desk.flag(call)
    ref = desk.incident(call)
    client = desk.clients["aud"]
    page = client.get("/conduct")
    assert page.status_code == 200
    checked_page(page.text)
    assert "Flags to review" not in text_of(page.text)
    assert f'href="/conduct/incidents/{ref}"' in page.text and _posts(page.text) == []
    shown = client.get(f"/conduct/incidents/{ref}")
    assert shown.status_code == 200
    checked_page(shown.text)
    assert SUMMARY in text_of(shown.text) and "Held" in text_of(shown.text)
    assert _posts(shown.text) == []
    assert 'href="/recordings/' not in shown.text  # a page auditors would be refused
    assert "quoting" not in text_of(shown.text)  # the purpose is not theirs


def test_the_dpo_closes_a_flag_as_misheard_but_opens_no_incident(desk: ConductDesk) -> None:
    call = desk.call("conduct-dpo")
    flag_id = desk.flag(call)
    client = desk.clients["dana"]
    page = client.get("/conduct").text
    checked_page(page)
    assert _posts(page) == [f"/conduct/flags/{flag_id}/review"]
    assert f"/conduct/flags/{flag_id}/incident" not in page
    # An outcome that is not one of the buttons (opening an incident acts on a flag).
    action = f"/conduct/flags/{flag_id}/review"
    response = post_form(client, "/conduct", action, outcome="action_taken", note="typed")
    assert response.status_code == 422
    checked_page(response.text)
    assert f'href="#review-{flag_id}-outcome"' in response.text
    assert 'value="typed"' in tag_of(response.text, f"review-{flag_id}-note")
    assert desk.flag_row(flag_id).reviewed_at is None

    response = post_form(client, "/conduct", action, outcome="misheard", note="kill the engine")
    assert response.headers["location"] == "/conduct"
    assert "Flag closed: misheard." in text_of(follow(client, response))
    row = desk.flag_row(flag_id)
    assert (row.outcome, row.reviewed_by) == ("misheard", "dana")
    # Opening an incident is not the DPO's to do.
    response = post_form(client, "/conduct", f"/conduct/flags/{flag_id}/incident", summary="x")
    assert response.status_code == 403
    assert desk.state() == (0, 0, 0)


@pytest.mark.parametrize("who", ["adam", "bea"])
def test_an_advisor_and_business_intelligence_are_refused(desk: ConductDesk, who: str) -> None:
    ref = desk.incident(desk.call(f"conduct-{who}"))
    client = desk.clients[who]
    for path in ("/conduct", f"/conduct/incidents/{ref}"):
        response = client.get(path)
        assert response.status_code == 403 and "Not allowed" in response.text
    assert 'href="/conduct"' not in client.get("/").text


# -- the forms --------------------------------------------------------------------------------
def test_a_post_without_the_csrf_token_is_refused(desk: ConductDesk) -> None:
    ref = desk.incident(desk.call("conduct-csrf"))
    client = desk.clients["sam"]
    client.headers.pop("X-CSRF-Token", None)
    response = client.post(f"/conduct/incidents/{ref}/close", follow_redirects=False,
                           data={"outcome": "no_further_action", "note": "none"})  # fmt: skip
    assert response.status_code == 403
    assert desk.closed_at(ref) is None and desk.state() == (1, 1, 1)


def test_closing_with_a_bad_outcome_or_no_note_comes_back_and_changes_nothing(
    desk: ConductDesk,
) -> None:
    ref = desk.incident(desk.call("conduct-close"))
    client, page = desk.clients["sam"], f"/conduct/incidents/{ref}"
    shown = client.get(page).text
    checked_page(shown)
    said = text_of(shown)
    assert "Closing as injunction or police referral keeps the holds" in said
    assert "Closing as warning letter or no further action releases the holds now" in said

    response = post_form(client, page, f"{page}/close", outcome="prison", note="typed note")
    assert response.status_code == 422
    checked_page(response.text)
    assert 'href="#close-outcome"' in response.text
    assert 'aria-invalid="true"' in tag_of(response.text, "close-outcome")
    assert "typed note" in response.text  # what was typed stays
    response = post_form(client, page, f"{page}/close", outcome="injunction", note="")
    assert response.status_code == 422
    assert 'aria-invalid="true"' in tag_of(response.text, "close-note")
    assert '<option value="injunction" selected>' in response.text
    assert desk.closed_at(ref) is None and desk.state() == (1, 1, 1)

    # An injunction keeps the holds: the proceedings need the evidence.
    response = post_form(client, page, f"{page}/close", outcome="injunction",
                         note="Injunction granted.")  # fmt: skip
    assert "The holds stay" in text_of(follow(client, response))
    assert desk.closed_at(ref) is not None and desk.state() == (1, 1, 1)
    again = post_form(client, "/conduct?all=1", f"{page}/close", outcome="injunction", note="x")
    assert again.status_code == 409


def test_linking_another_recording_holds_it_and_a_bad_id_names_the_field(desk: ConductDesk) -> None:
    ref = desk.incident(desk.call("conduct-link-1"))
    other = desk.call("conduct-link-2")
    client, page = desk.clients["sam"], f"/conduct/incidents/{ref}"
    response = post_form(client, page, f"{page}/links", recording_id="0" * 32, note="same caller")
    assert response.status_code == 404
    checked_page(response.text)
    assert 'aria-invalid="true"' in tag_of(response.text, "link-recording_id")
    assert f'value="{"0" * 32}"' in tag_of(response.text, "link-recording_id")
    assert "same caller" in response.text
    response = post_form(client, page, f"{page}/links", recording_id="")
    assert response.status_code == 422 and 'href="#link-recording_id"' in response.text
    assert desk.state() == (1, 1, 1)

    response = post_form(client, page, f"{page}/links", recording_id=other, note="same caller")
    shown = follow(client, response)
    assert f"Recording {other[:8]} linked to {ref}" in text_of(shown)
    assert shown.count("Linked by hand") == 2 and desk.state() == (1, 2, 2)
