"""Using the web pages as a browser and a screen reader do, for the page tests: what a page
says, its shape checked against the rules every page keeps, forms posted with the token read
from the page, and a signed-in browser per person."""

from __future__ import annotations

import re
from html import unescape
from html.parser import HTMLParser
from itertools import pairwise
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from callvault.bootstrap import Services
from callvault.context import RequestContext, system_context
from callvault.web.app import create_app
from web_people import PASSWORD, sign_in

# One person of each of the example policy's roles, by a short name.
ROLES = {
    "adv": "advisor",
    "tl": "team_leader",
    "am": "authorised_manager",
    "co": "complaints_officer",
    "so": "safety_officer",
    "dpo": "dpo",
    "aud": "auditor",
    "adm": "administrator",
    "bi": "business_intelligence",
}
BASE_URL = "https://testserver"  # as a deployment is reached: Secure cookies are sent


# -- reading a page ---------------------------------------------------------------------------
def text_of(fragment: str) -> str:
    """What a screen reader reads of ``fragment``: tags dropped, spaces collapsed."""
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def first(pattern: str, text: str) -> str:
    """The first group of ``pattern``'s first match in ``text`` (which must have one)."""
    found = re.search(pattern, text, re.S)
    assert found, pattern
    return found.group(1)


def headings(html: str) -> list[tuple[int, str]]:
    """Every heading: its level and its text."""
    return [
        (int(level), text_of(inner))
        for level, inner in re.findall(r"<h([1-6])[^>]*>(.*?)</h\1>", html, re.S)
    ]


def buttons(html: str) -> list[str]:
    """Every button's accessible name (its text, visually hidden parts included)."""
    return [text_of(inner) for inner in re.findall(r"<button[^>]*>(.*?)</button>", html, re.S)]


def tag_of(html: str, element_id: str) -> str:
    """The start tag of the form field (input, select or textarea) with ``element_id``."""
    found = re.search(rf'<(?:input|select|textarea)\b[^>]*\bid="{element_id}"[^>]*>', html)
    assert found, element_id
    return found.group(0)


def csrf_of(html: str) -> str:
    """The session's CSRF token, as the page's forms carry it."""
    return first(r'name="csrf_token" value="([^"]+)"', html)


def sent_back_to(location: str) -> str:
    """Where a sign-in redirect's ``next`` returns to after signing in."""
    parts = urlsplit(location)
    assert parts.path == "/signin", location
    (back,) = parse_qs(parts.query)["next"]
    return back


# -- the rules every page keeps ---------------------------------------------------------------
class PageShape(HTMLParser):
    """What a page's markup promises a screen reader, gathered in one pass."""

    def __init__(self) -> None:
        super().__init__()
        self.headings: list[int] = []
        self.labelled: set[str] = set()
        self.fields: list[str | None] = []
        self.ids: list[str] = []
        self.described_by: list[str] = []
        self.tables = self.captions = 0
        self.tables_without_column_headers = 0
        self._column_headers: list[int] = []
        self.unscoped_th = 0
        self.forbidden: list[str] = []
        self.buttons: list[str] = []
        self._button: list[str] | None = None
        self.rows: list[list[str]] = []
        self._row: list[str] | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if re.fullmatch(r"h[1-6]", tag):
            self.headings.append(int(tag[1]))
        if found.get("id"):
            self.ids.append(str(found["id"]))
        self.described_by += str(found.get("aria-describedby") or "").split()
        if tag == "label" and found.get("for"):
            self.labelled.add(str(found["for"]))
        if tag in ("input", "select", "textarea") and found.get("type") != "hidden":
            self.fields.append(found.get("id"))
        if tag == "table":
            self.tables += 1
            self._column_headers.append(0)
        self.captions += tag == "caption"
        if tag == "th":
            self.unscoped_th += "scope" not in found
            if found.get("scope") == "col" and self._column_headers:
                self._column_headers[-1] += 1
        self.forbidden += [name for name in found if name == "style" or name.startswith("on")]
        if tag in ("script", "style"):
            self.forbidden.append(tag)
        if tag == "button":
            self._button = []
        if tag == "tr":
            self._row = []
        if tag in ("td", "th") and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "table" and self._column_headers:
            self.tables_without_column_headers += self._column_headers.pop() == 0
        if tag == "button" and self._button is not None:
            self.buttons.append(" ".join("".join(self._button).split()))
            self._button = None
        if tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._cell = None
        if tag == "tr" and self._row is not None:
            self.rows.append(self._row)
            self._row = None

    def handle_data(self, data: str) -> None:
        if self._button is not None:
            self._button.append(data)
        if self._cell is not None:
            self._cell.append(data)


def checked_page(html: str) -> PageShape:
    """The page's shape, once it is checked against the accessibility rules every page
    keeps: one h1, first, and no heading level skipped; a label for each field; what
    ``aria-describedby`` names is there; tables captioned, with column headers and every
    header cell scoped; ids and button names unique; no inline style or script."""
    shape = PageShape()
    shape.feed(html)
    shape.close()
    assert shape.headings.count(1) == 1 and shape.headings[0] == 1, shape.headings
    for before, after in pairwise(shape.headings):
        assert after <= before + 1, f"heading h{after} after h{before}"
    assert all(field and field in shape.labelled for field in shape.fields), shape.fields
    assert set(shape.described_by) <= set(shape.ids), shape.described_by
    assert shape.tables == shape.captions and shape.unscoped_th == 0
    assert shape.tables_without_column_headers == 0
    assert len(shape.ids) == len(set(shape.ids)), shape.ids
    assert len(shape.buttons) == len(set(shape.buttons)), shape.buttons
    assert shape.forbidden == []
    return shape


# -- using a page -----------------------------------------------------------------------------
def form_token(client: TestClient, path: str) -> str:
    """The CSRF token of the page at ``path``, as its forms would post it."""
    page = client.get(path)
    assert page.status_code == 200, page.text
    return csrf_of(page.text)


def post_form(client: TestClient, page: str, action: str, **fields: str) -> httpx.Response:
    """Post ``fields`` to ``action`` as the form on ``page`` does: the CSRF token read from
    the page, sent as a form field and not as the header ``sign_in`` set for scripts."""
    token = form_token(client, page)
    client.headers.pop("X-CSRF-Token", None)
    response: httpx.Response = client.post(
        action, data={"csrf_token": token, **fields}, follow_redirects=False
    )
    return response


def follow(client: TestClient, response: httpx.Response) -> str:
    """The page a 303 after a post leads to (where its message shows)."""
    assert response.status_code == 303, response.text
    return str(client.get(response.headers["location"]).text)


# -- people and their browsers ----------------------------------------------------------------
def add_people(services: Services, *names: str) -> None:
    """The people ``names`` (keys of ROLES), each added once: a password hash costs time."""
    existing = {row["user"] for row in services.access.list_users()}
    for name in names:
        if name not in existing:
            services.access.add_person(system_context("test"), name, ROLES[name], PASSWORD)


def browser_for(services: Services, name: str | None) -> TestClient:
    """A browser (redirects not followed) signed in as ``name`` of ROLES, added if need be;
    None: nobody. It posts forms, not API calls: the token must come from the page."""
    browser = TestClient(create_app(services), base_url=BASE_URL, follow_redirects=False)
    if name is not None:
        add_people(services, name)
        sign_in(browser, services, name)
        browser.headers.pop("X-CSRF-Token")
    return browser


class SignedIn(dict[str, TestClient]):
    """A browser per person, signed in on first use (signing in hashes a password), so a
    test pays only for the people it needs; "anon" is nobody. The people must exist."""

    def __init__(self, services: Services, app: FastAPI | None = None) -> None:
        super().__init__()
        self.services, self.app = services, app or create_app(services)

    def __missing__(self, who: str) -> TestClient:
        client = TestClient(self.app, base_url=BASE_URL)
        if who != "anon":
            sign_in(client, self.services, who)
        self[who] = client
        return client

    def sign_in(self, *people: str) -> None:
        """Sign ``people`` in now, so their sign-in is not among what a test counts."""
        for who in people:
            self.__getitem__(who)

    def close(self) -> None:
        for client in self.values():
            client.close()


@pytest.fixture(name="backend", params=["sqlite"])
def embedded_leg(request: pytest.FixtureRequest) -> str:
    """The embedded leg only, for a page module that imports it (it overrides conftest's
    ``backend``): a page renders what the services return, and the services, the
    authorisation matrix over pages and API, and every query a page added are tested on
    both legs; running each page's HTML checks on PostgreSQL too doubled their time and
    tested nothing more."""
    leg: str = request.param
    return leg


class Desk:
    """A page test's world: the home, everyone's signed-in browser, the operator's context
    and a call to record; page modules subclass it with their own seeding helpers."""

    def __init__(
        self, services: Services, clients: SignedIn, ctx: RequestContext, call_wav: Path
    ) -> None:
        self.services, self.clients, self.ctx, self.call_wav = services, clients, ctx, call_wav

    def person(self, name: str) -> RequestContext:
        """``name`` signed in as themselves."""
        return RequestContext(actor=self.services.access.person(name), origin="test")


def seated(services: Services, people: dict[str, str]) -> SignedIn:
    """Add ``people`` (username -> role) and return their browsers, signed in on demand."""
    for name, role in people.items():
        services.access.add_person(system_context("test"), name, role, PASSWORD)
    return SignedIn(services)
