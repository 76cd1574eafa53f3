"""The scale-out leg end to end: PostgreSQL + SeaweedFS (S3, Object Lock) + procrastinate
workers, all real processes talking over loopback."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
from server_process import running_server

from callvault.bootstrap import Services, build
from callvault.context import system_context
from callvault.maintenance.service import init_home
from homes import http_ingest
from pg_schemas import pg_schema
from seaweed import LOCKED_BUCKET, SeaweedServer

EXE = Path(sys.executable).parent / "callvault"


@pytest.fixture
def scale_env(
    s3_server: SeaweedServer, home: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dict[str, str]]:
    """A home on PostgreSQL + SeaweedFS (locked bucket) + procrastinate; its process env."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3_server.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3_server.secret_key)
    with pg_schema() as db_url:
        with monkeypatch.context() as init_env:
            init_env.setenv("CALLVAULT_DB_URL", db_url)
            init_env.setenv("CALLVAULT_QUEUE_URL", db_url)
            prefix = f"e2e-{uuid.uuid4().hex[:8]}"
            init_env.setenv("CALLVAULT_BLOB_URL", s3_server.url(LOCKED_BUCKET, prefix))
            init_home(system_context("test"), home).engine.dispose()
        # From here on, the home's settings name the backends.
        yield {**os.environ, "CALLVAULT_HOME": str(home)}


def test_http_ingest_then_two_workers_verify_on_the_scale_stack(
    scale_env: dict[str, str], home: Path, call_wav: Path, s3_server: SeaweedServer
) -> None:
    services: Services = build(home)
    assert services.engine.dialect.name == "postgresql"
    assert services.blobs.supports_object_lock
    token = services.access.add_service(system_context("test"), "pbx-scale")
    with running_server(scale_env, ["--no-worker"]) as base:
        ids = []
        for n in range(3):
            response = http_ingest(base, token, call_wav.read_bytes(), call_id=f"scale-{n}")
            assert response.status_code == 201, response.text
            ids.append(response.json()["recording_id"])
    workers = [
        subprocess.Popen(
            [str(EXE), "worker", "--queues", "media", "--burst", "--json"],
            env=scale_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(2)
    ]
    done = 0
    for worker in workers:
        out, err = worker.communicate(timeout=120)
        assert worker.returncode == 0, err.decode()
        summary = orjson.loads(out)
        done += summary["done"]
        assert summary["failed"] == 0
    assert done == 3, "each verify job ran exactly once across the two workers"
    for rec_id in ids:
        actions = [e["action"] for e in services.audit.show(object_id=rec_id)]
        assert actions == ["recording.ingested", "recording.verified"]
        _assert_locked_ciphertext(services, s3_server, rec_id)
    assert services.audit.verify().ok


def _assert_locked_ciphertext(services: Services, server: SeaweedServer, rec_id: str) -> None:
    recording = services.catalog.get(rec_id)
    location = server.location(LOCKED_BUCKET)
    store_url = services.settings.blob_url
    prefix = store_url.split(LOCKED_BUCKET + "/", 1)[1].split("?", 1)[0]
    key = f"{prefix.strip('/')}/{recording.blob_name}"
    client = server.client()
    body = client.get_object(Bucket=location.bucket, Key=key)["Body"].read()
    assert b"OggS" not in body and b"OpusHead" not in body
    retention = client.get_object_retention(Bucket=location.bucket, Key=key)["Retention"]
    assert retention["Mode"] == "COMPLIANCE"
    until = retention["RetainUntilDate"]
    assert until >= datetime.fromisoformat(recording.retain_until).astimezone(UTC)
    assert until > datetime.now(UTC)
