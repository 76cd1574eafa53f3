"""Signing in, in a real browser: the signed-out pages, the sign-in form and its session
cookie, and the start page each role lands on."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from browser.crew import Crew, Pages, World
from browser.kit import assert_accessible, screenshot, tab_to
from web_people import PASSWORD

# One worker runs every browser test: each worker would otherwise seed its own home
# (a Whisper transcription included) and start its own server and Chromium.
pytestmark = pytest.mark.xdist_group("browser")

# Signed out, a visitor reaches the start page, the sign-in form and the two notices.
SIGNED_OUT = {
    "/": ("home-signed-out", "Call recordings"),
    "/signin": ("signin", "Sign in"),
    "/notice": ("notice", None),
    "/notice/staff": ("notice-staff", None),
}


@pytest.mark.parametrize("path", list(SIGNED_OUT))
def test_signed_out_page_renders_cleanly_and_accessibly(pages: Pages, axe: str, path: str) -> None:
    name, heading = SIGNED_OUT[path]
    page = pages.signed_out()
    response = page.goto(path)
    assert response is not None and response.status == 200, path
    if heading is not None:
        assert page.get_by_role("heading", level=1).inner_text() == heading
    else:  # the notices are generated from the policy: whatever their title, one h1
        assert page.get_by_role("heading", level=1).count() == 1
    assert_accessible(page, axe, name)
    screenshot(page, name)


def test_sign_in_comes_back_to_the_page_asked_for(pages: Pages, crew: Crew) -> None:
    """The start page offers sign-in only; a page that needs a session sends the visitor to
    sign in and, once signed in (after a wrong password on the way), back to that page,
    with a session cookie that only this site's HTTPS or loopback pages ever get."""
    page = pages.signed_out()
    page.goto("/")
    expect(page.get_by_role("navigation", name="Main")).to_have_count(0)  # nothing yet
    expect(page.get_by_role("link", name="Sign in")).to_have_attribute("href", "/signin")
    page.goto("/requests")
    expect(page).to_have_url(re.compile(r"/signin\?next=(/|%2F)requests$"))
    expect(page.get_by_label("Username")).to_be_focused()
    # A wrong password: the form says so, keeps the username, and marks the field.
    page.get_by_label("Username").fill("sid")
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("There is a problem")
    expect(page.get_by_label("Username")).to_have_value("sid")
    expect(page.get_by_label("Username")).to_have_attribute("aria-invalid", "true")
    screenshot(page, "signin-error")
    pages.allow(r"status of 40[13]")  # the refused sign-in's own response
    # Now with the password and the code: back where the visitor was going.
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("One-time code").fill(crew.code_for("sid"))
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/requests$"))
    expect(page.get_by_text("Signed in as")).to_contain_text("sid")
    cookies = {c["name"]: c for c in page.context.cookies()}
    session = cookies.get("__Host-callvault_session")
    # Chromium keeps a Secure cookie set over http://127.0.0.1 (a secure context), which is
    # what lets a council developer use the default settings locally.
    assert session is not None, sorted(cookies)
    assert session["secure"] and session["httpOnly"] and session["sameSite"] == "Strict"
    assert session["path"] == "/" and not session["domain"].startswith(".")


# What each role finds in the main navigation: what it must offer, and what it must not (a
# link that would only refuse is never shown).
NAV_EXPECTED = {
    "cora": ({"Search", "My requests"}, {"Users", "Access review", "Audit"}),
    "mina": ({"Search", "My requests", "Approvals", "Quality"}, {"Users", "My evaluations"}),
    "adam": (
        {"My requests", "My evaluations"},
        {"Search", "Approvals", "Audit", "Users", "Quality"},
    ),
    "aud": ({"Audit", "Holds", "Retention", "Quality"}, {"Search", "Approvals", "Users"}),
    "root": ({"Users"}, {"Search", "Approvals"}),
    "bea": ({"Demand"}, {"Search", "My requests", "Audit", "Users", "Quality"}),
    "sol": ({"Search", "Conduct"}, {"Demand", "Audit", "Users"}),
}


@pytest.mark.parametrize("username", list(NAV_EXPECTED))
def test_start_page_offers_each_role_its_areas_only(
    pages: Pages, world: World, axe: str, username: str
) -> None:
    page = pages.as_person(username)
    page.goto("/")
    nav = page.get_by_role("navigation", name="Main")
    links = set(nav.get_by_role("link").all_inner_texts())
    must, must_not = NAV_EXPECTED[username]
    assert must <= links, f"{username} misses {must - links} in {links}"
    assert not links & must_not, f"{username} is offered {links & must_not}"
    # The start page's cards are the same areas, each with what it is for.
    cards = set(page.locator("main .cards a").all_inner_texts())
    assert cards == links
    assert_accessible(page, axe, f"home-{username}")
    screenshot(page, f"home-{world.services.access.person(username).role}")


def test_the_checks_catch_what_they_are_there_for(pages: Pages, axe: str) -> None:
    """axe, the console watch and the focus check each fail on a page broken on purpose,
    so a green run means the pages passed them, not that they looked at nothing."""
    page = pages.signed_out()
    page.goto("/signin")
    # An unlabelled field and unreadable text: critical and serious for axe.
    page.evaluate(
        "() => { document.querySelector('label[for=username]').remove();"
        " document.querySelector('h1').style.color = '#f4f4f4'; }"
    )
    with pytest.raises(AssertionError) as failed:
        assert_accessible(page, axe, "broken on purpose")
    assert "[critical] label" in str(failed.value) and "[serious] color-contrast" in str(
        failed.value
    )
    # An inline script: the page's CSP refuses it, and the watch reports the refusal.
    page.evaluate(
        "() => { const s = document.createElement('script');"
        " s.textContent = 'window.ran = true'; document.body.append(s); }"
    )
    watch = pages.context_of(page).watch
    page.wait_for_function("() => true")  # one round trip: the console event has arrived
    refused = watch.take()
    assert any("Content Security Policy" in p for p in refused), refused
    assert page.evaluate("() => window.ran") is None
    # A stylesheet rule that hides focus: the keyboard check says where.
    page.evaluate(
        "() => document.styleSheets[0].insertRule("
        "':focus-visible { outline: none !important; box-shadow: none !important }')"
    )
    with pytest.raises(AssertionError, match="is not visible"):
        tab_to(page, lambda found: found.id == "code", "the one-time code")
