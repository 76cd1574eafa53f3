"""Security headers on every response: the policy promises, checked on real routes."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from callvault.bootstrap import Services
from callvault.web.app import create_app
from callvault.web.headers import CSP

EXPECTED = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cross-origin-opener-policy": "same-origin",
}


@pytest.fixture
def apps(services: Services) -> dict[str, TestClient]:
    app = create_app(services)
    return {
        "https": TestClient(app, base_url="https://testserver"),
        "http": TestClient(app, base_url="http://testserver"),
    }


@pytest.mark.parametrize(
    ("path", "status"),
    [("/health", 200), ("/", 200), ("/api/v1/audit", 401), ("/no-such-page", 404)],
)
def test_every_response_carries_them(apps: dict[str, TestClient], path: str, status: int) -> None:
    response = apps["https"].get(path)
    assert response.status_code == status
    assert response.headers["content-security-policy"] == CSP
    for name, value in EXPECTED.items():
        assert response.headers[name] == value
    assert response.headers["strict-transport-security"].startswith("max-age=63072000")


def test_the_policy_allows_no_inline_script_and_no_framing() -> None:
    directives = dict(d.split(" ", 1) for d in CSP.split("; "))
    assert directives["script-src"] == "'self'" and "unsafe" not in CSP
    assert directives["frame-ancestors"] == "'none'" and directives["object-src"] == "'none'"


def test_hsts_only_over_https(apps: dict[str, TestClient]) -> None:
    assert "strict-transport-security" not in apps["http"].get("/health").headers


def test_a_page_with_its_own_stricter_policy_keeps_it(apps: dict[str, TestClient]) -> None:
    response = apps["https"].get("/notice")
    assert response.headers["content-security-policy"].startswith("default-src 'none'")
    assert response.headers["x-frame-options"] == "DENY"
