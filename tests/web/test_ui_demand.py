"""The demand page (/demand) over real HTTP, on calls ingested at known UK times and indexed
as the worker indexes them; figures checked against the hand count below.

A week in November 2026 (GMT: UK time is UTC), the form's days 2 to 8 November:

| call | UK start        | line     | caller | s | out of hours               | transcript        |
|------|-----------------|----------|--------|---|----------------------------|-------------------|
| a    | Mon 2 Nov 08:30 | parking  | A      | 4 | yes: before 09:00          | missed_collection |
| b    | Mon 2 Nov 10:40 | parking  | A      | 2 | no: office hours           | parking_permit    |
| c    | Sat 7 Nov 19:30 | careline | B      | 6 | no: careline always open   | (none yet)        |
| x    | Mon 9 Nov 09:30 | parking  | B      | 3 | after the window           | -                 |

All lines: 3 calls, 1 out of hours (33%); durations 2 4 6: median 4 s, p90 6 s; A called
twice (one repeat caller, 2 calls); 2 of 3 transcribed (67%), a topic found in both.
Hours 08, 10, 19 one call each; Monday 2, Saturday 1; 2 Nov 2, 7 Nov 1.
Parking: 2 calls, 1 out of hours (50%). Careline: 1 call, none out of hours.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient

from analytics.demand_helpers import CALLER_A, CALLER_B, CARELINE, PARKING, Call, index, ingest_call
from callvault.bootstrap import Services
from callvault.context import RequestContext, system_context
from web_pages import (
    browser_for,
    checked_page,
    embedded_leg,  # noqa: F401  (the embedded leg only)
    tag_of,
    text_of,
)
from web_people import PASSWORD

WEEK = {"from": "2026-11-02", "to": "2026-11-08"}
CALLS = [
    Call("a", "2026-11-02 08:30:00", PARKING, CALLER_A, 4, ("My bin was missed again",)),
    Call("b", "2026-11-02 10:40:00", PARKING, CALLER_A, 2, ("I need a parking permit",)),
    Call("c", "2026-11-07 19:30:00", CARELINE, CALLER_B, 6, None),
    Call("x", "2026-11-09 09:30:00", PARKING, CALLER_B, 3, ("bins",)),
]


@pytest.fixture
def seeded(services: Services, ctx: RequestContext, tmp_path: Path) -> Services:
    for call in CALLS:
        ingest_call(services, ctx, tmp_path, call)
    assert index(services).indexed == len(CALLS)
    return services


def analyst(services: Services) -> TestClient:
    """A business intelligence analyst's browser (the role holds demand:read and no more)."""
    services.access.add_person(system_context("test"), "bi", "business_intelligence", PASSWORD)
    return browser_for(services, "bi")


def table_of(html: str, caption: str) -> list[list[str]]:
    """The body rows of the table with ``caption``, cell texts in order."""
    found = re.search(
        rf"<caption>{re.escape(caption)}</caption>.*?<tbody>(.*?)</tbody>", html, re.S
    )
    assert found is not None, caption
    return [
        [text_of(cell) for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)]
        for row in re.findall(r"<tr>(.*?)</tr>", found.group(1), re.S)
    ]


def figures_of(html: str) -> dict[str, str]:
    """The headline figures: name -> value and its detail, as read aloud."""
    return {
        text_of(name): text_of(value)
        for name, value in re.findall(r"<dt>(.*?)</dt>\s*<dd>(.*?)</dd>", html, re.S)
    }


def svg_of(html: str, chart: str) -> str:
    found = re.search(rf'<svg [^>]*id="chart-{chart}".*?</svg>', html, re.S)
    assert found is not None, chart
    return found.group(0)


# -- who may see it ------------------------------------------------------------------------------
def test_an_analyst_sees_the_page_and_nothing_else(services: Services) -> None:
    browser = analyst(services)
    home = browser.get("/")
    nav = re.search(r'<nav aria-label="Main">(.*?)</nav>', home.text, re.S)
    assert nav is not None
    assert re.findall(r'href="([^"]+)"', nav.group(1)) == ["/demand"]
    answer = browser.get("/demand")
    assert answer.status_code == 200, answer.text
    assert answer.headers["cache-control"] == "no-store"
    checked_page(answer.text)
    assert '<a href="/demand" aria-current="page">Demand</a>' in answer.text
    # The default window, the 28 days to now, read and audited as the API's report is.
    entry = services.audit.show(action="report.demand", newest_first=True, limit=1)[0]
    assert entry["actor"] == "bi" and entry["details"]["calls"] == 0


@pytest.mark.parametrize(("name", "allowed"), [("adv", False), ("aud", False), ("dpo", True),
                                               ("am", True), ("adm", False)])  # fmt: skip
def test_who_else_may_see_it(services: Services, name: str, allowed: bool) -> None:
    browser = browser_for(services, name)
    before = services.audit.count()
    answer = browser.get("/demand", params=WEEK)
    if allowed:
        assert answer.status_code == 200
        return
    assert answer.status_code == 403 and "<h1>Not allowed</h1>" in answer.text
    refused = services.audit.show(after=before)
    assert [entry["object_id"] for entry in refused] == ["demand:read"]
    assert not services.audit.show(action="report.demand")
    assert "/demand" not in browser.get("/").text  # never offered a link that is refused


def test_signed_out_visitors_are_sent_to_sign_in(services: Services) -> None:
    answer = browser_for(services, None).get("/demand", params=WEEK)
    assert answer.status_code == 303 and answer.headers["location"].startswith("/signin?next=")


# -- the figures ---------------------------------------------------------------------------------
def test_the_figures_are_the_hand_count(seeded: Services) -> None:
    answer = analyst(seeded).get("/demand", params=WEEK)
    assert answer.status_code == 200, answer.text
    html = answer.text
    checked_page(html)
    figures = figures_of(html)
    assert figures["Calls"] == "3"
    assert figures["Out of hours"] == "33% 1 of 3 calls"
    assert figures["Median length"] == "0:04 minutes:seconds"
    assert figures["90% of calls lasted at most"] == "0:06 minutes:seconds"
    assert figures["Repeat callers"] == "1 who made 2 calls"
    assert figures["Transcribed"] == "67% 2 of 3 calls"
    assert figures["No topic found"] == "0 of 2 transcribed calls"
    assert "not yet indexed" not in html
    hours = table_of(html, "Calls by hour of day (UK time)")
    assert len(hours) == 24
    assert {row[0]: row[1] for row in hours if row[1] != "0"} == {
        "08:00 to 09:00": "1", "10:00 to 11:00": "1", "19:00 to 20:00": "1",
    }  # fmt: skip
    weekdays = {row[0]: row[1] for row in table_of(html, "Calls by day of the week")}
    assert weekdays == {"Monday": "2", "Tuesday": "0", "Wednesday": "0", "Thursday": "0",
                        "Friday": "0", "Saturday": "1", "Sunday": "0"}  # fmt: skip
    days = table_of(html, "Calls by day")
    assert days[0] == ["Mon 2 Nov 2026", "2"] and days[5] == ["Sat 7 Nov 2026", "1"]
    assert len(days) == 7  # 2 to 8 November, both included; the call on the 9th is not
    assert table_of(html, "Calls by topic") == [
        ["Missed bin or recycling collection", "1"], ["Parking permits and fines", "1"],
    ]  # fmt: skip
    # A bar for each hour with calls, and none for the others; the chart is named for a
    # screen reader, which reads its table too.
    hour_svg = svg_of(html, "hour")
    assert len(re.findall(r'<rect class="bar"', hour_svg)) == 3
    assert 'role="img"' in hour_svg
    assert (
        'aria-label="Calls by hour of day (UK time): 3 calls in all; highest: 08:00 to 09:00 (1)."'
        in hour_svg
    )
    lines = table_of(html, "Calls per line, busiest first (lengths in minutes:seconds)")
    assert lines[0] == ["Parking", "2", "1", "50%", "0:03", "0:04", "1",
                        "Missed bin or recycling collection"]  # fmt: skip
    assert lines[1] == ["Careline", "1", "0", "0%", "0:06", "0:06", "0", "Not transcribed yet"]
    assert len(lines) == 2  # the lines without calls are named after the table
    quiet = re.search(r"No calls in this period on (\d+) other lines: ([^<]*)\.</p>", html)
    assert quiet is not None and "Switchboard" in quiet.group(2).split(", ")
    assert int(quiet.group(1)) == len(seeded.policy.policy.lines) - 2
    audited = seeded.audit.show(action="report.demand", newest_first=True, limit=1)[0]
    assert audited["details"]["calls"] == 3
    assert audited["details"]["from"].startswith("2026-11-02T00:00:00")
    assert audited["details"]["to"].startswith("2026-11-09T00:00:00")  # the 8th included


def test_one_lines_figures(seeded: Services) -> None:
    browser = analyst(seeded)
    answer = browser.get("/demand", params={**WEEK, "line": "careline"})
    assert answer.status_code == 200
    assert "<h2>Careline</h2>" in answer.text
    assert '<option value="careline" selected>Careline</option>' in answer.text
    figures = figures_of(answer.text)
    assert figures["Calls"] == "1" and figures["Out of hours"] == "0% 0 of 1 calls"
    assert figures["Transcribed"] == "0% 0 of 1 calls"
    assert "No topic was found in the transcribed calls of this period." in answer.text
    # Every line still has its row, each a link to its own figures for the same days.
    assert 'href="/demand?from=2026-11-02&amp;to=2026-11-08&amp;line=parking"' in answer.text


def test_calls_waiting_to_be_indexed_are_said_to_lag(
    seeded: Services, ctx: RequestContext, tmp_path: Path
) -> None:
    ingest_call(seeded, ctx, tmp_path, Call("late", "2026-11-03 12:00:00", PARKING, CALLER_B, 2,
                                            None))  # fmt: skip
    answer = analyst(seeded).get("/demand", params=WEEK)
    assert "1 call is not yet indexed." in text_of(answer.text)
    assert "figures may lag" in answer.text
    assert figures_of(answer.text)["Calls"] == "3"  # counted once the job has indexed it


def test_a_long_window_is_drawn_by_week(seeded: Services) -> None:
    answer = analyst(seeded).get("/demand", params={"from": "2026-09-01", "to": "2026-11-30"})
    assert answer.status_code == 200
    weeks = table_of(answer.text, "Calls by week")
    assert ["Week 45 of 2026 (from Mon 2 Nov)", "3"] in weeks
    assert "<caption>Calls by day</caption>" not in answer.text


# -- the page's safety ---------------------------------------------------------------------------
def test_the_charts_need_no_script_and_no_inline_style(seeded: Services) -> None:
    answer = analyst(seeded).get("/demand", params=WEEK)
    policy = answer.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    html = answer.text
    assert "<script" not in html and "<style" not in html
    assert not re.search(r"\sstyle=", html) and not re.search(r"\son[a-z]+=", html)
    assert '<link rel="stylesheet" href="/static/demand.css' in html
    assert browser_for(seeded, None).get("/static/demand.css").status_code == 200


# -- mistakes ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("query", "field", "says"),
    [
        ({"from": "yesterday"}, "demand-from", "from must be a real date, like 2026-11-28"),
        ({"to": "9999-12-31"}, "demand-to", "to must be a real date"),
        ({"from": "2026-11-08", "to": "2026-11-02"}, "demand-from", "from must not be after to"),
        ({"from": "2025-01-01", "to": "2026-11-08"}, "demand-from", "400 days at most"),
        ({"from": "2999-01-01"}, "demand-from", "from must not be after today"),
        ({**WEEK, "line": "nowhere"}, "demand-line", "line must be one of the lines"),
    ],
)
def test_a_mistake_names_the_field_keeps_what_was_typed_and_reads_nothing(
    services: Services, query: dict[str, str], field: str, says: str
) -> None:
    browser = analyst(services)
    before = services.audit.count()
    answer = browser.get("/demand", params=query)
    assert answer.status_code == 422
    checked_page(answer.text)
    error = re.search(rf'<p class="field-error" id="{field}-error">([^<]*)</p>', answer.text)
    assert error is not None and says in error.group(1)
    assert 'aria-invalid="true"' in tag_of(answer.text, field)
    assert f'href="#{field}"' in answer.text  # the summary leads to the field
    for name in ("from", "to"):
        if name in query:
            assert f'value="{query[name]}"' in answer.text
    assert "<svg" not in answer.text and "Download CSV" not in answer.text
    assert services.audit.count() == before


# -- the CSV -------------------------------------------------------------------------------------
def test_the_csv_link_downloads_the_same_window_with_the_session(seeded: Services) -> None:
    browser = analyst(seeded)
    page = browser.get("/demand", params=WEEK)
    link = re.search(r'<a class="button secondary" href="([^"]+)" download>', page.text)
    assert link is not None
    url = link.group(1).replace("&amp;", "&")
    parts = urlsplit(url)
    assert parts.path == "/api/v1/reports/demand"
    assert parse_qs(parts.query) == {
        "format": ["csv"], "from": ["2026-11-02T00:00:00+00:00"],
        "to": ["2026-11-09T00:00:00+00:00"],
    }  # fmt: skip
    # A plain GET with the session cookie, as the browser follows the link: no CSRF header.
    assert "X-CSRF-Token" not in browser.headers
    answer = browser.get(url)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/csv")
    assert "attachment" in answer.headers["content-disposition"]
    rows = answer.text.splitlines()
    assert rows[0] == "line,date,hour,calls,out_of_hours,total_duration_s"
    assert sorted(rows[1:]) == sorted(
        ["parking,2026-11-02,8,1,1,4.0", "parking,2026-11-02,10,1,0,2.0",
         "careline,2026-11-07,19,1,0,6.0"]
    )  # fmt: skip
