"""The HTTP API through FastAPI's in-process client against a real home."""

from __future__ import annotations

import base64
from pathlib import Path

import orjson
import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from callvault.access.actions import ACTIONS
from callvault.bootstrap import Services
from callvault.context import system_context
from callvault.web.app import create_app
from callvault.web.security import ACTION_KEY, api_routes
from homes import meta_for, nothing_stored


@pytest.fixture
def client(services: Services) -> TestClient:
    return TestClient(create_app(services))


@pytest.fixture
def token(services: Services) -> str:
    return services.access.add_service(system_context("test"), "pbx-test", "ingest")


def _meta_header(**overrides: object) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(meta_for(**overrides))).decode().rstrip("=")


def test_every_route_declares_a_registered_action(services: Services) -> None:
    app = create_app(services)
    routes = list(api_routes(app.routes))
    assert {"/health", "/api/v1/ingest"} <= {r.path for r in routes}
    for route in routes:
        action = (route.openapi_extra or {}).get(ACTION_KEY)
        assert action in ACTIONS, f"{route.path} declares no registered action"
    # Every documented path is one of those routes: nothing is reachable around the walk.
    assert set(app.openapi()["paths"]) <= {r.path for r in routes}
    # Everything else is the OpenAPI document, which is public by design.
    others = {
        getattr(r, "path", None)
        for r in app.routes
        if not isinstance(r, APIRoute) and not hasattr(r, "original_router")
    }
    # The pages' stylesheet and script: public by design, no data in them.
    assert others <= {"/openapi.json", "/static"}


def test_health(client: TestClient) -> None:
    assert client.get("/health").json()["ok"] is True


def test_ingest_with_token(
    client: TestClient, token: str, call_wav: Path, services: Services
) -> None:
    response = client.post(
        "/api/v1/ingest",
        content=call_wav.read_bytes(),
        headers={"Authorization": f"Bearer {token}", "Callvault-Meta": _meta_header()},
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["status"] == "recorded"
    entry = services.audit.show(object_id=body["recording_id"])[0]
    assert entry["actor"] == "pbx-test" and entry["origin"].startswith("api:")


def test_ingest_not_covered_answers_200(client: TestClient, token: str, call_wav: Path) -> None:
    response = client.post(
        "/api/v1/ingest",
        content=call_wav.read_bytes(),
        headers={
            "Authorization": f"Bearer {token}",
            "Callvault-Meta": _meta_header(dialled="4008"),
        },
    )
    assert response.status_code == 200 and response.json()["status"] == "not_recorded"


@pytest.mark.parametrize("auth", [None, "Bearer cvt_forged", "Basic YWRtaW46YWRtaW4=", "Bearer "])
def test_ingest_refused_without_a_valid_token(
    client: TestClient, call_wav: Path, services: Services, auth: str | None
) -> None:
    headers = {"Callvault-Meta": _meta_header()}
    if auth is not None:
        headers["Authorization"] = auth
    response = client.post("/api/v1/ingest", content=call_wav.read_bytes(), headers=headers)
    assert response.status_code == (401 if auth is None else 403)  # none, or not valid
    assert set(response.json()) == {"error", "field"}
    assert services.catalog.count() == 0 and nothing_stored(services)


def test_person_cannot_use_a_token_they_do_not_have(client: TestClient, services: Services) -> None:
    services.access.add_person(system_context("test"), "alice", "complaints_officer")
    response = client.post(
        "/api/v1/ingest", content=b"x", headers={"Authorization": "Bearer alice"}
    )
    assert response.status_code == 403


def test_ingest_bad_input_names_the_field(client: TestClient, token: str, call_wav: Path) -> None:
    auth = {"Authorization": f"Bearer {token}"}
    response = client.post("/api/v1/ingest", content=call_wav.read_bytes(), headers=auth)
    assert response.status_code == 422 and response.json()["field"] == "meta"
    response = client.post(
        "/api/v1/ingest",
        content=call_wav.read_bytes(),
        headers={**auth, "Callvault-Meta": _meta_header(dialled="not a number")},
    )
    assert response.status_code == 422 and response.json()["field"] == "meta.dialled"
    response = client.post(
        "/api/v1/ingest", content=b"", headers={**auth, "Callvault-Meta": _meta_header()}
    )
    assert response.status_code == 422 and response.json()["field"] == "audio"


def test_conflicting_reingest_is_409(client: TestClient, token: str, call_wav: Path) -> None:
    headers = {"Authorization": f"Bearer {token}", "Callvault-Meta": _meta_header()}
    assert client.post("/api/v1/ingest", content=call_wav.read_bytes(), headers=headers).is_success
    response = client.post(
        "/api/v1/ingest", content=call_wav.read_bytes() + b"\0\0", headers=headers
    )
    assert response.status_code == 409 and response.json()["field"] == "meta.call_id"


def test_upload_over_limit_is_refused(
    services: Services, token: str, call_wav: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CALLVAULT_MAX_INGEST_BYTES", "2000")
    from callvault.bootstrap import build

    client = TestClient(create_app(build(services.settings.home)))
    response = client.post(
        "/api/v1/ingest",
        content=call_wav.read_bytes(),
        headers={"Authorization": f"Bearer {token}", "Callvault-Meta": _meta_header()},
    )
    assert response.status_code == 422 and response.json()["field"] == "audio"
