"""What the catalog holds about a call and its recording."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class CallDecision:
    id: str
    call_id: str
    direction: str
    dialled: str
    record: bool
    line: str | None
    rule: str
    policy_version: str
    decided_at: str
    origin: str


@dataclass(frozen=True, slots=True)
class Recording:
    id: str
    call_id: str
    decision_id: str
    line: str
    sensitivity: str
    direction: str
    dialled: str
    caller: str
    agent: str
    started_at: str
    ended_at: str
    duration_s: float
    announcement_played: bool
    notice_version: str
    channel_map: dict[str, int]
    flags: list[str]
    source_sha256: str
    source_bytes: int
    source_format: str
    blob_name: str
    codec: str
    sample_rate: int
    channels: int
    retain_until: str
    created_at: str
    # Set once retention purged it: the row is then a tombstone without caller, agent or hash.
    purged_at: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)
