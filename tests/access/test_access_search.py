"""Metadata search as a person: filtered in SQL by role, callers masked where no need, audited."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from callvault.access.searching import mask_number
from callvault.bootstrap import Services
from callvault.capture.ingest import AudioInput
from callvault.catalog.fulltext import Segment, index_segments
from callvault.context import RequestContext, system_context
from callvault.db import transaction
from homes import meta_for, run_cli

CALLS = [
    ("q-parking", "020 7371 5678", "07700 900123"),
    ("q-asc", "0800 145 6095", "07700 900456"),  # Adult Social Care: special category
    ("q-repairs", "0800 023 4499", "withheld"),
]


@pytest.fixture
def searchable(
    services: Services, ctx: RequestContext, call_wav: Path, monkeypatch: pytest.MonkeyPatch
) -> Services:
    for call_id, dialled, caller in CALLS:
        meta = orjson.dumps(meta_for(call_id=call_id, dialled=dialled, caller=caller))
        services.ingest.ingest(ctx, AudioInput(path=call_wav), meta)
    admin = system_context("test")
    for user, role in (
        ("cora", "complaints_officer"),
        ("tess", "team_leader"),
        ("adam", "advisor"),
        ("ada", "administrator"),
    ):
        services.access.add_person(admin, user, role)
    monkeypatch.setenv("CALLVAULT_HOME", str(services.settings.home))
    return services


def _search(capsys: pytest.CaptureFixture[str], user: str, *args: str) -> tuple[int, object]:
    code, out, err = run_cli(["search", *args, "--as", user], capsys)
    return code, out if code == 0 else err


def test_complaints_officer_sees_every_line_in_full(
    searchable: Services, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = _search(capsys, "cora")
    assert code == 0
    results = out["results"]  # type: ignore[index]
    assert {r["line"] for r in results} == {"parking", "adult_social_care", "housing_repairs"}
    assert "+447700900123" in {r["caller"] for r in results}
    assert {"recording_id", "line", "started_at"} <= set(results[0])


def test_team_leader_sees_no_special_category_and_masked_callers(
    searchable: Services, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = _search(capsys, "tess")
    results = out["results"]  # type: ignore[index]
    assert code == 0 and {r["line"] for r in results} == {"parking", "housing_repairs"}
    assert {r["caller"] for r in results} == {"+4477009•••••", "withheld"}


def test_filters_and_caller_spellings(
    searchable: Services, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = _search(capsys, "cora", "--caller", "07700 900123")
    assert code == 0 and [r["line"] for r in out["results"]] == ["parking"]  # type: ignore[index]
    code, out = _search(capsys, "cora", "--line", "housing_repairs", "--caller", "withheld")
    assert [r["line"] for r in out["results"]] == ["housing_repairs"]  # type: ignore[index]
    code, out = _search(capsys, "cora", "--from", "2099-01-01")
    assert code == 0 and out == {"results": []}


@pytest.mark.parametrize("user", ["adam", "ada"])
def test_roles_without_recording_access_are_refused_and_audited(
    searchable: Services, capsys: pytest.CaptureFixture[str], user: str
) -> None:
    code, err = _search(capsys, user, "--caller", "07700 900123")
    assert code == 3 and err["field"] == "actor"  # type: ignore[index]
    entry = searchable.audit.show(limit=1000)[-1]
    assert entry["action"] == "access.refused" and entry["actor"] == user


def test_every_search_is_audited_with_its_terms(
    searchable: Services, capsys: pytest.CaptureFixture[str]
) -> None:
    _search(capsys, "cora", "--caller", "07700 900123")
    entry = searchable.audit.show(limit=1000)[-1]
    assert entry["action"] == "recordings.searched" and entry["actor"] == "cora"
    assert entry["operator"].startswith("operator:")
    assert entry["details"] == {"filters": {"caller": "+447700900123"}, "results": 1}
    assert searchable.audit.verify().ok


@pytest.mark.parametrize(
    ("args", "field"),
    [(["--caller", "not a number"], "caller"), (["--from", "last tuesday"], "from")],
)
def test_bad_filters_name_the_field(
    searchable: Services, capsys: pytest.CaptureFixture[str], args: list[str], field: str
) -> None:
    before = searchable.audit.count()
    code, err = _search(capsys, "cora", *args)
    assert code == 2 and err["field"] == field  # type: ignore[index]
    assert searchable.audit.count() == before


def test_mask_number() -> None:
    assert mask_number("+442073715678") == "+4420737•••••"
    assert mask_number("withheld") == "withheld"


def _index(services: Services, words: dict[str, str]) -> dict[str, str]:
    """Index one transcript segment per call id; returns call id -> recording id."""
    ids = {}
    with transaction(services.engine) as conn:
        for call_id, said in words.items():
            rec = services.catalog.recording_for_call(call_id)
            assert rec is not None
            index_segments(conn, rec.id, [Segment("caller", 1.0, 3.0, said)])
            ids[call_id] = rec.id
    return ids


def test_text_search_joins_the_role_terms_in_sql(
    searchable: Services, capsys: pytest.CaptureFixture[str]
) -> None:
    ids = _index(
        searchable,
        {
            "q-parking": "my parking permit was refused",
            "q-asc": "my care package and my permit",
            "q-repairs": "the boiler is broken",
        },
    )
    code, out = _search(capsys, "cora", "--text", "permit")
    assert code == 0
    found = {r["recording_id"] for r in out["results"]}  # type: ignore[index]
    assert found == {ids["q-parking"], ids["q-asc"]}
    moment = out["results"][0]["moments"][0]  # type: ignore[index]
    assert moment["start_s"] == 1.0 and "[permit]" in moment["snippet"]
    # A team leader's search never reaches the special-category call, words or not.
    code, out = _search(capsys, "tess", "--text", "permit")
    assert [r["recording_id"] for r in out["results"]] == [ids["q-parking"]]  # type: ignore[index]
    assert out["results"][0]["caller"].endswith("•••••")  # type: ignore[index]
    # Metadata terms narrow the words search too; the words are audited as search terms.
    code, out = _search(capsys, "cora", "--text", "permit", "--line", "parking")
    assert [r["recording_id"] for r in out["results"]] == [ids["q-parking"]]  # type: ignore[index]
    last = searchable.audit.show(limit=10_000)[-1]
    assert last["action"] == "recordings.searched"
    assert last["details"]["filters"] == {"text": "permit", "line": "parking"}


def test_text_search_needs_a_word(searchable: Services, capsys: pytest.CaptureFixture[str]) -> None:
    before = searchable.audit.count()
    code, err = _search(capsys, "cora", "--text", "!!!")
    assert code == 2 and err["field"] == "text"  # type: ignore[index]
    assert searchable.audit.count() == before
