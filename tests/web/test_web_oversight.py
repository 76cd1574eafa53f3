"""Oversight over the API: people signed in with a real session (password + TOTP code)."""

from __future__ import annotations

import base64
import time

import pytest
from fastapi.testclient import TestClient

from access.access_helpers import add_people, entries
from callvault.access import totp
from callvault.access.signin import SignInService
from callvault.bootstrap import Services
from callvault.context import RequestContext
from callvault.web.app import create_app

REVIEW = "/api/v1/reports/access-review"
ALERTS = "/api/v1/alerts/bulk-access"


@pytest.fixture
def app_services(services: Services, ctx: RequestContext) -> Services:
    add_people(services, ctx)
    return services


def signed_in(services: Services, ctx: RequestContext, name: str) -> TestClient:
    """A client holding ``name``'s session cookie (https: the cookie is Secure)."""
    client = TestClient(create_app(services), base_url="https://testserver")
    signin = SignInService.for_services(services)
    secret = base64.b32decode(signin.enrol_totp(ctx, name).secret)
    code = totp.code_for(secret, totp.time_step(time.time()))
    body = {"username": name, "password": "correct horse battery", "totp": code}
    response = client.post("/api/v1/session", json=body)
    assert response.status_code == 200, response.text
    return client


def test_dpo_reads_the_review_and_the_alerts(app_services: Services, ctx: RequestContext) -> None:
    client = signed_in(app_services, ctx, "dana")
    response = client.get(REVIEW, params={"from": "2026-01-01"})
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["from"].startswith("2026-01-01")
    rows = {row["user"]: row for row in report["accounts"]}
    assert rows["dana"]["last_action"] == "signin.succeeded"
    assert "never_used" in rows["adam"]["flags"]
    response = client.get(ALERTS)
    assert response.status_code == 200 and response.json()["alerts"] == []
    assert response.json()["rule"] == {"baseline_days": 30, "min_recordings": 20, "factor": 3.0}
    actions = [e["action"] for e in entries(app_services) if e["actor"] == "dana"]
    assert actions[-2:] == ["report.access_review", "alerts.read"]


def test_auditor_reads_the_review_but_not_the_alerts(
    app_services: Services, ctx: RequestContext
) -> None:
    client = signed_in(app_services, ctx, "aud")
    assert client.get(REVIEW).status_code == 200
    response = client.get(ALERTS)
    assert response.status_code == 403 and set(response.json()) == {"error", "field"}
    refusal = entries(app_services)[-1]
    assert (refusal["action"], refusal["actor"], refusal["object_id"]) == (
        "access.refused", "aud", "alerts:read",
    )  # fmt: skip


@pytest.mark.parametrize("who", ["adam", "tess"])
@pytest.mark.parametrize(("path", "action"), [(REVIEW, "users:review"), (ALERTS, "alerts:read")])
def test_advisors_and_team_leaders_are_refused_and_audited(
    app_services: Services, ctx: RequestContext, who: str, path: str, action: str
) -> None:
    client = signed_in(app_services, ctx, who)
    response = client.get(path)
    assert response.status_code == 403
    refusal = entries(app_services)[-1]
    assert (refusal["action"], refusal["actor"], refusal["object_id"]) == (
        "access.refused", who, action,
    )  # fmt: skip
    assert refusal["origin"].startswith("api:")


def test_anonymous_clients_are_refused(app_services: Services) -> None:
    client = TestClient(create_app(app_services), base_url="https://testserver")
    before = app_services.audit.count()
    for path in (REVIEW, ALERTS):
        response = client.get(path)
        assert response.status_code == 401  # sign in first
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert app_services.audit.count() == before


def test_bad_dates_name_the_field(app_services: Services, ctx: RequestContext) -> None:
    client = signed_in(app_services, ctx, "dana")
    response = client.get(REVIEW, params={"from": "2026-06-01", "to": "2026-01-01"})
    assert response.status_code == 422 and response.json()["field"] == "from"
    response = client.get(ALERTS, params={"from": "yesterday"})
    assert response.status_code == 422 and response.json()["field"] == "from"
    response = client.get(ALERTS, params={"from": "2025-01-01", "to": "2026-01-01"})
    assert response.status_code == 422 and response.json()["field"] == "from"
