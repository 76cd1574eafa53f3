"""Helpers shared by tests: valid call metadata and what lies in a home's blob store."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import insert

from callvault.bootstrap import Services
from callvault.capture.spool import spool_folder
from callvault.cli.main import main
from callvault.context import RequestContext
from callvault.jobs.registry import WORKER_ACTOR
from callvault.speech.store import review_flags


def meta_for(**overrides: Any) -> dict[str, Any]:
    """Valid metadata for an inbound call to Parking; a field set to ... is left out."""
    started = datetime.now(UTC) - timedelta(hours=1)
    meta: dict[str, Any] = {
        "call_id": "pbx-0001",
        "direction": "inbound",
        "dialled": "020 7371 5678",
        "caller": "07700 900123",
        "agent": "agent-17",
        "started_at": started.isoformat(),
        "ended_at": (started + timedelta(seconds=3)).isoformat(),
        "announcement_played": True,
        "channel_map": {"caller": 0, "agent": 1},
    }
    meta.update(overrides)
    return {k: v for k, v in meta.items() if v is not ...}


def stored_blobs(services: Services) -> set[str]:
    """Names of the complete blobs in the home's store (files, or S3 objects)."""
    return set(services.blobs.names())


def nothing_stored(services: Services) -> bool:
    """No blob, no incomplete write (temp file or multipart upload) in the store and no
    live call's spool in the home."""
    spools = spool_folder(services.settings.home)
    no_spool = not spools.is_dir() or not any(spools.iterdir())
    return not stored_blobs(services) and services.blobs.remove_incomplete() == 0 and no_spool


def raw_blob(services: Services, name: str) -> bytes:
    """A blob's bytes exactly as stored: ciphertext, read past the vault."""
    with services.blobs.open(name) as stored:
        return stored.read()


def replace_raw_blob(services: Services, name: str, data: bytes) -> None:
    """Overwrite a stored blob past the vault, as someone with storage credentials could."""
    with services.blobs.writer(name) as sink:
        sink.write(data)


AUDIT_TRIGGERS = ("audit_log_no_update", "audit_log_no_delete", "audit_checkpoints_no_update",
                  "audit_checkpoints_no_delete")  # fmt: skip


def tamper(services: Services, *statements: str) -> None:
    """Run SQL as an attacker with database access would: append-only triggers out of the way.

    SQLite: the triggers are dropped. PostgreSQL: a superuser session sets
    session_replication_role = replica, which skips ordinary triggers.
    """
    with services.engine.connect() as conn, conn.begin():
        if conn.dialect.name == "sqlite":
            for trigger in AUDIT_TRIGGERS:
                conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {trigger}")
        else:
            conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
        for statement in statements:
            conn.exec_driver_sql(statement)


def http_ingest(base_url: str, token: str, audio: bytes, **meta: Any) -> httpx.Response:
    """POST a call to a running server's ingest API, as a PBX uploader does."""
    header = base64.b64encode(orjson.dumps(meta_for(**meta))).decode()
    return httpx.post(
        f"{base_url}/api/v1/ingest",
        content=audio,
        headers={"Authorization": f"Bearer {token}", "Callvault-Meta": header},
        timeout=60,
    )


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, Any, Any]:
    """Run ``callvault ARGS --json`` in-process; (exit code, stdout JSON, stderr JSON).

    The error document is the last line of stderr: logging, where configured, comes before it.
    """
    with pytest.raises(SystemExit) as exited:
        main([*args, "--json"])
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    error = orjson.loads(lines[-1]) if lines and lines[-1].startswith("{") else None
    return int(exited.value.code or 0), orjson.loads(out) if out.strip() else None, error


def worker_context() -> RequestContext:
    """The context a job runs in (``system:worker``), for calling a task's service directly."""
    return RequestContext(actor=WORKER_ACTOR, origin="job", request_id="job-test")


def store_conduct_flag(
    services: Services,
    recording_id: str,
    *,
    rule: str = "abuse:you-idiot",
    start_s: float = 1.0,
    end_s: float = 1.6,
) -> str:
    """An open conduct flag on ``recording_id``, stored as the speech job stores one (for a
    test whose calls carry no spoken words to flag); its id."""
    flag_id = uuid.uuid4().hex
    with services.engine.begin() as conn:
        conn.execute(
            insert(review_flags).values(
                id=flag_id, recording_id=recording_id, kind="conduct", rule=rule,
                speaker="caller", start_s=start_s, end_s=end_s,
                raised_at=datetime.now(UTC).isoformat(),
            )
        )  # fmt: skip
    return flag_id
