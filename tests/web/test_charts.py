"""The bar charts' geometry (web/pages/charts.py) and the demand page's figures built from a
report (web/pages/demand_view.py): pure arithmetic, checked on hand-made numbers."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from callvault.web.pages.charts import (
    HEIGHT,
    MIN_BAR,
    WIDTH,
    axis_step,
    axis_top,
    bar_length,
    busiest,
    chart_summary,
    column_chart,
    fitted,
    label_every,
    row_chart,
    ticks_to,
)
from callvault.web.pages.demand_view import (
    charts_for,
    day_series,
    empty_figures,
    figures_for,
    headline,
    is_long,
    line_rows,
    percent,
    quiet_lines,
    top_topic,
    week_name,
    week_series,
    week_words,
    window_days,
)


# -- the value axis ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("largest", "step", "top"),
    [(0, 1, 1), (1, 1, 1), (3, 1, 3), (5, 1, 5), (6, 2, 6), (7, 2, 8), (11, 5, 15),
     (23, 5, 25), (26, 10, 30), (99, 20, 100), (101, 50, 150), (1234, 500, 1500)],
)  # fmt: skip
def test_the_axis_rounds_up_to_a_few_round_steps(largest: int, step: int, top: int) -> None:
    assert axis_step(largest) == step
    assert axis_top(largest) == top
    assert axis_top(largest) >= largest
    assert len(ticks_to(top)) - 1 <= 5  # never more than five gridlines above nought
    assert ticks_to(top)[0] == 0 and ticks_to(top)[-1] == top


def test_a_bar_is_as_long_as_its_share_and_a_small_count_still_shows() -> None:
    assert bar_length(0, 10, 200) == 0
    assert bar_length(5, 10, 200) == 100
    assert bar_length(10, 10, 200) == 200
    assert bar_length(1, 10_000, 200) == MIN_BAR  # one call among thousands is still a bar


@pytest.mark.parametrize(
    ("count", "room", "longest", "every"),
    [(24, 668, 2, 1), (7, 668, 3, 1), (62, 668, 6, 5), (0, 668, 6, 1), (53, 668, 3, 3)],
)
def test_labels_are_thinned_so_they_do_not_collide(
    count: int, room: float, longest: int, every: int
) -> None:
    assert label_every(count, room, longest) == every


# -- columns -----------------------------------------------------------------------------------
def test_columns_stand_on_the_axis_in_order_with_heights_in_proportion() -> None:
    hours = [0] * 24
    hours[9], hours[10], hours[18] = 2, 4, 1
    chart = column_chart([(f"{h:02d}", n) for h, n in enumerate(hours)])
    assert (chart.width, chart.height, chart.horizontal) == (WIDTH, HEIGHT, False)
    assert len(chart.bars) == 24 and chart.total == 7
    plot = chart.bottom - chart.top
    by_hour = {bar.label: bar for bar in chart.bars}
    assert by_hour["10"].height == pytest.approx(plot)  # the largest reaches the top (4 of 4)
    assert by_hour["09"].height == pytest.approx(plot / 2)
    assert by_hour["18"].height == pytest.approx(plot / 4)
    assert [bar.label for bar in chart.bars if bar.height > 0] == ["09", "10", "18"]
    for bar in chart.bars:
        assert bar.y + bar.height == pytest.approx(chart.bottom)  # each stands on the axis
        assert chart.left <= bar.x and bar.x + bar.width <= chart.right
    xs = [bar.x for bar in chart.bars]
    assert xs == sorted(xs) and len(set(xs)) == 24
    # Every hour labelled, under the middle of its column.
    assert [label.text for label in chart.labels] == [f"{h:02d}" for h in range(24)]
    assert chart.labels[9].x == pytest.approx(by_hour["09"].x + by_hour["09"].width / 2, abs=0.01)
    assert [tick.value for tick in chart.ticks] == [0, 1, 2, 3, 4]
    assert chart.ticks[0].at == chart.bottom and chart.ticks[-1].at == chart.top


def test_short_axis_labels_stand_in_for_long_ones() -> None:
    rows = [(f"Day {n}", n) for n in range(62)]
    chart = column_chart(rows, [str(n) for n in range(62)])
    assert [bar.label for bar in chart.bars] == [label for label, _ in rows]
    shown = [label.text for label in chart.labels]
    assert shown[0] == "0" and len(shown) < 62  # thinned: 62 do not fit side by side
    with pytest.raises(ValueError, match="every item"):
        column_chart(rows, ["too", "few"])


def test_an_empty_chart_still_has_an_axis() -> None:
    chart = column_chart([("Mon", 0), ("Tue", 0)])
    assert all(bar.height == 0 for bar in chart.bars)
    assert [tick.value for tick in chart.ticks] == [0, 1]


# -- rows --------------------------------------------------------------------------------------
def test_rows_start_at_the_names_and_grow_with_their_counts() -> None:
    chart = row_chart([("Repairs and maintenance", 6), ("Parking permits and fines", 3)])
    assert chart.horizontal
    repairs, parking = chart.bars
    assert repairs.x == parking.x == chart.left
    assert repairs.width == pytest.approx(chart.right - chart.left)  # 6 of an axis to 6
    assert parking.width == pytest.approx((chart.right - chart.left) / 2)
    assert repairs.y < parking.y and repairs.y + repairs.height <= parking.y
    assert chart.height > parking.y + parking.height
    assert [label.text for label in chart.labels] == [
        "Repairs and maintenance", "Parking permits and fines"
    ]  # fmt: skip
    assert all(label.x < chart.left for label in chart.labels)  # names left of the bars
    assert [value.text for value in chart.values] == ["6", "3"]
    assert chart.values[0].x > repairs.x + repairs.width  # each count after its bar


def test_a_long_name_is_cut_to_fit_with_an_ellipsis() -> None:
    assert fitted("Repairs", 100) == "Repairs"
    cut = fitted("A topic name far too long to fit in the room left for names", 140)
    assert cut.endswith("\u2026") and len(cut) == 20
    chart = row_chart([("x" * 80, 1)])
    assert chart.bars[0].label == "x" * 80  # the whole name stays with the bar (its tooltip)
    assert len(chart.labels[0].text) < 80


# -- summaries ---------------------------------------------------------------------------------
def test_a_summary_says_the_total_and_the_highest_bar() -> None:
    rows = [("Monday", 2), ("Tuesday", 5), ("Wednesday", 5)]
    assert busiest(rows) == ("Tuesday", 5)  # the first of a tie
    assert chart_summary("Calls by day of the week", rows) == (
        "Calls by day of the week: 12 calls in all; highest: Tuesday (5)."
    )
    assert busiest([("Monday", 0)]) is None
    assert chart_summary("Calls by day", [("Monday", 0)]) == (
        "Calls by day: no calls in this period."
    )


# -- the demand page's figures -----------------------------------------------------------------
def figures(**changes: Any) -> dict[str, Any]:
    return {**empty_figures(), **changes}


def report(start: str, end: str, **changes: Any) -> dict[str, Any]:
    return {
        "from": start, "to": end, "timezone": "Europe/London", "policy_version": "v1",
        "not_indexed": 0, "lines": [], **figures(**changes),
    }  # fmt: skip


def test_shares_read_as_whole_percentages() -> None:
    assert percent(0) == "0%"
    assert percent(1 / 3) == "33%"
    assert percent(2 / 3) == "67%"
    assert percent(1) == "100%"
    assert percent(0.001) == "under 1%"


def test_the_headline_figures_in_words() -> None:
    shown = headline(
        figures(
            calls=3, out_of_hours=1, out_of_hours_share=1 / 3,
            duration_s={"total": 200.0, "mean": 66.7, "median": 61.5, "p90": 120.2, "max": 125.0},
            repeat_callers=1, calls_from_repeat_callers=2, transcribed=2,
        )
    )  # fmt: skip
    words = {figure.name: (figure.value, figure.detail) for figure in shown}
    assert words["Calls"] == ("3", "")
    assert words["Out of hours"] == ("33%", "1 of 3 calls")
    assert words["Median length"][0] == "1:01"
    assert words["90% of calls lasted at most"][0] == "2:01"  # rounded up: an upper bound
    assert words["Repeat callers"] == ("1", "who made 2 calls")
    assert words["Transcribed"] == ("67%", "2 of 3 calls")
    nothing = {figure.name: figure.value for figure in headline(figures())}
    assert nothing["Transcribed"] == "0%" and nothing["Calls"] == "0"


def test_the_window_covers_uk_days_with_its_end_left_out() -> None:
    # Winter: UK time is UTC. The end (midnight starting 1 Dec) is not in the window.
    assert window_days(report("2026-11-01T00:00:00+00:00", "2026-12-01T00:00:00+00:00")) == (
        date(2026, 11, 1), date(2026, 11, 30),
    )  # fmt: skip
    # Summer: midnight in the UK is 23:00 UTC the day before.
    assert window_days(report("2026-06-30T23:00:00+00:00", "2026-07-02T12:00:00+00:00")) == (
        date(2026, 7, 1), date(2026, 7, 2),
    )  # fmt: skip
    assert not is_long(date(2026, 1, 1), date(2026, 3, 3))  # 62 days: still by day
    assert is_long(date(2026, 1, 1), date(2026, 3, 4))  # 63 days: by week


def test_every_day_and_week_of_the_window_has_a_bar() -> None:
    days = day_series(date(2026, 11, 27), date(2026, 11, 30), [{"date": "2026-11-28", "calls": 4}])
    assert days == [(date(2026, 11, 27), 0), (date(2026, 11, 28), 4),
                    (date(2026, 11, 29), 0), (date(2026, 11, 30), 0)]  # fmt: skip
    assert week_name(date(2026, 11, 16)) == "2026-W47"
    assert week_name(date(2027, 1, 1)) == "2026-W53"  # ISO weeks: 2026 has 53
    weeks = week_series(date(2026, 11, 20), date(2026, 12, 1), [{"week": "2026-W48", "calls": 9}])
    assert weeks == [("2026-W47", 0), ("2026-W48", 9), ("2026-W49", 0)]
    assert week_words("2026-W47") == "Week 47 of 2026 (from Mon 16 Nov)"


def test_the_charts_a_report_draws() -> None:
    hours = [0] * 24
    hours[10], hours[19] = 2, 1
    short = report("2026-11-23T00:00:00+00:00", "2026-11-30T00:00:00+00:00", calls=3,
                   by_hour=hours, by_weekday=[2, 0, 0, 0, 0, 1, 0],
                   by_day=[{"date": "2026-11-23", "calls": 2}, {"date": "2026-11-28", "calls": 1}],
                   topics=[{"topic": "repairs", "name": "Repairs", "calls": 1},
                           {"topic": "payments", "name": "Paying", "calls": 0},
                           {"topic": "parking", "name": "Parking", "calls": 2}])  # fmt: skip
    hour, weekday, day, topic = charts_for(short, short)
    assert hour.rows[10] == ("10:00 to 11:00", 2) and hour.rows[23] == ("23:00 to 00:00", 0)
    assert (
        hour.summary
        == "Calls by hour of day (UK time): 3 calls in all; highest: 10:00 to 11:00 (2)."
    )
    assert weekday.rows[0] == ("Monday", 2) and weekday.chart.labels[0].text == "Mon"
    assert day.id == "day" and len(day.rows) == 7 and day.rows[0] == ("Mon 23 Nov 2026", 2)
    assert topic.rows == (("Parking", 2), ("Repairs", 1))  # most first; none-found left out
    long = report("2026-09-01T00:00:00+01:00", "2026-12-01T00:00:00+00:00",
                  by_week=[{"week": "2026-W47", "calls": 5}])  # fmt: skip
    charts = charts_for(long, long)
    assert [chart.id for chart in charts] == ["hour", "weekday", "week"]  # no topics: no chart
    assert ("Week 47 of 2026 (from Mon 16 Nov)", 5) in charts[2].rows


def test_one_lines_figures_or_nothing_for_a_quiet_line() -> None:
    whole = report("2026-11-23T00:00:00+00:00", "2026-11-30T00:00:00+00:00", calls=3,
                   lines=[{"line": "parking", "name": "Parking", **figures(calls=2)}])  # fmt: skip
    assert figures_for(whole, "") is whole
    assert figures_for(whole, "parking")["calls"] == 2
    assert figures_for(whole, "switchboard")["calls"] == 0
    assert figures_for(whole, "switchboard")["by_hour"] == [0] * 24


def test_a_row_per_line_with_calls_busiest_first_with_its_top_topic() -> None:
    topics = [
        {"topic": "a", "name": "Bins", "calls": 1},
        {"topic": "b", "name": "Rent", "calls": 3},
    ]
    whole = report(
        "2026-11-23T00:00:00+00:00", "2026-11-30T00:00:00+00:00",
        lines=[
            {"line": "careline", "name": "Careline", **figures()},
            {"line": "gone", "name": "gone", **figures(calls=1)},
            {"line": "parking", "name": "Parking", **figures(
                calls=4, out_of_hours=1, out_of_hours_share=0.25, repeat_callers=1,
                transcribed=4, topics=topics,
                duration_s={"total": 400.0, "mean": 100.0, "median": 90.0, "p90": 150.5,
                            "max": 170.0})},
            {"line": "rent", "name": "Rent Income", **figures(calls=2, transcribed=2)},
        ],
    )  # fmt: skip
    policy_lines = {"careline": "Careline", "parking": "Parking", "rent": "Rent Income"}
    parking, rent, gone = line_rows(whole, policy_lines)
    assert (parking.name, parking.calls, parking.out_of_hours) == ("Parking", 4, 1)
    assert (parking.out_of_hours_share, parking.median, parking.p90) == ("25%", "1:30", "2:31")
    assert parking.top_topic == "Rent" and parking.in_policy
    assert rent.top_topic == "None found"  # transcribed, and no topic in what was said
    # A line the policy no longer has; its one call not transcribed yet.
    assert (gone.name, gone.top_topic, gone.in_policy) == ("gone", "Not transcribed yet", False)
    assert top_topic([]) == "None found"
    # A line without calls has no row of noughts: it is named in a sentence instead.
    assert quiet_lines(whole) == ["Careline"]
