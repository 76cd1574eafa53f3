"""Call metadata that comes with a file from a PBX: parsed and checked before anything is kept.

The schema is documented in docs/ingest.md; every error names the field and the fix.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from callvault.errors import BadInput
from callvault.policy.numbers import normalise_number

REQUIRED = (
    "call_id",
    "direction",
    "dialled",
    "caller",
    "agent",
    "started_at",
    "ended_at",
    "announcement_played",
    "channel_map",
)
OPTIONAL = ("notice_version", "transferred_to", "source", "vendor")
WITHHELD = "withheld"
_WITHHELD_SPELLINGS = {"withheld", "anonymous", "private", "unavailable", "restricted"}
_CALL_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@+-]{0,127}")
_AGENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@ -]{0,63}")
# Accepted channel maps: two channels with one party each, or one mixed channel.
CHANNEL_MAPS = ({"caller": 0, "agent": 1}, {"caller": 1, "agent": 0}, {"mixed": 0})


@dataclass(frozen=True, slots=True)
class CallMeta:
    call_id: str
    direction: str
    dialled: str  # normalised: E.164 or an internal extension
    caller: str  # normalised, or "withheld"
    agent: str
    started_at: datetime
    ended_at: datetime
    announcement_played: bool
    channel_map: dict[str, int]
    notice_version: str | None = None
    transferred_to: str | None = None
    source: str | None = None


def parse_meta_json(raw: bytes, *, now: datetime, max_skew_s: int, max_hours: int) -> CallMeta:
    """Parse metadata JSON bytes; raises BadInput naming the field at fault."""
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BadInput(f"metadata is not valid JSON ({exc}); send a JSON object", "meta") from exc
    if not isinstance(data, dict):
        raise BadInput("metadata must be a JSON object with the call's fields", "meta")
    return parse_meta(data, now=now, max_skew_s=max_skew_s, max_hours=max_hours)


def parse_meta(data: dict[str, Any], *, now: datetime, max_skew_s: int, max_hours: int) -> CallMeta:
    unknown = sorted(set(data) - set(REQUIRED) - set(OPTIONAL))
    if unknown:
        raise BadInput(
            f'unknown metadata field {unknown[0]!r}; put vendor data under "vendor"',
            f"meta.{unknown[0]}",
        )
    for key in REQUIRED:
        if key not in data or data[key] is None:
            raise BadInput(
                f"metadata field {key!r} is required (see docs/ingest.md)", f"meta.{key}"
            )
    started = _timestamp(data["started_at"], "started_at")
    ended = _timestamp(data["ended_at"], "ended_at")
    _check_times(started, ended, now=now, max_skew_s=max_skew_s, max_hours=max_hours)
    return CallMeta(
        call_id=_matching(data["call_id"], _CALL_ID, "call_id", "letters, digits and ._:@+-"),
        direction=_direction(data["direction"]),
        dialled=normalise_number(_text(data["dialled"], "dialled"), "meta.dialled").value,
        caller=_caller(data["caller"]),
        agent=_matching(data["agent"], _AGENT, "agent", "an agent id or extension"),
        started_at=started,
        ended_at=ended,
        announcement_played=_boolean(data["announcement_played"], "announcement_played"),
        channel_map=_channel_map(data["channel_map"]),
        notice_version=_optional_text(data, "notice_version"),
        transferred_to=_optional_text(data, "transferred_to"),
        source=_optional_text(data, "source"),
    )


def _text(value: object, key: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise BadInput(f"metadata field {key!r} must be a non-empty string", f"meta.{key}")
    return value.strip()


def _optional_text(data: dict[str, Any], key: str) -> str | None:
    return None if data.get(key) is None else _text(data[key], key)


def _matching(value: object, pattern: re.Pattern[str], key: str, allowed: str) -> str:
    text = _text(value, key)
    if not pattern.fullmatch(text):
        raise BadInput(f"metadata field {key!r} has {text!r}; use {allowed}", f"meta.{key}")
    return text


def _direction(value: object) -> str:
    if value not in ("inbound", "outbound"):
        raise BadInput(
            f'metadata field \'direction\' must be "inbound" or "outbound", got {value!r}',
            "meta.direction",
        )
    return str(value)


def _caller(value: object) -> str:
    text = _text(value, "caller")
    if text.lower() in _WITHHELD_SPELLINGS:
        return WITHHELD
    return normalise_number(text, "meta.caller").value


def _boolean(value: object, key: str) -> bool:
    if not isinstance(value, bool):
        raise BadInput(
            f"metadata field {key!r} must be true or false, got {value!r}", f"meta.{key}"
        )
    return value


def _timestamp(value: object, key: str) -> datetime:
    text = _text(value, key)
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise BadInput(
            f"metadata field {key!r} is not an ISO 8601 time: {text!r}; "
            "use e.g. 2026-11-28T09:15:00Z",
            f"meta.{key}",
        ) from None
    if parsed.tzinfo is None:
        raise BadInput(
            f"metadata field {key!r} has no time zone: {text!r}; add Z or an offset like +00:00",
            f"meta.{key}",
        )
    return parsed.astimezone(UTC)


def _check_times(
    started: datetime, ended: datetime, *, now: datetime, max_skew_s: int, max_hours: int
) -> None:
    if ended < started:
        raise BadInput(
            f"ended_at ({ended.isoformat()}) is before started_at ({started.isoformat()}); "
            "check the PBX's clock or swap the fields",
            "meta.ended_at",
        )
    if started > now + timedelta(seconds=max_skew_s):
        raise BadInput(
            f"started_at ({started.isoformat()}) is in the future; check the PBX's clock",
            "meta.started_at",
        )
    if ended - started > timedelta(hours=max_hours):
        raise BadInput(
            f"the call lasts more than {max_hours} hours; check started_at and ended_at",
            "meta.ended_at",
        )


def _channel_map(value: object) -> dict[str, int]:
    if isinstance(value, dict) and value in CHANNEL_MAPS:
        return dict(value)
    raise BadInput(
        f'unknown channel_map {value!r}; use {{"caller": 0, "agent": 1}} (or 1/0) for '
        'two-channel audio, or {"mixed": 0} for mono',
        "meta.channel_map",
    )
