"""`callvault serve` as an operator runs it: a real process on a loopback port."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from server_process import running_server

from callvault.bootstrap import Services
from callvault.context import system_context
from homes import http_ingest


@pytest.fixture
def server(services: Services) -> Iterator[str]:
    with running_server({**os.environ, "CALLVAULT_HOME": str(services.settings.home)}) as base:
        yield base


def test_serves_health_page_and_ingest(server: str, services: Services, call_wav: Path) -> None:
    assert "callvault" in httpx.get(f"{server}/", timeout=5).text
    token = services.access.add_service(system_context("test"), "pbx-e2e")
    response = http_ingest(server, token, call_wav.read_bytes(), call_id="e2e-1")
    assert response.status_code == 201, response.text
    assert services.catalog.get(response.json()["recording_id"]).call_id == "e2e-1"
    assert services.audit.verify().ok
