"""Operations endpoints: liveness, readiness, Prometheus metrics."""

from __future__ import annotations

import base64
from pathlib import Path

import orjson
from fastapi.testclient import TestClient

from callvault.bootstrap import Services
from callvault.context import system_context
from callvault.web.app import create_app
from homes import meta_for


def test_ready_when_everything_answers(services: Services) -> None:
    response = TestClient(create_app(services)).get("/ready")
    assert response.status_code == 200 and response.json() == {"ready": True, "problems": []}


def test_not_ready_names_the_missing_part(services: Services) -> None:
    services.settings.key_file.rename(services.settings.key_file.with_suffix(".away"))
    response = TestClient(create_app(services)).get("/ready")
    assert response.status_code == 503
    assert response.json()["problems"][0].startswith("key file:")


def test_metrics_count_ingests_without_personal_data(services: Services, call_wav: Path) -> None:
    client = TestClient(create_app(services))
    token = services.access.add_service(system_context("test"), "pbx-metrics")
    for call_id, dialled in (("m1", "020 7371 5678"), ("m2", "4008")):
        meta = base64.b64encode(orjson.dumps(meta_for(call_id=call_id, dialled=dialled)))
        client.post(
            "/api/v1/ingest",
            content=call_wav.read_bytes(),
            headers={"Authorization": f"Bearer {token}", "Callvault-Meta": meta.decode()},
        )
    text = client.get("/metrics").text
    assert "callvault_recordings 1\n" in text
    assert 'callvault_call_decisions{outcome="not_recorded"} 1' in text
    assert 'callvault_ingest_requests_total{status="recorded"} 1' in text
    assert 'callvault_jobs{queue="media",status="queued"} 1' in text  # its verify job
    assert "+44" not in text and "07700" not in text
