"""Single sign-on in the browser, end to end: callvault's routes (FastAPI's in-process client)
against a real OpenID Provider (npm's oidc-provider, tests/oidc), on both legs.

The provider is another origin, so the test is the browser: it takes callvault's redirect,
follows the provider's pages with httpx (``complete_login``) and brings the callback's query
back to callvault with the cookies callvault set.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from callvault.access.oidc import KEPT_COOKIE
from callvault.access.sessions import SESSION_COOKIE, sessions
from callvault.access.signin import SignInService
from callvault.access.store import users
from callvault.bootstrap import Services
from callvault.config import load_settings
from callvault.context import RequestContext
from callvault.errors import BadInput
from callvault.web.app import create_app
from oidc.oidc_op import RunningProvider, complete_login, start_provider

REDIRECT = "https://testserver/auth/oidc/callback"
SECRET = "s3cret-for-callvault-web-tests-0123456789abcdef"
G_ADVISOR = "b2a1c3d4-0e5f-4a6b-9c7d-8e9f0a1b2c33"
G_TEAM = "6f1c2f5e-2c1a-4c8e-9a41-1d2f3a4b5c61"
G_ADMIN = "a0a0a0a0-1111-4222-8333-444444444444"
MFA = ["pwd", "mfa"]


G_PROJECT = "d4c3b2a1-5f4e-4b6a-8d7c-0f9e8d7c6b5a"
GROUP_ROLES = {G_ADVISOR: "advisor", G_TEAM: "team_leader", G_ADMIN: "administrator",
               G_PROJECT: "advisor"}  # fmt: skip


def _account(name: str, groups: list[str], amr: list[str] = MFA) -> dict[str, Any]:
    claims = {
        "preferred_username": f"{name}@council.example",
        "email": f"{name[0]}.smith@council.example",
        "groups": groups,
    }
    return {"amr": amr, "claims": claims}


ACCOUNTS = {
    "tina": _account("tina", [G_TEAM]),
    "gus": _account("gus", [G_PROJECT]),
    "cora": _account("cora", [G_TEAM]),  # the same name as a local account
    "lena": _account("lena", [G_TEAM], amr=["pwd"]),  # a listener without MFA
    "ray": _account("ray", [G_ADMIN], amr=["pwd"]),  # an administrator without MFA
}


@pytest.fixture(scope="module")
def provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningProvider]:
    client = {
        "client_id": "callvault",
        "client_secret": SECRET,
        "redirect_uris": [REDIRECT],
        "token_endpoint_auth_method": "client_secret_basic",
    }
    running = start_provider(tmp_path_factory.mktemp("oidc-web"), [client], ACCOUNTS)
    yield running
    running.stop()


@pytest.fixture
def configure(services: Services, provider: RunningProvider) -> Iterator[Callable[..., Services]]:
    """Single sign-on set up in the test home's callvault.toml, as an operator would (the
    secret in a 0600 file); each call rewrites it and returns services reading it."""
    home = services.settings.home
    plain = (home / "callvault.toml").read_text()
    secret = home / "keys" / "oidc-client-secret"
    secret.write_text(SECRET + "\n")
    secret.chmod(0o600)
    made: list[Services] = []

    def write(
        group_roles: dict[str, str] = GROUP_ROLES, username_claim: str = "preferred_username"
    ) -> Services:
        table = "".join(f'"{group}" = "{role}"\n' for group, role in group_roles.items())
        (home / "callvault.toml").write_text(
            plain + f'oidc_issuer = "{provider.issuer}"\n'
            'oidc_client_id = "callvault"\n'
            f'oidc_redirect_uri = "{REDIRECT}"\n'
            f'oidc_username_claim = "{username_claim}"\n'
            'oidc_username_domain = "council.example"\n'
            f"[oidc_group_roles]\n{table}"
        )
        made.append(Services(load_settings(home)))
        return made[-1]

    yield write
    for configured in made:
        configured.engine.dispose()


@pytest.fixture
def sso(configure: Callable[..., Services]) -> Services:
    return configure()


def _browser(configured: Services) -> TestClient:
    return TestClient(create_app(configured), base_url="https://testserver", follow_redirects=False)


@pytest.fixture
def browser(sso: Services) -> TestClient:
    return _browser(sso)


def _start(browser: TestClient, who: str, return_to: str = "/") -> str:
    """GET /auth/oidc/login; the provider URL it redirects to (the kept cookie is now set)."""
    response: httpx.Response = browser.get(
        "/auth/oidc/login", params={"return_to": return_to, "login_hint": who}
    )
    assert response.status_code == 302, response.text
    return str(response.headers["location"])


def _sign_in(browser: TestClient, who: str, return_to: str = "/") -> httpx.Response:
    """The whole browser journey; callvault's answer to the callback."""
    query = complete_login(_start(browser, who, return_to), REDIRECT)
    response: httpx.Response = browser.get("/auth/oidc/callback", params=query)
    return response


def _user(services: Services, name: str) -> Any:
    with services.engine.connect() as conn:
        return conn.execute(select(users).where(users.c.username == name)).first()


def _after(services: Services, seq: int) -> list[dict[str, Any]]:
    return services.audit.show(after=seq, limit=1000)


def _session_count(services: Services) -> int:
    with services.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(sessions)).scalar_one())


def test_login_redirects_to_the_provider_with_a_sealed_lax_cookie(
    browser: TestClient, provider: RunningProvider
) -> None:
    response = browser.get("/auth/oidc/login", params={"return_to": "/recordings"})
    assert response.status_code == 302
    location = urlsplit(response.headers["location"])
    assert f"{location.scheme}://{location.netloc}" == provider.issuer
    query = parse_qs(location.query)
    assert query["code_challenge_method"] == ["S256"] and query["redirect_uri"] == [REDIRECT]
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{KEPT_COOKIE}=")
    attributes = {part.strip().lower() for part in cookie.split(";")[1:]}
    assert {"httponly", "path=/auth/oidc", "samesite=lax", "secure", "max-age=600"} <= attributes


def test_first_sign_in_creates_the_account_and_opens_a_session(
    browser: TestClient, sso: Services, provider: RunningProvider
) -> None:
    seq = sso.audit.count()
    response = _sign_in(browser, "tina", return_to="/recordings?page=2")
    assert response.status_code == 302 and response.headers["location"] == "/recordings?page=2"
    cookies = response.headers.get_list("set-cookie")
    assert any(c.startswith(f'{KEPT_COOKIE}="";') for c in cookies)  # used up
    assert any(c.startswith(f"{SESSION_COOKIE}=") and "SameSite=strict" in c for c in cookies)
    me = browser.get("/api/v1/session").json()
    assert (me["user"], me["role"], me["method"], me["second_factor"]) == (
        "tina",
        "team_leader",
        "oidc",
        True,
    )
    row = _user(sso, "tina")
    assert (row.auth_source, row.password_hash, row.oidc_issuer, row.oidc_subject) == (
        "oidc",
        None,
        provider.issuer,
        "tina",
    )
    added, signed_in = _after(sso, seq)
    assert added["action"] == "user.added" and added["details"]["source"] == "oidc"
    assert added["details"]["group"] == G_TEAM
    assert signed_in["action"] == "signin.succeeded" and signed_in["actor"] == "tina"
    assert signed_in["details"]["method"] == "oidc" and "mfa" in signed_in["details"]["amr"]
    assert "eyJ" not in str(signed_in)  # no token in the log
    # Signing in again adds no second account.
    seq = sso.audit.count()
    assert _sign_in(browser, "tina").status_code == 302
    assert [e["action"] for e in _after(sso, seq)] == ["signin.succeeded"]


def test_role_follows_the_groups_at_each_sign_in(
    browser: TestClient, sso: Services, configure: Callable[..., Services]
) -> None:
    assert _sign_in(browser, "gus").status_code == 302
    assert browser.get("/api/v1/session").json()["role"] == "advisor"
    # The council makes gus's group the team leaders' (the provider's fixtures are fixed at
    # start, so the group's mapping moves rather than gus; callvault sees the same change).
    moved = configure({**GROUP_ROLES, G_PROJECT: "team_leader"})
    browser = _browser(moved)
    seq = moved.audit.count()
    assert _sign_in(browser, "gus").status_code == 302
    changed, signed_in = _after(moved, seq)
    assert changed["action"] == "user.role_changed" and changed["object_id"] == "gus"
    assert changed["details"] == {
        "from": "advisor",
        "to": "team_leader",
        "group": G_PROJECT,
        "source": "oidc",
    }
    assert signed_in["action"] == "signin.succeeded"
    assert browser.get("/api/v1/session").json()["role"] == "team_leader"
    assert _user(moved, "gus").role == "team_leader"


def test_local_account_with_the_same_name_is_not_taken_over(
    browser: TestClient, sso: Services, ctx: RequestContext
) -> None:
    sso.access.add_person(ctx, "cora", "complaints_officer", "correct horse battery")
    seq = sso.audit.count()
    response = _sign_in(browser, "cora")
    assert response.status_code == 403
    assert "already exists and is not linked to your single sign-on" in response.json()["error"]
    assert SESSION_COOKIE not in response.headers.get("set-cookie", "")
    [entry] = _after(sso, seq)
    assert entry["action"] == "signin.failed"
    assert entry["details"]["reason"] == "username_taken"
    row = _user(sso, "cora")
    assert (row.role, row.auth_source, row.oidc_subject) == ("complaints_officer", "local", None)
    assert _session_count(sso) == 0


def test_identity_bound_to_another_username_is_refused(
    browser: TestClient, sso: Services, configure: Callable[..., Services]
) -> None:
    assert _sign_in(browser, "tina").status_code == 302
    # Usernames now come from another claim: the same person (subject) gets a new name.
    renamed = configure(username_claim="email")
    seq = renamed.audit.count()
    response = _sign_in(_browser(renamed), "tina")
    assert response.status_code == 403
    assert "already linked to callvault user 'tina'" in response.json()["error"]
    assert _after(renamed, seq)[0]["details"]["reason"] == "identity_bound_elsewhere"
    assert _user(renamed, "t.smith") is None and _session_count(renamed) == 1


@pytest.mark.parametrize(
    ("who", "words", "reason"),
    [
        ("lena", "Conditional Access", "oidc_refused"),  # the library's MFA rule for listeners
        ("ray", "administrator needs multi-factor sign-in", "second_factor_needed"),
    ],
)
def test_sign_in_without_mfa_is_refused_and_creates_nothing(
    browser: TestClient, sso: Services, who: str, words: str, reason: str
) -> None:
    seq = sso.audit.count()
    response = _sign_in(browser, who)
    assert response.status_code == 403 and words in response.json()["error"]
    [entry] = _after(sso, seq)
    assert entry["action"] == "signin.failed" and entry["details"]["reason"] == reason
    assert _user(sso, who) is None and _session_count(sso) == 0


def test_callback_without_the_kept_cookie_is_refused(browser: TestClient, sso: Services) -> None:
    query = complete_login(_start(browser, "tina"), REDIRECT)
    browser.cookies.clear()  # another browser, or cookies blocked
    seq = sso.audit.count()
    response = browser.get("/auth/oidc/callback", params=query)
    assert response.status_code == 403 and "no sign-in is in progress" in response.json()["error"]
    assert _after(sso, seq)[0]["details"]["reason"] == "oidc_refused"
    assert _user(sso, "tina") is None


def test_return_to_elsewhere_is_refused(browser: TestClient) -> None:
    response = browser.get("/auth/oidc/login", params={"return_to": "https://evil.example/"})
    assert response.status_code == 422 and response.json()["field"] == "return_to"
    assert KEPT_COOKIE not in response.headers.get("set-cookie", "")


def test_sso_accounts_have_no_password_or_local_totp(
    browser: TestClient, sso: Services, ctx: RequestContext
) -> None:
    assert _sign_in(browser, "tina").status_code == 302
    password = TestClient(create_app(sso), base_url="https://testserver").post(
        "/api/v1/session", json={"username": "tina", "password": "anything at all"}
    )
    assert password.status_code == 403
    with pytest.raises(BadInput, match="signs in with single sign-on"):
        SignInService.for_services(sso).enrol_totp(ctx, "tina")


def test_routes_are_not_found_when_sso_is_off(services: Services) -> None:
    web = TestClient(create_app(services), base_url="https://testserver")
    for path in ("/auth/oidc/login", "/auth/oidc/callback"):
        response = web.get(path, follow_redirects=False)
        assert response.status_code == 404 and "oidc_issuer is empty" in response.json()["error"]
