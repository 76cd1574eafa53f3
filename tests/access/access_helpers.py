"""Helpers for the access tests: people, a recording, contexts acting for a person."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from callvault.bootstrap import Services
from callvault.capture.ingest import AudioInput
from callvault.context import RequestContext
from homes import meta_for, run_cli

__all__ = ["run_cli"]

PEOPLE = {
    "cora": "complaints_officer",
    "mina": "authorised_manager",
    "max": "authorised_manager",
    "dana": "dpo",
    "tess": "team_leader",
    "adam": "advisor",
    "aud": "auditor",
    "root": "administrator",
    "sam": "safety_officer",
}


def add_people(services: Services, ctx: RequestContext) -> None:
    for name, role in PEOPLE.items():
        services.access.add_person(ctx, name, role, "correct horse battery")


def as_person(services: Services, name: str) -> RequestContext:
    return RequestContext(
        actor=services.access.person(name, operator="operator:test"), origin="cli"
    )


def record(
    services: Services, ctx: RequestContext, audio: Path, call_id: str = "pbx-0001", **meta: Any
) -> str:
    result = services.ingest.ingest(
        ctx, AudioInput(path=audio), orjson.dumps(meta_for(call_id=call_id, **meta))
    )
    assert result.recording_id is not None
    return result.recording_id


class Grants:
    """The access flow and player of one home (``grants(services).flow`` / ``.player``)."""

    def __init__(self, services: Services) -> None:
        self.flow, self.player = services.grants, services.player


def grants(services: Services) -> Grants:
    return Grants(services)


def entries(services: Services, after: int = 0) -> list[dict[str, Any]]:
    return services.audit.show(after=after, limit=10_000)
