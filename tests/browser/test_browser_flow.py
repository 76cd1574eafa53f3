"""The council's access flow in a real browser, end to end, and who is turned away.

A complaints officer finds a spoken call by its words, asks to hear it for an ombudsman
investigation (a purpose that needs a second person), an authorised manager approves it in
a browser of their own, the officer listens (the audio really plays: its clock advances,
and a transcript line moves it there), and the recording's audit trail and the auditor's
audit page both show the listen. An advisor, whose role never hears audio, is refused at
every door.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Locator, Page, expect

from browser.crew import SEARCH_WORDS, Pages, World
from browser.kit import assert_accessible, screenshot

# One worker runs every browser test: each worker would otherwise seed its own home
# (a Whisper transcription included) and start its own server and Chromium.
pytestmark = pytest.mark.xdist_group("browser")

CASE = "LGO-2026-0417"
REASON = "The caller complained to the Ombudsman about how this call was handled."
PLAY_WAIT_MS = 10_000  # a player that plays passes 0.5 s in about half a second


def _row(page: Page, text: str) -> Locator:
    """The one table row that mentions ``text``."""
    rows = page.locator("tbody tr").filter(has_text=text)
    expect(rows).to_have_count(1)
    return rows


def _audio_time(page: Page) -> float:
    return float(page.locator("#player").evaluate("audio => audio.currentTime"))


def test_request_approve_listen_and_see_it_in_the_audit_trail(
    pages: Pages, world: World, axe: str
) -> None:
    # The officer signs in (password and one-time code) and searches by what was said.
    cora = pages.as_person("cora")
    cora.goto("/")
    cora.get_by_role("navigation", name="Main").get_by_role("link", name="Search").click()
    expect(cora).to_have_url(re.compile(r"/recordings$"))
    # Everything first (four calls), then one line's only, then by the words said.
    search = cora.get_by_role("button", name="Search", exact=True)
    search.click()
    expect(cora.locator("table tbody tr")).to_have_count(1 + len(world.plain))
    cora.get_by_label("Line").select_option(label="Switchboard")
    search.click()
    expect(cora.locator("table tbody tr")).to_have_count(1)
    expect(cora.locator("table tbody tr")).to_contain_text("Switchboard")
    cora.get_by_label("Line").select_option(label="Any line")
    cora.get_by_label("Words said").fill(SEARCH_WORDS)
    search.click()
    expect(cora.get_by_role("heading", name="Results")).to_be_visible()
    # Only the spoken call has these words; the plain calls on the same line have none.
    found = cora.locator("table tbody tr")
    expect(found).to_have_count(1)
    expect(found).to_contain_text("parking permit")
    screenshot(cora, "flow-1-search-results")
    found.get_by_role("link", name=re.compile(r"^View")).click()
    expect(cora).to_have_url(re.compile(rf"/recordings/{world.spoken}$"))

    # It asks for access: the ombudsman's purpose says it needs a second approver.
    cora.get_by_label("Purpose").select_option(
        label="Ombudsman investigation (needs a second approver)"
    )
    cora.get_by_label("Case reference").fill(CASE)
    cora.get_by_label("Reason").fill(REASON)
    cora.get_by_role("button", name="Request access").click()
    expect(cora.get_by_role("status")).to_contain_text(f"({CASE}): pending")
    expect(cora.get_by_role("link", name=re.compile(r"^Listen"))).to_have_count(0)
    screenshot(cora, "flow-2-requested")

    # My requests shows it waiting, with nothing to listen to yet.
    cora.get_by_role("navigation", name="Main").get_by_role("link", name="My requests").click()
    mine = _row(cora, CASE)
    expect(mine).to_contain_text("pending")
    expect(mine.get_by_role("link", name=re.compile(r"^Listen"))).to_have_count(0)
    assert_accessible(cora, axe, "requests (pending)")
    screenshot(cora, "flow-3-requests-pending")
    # The officer cannot decide their own request: it is not among theirs to approve.
    cora.goto("/approvals")
    expect(cora.locator("tbody tr").filter(has_text=CASE)).to_have_count(0)

    # The second person, in a browser of their own, approves it.
    mina = pages.as_person("mina")
    mina.goto("/")
    mina.get_by_role("navigation", name="Main").get_by_role("link", name="Approvals").click()
    waiting = _row(mina, CASE)
    expect(waiting).to_contain_text("cora")
    expect(waiting).to_contain_text(REASON)
    assert_accessible(mina, axe, "approvals (one waiting)")
    screenshot(mina, "flow-4-approvals")
    waiting.get_by_role("button", name=re.compile(r"^Approve")).click()
    expect(mina.locator("tbody tr").filter(has_text=CASE)).to_have_count(0)

    # The officer now has a live grant and listens.
    cora.goto("/requests")
    mine = _row(cora, CASE)
    expect(mine).to_contain_text("approved")
    mine.get_by_role("link", name=re.compile(r"^Listen")).click()
    expect(cora).to_have_url(re.compile(rf"/recordings/{world.spoken}/listen\?grant="))
    expect(cora.locator("#listen")).to_have_attribute("data-state", "ready")
    expect(cora.locator("#waveform")).to_have_attribute("data-drawn", "true")
    expect(cora.locator("dl.facts")).to_contain_text(CASE)
    assert _audio_time(cora) == 0.0
    # Play with the player's own play button, as a person clicks it (the native control's
    # left end); headless Chromium plays into a null sink at real speed.
    player = cora.locator("#player")
    box = player.bounding_box()
    assert box is not None
    player.click(position={"x": 18, "y": box["height"] / 2})
    cora.wait_for_function(
        "() => document.getElementById('player').currentTime > 0.5", timeout=PLAY_WAIT_MS
    )
    played = _audio_time(cora)
    print(f"audio currentTime after play: {played:.3f} s")
    screenshot(cora, "flow-5-listen")
    assert_accessible(cora, axe, "listen (playing)")

    # A transcript line moves the playback to where it was said (and marks it as heard).
    later = cora.locator("#transcript button[data-speaker='agent']").first  # the answer
    start = float(later.get_attribute("data-start") or "nan")
    assert start > played + 1.0, (start, played)  # a jump forward, not playback catching up
    later.click()
    cora.wait_for_function(
        "start => { const t = document.getElementById('player').currentTime;"
        " return t >= start - 0.05 && t < start + 2.0; }",
        arg=start,
        timeout=PLAY_WAIT_MS,
    )
    print(f"seeked to {_audio_time(cora):.3f} s (line starts at {start:.3f} s)")
    expect(later).to_have_attribute("aria-current", "true")

    # The recording's own trail shows the listen, by whom and for which case.
    cora.goto(f"/recordings/{world.spoken}")
    trail = cora.locator("section", has=cora.get_by_role("heading", name="Audit trail"))
    listened = trail.locator("tbody tr").filter(has_text="Listened")
    expect(listened.first).to_contain_text("cora")
    expect(listened.first).to_contain_text(CASE)
    # Reading the transcript under the grant is recorded against the recording too.
    expect(trail.locator("tbody tr").filter(has_text="Transcript read").first).to_contain_text(CASE)
    trail.scroll_into_view_if_needed()  # the README's picture is the first screenful
    screenshot(cora, "flow-6-recording-trail")

    # The auditor finds the same listen in the whole audit trail, and the chain verifies.
    aud = pages.as_person("aud")
    aud.goto("/audit")
    aud.get_by_label("Action").fill("recording.played")
    aud.get_by_role("button", name="Show entries").click()
    entries = aud.locator("table.audit-entries tbody tr")
    expect(entries.filter(has_text="cora").filter(has_text=CASE)).to_have_count(1)
    screenshot(aud, "flow-7-audit")
    aud.get_by_role("link", name="Verify the chain").click()
    expect(aud.locator("#verify-result")).to_contain_text("Chain intact")
    screenshot(aud, "flow-8-audit-verify")


def test_an_advisor_is_refused_every_way_in(pages: Pages, world: World, axe: str) -> None:
    adam = pages.as_person("adam")
    pages.allow(r"status of 403")  # each refusal's own page, asked for below
    adam.goto("/")
    nav = adam.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Search")).to_have_count(0)
    for path in (
        "/recordings",
        f"/recordings/{world.spoken}",
        f"/recordings/{world.spoken}/listen?grant={world.carl_grant}",
        "/approvals",
    ):
        response = adam.goto(path)
        assert response is not None and response.status == 403, (path, response)
        expect(adam.get_by_role("heading", level=1)).to_have_text("Not allowed")
        # Nothing of the recording leaks onto the refusal: no player, no transcript.
        expect(adam.locator("audio, #transcript")).to_have_count(0)
    assert_accessible(adam, axe, "refused")
    screenshot(adam, "refused")
    # The audio itself is refused too, whatever grant id is named.
    audio = adam.request.get(
        f"/api/v1/recordings/{world.spoken}/audio", params={"grant": world.carl_grant}
    )
    assert audio.status == 403, audio.text()
    # Each refusal is in the audit trail, as the advisor's.
    refused = [
        e
        for e in world.services.audit.show(actor="adam", limit=1000)
        if e["action"] == "access.refused"
    ]
    assert len(refused) >= 5, refused
