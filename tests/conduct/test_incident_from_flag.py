"""From the speech job's conduct flag to an incident, on real parts: a spoken abusive call is
transcribed by the packaged model, its flag opens an incident, the flag is closed as acted on,
and the call is held under the incident's reference. The embedded leg only: the speech model
is the slow part, and the incident's queries run on both legs in test_incidents.py."""

from __future__ import annotations

from pathlib import Path

from speech_helpers import ingest_clip, needs_corpus_tools
from sqlalchemy import select

from access.access_helpers import add_people, as_person
from callvault.bootstrap import Services
from callvault.conduct.service import IncidentService
from callvault.context import RequestContext
from callvault.retention.store import holds
from callvault.speech.flags import FlagQuery
from homes import worker_context
from speech_corpus import short_clip
from web_pages import embedded_leg  # noqa: F401

pytestmark = needs_corpus_tools


def test_a_conduct_flag_becomes_an_incident_with_its_call_held(
    services: Services, ctx: RequestContext, tmp_path: Path
) -> None:
    add_people(services, ctx)
    rec_id = ingest_clip(services, short_clip(tmp_path, "ABUSE"))
    services.speech.process(worker_context(), rec_id)
    sam = as_person(services, "sam")
    [flag] = services.flags.list(sam, FlagQuery(kind="conduct"))
    assert flag["recording_id"] == rec_id

    incident = IncidentService.for_services(services).open(
        sam, "Abuse towards the advisor", flag_ids=[flag["id"]]
    )
    [linked] = incident["recordings"]
    assert (linked["recording_id"], linked["flag_id"]) == (rec_id, flag["id"])
    assert linked["rule"] == flag["rule"] and linked["hold_released_at"] is None
    # The queue no longer shows the flag: it was closed as acted on, naming the incident.
    assert services.flags.list(sam, FlagQuery(kind="conduct")) == []
    [closed] = services.flags.list(sam, FlagQuery(kind="conduct", open_only=False))
    assert (closed["outcome"], closed["reviewed_by"]) == ("action_taken", "sam")
    with services.engine.connect() as conn:
        held = conn.execute(select(holds.c.reason).where(holds.c.case_ref == incident["ref"]))
        assert held.scalars().all() == ["injunction"]
