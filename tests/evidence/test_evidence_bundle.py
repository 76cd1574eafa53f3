"""Evidence bundles (both legs): what a bundle holds, that it verifies, that it is entered in
the disclosure register in the same act, and that refusals and failures leave nothing."""

from __future__ import annotations

import hashlib
import stat
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import func, select

from access.access_helpers import add_people, as_person, entries, grants, record
from analytics.quality_helpers import sampled_case_ref
from callvault.access import disclosures as disclosures_module
from callvault.access.export import EXPORTED
from callvault.access.export import copy_audio as real_copy
from callvault.access.register import disclosures, exports
from callvault.bootstrap import Services
from callvault.context import RequestContext
from callvault.errors import BadInput, Refused
from callvault.evidence import service as service_module
from callvault.evidence import verify as verify_module
from callvault.evidence.verify import verify_bundle
from evidence.evidence_helpers import FIELDS, bundle, custody_of, manifest_of, public_pem
from homes import worker_context

TODAY = datetime.now(UTC).date().isoformat()


@pytest.fixture
def world(services: Services, ctx: RequestContext, call_wav: Path) -> tuple[Services, str]:
    add_people(services, ctx)
    return services, record(services, ctx, call_wav, agent="agent-17")


@pytest.fixture
def out_dir(tmp_path: Path) -> Path:
    """Where bundles go: a folder of their own, so leftovers would show."""
    folder = tmp_path / "out"
    folder.mkdir()
    return folder


def _counts(services: Services) -> tuple[int, int, int]:
    with services.engine.connect() as conn:
        made = conn.execute(select(func.count()).select_from(exports)).scalar_one()
        sent = conn.execute(select(func.count()).select_from(disclosures)).scalar_one()
    return services.audit.count(), int(made), int(sent)


def test_a_bundle_holds_the_call_verifies_and_is_registered(
    world: tuple[Services, str], out_dir: Path
) -> None:
    services, rec_id = world
    services.speech.process(worker_context(), rec_id)  # the transcript goes in too
    sam = as_person(services, "sam")
    grant = grants(services).flow.request(sam, rec_id, "staff_safety", "SAF-2026-0102",
                                          "injunction")  # fmt: skip
    before = services.audit.count()
    out = out_dir / "evidence.zip"
    result = bundle(services, "sam", rec_id, grant.id, out)

    assert result["path"] == str(out) and result["recording_id"] == rec_id
    assert [p.name for p in out_dir.iterdir()] == ["evidence.zip"]  # no temp file left
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert hashlib.sha256(out.read_bytes()).hexdigest() == result["sha256"]
    report = verify_bundle(out, public_pem(services))
    audio = f"audio/{rec_id}.opus"
    assert report["members"] == sorted(
        ["metadata.json", "transcript.json", "transcript.txt", "custody.json", audio]
    )
    assert report["bundle_id"] == result["bundle_id"] and report["purpose"] == "staff_safety"
    assert report["disclosure"] == FIELDS | {"sent_on": TODAY}
    with zipfile.ZipFile(out) as archive:
        assert archive.namelist()[:2] == ["manifest.json", "manifest.sig"]
        sound = archive.read(audio)
        metadata = orjson.loads(archive.read("metadata.json"))
        transcript = orjson.loads(archive.read("transcript.json"))
        text = archive.read("transcript.txt").decode()
    # The audio is byte for byte what `play` writes.
    played = grants(services).player.play(sam, rec_id, grant.id, out_dir / "p.opus")
    assert sound[:4] == b"OggS" and hashlib.sha256(sound).hexdigest() == played["sha256"]
    assert metadata["recording_id"] == rec_id and metadata["line"]["id"] == "parking"
    assert metadata["caller"] == "+447700900123" and metadata["agent"] == "agent-17"
    assert metadata["decision"]["record"] is True and metadata["decision"]["policy_version"]
    assert metadata["audio"]["sha256"] == played["sha256"] and metadata["retention"]["holds"] == []
    assert transcript["recording_id"] == rec_id and transcript["rendition"] == "original"
    assert text.startswith(f"Transcript of recording {rec_id}")

    manifest = manifest_of(out)
    assert manifest["made_by"] == "sam" and manifest["case_ref"] == "SAF-2026-0102"
    assert manifest["requester"] == "sam" and manifest["grant_id"] == grant.id
    custody = custody_of(out)
    actions = [orjson.loads(e["text"])["action"] for e in custody["entries"]]
    assert actions[0] == "recording.ingested" and actions[-1] == EXPORTED
    assert actions == ["recording.ingested", "recording.transcribed", "access.requested",
                       "access.approved", EXPORTED]  # fmt: skip
    assert set(custody["object_ids"]) >= {rec_id, grant.id, result["bundle_id"]}
    assert custody["head"]["seq"] == custody["entries"][-1]["seq"]
    # The trail is the audit log's own entries, as stored.
    stored = {e["seq"]: e["hash"] for e in entries(services)}
    assert all(stored[e["seq"]] == e["hash"] for e in custody["entries"])

    new = entries(services, before)
    (own,) = [e for e in new if e["action"] == EXPORTED]
    assert own["object_id"] == rec_id and own["purpose"] == "staff_safety"
    assert own["details"]["export_id"] == result["bundle_id"]
    assert own["details"]["to"] == "evidence_bundle"
    assert own["details"]["organisation"] == FIELDS["organisation"]
    assert own["details"]["contents"][audio] == played["sha256"]
    (registered,) = [e for e in new if e["action"] == "disclosure.recorded"]
    assert registered["object_id"] == result["bundle_id"]
    assert registered["details"]["id"] == result["disclosure_id"]
    with services.engine.connect() as conn:
        row = conn.execute(select(exports).where(exports.c.id == result["bundle_id"])).one()
        sent = conn.execute(select(disclosures)).one()
    assert row.completed_at and row.file_sha256 == result["sha256"]
    assert row.manifest_sha256 == result["manifest_sha256"]
    assert sent.export_id == row.id and sent.sent_on == TODAY and sent.recorded_by == "sam"
    assert {k: getattr(sent, k) for k in FIELDS} == FIELDS
    # The DPO's register lists it with the recording it holds.
    (listed,) = disclosures_module.DisclosureRegister.for_services(services).entries(
        as_person(services, "dana")
    )
    assert listed["recording_ids"] == [rec_id] and listed["purpose"] == "staff_safety"
    assert services.audit.verify().ok


def test_a_bundle_without_a_transcript_and_with_a_hold(
    world: tuple[Services, str], out_dir: Path
) -> None:
    services, rec_id = world
    dana = as_person(services, "dana")
    hold = services.holds.place(
        dana, reason="subject_access", case_ref="SAR-2026-0042", recording_ids=[rec_id]
    )
    grant = grants(services).flow.request(dana, rec_id, "subject_access", "SAR-2026-0042")
    result = bundle(services, "dana", rec_id, grant.id, out_dir / "sar.zip", method="portal")
    report = verify_bundle(out_dir / "sar.zip", public_pem(services))
    assert "transcript.json" not in report["members"] and report["members"][0] == "audio/" + (
        f"{rec_id}.opus"
    )
    with zipfile.ZipFile(result["path"]) as archive:
        metadata = orjson.loads(archive.read("metadata.json"))
    assert [h["id"] for h in metadata["retention"]["holds"]] == [hold.id]
    custody = custody_of(Path(result["path"]))
    assert hold.id in custody["object_ids"]
    assert any(orjson.loads(e["text"])["action"] == "hold.placed" for e in custody["entries"])


def test_audit_entry_commits_before_any_byte_is_written(
    world: tuple[Services, str], out_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    services, rec_id = world
    grant = grants(services).flow.request(as_person(services, "cora"), rec_id, "complaint",
                                          "CMP-2026-0101")  # fmt: skip
    seen: list[tuple[list[str], list[Path]]] = []

    def copy_after_looking(*args: Any) -> None:
        trail = [e["action"] for e in entries(services)]
        seen.append((trail, sorted(out_dir.iterdir())))
        real_copy(*args)

    monkeypatch.setattr(service_module, "copy_audio", copy_after_looking)
    bundle(services, "cora", rec_id, grant.id, out_dir / "x.zip")
    ((trail, files),) = seen
    assert trail[-1] == EXPORTED and "disclosure.recorded" not in trail
    assert [f.name for f in files if not f.name.startswith(".")] == []  # not yet in place


def _refused(
    services: Services, who: str, rec_id: str, grant_id: str, out_dir: Path, match: str
) -> dict[str, Any]:
    before = _counts(services)
    out = out_dir / "refused.zip"
    with pytest.raises(Refused, match=match):
        bundle(services, who, rec_id, grant_id, out)
    assert list(out_dir.iterdir()) == []
    after = _counts(services)
    assert after == (before[0] + 1, before[1], before[2])  # one refusal entry, no rows
    (entry,) = entries(services, before[0])
    assert entry["action"] == "access.refused"
    return entry


def test_refusals_are_audited_and_write_nothing(
    world: tuple[Services, str], ctx: RequestContext, call_wav: Path, out_dir: Path
) -> None:
    services, rec_id = world
    flow = grants(services).flow
    cora, mina = as_person(services, "cora"), as_person(services, "mina")
    own = flow.request(cora, rec_id, "complaint", "CMP-2026-0102")
    _refused(services, "cora", rec_id, "f" * 32, out_dir, "no grant")
    _refused(services, "mina", rec_id, own.id, out_dir, "was given to cora, not mina")
    _refused(services, "adam", rec_id, own.id, out_dir, "adam may not do recordings:export")
    quality = flow.request(mina, rec_id, "quality", sampled_case_ref(services, rec_id))
    entry = _refused(services, "mina", rec_id, quality.id, out_dir, "quality does not allow")
    assert entry["object_id"] == rec_id and entry["details"]["grant_id"] == quality.id
    other = record(services, ctx, call_wav, call_id="pbx-0002")
    _refused(services, "cora", other, own.id, out_dir, "does not cover")
    flow.revoke(cora, own.id, "case closed")
    _refused(services, "cora", rec_id, own.id, out_dir, "is revoked, not approved")
    assert services.audit.verify().ok


def test_bad_input_changes_nothing(world: tuple[Services, str], out_dir: Path) -> None:
    services, rec_id = world
    grant = grants(services).flow.request(as_person(services, "cora"), rec_id, "complaint",
                                          "CMP-2026-0103")  # fmt: skip
    taken = out_dir / "taken.zip"
    taken.write_bytes(b"keep me")
    before = _counts(services)
    cases: list[tuple[tuple[str, str, Path], dict[str, str], str]] = [
        ((rec_id, grant.id, taken), {}, "out"),
        ((rec_id, grant.id, out_dir / "no" / "x.zip"), {}, "out"),
        (("../etc", grant.id, out_dir / "x.zip"), {}, "recording_id"),
        ((rec_id, "a/b", out_dir / "x.zip"), {}, "grant_id"),
        ((rec_id, grant.id, out_dir / "x.zip"), {"method": "fax"}, "method"),
        ((rec_id, grant.id, out_dir / "x.zip"), {"recipient": " "}, "recipient"),
        ((rec_id, grant.id, out_dir / "x.zip"), {"reason": ""}, "reason"),
        ((rec_id, grant.id, out_dir / "x.zip"), {"organisation": "x" * 201}, "organisation"),
    ]
    for args, fields, field in cases:
        with pytest.raises(BadInput) as raised:
            bundle(services, "cora", *args, **fields)
        assert raised.value.field == field
    assert _counts(services) == before and [p.name for p in out_dir.iterdir()] == ["taken.zip"]


@pytest.mark.parametrize("where", ["writing", "registering"])
def test_a_failure_leaves_no_file_and_no_disclosure(
    world: tuple[Services, str], out_dir: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    services, rec_id = world
    grant = grants(services).flow.request(as_person(services, "cora"), rec_id, "complaint",
                                          "CMP-2026-0104")  # fmt: skip

    def fail(*_args: Any) -> None:
        raise OSError(28, "No space left on device")

    if where == "writing":
        monkeypatch.setattr(service_module, "copy_audio", fail)
    else:
        monkeypatch.setattr(disclosures_module.DisclosureRegister, "enter", fail)
    with pytest.raises(OSError, match="No space"):
        bundle(services, "cora", rec_id, grant.id, out_dir / "x.zip")
    assert list(out_dir.iterdir()) == []
    with services.engine.connect() as conn:
        row = conn.execute(select(exports)).one()
        assert conn.execute(select(disclosures)).first() is None
    assert row.completed_at is None  # the attempt is in the trail; it was never sent
    assert [e["action"] for e in entries(services)][-1] == EXPORTED


def test_the_verifier_speaks_the_audit_chain_and_export_formats() -> None:
    """verify.py restates names the council's side writes; they must not drift apart."""
    from callvault.access import export_signing

    assert verify_module.EXPORTED == EXPORTED
    assert (verify_module.MANIFEST, verify_module.SIGNATURE) == (
        export_signing.MANIFEST,
        export_signing.SIGNATURE,
    )
