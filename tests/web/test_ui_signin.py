"""The web UI's sign-in, sign-out, start page and shared page behaviour, over real HTTP.

FastAPI's in-process client against a real home on both legs, talking to https://testserver
as a browser would to a deployment (Secure cookies). Forms are posted as a browser posts
them: urlencoded, with the token from the page, never the API's CSRF header.
"""

from __future__ import annotations

import dataclasses
import re

import pytest
from fastapi.testclient import TestClient

from callvault.access.signin import SignInService
from callvault.bootstrap import Services
from callvault.context import RequestContext, system_context
from callvault.web.app import create_app
from callvault.web.pages.render import local_path
from web_pages import (
    BASE_URL,
    csrf_of,
    embedded_leg,  # noqa: F401  (the embedded leg only)
    form_token,
)
from web_people import PASSWORD, current_code


@pytest.fixture
def browser(services: Services, ctx: RequestContext) -> TestClient:
    services.access.add_person(ctx, "adam", "advisor", PASSWORD)
    services.access.add_person(ctx, "cora", "complaints_officer", PASSWORD)
    return TestClient(create_app(services), base_url=BASE_URL, follow_redirects=False)


def _sign_in(browser: TestClient, username: str, code: str = "", next_path: str = "/") -> str:
    """Posts the sign-in form; returns where the browser was sent (the Location)."""
    token = form_token(browser, f"/signin?next={next_path}")
    answer = browser.post(
        "/signin",
        data={"csrf_token": token, "username": username, "password": PASSWORD,
              "code": code, "next": next_path},
    )  # fmt: skip
    assert answer.status_code == 303, answer.text
    location: str = answer.headers["location"]
    return location


def test_sign_in_through_the_form_then_out(browser: TestClient, services: Services) -> None:
    assert _sign_in(browser, "adam", next_path="/requests") == "/requests"
    home = browser.get("/")
    assert "Signed in as <strong>adam</strong>" in home.text
    # An advisor's navigation: requests to hear their calls, the training library (with
    # the clips awaiting their decision) and the evaluations of their sampled calls, never
    # search or audit.
    nav = re.search(r'<nav aria-label="Main">(.*?)</nav>', home.text, re.S)
    assert nav is not None
    assert re.findall(r'href="([^"]+)"', nav.group(1)) == [
        "/requests",
        "/training",
        "/quality/mine",
    ]
    token = csrf_of(home.text)
    before = services.audit.count()
    out = browser.post("/signout", data={"csrf_token": token})
    assert out.status_code == 303 and out.headers["location"] == "/signin"
    assert services.audit.show(after=before, limit=5)[0]["action"] == "signout"
    # The session is gone on the server: the start page is the signed-out one again, and
    # the one-off message shows once.
    again = browser.get("/signin")
    assert "You are signed out." in again.text
    assert "You are signed out." not in browser.get("/signin").text
    assert "Signed in as" not in browser.get("/").text


def test_listener_needs_the_one_time_code(browser: TestClient, services: Services) -> None:
    secret = SignInService.for_services(services).enrol_totp(system_context("test"), "cora")
    token = form_token(browser, "/signin")
    before = services.audit.count()
    refused = browser.post(
        "/signin", data={"csrf_token": token, "username": "cora", "password": PASSWORD}
    )
    assert refused.status_code == 403
    assert 'role="alert"' in refused.text and "Signed in as" not in refused.text
    (failure,) = services.audit.show(after=before, limit=5)
    assert failure["action"] == "signin.failed"
    assert _sign_in(browser, "cora", code=current_code(secret.secret)) == "/"
    assert "Signed in as <strong>cora</strong>" in browser.get("/").text


def test_sign_in_form_refuses_a_post_without_its_token(
    browser: TestClient, services: Services
) -> None:
    """Login CSRF: another site can post the fields but not make the browser send the
    sign-in cookie, so a post whose token does not match the cookie signs nobody in."""
    form_token(browser, "/signin")  # the browser holds a sign-in cookie...
    before = services.audit.count()
    forged = browser.post(
        "/signin", data={"csrf_token": "forged", "username": "adam", "password": PASSWORD}
    )
    assert forged.status_code == 422 and "expired" in forged.text
    assert "set-cookie" not in forged.headers or "callvault_session" not in str(
        forged.headers.get_list("set-cookie")
    )
    assert services.audit.count() == before
    assert "Signed in as" not in browser.get("/").text


def test_wrong_password_names_no_field_and_keeps_the_username(browser: TestClient) -> None:
    token = form_token(browser, "/signin")
    answer = browser.post(
        "/signin", data={"csrf_token": token, "username": "adam", "password": "not it at all"}
    )
    assert answer.status_code == 403
    assert 'value="adam"' in answer.text and "not it at all" not in answer.text


@pytest.mark.parametrize(
    ("target", "expected"),
    [("/recordings?line=parking", "/recordings?line=parking"), ("//evil.example/x", "/"),
     ("https://evil.example/", "/"), ("/\\evil.example", "/"), ("", "/"), ("/a\r\nb", "/")],
)  # fmt: skip
def test_next_only_leads_to_this_site(target: str, expected: str) -> None:
    assert local_path(target) == expected


def test_a_page_signed_out_sends_to_sign_in_and_back(browser: TestClient) -> None:
    answer = browser.get("/recordings?line=parking")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/signin?next=/recordings%3Fline%3Dparking"


def test_a_refused_page_is_a_page_and_audited(browser: TestClient, services: Services) -> None:
    _sign_in(browser, "adam")
    before = services.audit.count()
    refused = browser.get("/recordings")
    assert refused.status_code == 403
    assert refused.headers["content-type"].startswith("text/html")
    assert "<h1>Not allowed</h1>" in refused.text
    (entry,) = services.audit.show(after=before, limit=5)
    assert entry["action"] == "access.refused" and entry["actor"] == "adam"


def test_signing_out_needs_theform_token(browser: TestClient, services: Services) -> None:
    _sign_in(browser, "adam")
    for data in ({}, {"csrf_token": "wrong"}):
        before = services.audit.count()
        answer = browser.post("/signout", data=data)
        assert answer.status_code == 403
        # One refusal, one entry: the error page does not check the token again.
        (entry,) = services.audit.show(after=before, limit=5)
        assert entry["action"] == "session.csrf_refused"
        assert "Signed in as <strong>adam</strong>" in browser.get("/").text


def test_pages_are_never_cached_and_assets_are_ours(browser: TestClient) -> None:
    assert browser.get("/signin").headers["cache-control"] == "no-store"
    css = browser.get("/static/app.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert "script-src 'self'" in css.headers["content-security-policy"]
    page = browser.get("/").text
    # Everything the page loads comes from this server: no CDN, no inline script or style.
    assert not re.search(r'(src|href)="(https?:)?//', page)
    assert "<script>" not in page and "style=" not in page
    assert browser.get("/static/../pages/render.py").status_code == 404


def test_an_unknown_page_for_someone_signed_in(browser: TestClient) -> None:
    _sign_in(browser, "adam")
    assert browser.get("/no-such-page").status_code == 404


def test_the_single_sign_on_button_shows_only_when_configured(services: Services) -> None:
    plain = TestClient(create_app(services), base_url="https://testserver")
    assert "/auth/oidc/login" not in plain.get("/signin").text
    with_sso = dataclasses.replace(
        services, settings=dataclasses.replace(services.settings, oidc_issuer="https://id.example")
    )
    page = TestClient(create_app(with_sso), base_url="https://testserver").get(
        "/signin?next=/recordings"
    )
    assert 'href="/auth/oidc/login?return_to=/recordings"' in page.text
    assert "Sign in with your council account" in page.text
