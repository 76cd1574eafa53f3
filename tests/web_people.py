"""Signing people in through the real API, second factor included, for web tests."""

from __future__ import annotations

import base64
import time

from fastapi.testclient import TestClient

from callvault.access import totp
from callvault.access.signin import SignInService
from callvault.bootstrap import Services
from callvault.context import system_context

PASSWORD = "correct horse battery"


def current_code(base32_secret: str) -> str:
    """What an authenticator app shows now for this secret."""
    secret = base64.b32decode(base32_secret + "=" * (-len(base32_secret) % 8))
    return totp.code_for(secret, totp.time_step(time.time()))


def sign_in(client: TestClient, services: Services, username: str, password: str = PASSWORD) -> str:
    """Sign ``username`` in on ``client`` (enrolling a TOTP secret where their role needs
    one); the client then carries the session cookie and the CSRF header. Returns the CSRF
    token."""
    signin = SignInService.for_services(services)
    body = {"username": username, "password": password}
    if services.access.person(username).role in signin.second_factor_roles:
        enrolment = signin.enrol_totp(system_context("test"), username)
        body["totp"] = current_code(enrolment.secret)
    response = client.post("/api/v1/session", json=body)
    assert response.status_code == 200, response.text
    token: str = response.json()["csrf_token"]
    client.headers["X-CSRF-Token"] = token
    return token
