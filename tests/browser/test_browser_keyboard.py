"""The main flow with the keyboard alone (WCAG 2.1.1, 2.1.2, 2.4.7): from the start page to
signing in, searching, opening a result, asking for access and hearing the call, using only
Tab, Shift+Tab, Enter, Space, arrow keys and typing. Every stop shows where the focus is,
and the focus can always move on and back (no trap)."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from browser.crew import SEARCH_WORDS, Crew, Pages, World
from browser.kit import Focused, can_step_back, focused, screenshot, tab_to
from web_people import PASSWORD

# One worker runs every browser test: each worker would otherwise seed its own home
# (a Whisper transcription included) and start its own server and Chromium.
pytestmark = pytest.mark.xdist_group("browser")

CASE = "CMP-2026-0200"


def _is(tag: str, **attrs: str) -> Callable[[Focused], bool]:
    """Matches a focused ``tag`` whose fields match the ``attrs`` regexes."""

    def wanted(found: Focused) -> bool:
        return found.tag == tag and all(
            re.search(pattern, getattr(found, name)) for name, pattern in attrs.items()
        )

    return wanted


def _enter_on(page: Page, tag: str, what: str, **attrs: str) -> None:
    """Tab to the element, check the way back, then press Enter on it."""
    tab_to(page, _is(tag, **attrs), what)
    can_step_back(page)
    page.keyboard.press("Enter")


def test_the_main_flow_by_keyboard_alone(pages: Pages, crew: Crew, world: World) -> None:
    page = pages.signed_out()
    page.goto("/")
    # The first stop is the skip link, which takes the focus past the header.
    first = tab_to(page, lambda f: True, "the first stop")
    assert first.label == "Skip to main content", first
    page.keyboard.press("Enter")
    _enter_on(page, "a", "the sign-in link", label=r"^Sign in$")
    expect(page).to_have_url(re.compile(r"/signin"))

    # The username field has the focus already; the rest of the form follows in order.
    on = focused(page)
    assert on is not None and on.id == "username" and on.visible, on
    page.keyboard.type("kit")
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    tab_to(page, _is("input", id="^code$"), "the one-time code")
    page.keyboard.type(crew.code_for("kit"))
    _enter_on(page, "button", "the sign-in button", label=r"^Sign in$")
    expect(page.get_by_text("Signed in as")).to_contain_text("kit")

    # Search, through the main navigation.
    _enter_on(page, "a", "Search in the navigation", href=r"^/recordings$")
    expect(page.get_by_role("heading", level=1)).to_have_text("Search recordings")
    tab_to(page, _is("input", id="^text$"), "the words said field")
    page.keyboard.type(SEARCH_WORDS)
    page.keyboard.press("Enter")  # Enter in a field submits its form
    expect(page.locator("table tbody tr")).to_have_count(1)
    _enter_on(page, "a", "the result", href=rf"^/recordings/{world.spoken}$")
    expect(page).to_have_url(re.compile(rf"/recordings/{world.spoken}$"))

    # Ask for access: a complaint, which needs nobody else, so it is approved at once.
    tab_to(page, _is("select", id="^purpose$"), "the purpose")
    purpose = page.get_by_label("Purpose")
    for _ in range(5):  # arrow keys change a closed select's choice
        if purpose.input_value() == "complaint":
            break
        page.keyboard.press("ArrowDown")
    assert purpose.input_value() == "complaint"
    page.keyboard.press("Tab")
    page.keyboard.type(CASE)
    page.keyboard.press("Tab")
    on = focused(page)
    assert on is not None and on.id == "reason", on  # the hint between them is not a stop
    page.keyboard.type("Checking what the caller was told about their permit.")
    tab_to(page, _is("button", label="^Request access$"), "the request button")
    page.keyboard.press("Space")
    expect(page.get_by_role("status")).to_contain_text(f"({CASE}): approved")
    screenshot(page, "keyboard-requested")

    # Listen: the link to the player, then a transcript line plays from where it was said.
    _enter_on(page, "a", "the listen link", label=rf"Listen.*{CASE}")
    expect(page.locator("#listen")).to_have_attribute("data-state", "ready")
    line = tab_to(page, _is("button", label=r"^Agent"), "the agent's transcript line")
    start = float(page.evaluate("() => document.activeElement.dataset.start"))
    assert start > 1.0, start  # the answer comes after the caller's sentence
    page.keyboard.press("Enter")  # seeks there and plays
    page.wait_for_function(
        "start => document.getElementById('player').currentTime > start", arg=start
    )
    assert line.visible
    screenshot(page, "keyboard-listen")
