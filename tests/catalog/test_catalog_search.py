"""Metadata search: filters in SQL, newest first, keyset paging; both databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from callvault.bootstrap import Services
from callvault.capture.ingest import AudioInput
from callvault.catalog.search import RecordingQuery, search
from callvault.context import RequestContext
from homes import meta_for

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
# (call id, dialled, caller, agent, hours after T0)
CALLS = [
    ("s1", "020 7371 5678", "07700 900001", "agent-1", 0),
    ("s2", "020 7371 5678", "07700 900002", "agent-2", 1),
    ("s3", "0800 023 4499", "07700 900001", "agent-1", 2),
    ("s4", "0800 023 4499", "withheld", "agent-3", 26),
    ("s5", "020 7371 5678", "07700 900001", "agent-2", 50),
]


@pytest.fixture
def catalogue(services: Services, ctx: RequestContext, call_wav: Path) -> Services:
    for call_id, dialled, caller, agent, hours in CALLS:
        started = T0 + timedelta(hours=hours)
        meta = meta_for(
            call_id=call_id,
            dialled=dialled,
            caller=caller,
            agent=agent,
            started_at=started.isoformat(),
            ended_at=(started + timedelta(seconds=3)).isoformat(),
        )
        services.ingest.ingest(ctx, AudioInput(path=call_wav), orjson.dumps(meta))
    return services


def _ids(services: Services, query: RecordingQuery) -> list[str]:
    with services.engine.connect() as conn:
        rows = search(conn, query)
    by_id = {r.id: r.call_id for r in map(services.catalog.get, (row["id"] for row in rows))}
    return [by_id[row["id"]] for row in rows]


def test_newest_first(catalogue: Services) -> None:
    assert _ids(catalogue, RecordingQuery()) == ["s5", "s4", "s3", "s2", "s1"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (RecordingQuery(line="parking"), ["s5", "s2", "s1"]),
        (RecordingQuery(caller="+447700900001"), ["s5", "s3", "s1"]),
        (RecordingQuery(caller="withheld"), ["s4"]),
        (RecordingQuery(agent="agent-2"), ["s5", "s2"]),
        (
            RecordingQuery(
                started_from=T0 + timedelta(hours=1), started_to=T0 + timedelta(hours=26)
            ),
            ["s3", "s2"],
        ),
        (RecordingQuery(line="parking", caller="+447700900001"), ["s5", "s1"]),
        (RecordingQuery(min_duration_s=10), []),
    ],
)
def test_filters(catalogue: Services, query: RecordingQuery, expected: list[str]) -> None:
    assert _ids(catalogue, query) == expected


def test_keyset_paging_visits_each_once(catalogue: Services) -> None:
    seen: list[str] = []
    query = RecordingQuery(limit=2)
    with catalogue.engine.connect() as conn:
        for _ in range(5):
            page = search(conn, query)
            if not page:
                break
            seen += [row["id"] for row in page]
            last = page[-1]
            query = RecordingQuery(limit=2, before=(last["started_at"], last["id"]))
    assert len(seen) == len(set(seen)) == 5
