"""The demand report over real ingested calls, checked against figures worked out by hand.

Ten calls, two of them just outside the window (--from 2026-08-24 --to 2026-09-07, UK days;
all of it British Summer Time, so the window runs from 23:00 UTC on 23 August to 23:00 UTC
on 6 September). Lines are the example policy's: parking keeps office hours (weekdays
09:00-17:00, closed on bank holidays), the out_of_hours line is open weekdays 00:00-09:00 and
17:00-24:00 and all weekend, careline always.

| call | UK start (BST)  | line         | caller |s| ooh| why                     | topics        |
|------|-----------------|--------------|--------|-|----|-------------------------|---------------|
| c0   | Sun 23 Aug 23:59| parking      | A      |3| -  | before the window       | -             |
| c1   | Mon 24 Aug 08:59| parking      | A      |2| yes| 30 s before 09:00       | missed_coll.  |
| c2   | Mon 24 Aug 09:00| parking      | A      |4| no | opening time            | permit, pay   |
| c3   | Tue 25 Aug 00:30| parking      | B      |3| yes| 23:30 UTC on the 24th   | (no transcr.) |
| c4   | Mon 31 Aug 11:00| parking      | A      |5| yes| summer bank holiday     | none (1)      |
| c5   | Wed 26 Aug 20:00| out_of_hours | C      |6| no | the line's own evening  | repairs       |
| c6   | Thu 27 Aug 10:00| out_of_hours | B      |2| yes| the line is shut by day | missed_coll.  |
| c7   | Sat 29 Aug 03:15| careline     | D      |3| no | always open             | care_support  |
| c8   | Sun 06 Sep 14:00| parking      | w/held |4| yes| weekend                 | pay           |
| c9   | Mon 07 Sep 00:00| parking      | A      |3| -  | at --to (exclusive)     | -             |

(1) "cabinet" is not "bin"; "housing" and "register" fall in two speakers' turns, so the
phrase "housing register" does not match. permit = parking_permit, pay = payments;
s = seconds of audio, ooh = out of hours.

All lines (c1-c8): 8 calls; out of hours c1 c3 c4 c6 c8 = 5, share 5/8 = 0.625.
Durations sorted 2 2 3 3 4 4 5 6: total 29, mean 29/8 = 3.625 -> 3.6 (half to even),
median (3 + 4) / 2 = 3.5, p90 = sorted[ceil(7.2) - 1] = sorted[7] = 6, max 6.
Repeat callers: A (c1 c2 c4) and B (c3 c6, two lines) = 2, with 5 calls; C, D once each,
withheld has no key. Transcribed: all but c3 = 7; unclassified: c4 = 1.
Topics: missed_collection c1 c6 = 2, repairs c5 = 1, parking_permit c2 = 1, payments c2 c8
= 2, care_support c7 = 1, housing_need 0.
UK hours: c3 0, c7 3, c1 8, c2 9, c6 10, c4 11, c8 14, c5 20.
Weekdays: Mon c1 c2 c4 = 3, Tue c3, Wed c5, Thu c6, Sat c7, Sun c8 = 1 each, Fri 0.
Days: 24 Aug 2 (c1 c2), 25 Aug 1 (c3; the 24th in UTC), 26th 1, 27th 1, 29th 1, 31st 1,
6 Sep 1, the other seven days 0. ISO weeks: W35 (24-30 Aug) 6, W36 (31 Aug-6 Sep) 2.

parking (c1 c2 c3 c4 c8): 5 calls, out of hours 4 (all but c2), share 0.8; durations sorted
2 3 4 4 5: total 18, mean 3.6, median 4, p90 sorted[ceil(4.5) - 1] = sorted[4] = 5, max 5;
repeat callers on the line: A (3 calls) = 1, with 3 calls (B called parking once);
transcribed 4 (c1 c2 c4 c8), unclassified 1 (c4); topics missed 1, permit 1, payments 2.
out_of_hours (c5 c6): 2 calls, 1 out of hours (c6), share 0.5; durations 2 6: total 8, mean
4, median 4, p90 sorted[ceil(1.8) - 1] = 6, max 6; no repeat; transcribed 2; missed 1,
repairs 1.
careline (c7): 1 call, none out of hours; durations all 3; transcribed 1; care_support 1.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import update

from analytics.demand_helpers import (
    CALLER_A,
    CALLER_B,
    CALLER_C,
    CALLER_D,
    CARELINE,
    NUMBERS,
    OPERATOR,
    OUT_OF_HOURS,
    PARKING,
    STORED,
    Call,
    fact_rows,
    index,
    ingest_call,
)
from callvault.analytics.demand import DemandWindow, demand_csv, demand_report_as
from callvault.analytics.store import demand_calls
from callvault.bootstrap import Services
from callvault.context import RequestContext
from callvault.db import transaction

FROM, TO = "2026-08-24", "2026-09-07"
CALLS = [
    Call("c0", "2026-08-23 23:59:00", PARKING, CALLER_A, 3, ("my bin again",)),
    Call("c1", "2026-08-24 08:59:30", PARKING, CALLER_A, 2, ("Hello, my BIN was not emptied.",)),
    Call("c2", "2026-08-24 09:00:00", PARKING, CALLER_A, 4, ("I want to pay a parking fine",)),
    Call("c3", "2026-08-25 00:30:00", PARKING, CALLER_B, 3, None),
    Call("c4", "2026-08-31 11:00:00", PARKING, CALLER_A, 5,
         ("I am on the housing", "register of electors? No, about the cabinet")),
    Call("c5", "2026-08-26 20:00:00", OUT_OF_HOURS, CALLER_C, 6,
         ("There is a leak", "from the boiler")),
    Call("c6", "2026-08-27 10:00:00", OUT_OF_HOURS, CALLER_B, 2, ("a missed  bin collection",)),
    Call("c7", "2026-08-29 03:15:00", CARELINE, CALLER_D, 3, ("My personal ALARM went off",)),
    Call("c8", "2026-09-06 14:00:00", PARKING, "withheld", 4, ("Rent account arrears",)),
    Call("c9", "2026-09-07 00:00:00", PARKING, CALLER_A, 3, ("bins",)),
]  # fmt: skip
TOPIC_IDS = ["missed_collection", "repairs", "parking_permit", "payments", "care_support",
             "housing_need"]  # fmt: skip


@pytest.fixture
def seeded(services: Services, ctx: RequestContext, tmp_path: Path) -> dict[str, str]:
    made = {call.call_id: ingest_call(services, ctx, tmp_path, call) for call in CALLS}
    assert index(services).as_dict() == {"indexed": 10, "purged": 0, "transcribed": 0}
    return made


def report(services: Services, ctx: RequestContext = OPERATOR) -> dict[str, Any]:
    return demand_report_as(
        services.engine, services.audit, services.permissions, services.policy.policy, ctx,
        DemandWindow.parse(FROM, TO),
    )  # fmt: skip


def topics(*calls: int) -> list[dict[str, Any]]:
    return [{"topic": t, "name": name, "calls": n}
            for t, name, n in zip(TOPIC_IDS, NAMES, calls, strict=True)]  # fmt: skip


NAMES = ["Missed bin or recycling collection", "Repairs and maintenance",
         "Parking permits and fines", "Paying the council", "Care and support",
         "Housing need and homelessness"]  # fmt: skip
DAYS = ["2026-08-24", "2026-08-25", "2026-08-26", "2026-08-27", "2026-08-28", "2026-08-29",
        "2026-08-30", "2026-08-31", "2026-09-01", "2026-09-02", "2026-09-03", "2026-09-04",
        "2026-09-05", "2026-09-06"]  # fmt: skip


def days(**calls: int) -> list[dict[str, Any]]:
    """Every day of the window; ``d0824=2`` gives 24 August two calls."""
    return [{"date": day, "calls": calls.get("d" + day[5:].replace("-", ""), 0)} for day in DAYS]


def hours(**calls: int) -> list[int]:
    return [calls.get(f"h{hour}", 0) for hour in range(24)]


def test_figures_match_the_hand_count(services: Services, seeded: dict[str, str]) -> None:
    found = report(services)
    assert found["from"] == "2026-08-23T23:00:00+00:00"  # midnight BST
    assert found["to"] == "2026-09-06T23:00:00+00:00"
    assert (found["timezone"], found["policy_version"]) == (
        "Europe/London", services.policy.version,
    )  # fmt: skip
    assert (found["calls"], found["out_of_hours"], found["out_of_hours_share"]) == (8, 5, 0.625)
    assert found["duration_s"] == {"total": 29.0, "mean": 3.6, "median": 3.5, "p90": 6.0,
                                   "max": 6.0}  # fmt: skip
    assert (found["repeat_callers"], found["calls_from_repeat_callers"]) == (2, 5)
    assert (found["transcribed"], found["unclassified"]) == (7, 1)
    assert found["topics"] == topics(2, 1, 1, 2, 1, 0)
    assert found["by_hour"] == hours(h0=1, h3=1, h8=1, h9=1, h10=1, h11=1, h14=1, h20=1)
    assert found["by_weekday"] == [3, 1, 1, 1, 0, 1, 1]
    assert found["by_day"] == days(d0824=2, d0825=1, d0826=1, d0827=1, d0829=1, d0831=1,
                                   d0906=1)  # fmt: skip
    assert found["by_week"] == [{"week": "2026-W35", "calls": 6},
                                {"week": "2026-W36", "calls": 2}]  # fmt: skip
    assert found["not_indexed"] == 0

    lines = {line["line"]: line for line in found["lines"]}
    assert [line["line"] for line in found["lines"]] == [
        line.id for line in services.policy.policy.lines
    ]
    parking = lines["parking"]
    assert (parking["name"], parking["calls"], parking["out_of_hours"]) == ("Parking", 5, 4)
    assert parking["out_of_hours_share"] == 0.8
    assert parking["duration_s"] == {"total": 18.0, "mean": 3.6, "median": 4.0, "p90": 5.0,
                                     "max": 5.0}  # fmt: skip
    assert (parking["repeat_callers"], parking["calls_from_repeat_callers"]) == (1, 3)
    assert (parking["transcribed"], parking["unclassified"]) == (4, 1)
    assert parking["topics"] == topics(1, 0, 1, 2, 0, 0)
    assert parking["by_hour"] == hours(h0=1, h8=1, h9=1, h11=1, h14=1)
    assert parking["by_weekday"] == [3, 1, 0, 0, 0, 0, 1]
    assert parking["by_day"] == days(d0824=2, d0825=1, d0831=1, d0906=1)
    assert parking["by_week"] == [{"week": "2026-W35", "calls": 3},
                                  {"week": "2026-W36", "calls": 2}]  # fmt: skip

    evenings = lines["out_of_hours"]
    assert (evenings["calls"], evenings["out_of_hours"], evenings["out_of_hours_share"]) == (
        2, 1, 0.5,
    )  # fmt: skip
    assert evenings["duration_s"] == {"total": 8.0, "mean": 4.0, "median": 4.0, "p90": 6.0,
                                      "max": 6.0}  # fmt: skip
    assert (evenings["repeat_callers"], evenings["calls_from_repeat_callers"]) == (0, 0)
    assert evenings["topics"] == topics(1, 1, 0, 0, 0, 0)
    assert evenings["by_hour"] == hours(h10=1, h20=1)

    careline = lines["careline"]
    assert (careline["calls"], careline["out_of_hours"], careline["out_of_hours_share"]) == (
        1, 0, 0.0,
    )  # fmt: skip
    assert careline["duration_s"] == dict.fromkeys(("total", "mean", "median", "p90", "max"), 3.0)
    assert careline["by_weekday"] == [0, 0, 0, 0, 0, 1, 0]
    assert careline["topics"] == topics(0, 0, 0, 0, 1, 0)

    quiet = lines["switchboard"]  # a line nobody called: every figure zero, every day listed
    assert (quiet["calls"], quiet["out_of_hours_share"], quiet["unclassified"]) == (0, 0.0, 0)
    assert quiet["duration_s"] == dict.fromkeys(("total", "mean", "median", "p90", "max"), 0.0)
    assert quiet["by_day"] == days() and quiet["by_week"][1] == {"week": "2026-W36", "calls": 0}
    assert quiet["topics"] == topics(0, 0, 0, 0, 0, 0)


def test_csv_has_a_row_per_line_day_and_hour(services: Services, seeded: dict[str, str]) -> None:
    rows = demand_csv(report(services)).splitlines()
    # Policy order of lines (out_of_hours comes first in the example), then day and hour.
    assert rows == [
        "line,date,hour,calls,out_of_hours,total_duration_s",
        "out_of_hours,2026-08-26,20,1,0,6.0",
        "out_of_hours,2026-08-27,10,1,1,2.0",
        "parking,2026-08-24,8,1,1,2.0",
        "parking,2026-08-24,9,1,0,4.0",
        "parking,2026-08-25,0,1,1,3.0",
        "parking,2026-08-31,11,1,1,5.0",
        "parking,2026-09-06,14,1,1,4.0",
        "careline,2026-08-29,3,1,0,3.0",
    ]


def test_the_report_holds_no_number_and_no_hash(services: Services, seeded: dict[str, str]) -> None:
    text = orjson.dumps(report(services)).decode()
    hashes = {row["caller_key"] for row in fact_rows(services).values()} - {None}
    assert len(hashes) == 4  # A, B, C, D; withheld has none
    spellings = NUMBERS + STORED + [n.replace(" ", "") for n in NUMBERS]
    assert not [s for s in spellings if s in text]
    assert not [h for h in hashes if str(h) in text]
    assert not [s for s in spellings if s in demand_csv(report(services))]


def test_reading_is_audited_with_the_window(services: Services, seeded: dict[str, str]) -> None:
    report(services)
    entry = services.audit.show(limit=10_000)[-1]
    assert (entry["action"], entry["actor"], entry["object_id"]) == (
        "report.demand", "operator:test", "demand",
    )  # fmt: skip
    assert entry["details"]["calls"] == 8
    assert entry["details"]["from"] == "2026-08-23T23:00:00+00:00"


def test_facts_of_one_call(services: Services, seeded: dict[str, str]) -> None:
    """c3: 00:30 BST on Tuesday 25 August is 23:30 UTC on Monday the 24th."""
    row = fact_rows(services)[seeded["c3"]]
    assert row["started_at"] == "2026-08-24T23:30:00+00:00"
    assert (row["local_date"], row["local_hour"], row["weekday"]) == ("2026-08-25", 0, 1)
    assert (row["out_of_hours"], row["transcribed"], row["topics"]) == (True, False, None)
    assert (row["line"], row["direction"]) == ("parking", "inbound")
    assert fact_rows(services)[seeded["c8"]]["caller_key"] is None  # withheld
    assert fact_rows(services)[seeded["c4"]]["topics"] == ""  # transcribed, no topic


def test_lines_the_policy_no_longer_has_are_listed_after(
    services: Services, seeded: dict[str, str]
) -> None:
    """A line removed from the policy keeps its calls in the figures, after the policy's."""
    with transaction(services.engine) as conn:
        conn.execute(
            update(demand_calls)
            .where(demand_calls.c.recording_id == seeded["c7"])
            .values(line="old_helpline")
        )
    found = report(services)
    assert found["lines"][-1]["line"] == "old_helpline"
    assert (found["lines"][-1]["name"], found["lines"][-1]["calls"]) == ("old_helpline", 1)
    assert found["calls"] == 8
