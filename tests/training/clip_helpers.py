"""A published training clip without the speech job: for tests about where clips are kept
(backup, restore, store checks), not about how a clip is made (test_training_clips.py)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert

from callvault.bootstrap import Services
from callvault.context import RequestContext
from callvault.db import transaction
from callvault.training.model import PUBLISHED
from callvault.training.service import LIBRARY_DAYS, TrainingService, clip_blob_name
from callvault.training.store import clip_key_aad, clip_keys, training_clips
from homes import worker_context


@dataclass(frozen=True, slots=True)
class StoredClip:
    id: str
    blob_name: str
    audio: bytes  # what the clip plays (Ogg Opus)


def published_clip(services: Services, recording_id: str) -> StoredClip:
    """A clip of ``recording_id`` stored as the make job stores one (audio encrypted under a
    key of its own) and published. Its audio is the recording's own: the voice change is
    tested where clips are made, and costs the speech job this helper spares."""
    rec = services.catalog.get(recording_id)
    key = services.vault.unwrap_key(services.catalog.wrapped_key(recording_id), recording_id)
    audio = services.vault.read_all(rec.blob_name, key)
    clip_id, now = uuid.uuid4().hex, datetime.now(UTC)
    name, clip_key = clip_blob_name(clip_id), services.vault.new_data_key()
    services.vault.write(name, clip_key, audio)
    wrapped = services.vault.wrap_key(clip_key, clip_key_aad(clip_id))
    stamp = now.isoformat(timespec="microseconds")
    row: dict[str, Any] = {
        "id": clip_id, "recording_id": recording_id, "start_s": 0.0, "end_s": rec.duration_s,
        "why": "calm, clear handling", "line": rec.line, "agent": rec.agent,
        "proposed_by": "tess", "proposed_at": stamp, "state": PUBLISHED, "consent_at": stamp,
        "made_at": stamp, "blob_name": name, "duration_s": rec.duration_s,
        "label": "anonymised", "similarity": 0.1, "reviewed_by": "mina", "reviewed_at": stamp,
        "published_at": stamp, "retain_until": (now + timedelta(days=LIBRARY_DAYS)).isoformat(),
    }  # fmt: skip
    with transaction(services.engine) as conn:
        conn.execute(insert(training_clips).values(**row))
        conn.execute(
            insert(clip_keys).values(
                clip_id=clip_id, kek_id=wrapped.kek_id, wrapped=wrapped.blob, created_at=stamp
            )
        )
    return StoredClip(clip_id, name, audio)


def own_sign_in(services: Services, name: str) -> RequestContext:
    """The person signed in as themselves (no operator acting for them), as consent needs."""
    return RequestContext(actor=services.access.person(name), origin="api:127.0.0.1")


def withdraw_and_remove(services: Services, clip: StoredClip, agent: str) -> None:
    """The staff member withdraws consent, and the removal job runs (key destroyed, blob
    deleted), as the next job run would."""
    training = TrainingService.for_services(services)
    training.withdraw(own_sign_in(services, agent), clip.id)
    training.remove(worker_context(), clip.id)
