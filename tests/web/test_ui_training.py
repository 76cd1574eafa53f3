"""The training pages: the staff member on the call agrees, refuses or withdraws from their own
sign-in (nobody else can, and a refusal is audited), the reviewer confirms the checklist and
publishes or rejects (with a note) a made clip through the page, the proposer cannot review,
and a team leader proposes a clip from the recording's page."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from speech_helpers import ingest_clip, needs_corpus_tools
from sqlalchemy import select

from access.access_helpers import entries
from callvault.bootstrap import Services
from callvault.context import RequestContext, system_context
from callvault.jobs.store import jobs
from callvault.training.model import CHECKLIST, Clip
from callvault.training.service import MAKE_TASK, TrainingService
from callvault.training.similarity import similarity_available
from homes import worker_context
from jobs.jobs_helpers import burst
from speech_corpus import short_clip
from web_pages import (
    SignedIn,
    buttons,
    checked_page,
    csrf_of,
    embedded_leg,  # noqa: F401
    follow,
    headings,
    post_form,
    tag_of,
    text_of,
)
from web_people import PASSWORD

pytestmark = needs_corpus_tools

PEOPLE = {
    "tess": "team_leader",
    "mina": "authorised_manager",
    "max": "authorised_manager",
    "adam": "advisor",
    "cora": "complaints_officer",
}
CALLER_SAYS = (
    "Hello, I am calling about the parking permit for our road, it still has not arrived "
    "and the wardens keep leaving tickets on the car outside the house."
)
WHY = "calm, clear handling of a permit delay"


@dataclass
class World:
    services: Services
    clients: SignedIn
    recording: str
    # Threshold 1.0: any measured voice passes, so the pages, not the measure, are tested.
    training: TrainingService

    def person(self, name: str) -> RequestContext:
        """``name`` signed in as themselves (no operator acting for them)."""
        return RequestContext(actor=self.services.access.person(name), origin="test")

    def propose(self, by: str = "tess") -> Clip:
        return self.training.propose(
            self.person(by), self.recording, start_s=0.0, end_s=6.0, why=WHY
        )

    def made(self, by: str = "tess") -> Clip:
        """A proposed clip, agreed to by adam and made (as its job would, threshold 1.0)."""
        clip = self.propose(by)
        self.training.consent(self.person("adam"), clip.id, agree=True)
        return self.training.make(worker_context(), clip.id)

    def state(self, clip_id: str) -> str:
        return self.training.get(self.person("tess"), clip_id).state


@pytest.fixture
def world(services: Services, tmp_path: Path) -> Iterator[World]:
    for name, role in PEOPLE.items():
        services.access.add_person(system_context("test"), name, role, PASSWORD)
    recording = ingest_clip(services, short_clip(tmp_path, CALLER_SAYS), agent="adam")
    burst(services)  # the speech job: transcript, muted personal data, redacted rendition
    training = TrainingService(services.engine, services.audit, services.permissions,
                               services.catalog, services.vault, services.jobs,
                               services.ledger, threshold=1.0)  # fmt: skip
    clients = SignedIn(services)
    yield World(services, clients, recording, training)
    clients.close()


def _refusals(services: Services, clip_id: str, after: int) -> list[str]:
    return [
        e["actor"]
        for e in entries(services, after)
        if e["action"] == "access.refused" and e["object_id"] == clip_id
    ]


# -- the staff member's decision --------------------------------------------------------------
def test_the_advisor_sees_the_clip_awaiting_them_and_agrees_through_the_page(
    world: World,
) -> None:
    clip = world.propose()
    page = world.clients["adam"].get("/training")
    assert page.status_code == 200
    checked_page(page.text)
    assert [h for h in headings(page.text) if h[0] <= 2] == [
        (1, "Training clips"), (2, "Awaiting your decision"), (2, "Your clips"), (2, "Library")
    ]  # fmt: skip
    said = text_of(page.text)
    assert WHY in said and "0:00 to 0:06" in said and "tess" in said
    for promise in ("caller's details", "voice is altered", "reviewer", "2 years",
                    "withdraw at any time"):  # fmt: skip
        assert promise in said, promise
    assert any(b.startswith("Agree to clip: ") for b in buttons(page.text))
    assert any(b.startswith("Refuse clip: ") for b in buttons(page.text))
    assert 'href="/training"' in page.text  # the navigation's Training item

    response = post_form(world.clients["adam"], "/training", f"/training/{clip.id}/consent",
                         agree="yes")  # fmt: skip
    assert response.headers["location"] == "/training"
    after = follow(world.clients["adam"], response)
    assert "You agreed." in text_of(after)
    assert world.state(clip.id) == "consented"
    with world.services.engine.connect() as conn:
        queued = conn.execute(select(jobs.c.task, jobs.c.payload, jobs.c.status)).all()
    assert (MAKE_TASK, {"clip_id": clip.id}, "queued") in [tuple(row) for row in queued]
    # Agreed, it is now among their clips, with its withdraw button.
    assert any(b.startswith("Withdraw consent and delete") for b in buttons(after))


def test_refusing_through_the_page_makes_nothing(world: World) -> None:
    clip = world.propose()
    response = post_form(world.clients["adam"], "/training", f"/training/{clip.id}/consent",
                         agree="no")  # fmt: skip
    assert "You refused." in text_of(follow(world.clients["adam"], response))
    assert world.state(clip.id) == "refused"


def test_another_persons_consent_is_refused_and_audited(world: World) -> None:
    clip = world.propose()
    before = world.services.audit.count()
    for who in ("mina", "tess"):
        response = post_form(world.clients[who], "/training", f"/training/{clip.id}/consent",
                             agree="yes")  # fmt: skip
        assert response.status_code == 403
        assert "Not allowed" in response.text and "adam" in text_of(response.text)
    assert world.state(clip.id) == "proposed"
    assert _refusals(world.services, clip.id, before) == ["mina", "tess"]


def test_a_post_without_the_csrf_token_is_refused(world: World) -> None:
    clip = world.propose()
    client = world.clients["adam"]
    client.headers.pop("X-CSRF-Token", None)
    response = client.post(f"/training/{clip.id}/consent", data={"agree": "yes"},
                           follow_redirects=False)  # fmt: skip
    assert response.status_code == 403
    assert world.state(clip.id) == "proposed"


def test_withdrawing_through_the_page_stops_play_at_once_and_the_next_run_removes_it(
    world: World,
) -> None:
    clip = world.made()
    audio = f"/api/v1/training/clips/{clip.id}/audio"
    assert world.clients["max"].get(audio).status_code == 200  # a made clip, to its reviewer
    page = world.clients["adam"].get("/training").text
    checked_page(page)
    assert f'action="/training/{clip.id}/withdraw"' in page
    response = post_form(world.clients["adam"], "/training", f"/training/{clip.id}/withdraw")
    assert "Consent withdrawn." in text_of(follow(world.clients["adam"], response))
    assert world.state(clip.id) == "withdrawn"
    assert world.clients["max"].get(audio).status_code == 403
    burst(world.services)  # the next job run
    assert world.state(clip.id) == "removed"
    assert world.clients["max"].get(audio).status_code == 403


# -- the review -------------------------------------------------------------------------------
def test_the_reviewer_page_shows_the_player_and_every_check(world: World) -> None:
    clip = world.made()
    listing = world.clients["max"].get("/training").text
    checked_page(listing)
    assert (2, "In progress") in headings(listing)
    assert f'href="/training/{clip.id}"' in listing and "Review" in text_of(listing)
    page = world.clients["max"].get(f"/training/{clip.id}")
    assert page.status_code == 200
    checked_page(page.text)
    said = text_of(page.text)
    for wording in CHECKLIST.values():
        assert text_of(wording) in said
    for name in CHECKLIST:
        assert 'type="checkbox"' in tag_of(page.text, f"check-{name}")
    assert f'src="/api/v1/training/clips/{clip.id}/audio"' in page.text
    assert clip.label is not None and clip.label.capitalize() in said
    if clip.similarity is not None:
        assert f"{clip.similarity:.2f}" in said
    assert {"Publish to the library", "Reject and delete"} <= set(buttons(page.text))
    # The staff member sees their clip, and no checklist.
    own = world.clients["adam"].get(f"/training/{clip.id}").text
    assert f'action="/training/{clip.id}/review"' not in own


@pytest.mark.skipif(not similarity_available(), reason="publishing needs the eval extra")
def test_publishing_through_the_page_with_every_check(world: World) -> None:
    clip = world.made()
    assert clip.label == "anonymised"
    client = world.clients["max"]
    token = csrf_of(client.get(f"/training/{clip.id}").text)
    client.headers.pop("X-CSRF-Token", None)
    fields = {"csrf_token": token, "checks": list(CHECKLIST), "note": "", "decision": "publish"}
    response = client.post(f"/training/{clip.id}/review", data=fields, follow_redirects=False)
    assert response.status_code == 303, response.text
    assert "Published" in text_of(follow(client, response))
    assert world.state(clip.id) == "published"
    library = world.clients["adam"].get("/training").text
    checked_page(library)
    assert f'src="/api/v1/training/clips/{clip.id}/audio"' in library
    assert world.clients["adam"].get(f"/api/v1/training/clips/{clip.id}/audio").status_code == 200


def test_publishing_with_a_check_missing_shows_the_form_again(world: World) -> None:
    clip = world.made()
    client = world.clients["max"]
    token = csrf_of(client.get(f"/training/{clip.id}").text)
    client.headers.pop("X-CSRF-Token", None)
    some = [name for name in CHECKLIST if name != "no_names"]
    fields = {"csrf_token": token, "checks": some, "decision": "publish"}
    response = client.post(f"/training/{clip.id}/review", data=fields, follow_redirects=False)
    assert response.status_code == 422
    checked_page(response.text)
    assert 'href="#checks"' in response.text and "no_names" in text_of(response.text)
    assert "checked" in tag_of(response.text, "check-no_numbers")  # what was ticked stays
    assert "checked" not in tag_of(response.text, "check-no_names")
    assert world.state(clip.id) == "made"


def test_rejecting_needs_a_note(world: World) -> None:
    clip = world.made()
    client = world.clients["max"]
    page = f"/training/{clip.id}"
    response = post_form(client, page, f"{page}/review", decision="reject", note=" ")
    assert response.status_code == 422
    checked_page(response.text)
    assert 'aria-invalid="true"' in tag_of(response.text, "note")
    assert "note is required" in text_of(response.text)
    assert world.state(clip.id) == "made"
    response = post_form(client, page, f"{page}/review", checks="no_names", decision="reject",
                         note="a street name is audible")  # fmt: skip
    assert "Rejected" in text_of(follow(client, response))
    assert world.state(clip.id) == "rejected"


def test_the_proposer_cannot_review(world: World) -> None:
    clip = world.made(by="mina")  # an authorised manager proposed it: she may review others'
    client = world.clients["mina"]
    page = client.get(f"/training/{clip.id}").text
    checked_page(page)
    assert f'action="/training/{clip.id}/review"' not in page
    assert "someone else reviews it" in text_of(page)
    before = world.services.audit.count()
    response = post_form(client, f"/training/{clip.id}", f"/training/{clip.id}/review",
                         checks="no_names", decision="reject", note="mine")  # fmt: skip
    assert response.status_code == 403
    assert _refusals(world.services, clip.id, before) == ["mina"]
    assert world.state(clip.id) == "made"


# -- proposing from the recording's page ------------------------------------------------------
def test_a_team_leader_proposes_a_clip_from_the_recording_page(world: World) -> None:
    client = world.clients["tess"]
    page = f"/recordings/{world.recording}"
    shown = client.get(page).text
    checked_page(shown)
    assert (2, "Propose a training clip") in headings(shown)
    assert f'action="/recordings/{world.recording}/training"' in shown
    response = post_form(client, page, f"{page}/training", start_s="0:00", end_s="0:06", why=WHY)
    assert response.status_code == 303, response.text
    clip_id = response.headers["location"].removeprefix("/training/")
    assert "Clip proposed" in text_of(follow(client, response))
    clip = world.training.get(world.person("tess"), clip_id)
    assert (clip.state, clip.proposed_by, clip.agent) == ("proposed", "tess", "adam")
    assert (clip.start_s, clip.end_s, clip.why) == (0.0, 6.0, WHY)


def test_a_bad_proposal_shows_the_form_again_naming_the_field(world: World) -> None:
    client = world.clients["tess"]
    page = f"/recordings/{world.recording}"
    response = post_form(client, page, f"{page}/training", start_s="0:00", end_s="six", why=WHY)
    assert response.status_code == 422
    checked_page(response.text)
    assert 'href="#clip-end"' in response.text
    assert 'aria-invalid="true"' in tag_of(response.text, "clip-end")
    assert WHY in response.text  # what was entered stays
    response = post_form(client, page, f"{page}/training", start_s="0", end_s="6", why="")
    assert response.status_code == 422 and 'href="#clip-why"' in response.text
    assert world.training.list(world.person("tess"), library=False) == []


def test_the_propose_form_is_only_for_those_who_may_propose(world: World) -> None:
    page = f"/recordings/{world.recording}"
    shown = world.clients["cora"].get(page)
    assert shown.status_code == 200
    assert "/training" not in shown.text and "Propose a training clip" not in shown.text
    response = post_form(world.clients["cora"], page, f"{page}/training", start_s="0",
                         end_s="6", why=WHY)  # fmt: skip
    assert response.status_code == 403
    assert world.training.list(world.person("tess"), library=False) == []
