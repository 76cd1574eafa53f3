"""The audit pages: the trail, filtered and paged, and the chain's verification, over real
HTTP on both legs.

The people sign in through the real session API (password and one-time code); the trail
they read is the real one, tampered with by raw SQL where a test says so.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient

from callvault.bootstrap import Services
from callvault.context import Actor, RequestContext
from callvault.db import transaction
from homes import tamper
from web_pages import (
    ROLES,
    browser_for,
    checked_page,
    embedded_leg,  # noqa: F401  (the embedded leg only)
    sent_back_to,
)


def entry_rows(html: str) -> list[list[str]]:
    """The audit table's body rows: [entry, when, actor, action, object, details]."""
    return [row for row in checked_page(html).rows if row and row[0].isdigit()]


@pytest.fixture
def people(services: Services) -> Services:
    """The home; ``browser_for`` adds whoever signs in."""
    return services


@pytest.fixture
def client(people: Services) -> Iterator[TestClient]:
    with browser_for(people, None) as made:
        yield made


def write_entries(
    services: Services, count: int, who: str = "alice", action: str = "test.act"
) -> None:
    ctx = RequestContext(actor=Actor(who, role="complaints_officer"), origin="test")
    with transaction(services.engine) as conn:
        for n in range(count):
            services.audit.append(
                conn, ctx, action, object_type="recording", object_id=f"rec{n}", details={"n": n}
            )


def test_only_auditors_and_the_dpo_see_the_audit_pages(people: Services) -> None:
    for name in ROLES:
        browser = browser_for(people, name)
        for path, action in (("/audit", "audit:read"), ("/audit/verify", "audit:verify")):
            before = people.audit.count()
            answer = browser.get(path)
            if name in ("aud", "dpo"):
                assert answer.status_code == 200, (name, answer.text)
                checked_page(answer.text)
                continue
            assert answer.status_code == 403, name
            assert "<h1>Not allowed</h1>" in answer.text
            (refusal,) = people.audit.show(after=before)
            assert (refusal["action"], refusal["actor"], refusal["object_id"]) == (
                "access.refused",
                name,
                action,
            )


def test_anonymous_visitors_are_sent_to_sign_in(client: TestClient) -> None:
    answer = client.get("/audit?actor=aud")
    assert answer.status_code == 303
    assert sent_back_to(answer.headers["location"]) == "/audit?actor=aud"
    verify = client.get("/audit/verify")
    assert verify.status_code == 303
    assert sent_back_to(verify.headers["location"]) == "/audit/verify"


def test_entries_newest_first_in_uk_time_and_the_reading_audited(
    people: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 30 June 23:30 UTC is 1 July 00:30 in London (summer time).
    with monkeypatch.context() as patched:
        patched.setattr(
            "callvault.audit.service.utc_now_iso", lambda: "2026-06-30T23:30:00.000000+00:00"
        )
        write_entries(people, 1, who="carol", action="recording.played")
    browser = browser_for(people, "aud")
    answer = browser.get("/audit")
    assert answer.status_code == 200
    assert answer.headers["cache-control"] == "no-store"
    rows = entry_rows(answer.text)
    seqs = [int(row[0]) for row in rows]
    assert seqs == sorted(seqs, reverse=True) and seqs[0] == people.audit.count()
    # The newest entry is this very reading, with the query it made.
    newest = people.audit.show(newest_first=True, limit=1)[0]
    assert (newest["action"], newest["actor"], newest["object_type"]) == (
        "audit.read",
        "aud",
        "audit",
    )
    assert newest["details"] == {
        "after": 0,
        "before": None,
        "limit": 50,
        "object": None,
        "actor": None,
        "action": None,
        "from": None,
        "to": None,
    }
    assert rows[0][2:4] == ["aud", "audit.read"]
    (carol,) = [row for row in rows if row[2] == "carol"]
    assert carol[1] == "2026-07-01 00:30:00"
    assert carol[3:] == ["recording.played", "recording rec0", "n: 0"]
    assert '<time datetime="2026-06-30T23:30:00.000000+00:00">' in answer.text
    assert "When (UK time)" in answer.text


def test_filters_by_actor_action_object_and_uk_days(
    people: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    moments = iter(["2026-06-30T22:30:00.000000+00:00", "2026-06-30T23:30:00.000000+00:00"])
    for who in ("bob", "carol"):
        when = next(moments)
        with monkeypatch.context() as patched:
            patched.setattr("callvault.audit.service.utc_now_iso", lambda when=when: when)
            write_entries(people, 2, who=who, action="recording.played")
    write_entries(people, 1, who="carol", action="recordings.searched")
    browser = browser_for(people, "dpo")

    def shown(**query: str) -> list[list[str]]:
        answer = browser.get("/audit", params=query)
        assert answer.status_code == 200, answer.text
        return entry_rows(answer.text)

    assert {row[2] for row in shown(actor="carol")} == {"carol"}
    assert len(shown(actor="carol")) == 3
    assert [row[2] for row in shown(actor="carol", action="recording.played")] == ["carol"] * 2
    assert [row[2] for row in shown(object="rec1", action="recording.played")] == ["carol", "bob"]
    # bob's were written on 30 June in London (23:30 BST), carol's played on 1 July (00:30).
    assert [row[2] for row in shown(action="recording.played", to="2026-06-30")] == ["bob"] * 2
    july = shown(action="recording.played", **{"from": "2026-07-01", "to": "2026-07-01"})
    assert [row[2] for row in july] == ["carol"] * 2
    assert shown(actor="nobody") == []
    # Each reading recorded what it asked for.
    newest = people.audit.show(newest_first=True, limit=1)[0]
    assert newest["details"]["actor"] == "nobody" and newest["action"] == "audit.read"
    july_read = people.audit.show(newest_first=True, limit=2, action="audit.read")[1]
    assert (july_read["details"]["from"], july_read["details"]["to"]) == (
        "2026-07-01",
        "2026-07-01",
    )
    # The filter form shows what was asked, and the way back to everything.
    answer = browser.get("/audit", params={"actor": "carol"})
    assert 'name="actor" type="text" maxlength="64" value="carol"' in answer.text
    assert '<a href="/audit">Clear filters</a>' in answer.text


def test_older_and_newer_pages(people: Services) -> None:
    write_entries(people, 120)
    browser = browser_for(people, "aud")
    first = browser.get("/audit", params={"actor": "alice"})
    rows = entry_rows(first.text)
    assert len(rows) == 50 and "Newer entries" not in first.text
    newest_alice = people.audit.show(actor="alice", newest_first=True, limit=1)[0]["seq"]
    assert int(rows[0][0]) == newest_alice
    older = re.search(r'<a href="([^"]+)" rel="next">Older entries</a>', first.text)
    assert older is not None
    link = older.group(1).replace("&amp;", "&")
    assert parse_qs(urlsplit(link).query) == {"actor": ["alice"], "before": [rows[-1][0]]}
    second = browser.get(link)
    second_rows = entry_rows(second.text)
    assert int(second_rows[0][0]) == int(rows[-1][0]) - 1 and len(second_rows) == 50
    third_link = re.search(r'<a href="([^"]+)" rel="next">Older entries</a>', second.text)
    assert third_link is not None
    third = browser.get(third_link.group(1).replace("&amp;", "&"))
    assert len(entry_rows(third.text)) == 20 and "Older entries" not in third.text
    # Newer from the second page comes back to exactly the first page's entries.
    newer = re.search(r'<a href="([^"]+)" rel="prev">Newer entries</a>', second.text)
    assert newer is not None
    back = browser.get(newer.group(1).replace("&amp;", "&"))
    assert [row[0] for row in entry_rows(back.text)] == [row[0] for row in rows]
    assert "Newer entries" not in back.text and "Newest entries" in back.text


@pytest.mark.parametrize(
    ("query", "field", "says"),
    [
        ({"from": "01/07/2026"}, "from", "from must be a real date, like 2026-11-28"),
        ({"to": "9999-12-31"}, "to", "to must be a real date, like 2026-11-28"),
        ({"from": "2026-07-02", "to": "2026-07-01"}, "from", "from must not be after to"),
        ({"actor": "a" * 65}, "actor", "actor is longer than 64 characters"),
        ({"before": "-3"}, "before", "before must be an entry number"),
    ],
)
def test_bad_filters_name_the_field_and_read_nothing(
    people: Services, query: dict[str, str], field: str, says: str
) -> None:
    browser = browser_for(people, "aud")
    before = people.audit.count()
    answer = browser.get("/audit", params=query)
    assert answer.status_code == 422
    assert says in answer.text
    checked_page(answer.text)
    if field in ("from", "to", "actor"):
        assert f'<p class="field-error" id="filter-{field}-error">' in answer.text
        assert re.search(rf'id="filter-{field}"[^>]*aria-invalid="true"', answer.text)
    assert "<table" not in answer.text
    assert people.audit.count() == before  # nothing read, so no reading recorded


def test_verification_reports_an_intact_chain(people: Services) -> None:
    browser = browser_for(people, "aud")
    answer = browser.get("/audit/verify")
    assert answer.status_code == 200
    checked_page(answer.text)
    result = people.audit.verify()
    assert result.ok and result.head_hash
    assert re.search(
        rf'<span class="tag ok">Intact</span>\s*Chain intact: {result.entries} entries verified, '
        rf'head hash <code class="hash">{result.head_hash}</code>',
        answer.text,
    )
    assert 'role="alert"' not in answer.text


def test_verification_finds_a_row_altered_in_the_database(people: Services) -> None:
    write_entries(people, 5, who="alice")
    target = people.audit.show(actor="alice", limit=1)[0]["seq"]
    browser = browser_for(people, "dpo")
    assert "Chain intact" in browser.get("/audit/verify").text
    # Someone with database access rewrites who did it; the page must notice.
    tamper(
        people,
        f"""UPDATE audit_log SET entry=replace(entry, '"alice"', '"mallory"')
                      WHERE seq={target}""",
    )
    answer = browser.get("/audit/verify")
    assert answer.status_code == 200
    checked_page(answer.text)
    assert "Chain intact" not in answer.text
    alert = re.search(
        r'<div class="error-summary" role="alert" id="verify-result">(.*?)</div>', answer.text, re.S
    )
    assert alert is not None
    assert '<span class="tag bad">Broken</span>' in alert.group(1)
    assert f"Chain broken at entry {target}: entry {target} was altered." in alert.group(1)
    assert f'<a href="/audit?before={target + 1}">Entries up to entry {target}</a>' in answer.text


def test_verification_finds_entries_cut_off_the_end(people: Services) -> None:
    browser = browser_for(people, "aud")  # before the cut: signing in appends to the trail
    write_entries(people, 3)
    last = people.audit.count()
    tamper(people, f"DELETE FROM audit_log WHERE seq = {last}")
    answer = browser.get("/audit/verify")
    assert '<span class="tag bad">Broken</span>' in answer.text
    assert "entries were cut off the end" in answer.text


def test_times_show_in_uk_winter_time_too(
    people: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    with monkeypatch.context() as patched:
        patched.setattr(
            "callvault.audit.service.utc_now_iso",
            lambda: datetime(2026, 1, 15, 9, 5, tzinfo=UTC).isoformat(timespec="microseconds"),
        )
        write_entries(people, 1, who="winter")
    rows = entry_rows(browser_for(people, "aud").get("/audit", params={"actor": "winter"}).text)
    assert [row[1] for row in rows] == ["2026-01-15 09:05:00"]
