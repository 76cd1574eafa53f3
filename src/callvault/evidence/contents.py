"""What an evidence bundle says about the call: ``metadata.json`` and the transcript files.

Built before the bundle's audit entry, which carries their hashes; nothing here writes.
The caller's number is shown as the person making the bundle may see it (masked for roles
that see it masked in search), and only purposes that may hear the original make bundles.
"""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import Connection, select

from callvault.access.export import AudioFile
from callvault.access.searching import MASKED_CALLER_ROLES, mask_number
from callvault.catalog.model import CallDecision, Recording
from callvault.db import plain
from callvault.errors import NotFound
from callvault.evidence.verify import TRANSCRIPT_JSON, TRANSCRIPT_TEXT
from callvault.policy.model import Policy
from callvault.retention.store import hold_recordings, holds
from callvault.speech.model import Transcript

_JSON = orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS


def holds_on(conn: Connection, recording_id: str) -> list[dict[str, Any]]:
    """Every legal hold that names the recording, placed or released, oldest first."""
    rows = conn.execute(
        select(holds.c.id, holds.c.reason, holds.c.case_ref, holds.c.placed_at,
               holds.c.released_at)
        .join(hold_recordings, hold_recordings.c.hold_id == holds.c.id)
        .where(hold_recordings.c.recording_id == recording_id)
        .order_by(holds.c.placed_at, holds.c.id)
    )  # fmt: skip
    return [plain(row) for row in rows]


def metadata_json(
    rec: Recording,
    decision: CallDecision | None,
    policy: Policy,
    role: str | None,
    audio: AudioFile,
    held: list[dict[str, Any]],
) -> bytes:
    """``metadata.json``: the call, its audio file, the policy decision and retention."""
    try:
        line_name: str | None = policy.line(rec.line).name
    except NotFound:
        line_name = None  # a line since removed from the policy: its id still says which
    document = {
        "recording_id": rec.id,
        "call_id": rec.call_id,
        "line": {"id": rec.line, "name": line_name, "sensitivity": rec.sensitivity},
        "direction": rec.direction,
        "dialled": rec.dialled,
        "caller": mask_number(rec.caller) if role in MASKED_CALLER_ROLES else rec.caller,
        "agent": rec.agent,
        "started_at": rec.started_at,
        "ended_at": rec.ended_at,
        "duration_s": rec.duration_s,
        "announcement_played": rec.announcement_played,
        "notice_version": rec.notice_version,
        "flags": rec.flags,
        "audio": {
            "file": audio.file, "container": "ogg", "codec": rec.codec,
            "sample_rate": rec.sample_rate, "channels": rec.channels,
            "channel_map": rec.channel_map, "sha256": audio.sha256, "size": audio.size,
        },
        # What the telephony system handed over, before it was encoded for storage.
        "source": {"format": rec.source_format, "sha256": rec.source_sha256,
                   "bytes": rec.source_bytes},
        "decision": None if decision is None else {
            "record": decision.record, "line": decision.line, "rule": decision.rule,
            "policy_version": decision.policy_version, "decided_at": decision.decided_at,
            "origin": decision.origin,
        },
        "retention": {"retain_until": rec.retain_until, "holds": held},
        "stored_at": rec.created_at,
    }  # fmt: skip
    return orjson.dumps(document, option=_JSON)


def transcript_files(rec: Recording, transcript: Transcript) -> dict[str, bytes]:
    """``transcript.json`` (segments, as ``callvault transcript`` prints them) and a plain
    ``transcript.txt`` for reading; the machine's words, not a verified record."""
    segments = transcript.public_segments()
    document = {
        "recording_id": rec.id,
        "rendition": "original",
        "model": transcript.model,
        "language": transcript.language,
        "note": "Automatic speech recognition; check against the audio before relying on it. "
        "Payment card data is replaced by [CARD] and similar markers.",
        "segments": segments,
    }
    lines = [
        f"Transcript of recording {rec.id} (automatic, {transcript.model}); "
        "check against the audio.",
        "",
        *(
            f"[{_clock(s['start'])}-{_clock(s['end'])}] {s['speaker']}: {s['text']}"
            for s in segments
        ),
    ]
    return {
        TRANSCRIPT_JSON: orjson.dumps(document, option=_JSON),
        TRANSCRIPT_TEXT: ("\n".join(lines) + "\n").encode(),
    }


def _clock(seconds: float) -> str:
    whole = int(seconds)
    return f"{whole // 60:02d}:{whole % 60:02d}.{int((seconds - whole) * 10)}"
