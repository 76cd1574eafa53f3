"""The demand page in a real browser: a business intelligence analyst sees the seeded calls
drawn as bars (one for each hour that had calls, none for the others), opens a chart's table,
and downloads the CSV through the link, with the session cookie alone."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from browser.crew import Pages, World
from browser.kit import assert_accessible, screenshot

pytestmark = pytest.mark.xdist_group("browser")  # one seeded home and server for all

# How many of a chart's bars the browser draws with some height.
_DRAWN = "bars => bars.filter(bar => bar.getBBox().height > 0).length"


def test_the_analyst_sees_the_bars_and_downloads_the_csv(
    pages: Pages, world: World, axe: str, tmp_path: Path
) -> None:
    page = pages.as_person("bea")
    page.goto("/")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Demand").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Demand")
    calls = int(page.locator("dl.headline dd .figure").first.inner_text())
    assert calls == 1 + len(world.plain)  # every seeded call, in the default 28 days

    # The hour chart: a bar for each hour its table gives calls, no bar for the others.
    hours = page.locator("#chart-hour").locator("xpath=..")
    counts = [int(text) for text in hours.locator("tbody td").all_text_contents()]
    assert len(counts) == 24 and sum(counts) == calls
    drawn = int(page.locator("#chart-hour rect.bar").evaluate_all(_DRAWN))
    assert drawn == sum(1 for count in counts if count) >= 1
    expect(page.locator("#chart-hour")).to_have_attribute("role", "img")
    expect(page.locator("#chart-hour")).to_have_attribute("aria-label", re.compile(r"calls in all"))
    # The spoken call's topic (the parking permit it was about) is drawn as a row.
    expect(page.locator("#chart-topic rect.bar")).to_have_count(1)

    # The table under a chart opens from its summary and holds the same numbers.
    hours.get_by_text("Figures as a table").click()
    expect(hours.get_by_role("table")).to_be_visible()
    assert_accessible(page, axe, "demand-table-open")
    screenshot(page, "demand-analyst", docs=False)

    # The CSV: the browser follows the link with its cookie and saves the file.
    with page.expect_download() as started:
        page.get_by_role("link", name=re.compile(r"^Download CSV")).click()
    download = started.value
    assert re.fullmatch(r"demand-\d{4}-\d{2}-\d{2}-\d{4}-\d{2}-\d{2}\.csv",
                        download.suggested_filename)  # fmt: skip
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    rows = saved.read_text(encoding="utf-8").splitlines()
    assert rows[0] == "line,date,hour,calls,out_of_hours,total_duration_s"
    assert sum(int(row.split(",")[3]) for row in rows[1:]) == calls
