"""Every page of the UI, as the role that uses it, checked by axe-core in the browser
(WCAG 2.2 AA: no serious or critical violation), with no console error or CSP violation,
and photographed for the README.

The signed-out pages and each role's start page are checked in test_browser_public.py; the
pages the main flow passes through in a particular state (a request pending, one waiting
for approval, a recording playing) in test_browser_flow.py.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from browser.crew import SAR_CASE, SEARCH_WORDS, Pages, World
from browser.kit import assert_accessible, screenshot

# One worker runs every browser test: each worker would otherwise seed its own home
# (a Whisper transcription included) and start its own server and Chromium.
pytestmark = pytest.mark.xdist_group("browser")

# (who, path, expected h1, screenshot name). ``{spoken}`` and ``{grant}`` are the seeded
# spoken call and carl's approved grant on it; the other names are World's fields. Each page
# is seen by a role that uses it with something on it (a hold to release, a transcript...).
WALK = [
    ("carl", "/recordings", "Search recordings", "search"),
    ("carl", f"/recordings?text={SEARCH_WORDS.replace(' ', '+')}", "Search recordings",
     "search-results"),
    ("carl", "/recordings?min_minutes=lots", "Search recordings", "search-error"),
    ("carl", "/recordings/{spoken}", re.compile(r"call, "), "recording"),
    ("carl", "/recordings/{spoken}/listen?grant={grant}", re.compile(r"^Listen: "), "listen"),
    ("carl", "/recordings/{spoken}/listen?grant={grant}&rendition=redacted",
     re.compile(r"^Listen: "), "listen-redacted"),
    ("carl", "/requests", "My requests", "requests"),
    ("mina", "/approvals", "Approvals", "approvals-empty"),
    ("mina", "/holds", "Legal holds", "holds"),
    ("mina", "/retention", "Retention", "retention"),
    ("aud", "/audit", "Audit trail", "audit-trail"),
    ("aud", "/audit/verify", "Audit trail verification", "audit-verification"),
    ("root", "/users", "Users", "users"),
    ("dana", "/access-review", "Access review", "access-review"),
    ("adam", "/requests", "Requests to hear your calls", "requests-advisor"),
    ("dana", "/rights", "Rights requests", "rights"),
    ("dana", f"/rights/{SAR_CASE}", f"Request {SAR_CASE}", "rights-request"),
    ("dana", f"/rights/{SAR_CASE}/recordings/{{spoken}}/review",
     re.compile(r"^Review recording 1 of 1"), "rights-review"),
    ("adam", "/training", "Training clips", "training"),
    ("mina", "/training/{clip}", "Training clip", "training-clip"),
    ("bea", "/demand", "Demand", "demand"),
    ("bea", "/demand?from=lately", "Demand", "demand-error"),
    ("sol", "/conduct", "Customer conduct", "conduct"),
    ("sol", "/conduct/incidents/{incident}", re.compile(r"^Incident SAF-"), "conduct-incident"),
    ("mina", "/quality", "Quality monitoring", "quality"),
    ("mina", "/quality/samples/{case}", re.compile(r"^Sampled call QA-"), "quality-sample"),
    ("mina", "/quality/calibrations/{calibration}", re.compile(r"^Calibration on QA-"),
     "quality-calibration"),
    ("aud", "/quality/draws/{draw}", re.compile(r"^Verify the draw of "), "quality-verify"),
    ("adam", "/quality/mine", "My evaluations", "quality-mine"),
]  # fmt: skip
# A page that answers 422 on purpose (a search form with a wrong field) is a page too.
STATUS = {"search-error": 422, "demand-error": 422}


@pytest.mark.parametrize(
    ("username", "path", "heading", "name"), WALK, ids=[entry[3] for entry in WALK]
)
def test_page_is_accessible(
    pages: Pages,
    world: World,
    axe: str,
    username: str,
    path: str,
    heading: str | re.Pattern[str],
    name: str,
) -> None:
    page = pages.as_person(username)
    wanted = STATUS.get(name, 200)
    if wanted != 200:
        pages.allow(rf"status of {wanted}")
    response = page.goto(
        path.format(
            spoken=world.spoken,
            grant=world.carl_grant,
            clip=world.clip,
            incident=world.incident,
            case=world.case,
            draw=world.draw,
            calibration=world.calibration,
        )
    )
    assert response is not None and response.status == wanted, (path, response)
    expect(page.get_by_role("heading", level=1)).to_have_text(heading)
    if "/listen" in path:
        # The player's script has finished: the audio is loaded and the waveform drawn, so
        # axe sees the page as a person does (and a broken script shows as a console error).
        expect(page.locator("#listen")).to_have_attribute("data-state", "ready")
        expect(page.locator("#waveform")).to_have_attribute("data-drawn", "true")
    assert_accessible(page, axe, name)
    screenshot(page, name)


def test_the_walk_covers_every_page_in_the_navigation(pages: Pages) -> None:
    """Each area any role is offered is in WALK, so a new page cannot go unchecked."""
    walked = {path.split("?")[0] for _who, path, _h, _n in WALK}
    offered: set[str] = set()
    for username in ("carl", "mina", "aud", "root", "dana", "adam", "bea", "sol"):
        page = pages.as_person(username)
        page.goto("/")
        links = page.get_by_role("navigation", name="Main").get_by_role("link")
        offered |= {str(link.get_attribute("href")) for link in links.all()}
        page.close()
    assert offered, "no navigation found"
    assert offered <= walked, f"not checked by the walk: {sorted(offered - walked)}"
