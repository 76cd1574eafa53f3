"""The disclosure register (both legs): recorded against an export by whoever made it,
audited, listed for the DPO, auditors and the operator; bad input named and changing nothing."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from access.access_helpers import add_people, as_person, entries, grants, record, run_cli
from callvault.access.disclosures import DisclosureRegister
from callvault.access.export import Exporter
from callvault.access.register import disclosures
from callvault.bootstrap import Services
from callvault.context import RequestContext
from callvault.errors import BadInput, Conflict, NotFound, Refused

TODAY = datetime.now(UTC).date()


@pytest.fixture
def exported(
    services: Services, ctx: RequestContext, call_wav: Path, tmp_path: Path
) -> tuple[Services, dict[str, Any]]:
    """cora's export of one recording for a complaint."""
    add_people(services, ctx)
    rec_id = record(services, ctx, call_wav)
    cora = as_person(services, "cora")
    grant = grants(services).flow.request(cora, rec_id, "complaint", "CMP-2026-0021")
    result = Exporter.for_services(services).export(cora, grant.id, tmp_path / "x.zip")
    return services, {**result, "grant_id": grant.id, "recording_id": rec_id}


def _register(services: Services) -> DisclosureRegister:
    return DisclosureRegister.for_services(services)


def _fields(**overrides: Any) -> dict[str, Any]:
    fields = {
        "recipient": "Ms J Okafor",
        "organisation": "Local Government and Social Care Ombudsman",
        "reason": "Ombudsman investigation 25 012 345",
        "method": "portal",
        "sent_on": TODAY.isoformat(),
    }
    return fields | overrides


def _count(services: Services) -> int:
    with services.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(disclosures)).scalar_one())


def test_record_and_list(exported: tuple[Services, dict[str, Any]]) -> None:
    services, export = exported
    register = _register(services)
    before = services.audit.count()
    row = register.record(as_person(services, "cora"), export["export_id"], **_fields())
    assert row["recorded_by"] == "cora" and row["sent_on"] == TODAY.isoformat()
    new = entries(services, before)
    assert [e["action"] for e in new] == ["disclosure.recorded"]
    assert new[0]["object_id"] == export["export_id"] and new[0]["case_ref"] == "CMP-2026-0021"
    assert new[0]["details"]["organisation"] == _fields()["organisation"]

    for reader in ("dana", "aud"):
        listed = register.entries(as_person(services, reader))
        assert len(listed) == 1
        item = listed[0]
        assert item["id"] == row["id"] and item["recipient"] == "Ms J Okafor"
        assert item["grant_id"] == export["grant_id"] and item["purpose"] == "complaint"
        assert item["recording_ids"] == [export["recording_id"]]
        assert item["manifest_sha256"] == export["manifest_sha256"]
    assert register.entries(as_person(services, "dana"), TODAY.isoformat(), None)
    tomorrow = (TODAY + timedelta(days=1)).isoformat()
    assert register.entries(as_person(services, "dana"), tomorrow, None) == []
    assert [e["action"] for e in entries(services, before)].count("disclosure.listed") == 4
    assert services.audit.verify().ok


@pytest.mark.parametrize(
    ("overrides", "field", "match"),
    [
        ({"recipient": ""}, "recipient", "recipient is required"),
        ({"recipient": "   "}, "recipient", "recipient is required"),
        ({"organisation": "x" * 201}, "organisation", "1 to 200 characters"),
        ({"reason": ""}, "reason", "reason is required"),
        ({"method": "fax"}, "method", "secure_email, encrypted_usb, portal"),
        ({"sent_on": ""}, "sent_on", "is required"),
        ({"sent_on": "2026-13-01"}, "sent_on", "not a date as YYYY-MM-DD"),
        ({"sent_on": "01/12/2026"}, "sent_on", "not a date as YYYY-MM-DD"),
        ({"sent_on": "20261201"}, "sent_on", "not a date as YYYY-MM-DD"),
        ({"sent_on": (TODAY + timedelta(days=1)).isoformat()}, "sent_on", "and today"),
        ({"sent_on": "2020-01-01"}, "sent_on", "between the export's date"),
    ],
)
def test_bad_input_is_named_and_changes_nothing(
    exported: tuple[Services, dict[str, Any]], overrides: dict[str, Any], field: str, match: str
) -> None:
    services, export = exported
    before = services.audit.count()
    with pytest.raises(BadInput, match=match) as raised:
        _register(services).record(
            as_person(services, "cora"), export["export_id"], **_fields(**overrides)
        )
    assert raised.value.field == field
    assert _count(services) == 0 and services.audit.count() == before


def test_only_against_a_completed_export_made_by_the_recorder(
    exported: tuple[Services, dict[str, Any]],
) -> None:
    services, export = exported
    register = _register(services)
    with pytest.raises(NotFound, match="no export 'feedface'") as raised:
        register.record(as_person(services, "cora"), "feedface", **_fields())
    assert raised.value.field == "export_id"
    with pytest.raises(BadInput, match="export_id"):
        register.record(as_person(services, "cora"), "../x", **_fields())
    before = services.audit.count()
    with pytest.raises(Refused, match="made by cora"):
        register.record(as_person(services, "mina"), export["export_id"], **_fields())
    assert [e["action"] for e in entries(services, before)] == ["access.refused"]
    with pytest.raises(Refused, match="may not do disclosures:record"):
        register.record(as_person(services, "adam"), export["export_id"], **_fields())
    with pytest.raises(Refused, match="may not do disclosures:read"):
        register.entries(as_person(services, "cora"))
    with pytest.raises(BadInput, match="after to"):
        register.entries(as_person(services, "dana"), "2026-02-01", "2026-01-01")
    assert _count(services) == 0


def test_an_unfinished_export_cannot_be_disclosed(
    exported: tuple[Services, dict[str, Any]],
) -> None:
    services, export = exported
    from callvault.access.register import exports

    with services.engine.begin() as conn:
        conn.execute(exports.update().values(completed_at=None))
    with pytest.raises(Conflict, match="never completed"):
        _register(services).record(as_person(services, "cora"), export["export_id"], **_fields())


def test_disclosure_commands(
    exported: tuple[Services, dict[str, Any]],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    services, export = exported
    monkeypatch.setenv("CALLVAULT_HOME", str(services.settings.home))
    args = ["disclosure", "add", export["export_id"], "--recipient", "DC Rowe",
            "--organisation", "Metropolitan Police", "--reason", "Crime ref 01/234567/26",
            "--method", "encrypted_usb"]  # fmt: skip
    code, row, _ = run_cli([*args, "--sent-on", TODAY.isoformat(), "--as", "cora"], capsys)
    assert code == 0 and row["organisation"] == "Metropolitan Police"
    code, _, error = run_cli([*args, "--sent-on", "yesterday", "--as", "cora"], capsys)
    assert code == 2 and error["field"] == "sent_on"
    code, listed, _ = run_cli(["disclosure", "list"], capsys)  # the operator
    assert code == 0 and [d["id"] for d in listed["disclosures"]] == [row["id"]]
    day = date.today().isoformat()
    code, listed, _ = run_cli(
        ["disclosure", "list", "--from", day, "--to", day, "--as", "aud"], capsys
    )
    assert code == 0 and len(listed["disclosures"]) <= 1
    code, _, error = run_cli(["disclosure", "list", "--as", "cora"], capsys)
    assert code == 3 and "disclosures:read" in error["error"]
    code, _, error = run_cli(["disclosure", "list", "--from", "May"], capsys)
    assert code == 2 and error["field"] == "from"
