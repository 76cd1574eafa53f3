"""Training clips, end to end through the job queue: a clip is published only with
the staff member's own consent, the redacted (muted) source, an altered caller's voice that
passes the measure, and a second person's checklist; withdrawing consent stops it playing at
once and the next job run destroys its key and audio; every step is in the audit trail."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from speech_helpers import ingest_clip, needs_corpus_tools
from sqlalchemy import func, select

from access.access_helpers import add_people, as_person, entries
from callvault.bootstrap import Services
from callvault.context import RequestContext, system_context
from callvault.errors import BadInput, Conflict, NotFound, Refused
from callvault.media.decode import decode_to_pcm
from callvault.speech.renditions import REDACTED_AUDIO
from callvault.speech.store import redactions
from callvault.training.model import CHECKLIST
from callvault.training.service import TrainingService
from callvault.training.similarity import PASS_THRESHOLD, similarity_available
from callvault.training.store import clip_keys
from homes import stored_blobs, worker_context
from jobs.jobs_helpers import burst
from speech_corpus import short_clip

pytestmark = needs_corpus_tools

CALLER_SAYS = (
    "Hello, my name is {NAME:Daniel Kowalski}. I am calling about the parking permit for our "
    "road, it still has not arrived "
    "and the wardens keep leaving tickets on the car outside the house."
)
AGENT_SAYS = (
    "Thank you for calling. I can see the permit was posted on Monday, so I will send a new "
    "one today and ask the wardens to cancel the tickets."
)
ALL_CHECKS = dict.fromkeys(CHECKLIST, True)


@dataclass
class World:
    services: Services
    training: TrainingService
    recording: str
    tess: RequestContext  # team leader: proposes
    mina: RequestContext  # authorised manager: reviews
    adam: RequestContext  # the advisor on the call, signed in as himself

    def propose(self, **overrides: Any) -> Any:
        fields: dict[str, Any] = {"start_s": 0.0, "end_s": 6.0, "why": "calm, clear handling"}
        fields.update(overrides)
        return self.training.propose(self.tess, self.recording, **fields)

    def made(self, **overrides: Any) -> Any:
        """A proposed, consented clip, made (as its job would, with this test's threshold)."""
        clip = self.propose(**overrides)
        self.training.consent(self.adam, clip.id, agree=True)
        return self.training.make(worker_context(), clip.id)


def _own_sign_in(services: Services, name: str) -> RequestContext:
    """The person signed in as themselves (no operator acting for them)."""
    return RequestContext(actor=services.access.person(name), origin="api:127.0.0.1")


# The clip's whole life, and its removal from a locked S3 bucket, run on both legs; the
# checks below are about the service's rules and the voice measure, which the blob store
# and database do not change, so they run on the embedded leg only (each makes a clip:
# the speech job and the voice measure are the slow part of the suite).
EMBEDDED_ONLY = pytest.mark.parametrize("backend", ["sqlite"])


@pytest.fixture
def world(services: Services, ctx: RequestContext, tmp_path: Path) -> World:
    add_people(services, ctx)
    call = short_clip(tmp_path, CALLER_SAYS, agent_text=AGENT_SAYS)
    recording = ingest_clip(services, call, agent="adam")
    burst(services)  # the speech job: transcript, muted personal data, redacted rendition
    # Threshold 1.0: any measured voice passes, so the workflow, not the measure, is tested
    # here (tests/training/test_similarity.py tests the measure and its threshold).
    training = TrainingService(services.engine, services.audit, services.permissions,
                               services.catalog, services.vault, services.jobs,
                               services.ledger, threshold=1.0)  # fmt: skip
    return World(services, training, recording, as_person(services, "tess"),
                 _own_sign_in(services, "mina"), _own_sign_in(services, "adam"))  # fmt: skip


def _actions(services: Services, clip_id: str) -> list[str]:
    return [e["action"] for e in entries(services) if e["object_id"] == clip_id]


def test_a_clip_is_published_only_after_consent_making_and_review(world: World) -> None:
    clip = world.propose()
    assert clip.state == "proposed" and clip.agent == "adam"
    with pytest.raises(Conflict):  # nothing made yet
        world.training.review(world.mina, clip.id, checks=ALL_CHECKS, approve=True)
    world.training.consent(world.adam, clip.id, agree=True)
    made = world.training.make(worker_context(), clip.id)
    assert made.state == "made" and made.blob_name is not None
    assert made.duration_s == pytest.approx(6.0, abs=0.05)
    if not similarity_available():
        assert made.label == "pseudonymised" and made.similarity is None
        with pytest.raises(BadInput) as refused:
            world.training.review(world.mina, clip.id, checks=ALL_CHECKS, approve=True)
        assert refused.value.field == "approve"
        return
    assert made.label == "anonymised" and made.similarity is not None
    with pytest.raises(Refused):  # the proposer does not review their own proposal
        world.training.review(world.tess, clip.id, checks=ALL_CHECKS, approve=True)
    with pytest.raises(BadInput) as refused:
        world.training.review(world.mina, clip.id, checks=ALL_CHECKS | {"no_names": False},
                              approve=True)  # fmt: skip
    assert refused.value.field == "checks"
    published = world.training.review(world.mina, clip.id, checks=ALL_CHECKS, approve=True)
    assert published.state == "published" and published.checklist == ALL_CHECKS
    assert published.retain_until is not None
    assert [c.id for c in world.training.list(world.adam)] == [clip.id]
    assert set(published.as_dict(library=True)) == {
        "clip_id", "line", "why", "duration_s", "label", "published_at"}  # fmt: skip
    assert _actions(world.services, clip.id) == [
        "training.proposed", "training.consented", "training.made",
        "access.refused", "training.published"]  # fmt: skip
    made_entry = next(e for e in entries(world.services) if e["action"] == "training.made")
    assert "alpha" not in str(made_entry["details"])  # the voice change is a secret


@EMBEDDED_ONLY
def test_the_job_makes_a_consented_clip_and_labels_it_by_the_measure(world: World) -> None:
    clip = world.propose()
    world.training.consent(world.adam, clip.id, agree=True)
    burst(world.services)  # the job builds its own service: the shipped threshold applies
    made = world.training.get(world.tess, clip.id)
    assert made.state == "made"
    if made.similarity is None:
        assert made.label == "pseudonymised"  # no measure, no claim
    else:
        passed = made.similarity <= PASS_THRESHOLD
        assert made.label == ("anonymised" if passed else "pseudonymised")
    burst(world.services)  # made once: the job is not run again
    assert world.training.get(world.tess, clip.id).made_at == made.made_at


@pytest.mark.skipif(not similarity_available(), reason="needs the eval extra (resemblyzer)")
@EMBEDDED_ONLY
def test_the_clip_alters_the_caller_and_keeps_the_staff_member(world: World) -> None:
    rec = world.services.catalog.get(world.recording)
    whole = float(int(rec.duration_s))  # both of them speak in the clip
    clip = world.made(end_s=whole)
    world.training.review(world.mina, clip.id, checks=ALL_CHECKS, approve=True)
    pcm, rate = decode_to_pcm(world.training.audio(world.adam, clip.id))
    assert pcm.shape[0] == 2 and abs(pcm.shape[1] / rate - whole) < 0.1
    source_name = world.services.catalog.rendition(world.recording, REDACTED_AUDIO)
    assert source_name is not None
    key = world.services.player.data_key(world.recording)
    source, _ = decode_to_pcm(world.services.vault.read_all(source_name, key))
    n = min(pcm.shape[1], source.shape[1])
    caller, agent = rec.channel_map["caller"], rec.channel_map["agent"]
    frame = rate // 50  # 20 ms

    def similar(a: np.ndarray[Any, Any], b: np.ndarray[Any, Any]) -> float:
        a, b = a[:n].astype(np.float64), b[:n].astype(np.float64)
        return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-9))

    def loudness(x: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        usable = x[: n - n % frame].astype(np.float64).reshape(-1, frame)
        envelope: np.ndarray[Any, Any] = np.sqrt((usable**2).mean(axis=1))
        return envelope

    assert similar(pcm[caller], source[caller]) < 0.5  # a different waveform: altered
    assert np.abs(pcm[caller]).max() > 1000  # and still speech, not silence
    # The staff member as they were heard: the same words at the same moments (Opus keeps
    # the sound, not every sample, so their loudness over time is compared).
    assert similar(loudness(pcm[agent]), loudness(source[agent])) > 0.95
    # The caller's name, muted by the speech job, is silent on both channels of the clip.
    with world.services.engine.connect() as conn:
        spans = conn.execute(
            select(redactions.c.start_s, redactions.c.end_s).where(
                redactions.c.recording_id == world.recording
            )
        ).all()
    assert spans, "the speech job found no personal data to mute"
    for start, end in spans:
        inside = pcm[:, round(start * rate) : round(end * rate)]
        assert np.abs(inside).max() < 300, (start, end)
    assert "training.played" in _actions(world.services, clip.id)


@EMBEDDED_ONLY
def test_consent_is_the_staff_members_own(world: World) -> None:
    clip = world.propose()
    for someone in (world.mina, as_person(world.services, "adam")):  # another; an operator
        with pytest.raises(Refused):
            world.training.consent(someone, clip.id, agree=True)
    assert world.training.get(world.tess, clip.id).state == "proposed"
    refused = world.training.consent(world.adam, clip.id, agree=False)
    assert refused.state == "refused"
    burst(world.services)
    assert world.training.get(world.tess, clip.id).blob_name is None  # never made
    with pytest.raises(Conflict):
        world.training.consent(world.adam, clip.id, agree=True)


def test_withdrawing_consent_stops_play_at_once_and_the_next_run_removes_it(
    world: World,
) -> None:
    clip = world.made()
    if clip.label == "anonymised":
        world.training.review(world.mina, clip.id, checks=ALL_CHECKS, approve=True)
        assert world.training.audio(world.adam, clip.id)
    assert clip.blob_name in stored_blobs(world.services)
    withdrawn = world.training.withdraw(world.adam, clip.id)
    assert withdrawn.state == "withdrawn"
    with pytest.raises(Refused):
        world.training.audio(world.mina, clip.id)
    burst(world.services)  # the next job run
    removed = world.training.get(world.tess, clip.id)
    assert removed.state == "removed" and removed.removed_why == "consent withdrawn"
    assert clip.blob_name not in stored_blobs(world.services)
    with world.services.engine.connect() as conn:
        keys = conn.execute(select(func.count()).select_from(clip_keys)).scalar_one()
    assert keys == 0
    steps = _actions(world.services, clip.id)
    # The withdrawal, the refused play and the removal, in that order.
    assert steps[-3:] == ["training.withdrawn", "access.refused", "training.removed"]


def test_a_rejected_clip_is_removed(world: World) -> None:
    clip = world.made()
    with pytest.raises(BadInput) as refused:
        world.training.review(world.mina, clip.id, checks={}, approve=False)
    assert refused.value.field == "note"
    rejected = world.training.review(world.mina, clip.id, checks={"no_names": False},
                                     approve=False, note="a street name is audible")  # fmt: skip
    assert rejected.state == "rejected"
    burst(world.services)
    assert world.training.get(world.tess, clip.id).state == "removed"
    assert clip.blob_name not in stored_blobs(world.services)


@EMBEDDED_ONLY
def test_the_library_keeps_clips_for_its_own_period(world: World) -> None:
    if not similarity_available():
        pytest.skip("publishing needs the measure (the eval extra)")
    clip = world.made()
    world.training.review(world.mina, clip.id, checks=ALL_CHECKS, approve=True)
    later = datetime.now(UTC) + timedelta(days=731)
    future = TrainingService(world.services.engine, world.services.audit,
                             world.services.permissions, world.services.catalog,
                             world.services.vault, world.services.jobs,
                             world.services.ledger, clock=lambda: later)  # fmt: skip
    assert future.expire(worker_context()) == [clip.id]
    gone = world.training.get(world.tess, clip.id)
    assert gone.state == "removed" and gone.removed_why == "the library's retention ended"


# (overrides, the field named): each refused on one world (the speech job is slow to set up).
BAD_PROPOSALS: list[tuple[dict[str, Any], str]] = [
    ({"end_s": 600.0}, "end_s"),  # after the call's end
    ({"start_s": 2.0, "end_s": 3.0}, "end_s"),  # shorter than a clip can be
    ({"start_s": -1.0}, "start_s"),
    ({"why": "  "}, "why"),
]


@EMBEDDED_ONLY
def test_bad_proposals_are_named_and_write_nothing(world: World) -> None:
    before = len(entries(world.services))
    for overrides, field in BAD_PROPOSALS:
        with pytest.raises(BadInput) as refused:
            world.propose(**overrides)
        assert refused.value.field == field, overrides
    assert len(entries(world.services)) == before
    assert world.training.list(world.tess, library=False) == []


@EMBEDDED_ONLY
def test_who_may_do_what(world: World) -> None:
    with pytest.raises(Refused):  # advisors do not propose
        world.training.propose(world.adam, world.recording, start_s=0, end_s=5, why="x")
    cora = as_person(world.services, "cora")  # complaints: no part in training
    with pytest.raises(Refused):
        world.training.list(cora)
    clip = world.propose()
    world.services.access.add_person(system_context("test"), "ada", "advisor", "correct horse")
    with pytest.raises(NotFound):  # not published: not in another advisor's library
        world.training.get(as_person(world.services, "ada"), clip.id)
    # The DPO reviews clips, so sees them in every state.
    assert world.training.get(as_person(world.services, "dana"), clip.id).id == clip.id
    # The staff member sees the clip awaiting their decision.
    assert [c.id for c in world.training.list(world.adam)] == [clip.id]
    refusals = [e for e in entries(world.services) if e["action"] == "access.refused"]
    assert {e["actor"] for e in refusals} >= {"adam", "cora"}
