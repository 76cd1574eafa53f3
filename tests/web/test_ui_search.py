"""The search page: only what the role may see, every search audited, filters as people type
them (UK dates, minutes), keyset pages both ways, bad input beside its field and no search."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from html import unescape
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest

from access.access_helpers import record
from audiofixtures import make_call_audio
from callvault.bootstrap import Services
from callvault.catalog.fulltext import Segment, index_segments
from callvault.context import RequestContext, system_context
from callvault.db import transaction
from callvault.web.pages import search as search_page
from web_pages import (
    SignedIn,
    checked_page,
    embedded_leg,  # noqa: F401  (the embedded leg only)
    sent_back_to,
    tag_of,
    text_of,
)
from web_people import PASSWORD

LONDON = ZoneInfo("Europe/London")
PEOPLE = {
    "cora": "complaints_officer",
    "tess": "team_leader",
    "adam": "advisor",
    "root": "administrator",
}
PARKING, ADULT_CARE, REPAIRS = "020 7371 5678", "0800 145 6095", "0800 023 4499"


# -- reading pages as a browser would ---------------------------------------------------------
def table_of(html: str) -> str:
    table = re.search(r"<table>.*?</table>", html, re.S)
    return table.group(0) if table else ""


def rows(html: str) -> list[list[str]]:
    """The results table's body rows, as cell texts."""
    table = table_of(html)
    if not table:
        return []
    body = re.search(r"<tbody>(.*?)</tbody>", table, re.S)
    assert body is not None
    return [
        [text_of(cell) for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
        for row in re.findall(r"<tr>(.*?)</tr>", body.group(1), re.S)
    ]


def result_ids(html: str) -> list[str]:
    return re.findall(r'<a href="/recordings/([0-9a-f]+)">View', html)


def link(html: str, text: str) -> str | None:
    found = re.search(rf'<a href="([^"]+)"[^>]*>{re.escape(text)}</a>', html)
    return unescape(found.group(1)) if found else None


# -- the world --------------------------------------------------------------------------------
@dataclass
class World:
    services: Services
    clients: SignedIn
    ids: dict[str, str]  # call id -> recording id

    def searches(self) -> list[dict[str, Any]]:
        return [e for e in self.services.audit.show(limit=10_000)
                if e["action"] == "recordings.searched"]  # fmt: skip


def _at(day: date, hour: int, minute: int = 0) -> datetime:
    """A UK local time, as UTC."""
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=LONDON).astimezone(UTC)


def _call(started: datetime, seconds: float, **meta: Any) -> dict[str, Any]:
    return {"started_at": started.isoformat(),
            "ended_at": (started + timedelta(seconds=seconds)).isoformat(), **meta}  # fmt: skip


def _last_summer() -> date:
    """The latest 1 July already past: a day in British Summer Time."""
    today = datetime.now(UTC).date()
    return date(today.year if today > date(today.year, 7, 2) else today.year - 1, 7, 1)


@pytest.fixture
def world(services: Services, ctx: RequestContext, tmp_path: Path) -> Iterator[World]:
    admin = system_context("test")
    for name, role in PEOPLE.items():
        services.access.add_person(admin, name, role, PASSWORD)
    short = make_call_audio(tmp_path / "short.wav", seconds=3.0)
    long = make_call_audio(tmp_path / "long.wav", seconds=10.0, seed=1)
    today = datetime.now(LONDON).date()
    summer = _last_summer()
    calls = {
        # call id: (audio, metadata)
        "p-old": (short, _call(_at(today - timedelta(days=3), 10), 3, dialled=PARKING,
                               caller="07700 900123", agent="agent-17")),
        "p-mid": (long, _call(_at(today - timedelta(days=2), 10), 10, dialled=PARKING,
                              caller="07700 900999", agent="agent-17")),
        "r-mid": (short, _call(_at(today - timedelta(days=2), 10), 3, dialled=REPAIRS,
                               caller="withheld", agent="agent-22")),
        "asc": (short, _call(_at(today - timedelta(days=1), 10), 3, dialled=ADULT_CARE,
                             caller="07700 900456", agent="agent-22")),
        # Just after midnight UK time on 1 July is still 30 June in UTC.
        "summer-night": (short, _call(_at(summer, 0, 30), 3, dialled=PARKING,
                                      caller="07700 900777", agent="agent-5")),
        "summer-eve": (short, _call(_at(summer - timedelta(days=1), 12), 3, dialled=PARKING,
                                    caller="07700 900778", agent="agent-5")),
    }  # fmt: skip
    ids = {call_id: record(services, ctx, audio, call_id, **meta)
           for call_id, (audio, meta) in calls.items()}  # fmt: skip
    clients = SignedIn(services)
    yield World(services, clients, ids)
    clients.close()


def _search(world: World, who: str, **query: str) -> tuple[int, str]:
    response = world.clients[who].get("/recordings", params=query)
    return response.status_code, response.text


# -- tests -----------------------------------------------------------------------------------
def test_the_form_alone_runs_no_search(world: World) -> None:
    status, html = _search(world, "cora")
    assert status == 200
    checked_page(html)
    assert 'method="get" action="/recordings"' in html
    for field in search_page.FIELDS:
        assert f'name="{field}"' in html, field
    assert "<table>" not in html and not world.searches()


def test_search_shows_only_what_the_role_may_see_and_is_audited(world: World) -> None:
    status, html = _search(world, "cora", line="", caller="")
    assert status == 200
    checked_page(html)
    assert set(result_ids(html)) == set(world.ids.values())
    assert "+447700900123" in html and "Adult Social Care" in text_of(html)
    (entry,) = world.searches()
    assert entry["actor"] == "cora" and entry["details"]["results"] == len(world.ids)
    # A team leader: no special-category line (in the results or the line list), callers
    # masked.
    status, html = _search(world, "tess", agent="agent-22")
    assert status == 200
    assert result_ids(html) == [world.ids["r-mid"]]
    assert "Adult Social Care" not in text_of(html)
    status, html = _search(world, "tess", caller="07700 900123")
    (row,) = rows(html)
    assert row[3] == "+4477009•••••" and "900123" not in table_of(html)
    last = world.searches()[-1]
    assert last["actor"] == "tess" and last["details"]["filters"] == {"caller": "+447700900123"}
    assert world.services.audit.verify().ok


def test_roles_without_recording_access_are_refused_and_audited(world: World) -> None:
    for who in ("adam", "root"):
        status, html = _search(world, who, line="parking")
        assert status == 403 and "<h1>Not allowed</h1>" in html
        assert "agent-17" not in html and not world.searches()
        last = world.services.audit.show(limit=10_000)[-1]
        assert last["action"] == "access.refused" and last["actor"] == who


def test_signed_out_is_sent_to_sign_in(world: World) -> None:
    response = world.clients["anon"].get("/recordings?line=parking", follow_redirects=False)
    assert response.status_code == 303
    assert sent_back_to(response.headers["location"]) == "/recordings?line=parking"
    assert not world.searches()


def test_results_show_the_row_as_people_read_it(world: World) -> None:
    status, html = _search(world, "cora", caller="07700900999")
    assert status == 200
    (row,) = rows(html)
    started = datetime.now(LONDON).date() - timedelta(days=2)
    assert row[:5] == [f"{started.day} {started:%b %Y}, 10:00", "Parking", "agent-17",
                       "+447700900999", "0:10"]  # fmt: skip
    assert f'href="/recordings/{world.ids["p-mid"]}"' in html


def test_filters(world: World) -> None:
    ids = world.ids
    today = datetime.now(LONDON).date()

    def found(**query: str) -> set[str]:
        status, html = _search(world, "cora", **query)
        assert status == 200, html
        return set(result_ids(html))

    assert found(line="housing_repairs") == {ids["r-mid"]}
    assert found(agent="agent-17") == {ids["p-old"], ids["p-mid"]}
    assert found(caller="+44 7700 900123") == {ids["p-old"]}
    assert found(caller="withheld") == {ids["r-mid"]}
    # Minutes: 0.1 is six seconds, between the 3 s calls and the 10 s one.
    assert found(min_minutes="0.1") == {ids["p-mid"]}
    assert ids["p-mid"] not in found(max_minutes="0.1")
    # Dates are UK days, the "to" day included whole.
    two_days_ago = (today - timedelta(days=2)).isoformat()
    assert found(**{"from": two_days_ago, "to": two_days_ago}) == {ids["p-mid"], ids["r-mid"]}
    assert found(**{"from": two_days_ago}) == {ids["p-mid"], ids["r-mid"], ids["asc"]}
    summer = _last_summer().isoformat()
    assert found(**{"from": summer, "to": summer}) == {ids["summer-night"]}
    # Together, every filter applies.
    assert found(line="parking", agent="agent-17", min_minutes="0.1") == {ids["p-mid"]}


def test_words_said(world: World) -> None:
    with transaction(world.services.engine) as conn:
        index_segments(
            conn, world.ids["p-old"], [Segment("caller", 61.0, 64.0, "my parking permit")]
        )
        index_segments(conn, world.ids["asc"], [Segment("agent", 2.0, 4.0, "your care permit")])
        index_segments(conn, world.ids["r-mid"], [Segment("caller", 1.0, 2.0, "the boiler")])
    status, html = _search(world, "cora", text="permit")
    assert status == 200
    assert set(result_ids(html)) == {world.ids["p-old"], world.ids["asc"]}
    assert "<mark>permit</mark>" in html and "Caller at 1:01" in text_of(html)
    assert link(html, "Next page") is None
    status, html = _search(world, "tess", text="permit")
    assert result_ids(html) == [world.ids["p-old"]]
    assert world.searches()[-1]["details"]["filters"] == {"text": "permit"}


def test_paging_goes_both_ways(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(search_page, "PAGE_SIZE", 2)
    _, html = _search(world, "cora", line="", agent="")
    pages = [result_ids(html)]
    assert link(html, "Previous page") is None
    while (after := link(html, "Next page")) is not None:
        query = parse_qs(urlsplit(after).query)
        assert "line" not in query and "agent" not in query  # empty filters are left out
        html = world.clients["cora"].get(after).text
        pages.append(result_ids(html))
    every = [rid for page in pages for rid in page]
    # Newest first, each recording once: the two started at the same moment fall either
    # side of a page break, in id order, and neither is lost or repeated.
    ids = world.ids
    same_moment = sorted([ids["p-mid"], ids["r-mid"]], reverse=True)
    assert [len(page) for page in pages] == [2, 2, 2]
    assert every == [ids["asc"], *same_moment, ids["p-old"], ids["summer-night"], ids["summer-eve"]]
    # Back from the last page: the same pages again, then no further back.
    for expected in (pages[1], pages[0]):
        back = link(html, "Previous page")
        assert back is not None
        html = world.clients["cora"].get(back).text
        assert result_ids(html) == expected
    assert link(html, "Previous page") is None and link(html, "Next page") is not None
    # Each page was a search of its own, audited with where it started.
    assert "before" in world.searches()[1]["details"]["filters"]
    assert "after" in world.searches()[-1]["details"]["filters"]


def test_paging_keeps_the_filters(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(search_page, "PAGE_SIZE", 1)
    _, html = _search(world, "cora", agent="agent-17")
    assert result_ids(html) == [world.ids["p-mid"]]
    after = link(html, "Next page")
    assert after is not None and parse_qs(urlsplit(after).query)["agent"] == ["agent-17"]
    html = world.clients["cora"].get(after).text
    assert result_ids(html) == [world.ids["p-old"]]
    assert link(html, "Next page") is None and link(html, "Newest") is not None


BAD_INPUT = [
    ({"from": "2026-13-45"}, "from", "From date must be a real date"),
    ({"to": "yesterday"}, "to", "To date must be a real date"),
    ({"to": "9999-12-31"}, "to", "To date must be a real date"),
    ({"from": "0001-01-01"}, "from", "From date must be a real date"),
    ({"from": "2026-11-10", "to": "2026-11-01"}, "to", "on or after the from date"),
    ({"caller": "not a number"}, "caller", "caller"),
    ({"min_minutes": "two"}, "min_minutes", "number of minutes"),
    ({"max_minutes": "-1"}, "max_minutes", "number of minutes"),
    ({"min_minutes": "5", "max_minutes": "1"}, "max_minutes", "at least the shortest"),
    ({"line": "no_such_line"}, "line", "choose a line"),
    ({"text": "!!!"}, "text", "letter or digit"),
    ({"agent": "a" * 65}, "agent", "longer than 64"),
]


def test_bad_input_names_the_field_and_runs_no_search(world: World) -> None:
    world.clients.sign_in("cora")
    before = world.services.audit.count()
    for query, field, says in BAD_INPUT:
        status, html = _search(world, "cora", **query)
        assert status == 422, query
        checked_page(html)
        assert 'class="error-summary" role="alert"' in html, query
        assert f'<a href="#{field}">' in html, query
        tag = tag_of(html, field)
        assert 'aria-invalid="true"' in tag and f"{field}-error" in tag, query
        error = re.search(rf'<p class="field-error" id="{field}-error">(.*?)</p>', html, re.S)
        assert error is not None and says in text_of(error.group(1)), query
        # What was typed is shown back.
        for name, value in query.items():
            if name != "line":
                assert f'value="{value}"' in tag_of(html, name), query
        assert "<table>" not in html, query
    # Nothing was searched, so nothing was audited.
    assert world.services.audit.count() == before


def test_a_team_leader_cannot_pick_a_line_they_may_not_see(world: World) -> None:
    status, html = _search(world, "tess")
    assert 'value="adult_social_care"' not in html and 'value="parking"' in html
    status, html = _search(world, "tess", line="adult_social_care")
    assert status == 422 and 'aria-invalid="true"' in tag_of(html, "line")
    assert not world.searches()


def test_a_broken_page_link_says_so(world: World) -> None:
    status, html = _search(world, "cora", before="not-a-cursor")
    assert status == 422 and "not a place in the results" in html
    assert not world.searches()
    status, html = _search(
        world, "cora", text="permit", before=f"2026-01-01T00:00:00+00:00~{'a' * 32}"
    )
    assert status == 422 and 'aria-invalid="true"' in tag_of(html, "text")


def test_an_empty_result_says_so(world: World) -> None:
    status, html = _search(world, "cora", agent="nobody")
    assert status == 200 and 'id="no-results"' in html
    assert "No recordings match this search." in html and "<table>" not in html
    assert world.searches()[-1]["details"]["results"] == 0


def test_the_api_reads_a_bound_with_an_offset_as_the_same_moment(world: World) -> None:
    """``from`` given in UK summer time finds the call at 00:30 BST (23:30 UTC the day
    before): stored times are UTC text, so the bound is converted before comparing."""
    summer = _last_summer()
    bound = datetime(summer.year, 7, 1, tzinfo=LONDON).isoformat()
    client = world.clients["cora"]
    response = client.get("/api/v1/recordings", params={"from": bound, "line": "parking"})
    assert response.status_code == 200, response.text
    found = {row["recording_id"] for row in response.json()["results"]}
    assert world.ids["summer-night"] in found and world.ids["summer-eve"] not in found
