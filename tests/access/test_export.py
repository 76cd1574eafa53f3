"""Exports under a grant (both legs): a zip with a signed manifest, audited before any audio
is written, refused (and audited) whenever the grant or the purpose does not allow it."""

from __future__ import annotations

import hashlib
import stat
import zipfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import select, update

from access.access_helpers import add_people, as_person, entries, grants, record, run_cli
from analytics.quality_helpers import sampled_case_ref
from callvault.access import export as export_module
from callvault.access.export import Exporter
from callvault.access.export_signing import (
    PRIVATE_NAME,
    PUBLIC_NAME,
    export_signer,
    verify_export,
)
from callvault.access.register import exports
from callvault.access.store import grants as grants_table
from callvault.bootstrap import Services
from callvault.context import RequestContext
from callvault.errors import BadInput, IntegrityFailure, Refused
from homes import raw_blob, replace_raw_blob, worker_context


@pytest.fixture
def world(services: Services, ctx: RequestContext, call_wav: Path) -> tuple[Services, list[str]]:
    add_people(services, ctx)
    first = record(services, ctx, call_wav, call_id="pbx-0001")
    second = record(services, ctx, call_wav, call_id="pbx-0002", agent="agent-22")
    return services, [first, second]


@pytest.fixture
def out_dir(tmp_path: Path) -> Path:
    """Where exports go: a folder of their own, so leftovers would show."""
    folder = tmp_path / "out"
    folder.mkdir()
    return folder


def _exporter(services: Services) -> Exporter:
    return Exporter.for_services(services)


def _public_key(services: Services) -> bytes:
    return _exporter(services).public_key()["public_key"].encode()


def _rewrite(source: Path, target: Path, change: Callable[[str, bytes], bytes | None]) -> None:
    """Copy a zip member by member; ``change`` returns new bytes, or None to drop a member."""
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w") as new:
        for info in old.infolist():
            data = change(info.filename, old.read(info.filename))
            if data is not None:
                new.writestr(info, data)


def test_export_writes_a_signed_zip_that_verifies(
    world: tuple[Services, list[str]], out_dir: Path
) -> None:
    services, rec_ids = world
    cora = as_person(services, "cora")
    grant = grants(services).flow.request(cora, rec_ids, "complaint", "CMP-2026-0007", "ombudsman")
    out = out_dir / "bundle.zip"
    before = services.audit.count()
    result = _exporter(services).export(cora, grant.id, out)

    assert result["path"] == str(out) and result["recording_ids"] == sorted(rec_ids)
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert [p.name for p in out_dir.iterdir()] == ["bundle.zip"]  # no temp file left
    assert hashlib.sha256(out.read_bytes()).hexdigest() == result["sha256"]
    manifest = verify_export(out, _public_key(services))
    assert {k: manifest[k] for k in ("grant_id", "purpose", "case_ref", "requester")} == {
        "grant_id": grant.id, "purpose": "complaint", "case_ref": "CMP-2026-0007",
        "requester": "cora",
    }  # fmt: skip
    assert manifest["approver"] == "auto" and manifest["exported_by"] == "cora"
    assert manifest["exported_at"] and manifest["export_id"] == result["export_id"]
    with zipfile.ZipFile(out) as archive:
        assert (
            hashlib.sha256(archive.read("manifest.json")).hexdigest() == (result["manifest_sha256"])
        )
        for item in manifest["recordings"]:
            audio = archive.read(item["file"])
            assert audio[:4] == b"OggS" and len(audio) == item["size"]
            assert hashlib.sha256(audio).hexdigest() == item["sha256"]
            assert item["line"] == "parking" and item["started_at"]
    # The audio is byte for byte what `play` writes.
    played = grants(services).player.play(cora, rec_ids[0], grant.id, out_dir / "one.opus")
    first = next(i for i in manifest["recordings"] if i["id"] == rec_ids[0])
    assert played["sha256"] == first["sha256"]

    new = entries(services, before)
    exported = [e for e in new if e["action"] == "recording.exported"]
    assert sorted(e["object_id"] for e in exported) == sorted(rec_ids)
    for entry in exported:
        assert entry["purpose"] == "complaint" and entry["case_ref"] == "CMP-2026-0007"
        assert entry["details"]["manifest_sha256"] == result["manifest_sha256"]
        assert entry["details"]["export_id"] == result["export_id"]
    with services.engine.connect() as conn:
        row = conn.execute(select(exports)).one()
    assert row.id == result["export_id"] and row.completed_at and row.exported_by == "cora"
    assert row.file_sha256 == result["sha256"]
    assert services.audit.verify().ok


def test_signing_key_is_private_and_its_public_half_is_published(
    world: tuple[Services, list[str]],
) -> None:
    services, _ = world
    keys = services.settings.home / "keys"
    pem = _public_key(services)
    assert stat.S_IMODE((keys / PRIVATE_NAME).stat().st_mode) == 0o600
    assert (keys / PUBLIC_NAME).read_bytes() == pem and pem.startswith(b"-----BEGIN PUBLIC KEY")
    # Separate purposes, separate keys: the audit key does not sign exports.
    assert (keys / PRIVATE_NAME).read_bytes() != services.settings.audit_key_file.read_bytes()
    assert _public_key(services) == pem  # created once, then reused


def test_audit_entries_are_committed_before_any_audio_is_written(
    world: tuple[Services, list[str]], out_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    services, rec_ids = world
    cora = as_person(services, "cora")
    grant = grants(services).flow.request(cora, rec_ids, "complaint", "CMP-2026-0008")
    seen: list[list[str]] = []
    real_copy = export_module._copy_audio

    def copy_after_looking(*args: Any) -> None:
        seen.append([e["action"] for e in entries(services)])  # the committed trail, now
        real_copy(*args)

    monkeypatch.setattr(export_module, "_copy_audio", copy_after_looking)
    _exporter(services).export(cora, grant.id, out_dir / "x.zip")
    assert len(seen) == 2 and all(trail.count("recording.exported") == 2 for trail in seen)


def test_a_subset_of_the_grant(world: tuple[Services, list[str]], out_dir: Path) -> None:
    services, rec_ids = world
    cora = as_person(services, "cora")
    grant = grants(services).flow.request(cora, rec_ids, "complaint", "CMP-2026-0009")
    result = _exporter(services).export(cora, grant.id, out_dir / "one.zip", [rec_ids[1]])
    manifest = verify_export(out_dir / "one.zip", _public_key(services))
    assert [i["id"] for i in manifest["recordings"]] == [rec_ids[1]] == result["recording_ids"]


def _refused_export(
    services: Services, who: str, grant_id: str, out_dir: Path, match: str, **kw: Any
) -> dict[str, Any]:
    before = services.audit.count()
    out = out_dir / f"refused-{services.audit.count()}.zip"
    with pytest.raises(Refused, match=match):
        _exporter(services).export(as_person(services, who), grant_id, out, **kw)
    assert not out.exists() and not list(out_dir.glob(".*part"))
    new = entries(services, before)
    assert [e["action"] for e in new] == ["access.refused"]
    with services.engine.connect() as conn:
        assert conn.execute(select(exports)).first() is None
    return new[0]


def test_quality_purpose_may_not_export(world: tuple[Services, list[str]], out_dir: Path) -> None:
    services, rec_ids = world
    mina = as_person(services, "mina")
    case_ref = sampled_case_ref(services, rec_ids[0])
    grant = grants(services).flow.request(mina, rec_ids[0], "quality", case_ref)
    assert grant.status == "approved"
    entry = _refused_export(services, "mina", grant.id, out_dir, "quality does not allow export")
    assert entry["purpose"] == "quality" and entry["case_ref"] == case_ref
    # Listening under the same grant is still allowed, to the redacted rendition only (the
    # speech job makes it; policy: original_allowed is false for quality).
    services.speech.process(worker_context(), rec_ids[0])
    player = grants(services).player
    assert player.play(mina, rec_ids[0], grant.id, out_dir / "q.opus", "redacted")


def test_grant_misuse_exports_nothing(world: tuple[Services, list[str]], out_dir: Path) -> None:
    services, rec_ids = world
    flow = grants(services).flow
    cora, mina = as_person(services, "cora"), as_person(services, "mina")
    own = flow.request(cora, rec_ids[0], "complaint", "CMP-2026-0010")
    _refused_export(services, "mina", own.id, out_dir, "was given to cora, not mina")
    _refused_export(services, "cora", "nogrant", out_dir, "no grant 'nogrant'")
    _refused_export(services, "cora", own.id, out_dir, "does not cover", recording_ids=[rec_ids[1]])
    pending = flow.request(mina, rec_ids[0], "crime", "CRM-2026-0001")
    _refused_export(services, "mina", pending.id, out_dir, "is pending, not approved")
    flow.revoke(cora, own.id, "case closed")
    _refused_export(services, "cora", own.id, out_dir, "is revoked, not approved")
    late = flow.request(cora, rec_ids[0], "complaint", "CMP-2026-0011")
    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    with services.engine.begin() as conn:
        conn.execute(
            update(grants_table).where(grants_table.c.id == late.id).values(expires_at=past)
        )
    _refused_export(services, "cora", late.id, out_dir, "expired at")
    _refused_export(services, "adam", late.id, out_dir, "adam may not do recordings:export")
    assert services.audit.verify().ok


def test_bad_input_changes_nothing(world: tuple[Services, list[str]], out_dir: Path) -> None:
    services, rec_ids = world
    cora = as_person(services, "cora")
    grant = grants(services).flow.request(cora, rec_ids, "complaint", "CMP-2026-0012")
    before = services.audit.count()
    taken = out_dir / "taken.zip"
    taken.write_bytes(b"keep me")
    for args, field in [
        ((grant.id, taken), "out"),
        ((grant.id, out_dir / "nowhere" / "x.zip"), "out"),
        (("../etc", out_dir / "x.zip"), "grant_id"),
        ((grant.id, out_dir / "x.zip", ["a/b"]), "recording_id"),
    ]:
        with pytest.raises(BadInput) as raised:
            _exporter(services).export(cora, *args)  # type: ignore[arg-type]
        assert raised.value.field == field
    assert taken.read_bytes() == b"keep me" and services.audit.count() == before


def test_tampered_blob_fails_before_anything_is_audited_or_written(
    world: tuple[Services, list[str]], out_dir: Path
) -> None:
    services, rec_ids = world
    cora = as_person(services, "cora")
    grant = grants(services).flow.request(cora, rec_ids, "complaint", "CMP-2026-0013")
    blob = services.catalog.get(rec_ids[1]).blob_name
    spoilt = bytearray(raw_blob(services, blob))
    spoilt[-5] ^= 1
    replace_raw_blob(services, blob, bytes(spoilt))
    before = services.audit.count()
    with pytest.raises(IntegrityFailure):
        _exporter(services).export(cora, grant.id, out_dir / "x.zip")
    assert list(out_dir.iterdir()) == [] and services.audit.count() == before


def test_failure_while_writing_leaves_no_file_and_an_incomplete_export(
    world: tuple[Services, list[str]], out_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    services, rec_ids = world
    cora = as_person(services, "cora")
    grant = grants(services).flow.request(cora, rec_ids, "complaint", "CMP-2026-0014")

    def disk_full(*_args: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(export_module, "_copy_audio", disk_full)
    with pytest.raises(OSError, match="No space"):
        _exporter(services).export(cora, grant.id, out_dir / "x.zip")
    assert list(out_dir.iterdir()) == []
    with services.engine.connect() as conn:
        row = conn.execute(select(exports)).one()
    assert row.completed_at is None  # the attempt is in the trail; it cannot be disclosed


@pytest.mark.parametrize("attack", ["audio", "manifest", "signature", "extra", "missing"])
def test_tampered_export_fails_verification(
    world: tuple[Services, list[str]], out_dir: Path, attack: str
) -> None:
    services, rec_ids = world
    cora = as_person(services, "cora")
    grant = grants(services).flow.request(cora, rec_ids, "complaint", "CMP-2026-0015")
    good = out_dir / "good.zip"
    _exporter(services).export(cora, grant.id, good)
    bad = out_dir / "bad.zip"

    def change(name: str, data: bytes) -> bytes | None:
        if attack == "audio" and name.startswith("audio/") and rec_ids[0] in name:
            return data[:-1] + bytes([data[-1] ^ 1])
        if attack == "manifest" and name == "manifest.json":
            return data.replace(b"CMP-2026-0015", b"CMP-2026-0016")
        if attack == "signature" and name == "manifest.sig":
            return bytes(64)
        if attack == "missing" and name.startswith("audio/") and rec_ids[1] in name:
            return None
        return data

    _rewrite(good, bad, change)
    if attack == "extra":
        with zipfile.ZipFile(bad, "a") as archive:
            archive.writestr("audio/smuggled.opus", b"OggS not from the vault")
    with pytest.raises(IntegrityFailure):
        verify_export(bad, _public_key(services))
    assert verify_export(good, _public_key(services))["grant_id"] == grant.id


def test_other_key_fails_verification(world: tuple[Services, list[str]], out_dir: Path) -> None:
    services, rec_ids = world
    cora = as_person(services, "cora")
    grant = grants(services).flow.request(cora, rec_ids[0], "complaint", "CMP-2026-0016")
    _exporter(services).export(cora, grant.id, out_dir / "x.zip")
    other = Exporter.for_services(services)
    other._signer = lambda: export_signer(out_dir / "other-keys")
    with pytest.raises(IntegrityFailure, match="signature"):
        verify_export(out_dir / "x.zip", other.public_key()["public_key"].encode())


def test_export_commands(
    world: tuple[Services, list[str]],
    out_dir: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    services, rec_ids = world
    monkeypatch.setenv("CALLVAULT_HOME", str(services.settings.home))
    cora = as_person(services, "cora")
    grant = grants(services).flow.request(cora, rec_ids, "complaint", "CMP-2026-0017")
    out = out_dir / "cli.zip"
    code, result, _ = run_cli(
        ["export", grant.id, "--out", str(out), "--recording", rec_ids[0], "--as", "cora"], capsys
    )
    assert code == 0 and result["path"] == str(out) and result["recording_ids"] == [rec_ids[0]]
    code, key, _ = run_cli(["export", "--public-key"], capsys)
    assert code == 0 and key["public_key"].encode() == _public_key(services)
    pub = out_dir / "export.pub"
    pub.write_text(key["public_key"])
    code, checked, _ = run_cli(["export", "--verify", str(out), "--key", str(pub)], capsys)
    assert code == 0 and checked == {"ok": True, "export_id": result["export_id"]}
    _rewrite(out, out_dir / "bad.zip", lambda n, d: d + b"x" if n.startswith("audio/") else d)
    code, _, error = run_cli(["export", "--verify", str(out_dir / "bad.zip")], capsys)
    assert code == 1 and "differs from the manifest" in error["error"]
    code, _, error = run_cli(
        ["export", grant.id, "--out", str(out_dir / "m.zip"), "--as", "tess"], capsys
    )
    assert code == 3 and "was given to cora, not tess" in error["error"]
    code, _, error = run_cli(["export", grant.id], capsys)
    assert code == 2 and error["field"] == "grant_id"
    manifest = orjson.loads(zipfile.ZipFile(out).read("manifest.json"))
    assert manifest["operator"].startswith("operator:")
