"""Reading the audit trail back: the filters and paging ``AuditLog.show`` offers, on both
legs (the generated columns it filters on are SQLite's and PostgreSQL's own)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from callvault.bootstrap import Services
from callvault.context import Actor, RequestContext
from callvault.db import transaction

START = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def trail(services: Services, monkeypatch: pytest.MonkeyPatch) -> Services:
    """Six entries an hour apart from START (after ``home.initialised``, entry 1):
    alice plays rec0..rec2, bob plays rec1 and searches twice."""
    acts = [
        ("alice", "recording.played", "rec0"),
        ("alice", "recording.played", "rec1"),
        ("bob", "recording.played", "rec1"),
        ("alice", "recording.played", "rec2"),
        ("bob", "recordings.searched", None),
        ("bob", "recordings.searched", None),
    ]
    now = [START]
    with monkeypatch.context() as patched, transaction(services.engine) as conn:
        patched.setattr(
            "callvault.audit.service.utc_now_iso",
            lambda: now[0].isoformat(timespec="microseconds"),
        )
        for hour, (who, action, object_id) in enumerate(acts):
            now[0] = START + timedelta(hours=hour)
            ctx = RequestContext(actor=Actor(who, role="complaints_officer"), origin="test")
            services.audit.append(conn, ctx, action, object_type="recording", object_id=object_id)
    return services


def seqs(entries: list[dict[str, object]]) -> list[object]:
    return [entry["seq"] for entry in entries]


def test_existing_calls_read_oldest_first(trail: Services) -> None:
    assert seqs(trail.audit.show(after=1, limit=3)) == [2, 3, 4]
    assert seqs(trail.audit.show(object_id="rec1")) == [3, 4]


def test_newest_first_pages_backwards_with_before(trail: Services) -> None:
    assert seqs(trail.audit.show(newest_first=True, limit=3)) == [7, 6, 5]
    assert seqs(trail.audit.show(newest_first=True, before=5, limit=3)) == [4, 3, 2]
    assert seqs(trail.audit.show(after=3, before=6)) == [4, 5]


def test_filters_by_actor_and_action(trail: Services) -> None:
    assert seqs(trail.audit.show(actor="bob")) == [4, 6, 7]
    assert seqs(trail.audit.show(action="recording.played")) == [2, 3, 4, 5]
    assert seqs(trail.audit.show(actor="bob", action="recording.played")) == [4]
    assert trail.audit.show(actor="nobody") == []


def test_time_range_includes_since_and_excludes_until(trail: Services) -> None:
    since, until = START + timedelta(hours=1), START + timedelta(hours=3)
    assert seqs(trail.audit.show(since=since, until=until)) == [3, 4]
    # Any zone, and a time without one (taken as UTC), name the same instant.
    in_paris = since.astimezone(datetime.fromisoformat("2026-03-01T00:00+01:00").tzinfo)
    assert seqs(trail.audit.show(since=in_paris, until=until.replace(tzinfo=None))) == [3, 4]


def test_verify_names_the_head_hash(trail: Services) -> None:
    result = trail.audit.verify()
    newest = trail.audit.show(newest_first=True, limit=1)[0]
    assert result.ok and result.head_hash == newest["hash"]
    assert result.as_dict()["head_hash"] == newest["hash"]
