"""A recording's custody trail, read from the audit log for an evidence bundle.

The trail is every audit entry about the recording (ingest, listens, transcription, its
exports, refusals), about its call (a live call's pauses), and about each grant, legal hold
and export that names it (who asked, why, who approved, where copies went). Entries are
copied as stored, ``(seq, prev_hash, text, hash)``, so a recipient recomputes each hash from
the text without trusting callvault; ``evidence.verify`` explains what that does and does not
prove.

Entries about a grant, hold or export that also names other recordings are included whole:
they are the custody of this recording too (the same case, the same disclosure), and editing
them would break their hashes.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import orjson
from sqlalchemy import Connection, select

from callvault.access.register import export_recordings
from callvault.access.store import grant_recordings
from callvault.audit.store import audit_head, audit_log
from callvault.catalog.model import Recording
from callvault.evidence.verify import CUSTODY_FORMAT
from callvault.retention.store import hold_recordings


def subject_ids(conn: Connection, rec: Recording) -> list[str]:
    """The object ids whose entries make the trail: the recording, its call, and the grants,
    holds and exports that name it."""
    ids = [rec.id, rec.call_id]
    for column, table in (
        (grant_recordings.c.grant_id, grant_recordings),
        (hold_recordings.c.hold_id, hold_recordings),
        (export_recordings.c.export_id, export_recordings),
    ):
        found = conn.execute(
            select(column).where(table.c.recording_id == rec.id).order_by(column)
        ).scalars()
        ids.extend(found)
    return list(dict.fromkeys(ids))


def entries_about(
    conn: Connection, object_ids: Collection[str], after: int = 0
) -> list[dict[str, Any]]:
    """Entries about any of ``object_ids`` after sequence ``after``, oldest first, as stored."""
    rows = conn.execute(
        select(audit_log.c.seq, audit_log.c.prev_hash, audit_log.c.entry, audit_log.c.hash)
        .where(audit_log.c.object_id.in_(sorted(set(object_ids))), audit_log.c.seq > after)
        .order_by(audit_log.c.seq)
    )
    return [
        {"seq": row.seq, "prev_hash": row.prev_hash, "text": row.entry, "hash": row.hash}
        for row in rows
    ]


def signed_head(conn: Connection) -> dict[str, Any]:
    """The audit log's signed head as ``conn`` sees it: (seq, hash, at, key id, signature)."""
    head = conn.execute(select(audit_head).where(audit_head.c.id == 1)).one()
    return {
        "seq": head.seq,
        "hash": head.hash,
        "at": head.at,
        "key_id": head.key_id,
        "signature": head.signature,
    }


def custody_document(
    recording_id: str,
    object_ids: list[str],
    entries: list[dict[str, Any]],
    head: dict[str, Any],
    audit_public_key: bytes,
    audit_key_id: str,
) -> bytes:
    """``custody.json``: the trail, the signed head and the audit public key (raw, hex)."""
    document = {
        "format": CUSTODY_FORMAT,
        "recording_id": recording_id,
        "object_ids": object_ids,
        "hash": 'sha256(f"{seq}\\n{prev_hash}\\n{text}"), hex; the first entry of the log '
        "has prev_hash of 64 zeros",
        "head_signs": "callvault-audit-checkpoint:v1:{seq}:{hash} (Ed25519, audit key)",
        "entries": entries,
        "head": head,
        "audit_public_key": audit_public_key.hex(),
        "audit_key_id": audit_key_id,
    }
    return orjson.dumps(document, option=orjson.OPT_INDENT_2)
