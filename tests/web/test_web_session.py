"""Cookie sessions through the HTTP API (FastAPI's in-process client, a real home, both legs).

The client talks to https://testserver, as a browser would to a deployment: Secure cookies
are sent only over https. Each abuse case checks the answer, the audit entry and that
nothing else happened. Time is an injected clock.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from callvault.access import totp
from callvault.access.sessions import INSECURE_SESSION_COOKIE, SESSION_COOKIE, sessions
from callvault.access.signin import FAILED, SignInService
from callvault.access.store import users
from callvault.bootstrap import Services
from callvault.config import load_settings
from callvault.context import RequestContext
from callvault.db import transaction
from callvault.web.app import create_app
from homes import meta_for

PASSWORD = "correct horse battery"
START = 1_800_000_000.0


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def web(services: Services, ctx: RequestContext, clock: Clock) -> TestClient:
    services.access.add_person(ctx, "adam", "advisor", PASSWORD)
    services.access.add_person(ctx, "tess", "team_leader", PASSWORD)
    app = create_app(services)
    app.state.signin = SignInService.for_services(services, clock=clock)
    return TestClient(app, base_url="https://testserver")


def _sign_in(web: TestClient, username: str = "adam", **extra: str) -> httpx.Response:
    response: httpx.Response = web.post(
        "/api/v1/session", json={"username": username, "password": PASSWORD, **extra}
    )
    assert response.status_code == 200, response.text
    return response


def _audit_after(services: Services, seq: int) -> list[dict[str, Any]]:
    return services.audit.show(after=seq, limit=1000)


def _cookie(value: str) -> dict[str, str]:
    """A Cookie header as a browser replaying ``value`` would send it."""
    return {"Cookie": f"{SESSION_COOKIE}={value}"}


def _session_count(services: Services) -> int:
    with services.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(sessions)).scalar_one())


def test_sign_in_sets_a_host_only_strict_cookie_and_returns_the_csrf_token(
    web: TestClient, services: Services
) -> None:
    response = _sign_in(web)
    body = response.json()
    assert body["user"] == "adam" and body["role"] == "advisor" and len(body["csrf_token"]) >= 43
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=")
    attributes = {part.strip().lower() for part in cookie.split(";")[1:]}
    assert attributes == {"httponly", "path=/", "samesite=strict", "secure"}  # no Max-Age
    assert response.headers["cache-control"] == "no-store"
    me = web.get("/api/v1/session")
    assert me.status_code == 200
    assert me.json() | {"expires_at": None} == {
        "user": "adam",
        "role": "advisor",
        "kind": "user",
        "csrf_token": body["csrf_token"],
        "expires_at": None,
        "second_factor": False,
        "method": "password",
    }
    assert me.json()["expires_at"] == body["expires_at"]


def test_listener_signs_in_with_a_code(
    web: TestClient, services: Services, ctx: RequestContext, clock: Clock
) -> None:
    enrolment = SignInService.for_services(services).enrol_totp(ctx, "tess")
    secret = base64.b32decode(enrolment.secret)
    code = totp.code_for(secret, totp.time_step(clock.now))
    body = _sign_in(web, "tess", totp=code).json()
    assert body["role"] == "team_leader"
    assert web.get("/api/v1/session").json()["second_factor"] is True


@pytest.mark.parametrize("username", ["adam", "nobody"])
def test_failed_sign_in_gives_one_answer_sets_no_cookie_and_is_audited(
    web: TestClient, services: Services, username: str
) -> None:
    seq = services.audit.count()
    response = web.post(
        "/api/v1/session", json={"username": username, "password": "not the password"}
    )
    assert response.status_code == 403
    assert response.json() == {"error": FAILED, "field": "credentials"}
    assert "set-cookie" not in response.headers
    [entry] = _audit_after(services, seq)
    assert entry["action"] == "signin.failed" and entry["origin"] == "api:testclient"
    assert "not the password" not in orjson.dumps(entry).decode()
    assert _session_count(services) == 0
    assert web.get("/api/v1/session").status_code == 401  # nobody signed in


def test_sign_in_must_be_json(web: TestClient, services: Services) -> None:
    # An HTML form on another site can post urlencoded or text/plain, never JSON.
    seq = services.audit.count()
    form = web.post("/api/v1/session", data={"username": "adam", "password": PASSWORD})
    assert form.status_code == 422 and "Content-Type: application/json" in form.json()["error"]
    missing = web.post("/api/v1/session", json={"username": "adam"})
    assert missing.status_code == 422 and missing.json()["field"] == "password"
    assert services.audit.count() == seq and _session_count(services) == 0


def test_sign_out_ends_the_session_and_a_replayed_cookie_is_refused(
    web: TestClient, services: Services
) -> None:
    csrf = _sign_in(web).json()["csrf_token"]
    cookie = web.cookies[SESSION_COOKIE]
    out = web.delete("/api/v1/session", headers={"X-CSRF-Token": csrf})
    assert out.status_code == 200 and out.json() == {"signed_out": True}
    assert out.headers["set-cookie"].startswith(f'{SESSION_COOKIE}="";')
    assert _session_count(services) == 0
    assert _audit_after(services, services.audit.count() - 1)[0]["action"] == "signout"

    seq = services.audit.count()
    replayed = web.get("/api/v1/session", headers=_cookie(cookie))
    assert replayed.status_code == 403
    assert replayed.json()["error"] == (
        "your session has ended (it is not a current session); sign in again"
    )
    [entry] = _audit_after(services, seq)
    assert (entry["action"], entry["details"]) == ("session.refused", {"reason": "unknown"})
    assert cookie not in orjson.dumps(entry).decode()


def test_forged_cookie_is_refused(web: TestClient, services: Services) -> None:
    _sign_in(web)
    real = web.cookies[SESSION_COOKIE]
    web.cookies.clear()
    seq = services.audit.count()
    for forged in ("A" * 43, real[:-1] + ("B" if real[-1] != "B" else "C")):
        response = web.get("/api/v1/session", headers=_cookie(forged))
        assert response.status_code == 403 and "not a current session" in response.json()["error"]
    assert [e["details"]["reason"] for e in _audit_after(services, seq)] == ["unknown", "unknown"]
    assert _session_count(services) == 1  # the real session is untouched
    assert web.get("/api/v1/session", headers=_cookie(real)).status_code == 200


def test_idle_session_ends(web: TestClient, services: Services, clock: Clock) -> None:
    _sign_in(web)
    clock.now += 29 * 60
    assert web.get("/api/v1/session").status_code == 200  # use keeps it alive
    clock.now += 29 * 60
    assert web.get("/api/v1/session").status_code == 200
    clock.now += 30 * 60
    seq = services.audit.count()
    response = web.get("/api/v1/session")
    assert response.status_code == 403
    assert "it was unused for 30 minutes" in response.json()["error"]
    [entry] = _audit_after(services, seq)
    assert (entry["actor"], entry["details"]) == ("adam", {"reason": "idle"})
    assert _session_count(services) == 0


def test_session_ends_at_its_absolute_lifetime_however_busy(
    web: TestClient, services: Services, clock: Clock
) -> None:
    _sign_in(web)
    for _ in range(12 * 3):  # every 20 minutes for 12 hours
        assert web.get("/api/v1/session").status_code == 200
        clock.now += 20 * 60
    seq = services.audit.count()
    response = web.get("/api/v1/session")
    assert response.status_code == 403 and "at most 12 hours" in response.json()["error"]
    assert _audit_after(services, seq)[0]["details"] == {"reason": "expired"}
    assert _session_count(services) == 0


def test_disabled_users_session_stops_at_once(
    web: TestClient, services: Services, ctx: RequestContext
) -> None:
    _sign_in(web)
    services.access.disable(ctx, "adam")
    seq = services.audit.count()
    response = web.get("/api/v1/session")
    assert response.status_code == 403 and "your account is disabled" in response.json()["error"]
    assert _audit_after(services, seq)[0]["details"] == {"reason": "user_disabled"}
    assert _session_count(services) == 0


def test_role_that_now_needs_a_second_factor_ends_a_session_without_one(
    web: TestClient, services: Services
) -> None:
    _sign_in(web)  # an advisor, signed in by password alone
    with transaction(services.engine) as conn:  # as a role change would
        conn.execute(update(users).where(users.c.username == "adam").values(role="team_leader"))
    response = web.get("/api/v1/session")
    assert response.status_code == 403 and "needs a second factor" in response.json()["error"]


@pytest.mark.parametrize(("sent", "reason"), [(None, "missing"), ("not-the-token", "wrong")])
def test_unsafe_request_by_cookie_needs_the_csrf_token(
    web: TestClient, services: Services, sent: str | None, reason: str
) -> None:
    _sign_in(web)
    seq = services.audit.count()
    headers = {"X-CSRF-Token": sent} if sent else {}
    response = web.delete("/api/v1/session", headers=headers)
    assert response.status_code == 403
    assert response.json()["error"].startswith(f"the X-CSRF-Token header is {reason}")
    assert response.json()["field"] == "X-CSRF-Token"
    [entry] = _audit_after(services, seq)
    assert entry["action"] == "session.csrf_refused" and entry["actor"] == "adam"
    assert entry["details"] == {"reason": reason, "method": "DELETE", "path": "/api/v1/session"}
    # Nothing happened: still signed in.
    assert _session_count(services) == 1 and web.get("/api/v1/session").status_code == 200


def test_bearer_token_needs_no_csrf_token(
    web: TestClient, services: Services, ctx: RequestContext, call_wav: Path
) -> None:
    token = services.access.add_service(ctx, "pbx-test", "ingest")
    header = base64.b64encode(orjson.dumps(meta_for())).decode()
    response = web.post(
        "/api/v1/ingest",
        content=call_wav.read_bytes(),
        headers={"Authorization": f"Bearer {token}", "Callvault-Meta": header},
    )
    assert response.status_code == 201, response.text
    me = web.get("/api/v1/session", headers={"Authorization": f"Bearer {token}"}).json()
    assert me == {"user": "pbx-test", "role": "ingest", "kind": "service"}
    out = web.delete("/api/v1/session", headers={"Authorization": f"Bearer {token}"})
    assert out.status_code == 422 and "API tokens do not sign in" in out.json()["error"]


def test_insecure_cookie_setting_drops_secure_and_the_host_prefix(
    services: Services, ctx: RequestContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    services.access.add_person(ctx, "adam", "advisor", PASSWORD)
    monkeypatch.setenv("CALLVAULT_SESSION_COOKIE_SECURE", "false")
    plain = Services(load_settings(services.settings.home))
    web = TestClient(create_app(plain), base_url="http://testserver")
    response = _sign_in(web)
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{INSECURE_SESSION_COOKIE}=") and "secure" not in cookie.lower()
    assert web.get("/api/v1/session").json()["user"] == "adam"
    plain.engine.dispose()
