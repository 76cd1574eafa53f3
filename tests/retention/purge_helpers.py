"""Shared by the purge tests: old calls (already past their period) and what a purge leaves."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import select

from callvault.bootstrap import Services
from callvault.capture.ingest import AudioInput
from callvault.catalog.store import data_keys, recordings
from callvault.context import RequestContext
from callvault.retention.purge import RetentionService
from homes import meta_for

# Parking keeps 12 months in the shipped policy.
PERIOD = timedelta(days=366)


def record_at(
    services: Services,
    ctx: RequestContext,
    audio: Path,
    call_id: str,
    started: datetime,
    **meta: Any,
) -> str:
    """Ingest a call that started at ``started`` (a parking call unless meta says otherwise)."""
    fields = meta_for(
        call_id=call_id,
        started_at=started.isoformat(),
        ended_at=(started + timedelta(seconds=3)).isoformat(),
        **meta,
    )
    result = services.ingest.ingest(ctx, AudioInput(path=audio), orjson.dumps(fields))
    assert result.recording_id is not None, result
    return result.recording_id


def retain_until(services: Services, recording_id: str) -> datetime:
    with services.engine.connect() as conn:
        value = conn.execute(
            select(recordings.c.retain_until).where(recordings.c.id == recording_id)
        ).scalar_one()
    return datetime.fromisoformat(value)


def purger(services: Services, now: datetime) -> RetentionService:
    """The purge with its clock at ``now`` (the simulated clock)."""
    return RetentionService(
        services.engine,
        services.audit,
        services.policy.policy,
        services.vault,
        services.ledger,
        clock=lambda: now,
    )


def has_key(services: Services, recording_id: str) -> bool:
    with services.engine.connect() as conn:
        found = conn.execute(
            select(data_keys.c.recording_id).where(data_keys.c.recording_id == recording_id)
        ).first()
    return found is not None


def row(services: Services, recording_id: str) -> dict[str, Any]:
    with services.engine.connect() as conn:
        found = conn.execute(select(recordings).where(recordings.c.id == recording_id)).one()
    return dict(found._mapping)


def audit_actions(services: Services, object_id: str) -> list[str]:
    return [
        e["action"]
        for e in services.audit.show(after=0, limit=100_000)
        if e.get("object_id") == object_id
    ]


def now_utc() -> datetime:
    return datetime.now(UTC)
