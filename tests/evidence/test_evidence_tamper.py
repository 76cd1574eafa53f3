"""Tampering with a bundle fails ``evidence verify``: every byte of the file, every member,
the manifest, the signatures, members added, dropped, renamed or reordered; and, for a forger
who holds the export key but not the audit key, the custody trail's own checks.

The checks read only the file, so one backend is enough: these run on the embedded leg.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from access.access_helpers import add_people, as_person, grants, record
from callvault.access.export_signing import ExportSigner, export_signer
from callvault.audit.chain import checkpoint_message, entry_hash
from callvault.bootstrap import Services
from callvault.context import RequestContext
from callvault.errors import BadInput, IntegrityFailure
from callvault.evidence.verify import SEAL_LENGTH, verify_bundle, verify_file
from evidence.evidence_helpers import bundle, forge, public_pem, rewrite, signer
from homes import worker_context


@pytest.fixture
def backend() -> str:
    """The embedded leg only (overrides conftest's two-leg fixture for this module)."""
    return "sqlite"


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Filled in by the first test that needs a bundle; later tests reuse it (read only)."""
    return {}


@pytest.fixture
def good(
    made: dict[str, Any], services: Services, ctx: RequestContext, call_wav: Path, tmp_path: Path
) -> tuple[Path, ExportSigner]:
    """A bundle with every kind of member (transcript included) and the key that made it.

    Copied out of its home, with the signing key, so later tests need no home of their own.
    """
    if not made:
        add_people(services, ctx)
        rec_id = record(services, ctx, call_wav)
        services.speech.process(worker_context(), rec_id)
        sam = as_person(services, "sam")
        grant = grants(services).flow.request(sam, rec_id, "staff_safety", "SAF-2026-0201")
        out = tmp_path / "good.zip"
        bundle(services, "sam", rec_id, grant.id, out)
        made.update(data=out.read_bytes(), key=signer(services))
        assert verify_bundle(out, public_pem(services))["ok"]
    path = tmp_path / "bundle.zip"
    path.write_bytes(made["data"])
    return path, made["key"]


def _fails(path: Path, key: ExportSigner, match: str | None = None) -> str:
    with pytest.raises(IntegrityFailure, match=match) as failed:
        verify_bundle(path, key.public_pem)
    return failed.value.message


def test_every_byte_of_the_file(good: tuple[Path, ExportSigner], tmp_path: Path) -> None:
    path, key = good
    original = path.read_bytes()
    assert verify_bundle(path, key.public_pem)["ok"]
    passed = []
    spoilt = bytearray(original)
    for offset in range(len(original)):
        spoilt[offset] ^= 0x01 if offset % 2 else 0x80
        try:
            verify_file(io.BytesIO(spoilt), key.public_pem)
        except IntegrityFailure:
            pass
        else:
            passed.append(offset)
        spoilt[offset] = original[offset]
    assert passed == [], f"bytes whose change went unnoticed: {passed[:20]}"
    # The seal is the one part no hash covers: every other value of each of its bytes.
    for offset in range(len(original) - SEAL_LENGTH, len(original)):
        for value in range(256):
            if value == original[offset]:
                continue
            spoilt[offset] = value
            with pytest.raises(IntegrityFailure):
                verify_file(io.BytesIO(spoilt), key.public_pem)
        spoilt[offset] = original[offset]
    bad = tmp_path / "bad.zip"
    # Cut short, grown, or empty.
    for spoilt_bytes in (original[:-1], original + b"\0", original[: len(original) // 2], b""):
        bad.write_bytes(spoilt_bytes)
        _fails(bad, key)


def test_zip_structure_offsets(good: tuple[Path, ExportSigner], tmp_path: Path) -> None:
    """Bytes a zip reader ignores (dates, attributes, local header copies) still count."""
    path, key = good
    data = path.read_bytes()
    central = data.index(b"PK\x01\x02")
    local_headers = [i for i in range(len(data)) if data.startswith(b"PK\x03\x04", i)]
    spots = {
        "local header date": local_headers[1] + 10,
        "local header crc": local_headers[2] + 14,
        "central directory date": central + 12,
        "central directory attributes": central + 38,
        "end record": len(data) - SEAL_LENGTH - 22 + 8,
    }
    for where, offset in spots.items():
        spoilt = bytearray(data)
        spoilt[offset] ^= 0x01
        bad = tmp_path / f"{where}.zip"
        bad.write_bytes(bytes(spoilt))
        assert "seal" in _fails(bad, key), where


def _members(path: Path) -> list[str]:
    with zipfile.ZipFile(path) as archive:
        return archive.namelist()


def _one_byte(target: str) -> Callable[[str, bytes], bytes | None]:
    def change(name: str, data: bytes) -> bytes | None:
        if name != target:
            return data
        middle = len(data) // 2
        return data[:middle] + bytes([data[middle] ^ 0x01]) + data[middle + 1 :]

    return change


def test_every_member_changed(good: tuple[Path, ExportSigner], tmp_path: Path) -> None:
    """One byte of each member: the seal fails; sealed again (the seal checks skipped, as if
    by someone holding the key), the manifest signature or the member's hash still fails."""
    path, key = good
    names = _members(path)
    assert len(names) == 7
    for name in names:
        bad = tmp_path / "bad.zip"
        rewrite(path, bad, _one_byte(name))
        assert "seal" in _fails(bad, key), name
        rewrite(path, bad, _one_byte(name), reseal=key)
        inner = _fails(bad, key)
        if name in ("manifest.json", "manifest.sig"):
            assert "manifest signature" in inner, name
        else:
            assert f"{name} differs from the manifest" in inner, name
    rewrite(path, tmp_path / "same.zip", reseal=key)  # the rewriting itself changes nothing
    assert verify_bundle(tmp_path / "same.zip", key.public_pem)["ok"]


@pytest.mark.filterwarnings("ignore:Duplicate name:UserWarning")  # the attack itself
def test_members_added_dropped_renamed_reordered(
    good: tuple[Path, ExportSigner], tmp_path: Path
) -> None:
    path, key = good
    names = _members(path)
    audio = next(n for n in names if n.startswith("audio/"))
    bad = tmp_path / "bad.zip"
    cases: dict[str, tuple[dict[str, Any], str]] = {
        "added": ({"add": {"audio/extra.opus": b"OggS"}}, "not in the manifest"),
        "renamed": ({"rename": {audio: "audio/other.opus"}}, "not in the manifest"),
        "twice": ({"add": {"transcript.txt": b"said otherwise"}}, "appears twice"),
        "manifest dropped": ({"change": lambda n, d: None if n == "manifest.json" else d},
                             "no manifest.json"),
        "signature zeroed": ({"change": lambda n, d: bytes(64) if n == "manifest.sig" else d},
                             "manifest signature"),
    }  # fmt: skip
    for name in names[2:]:
        cases[f"{name} dropped"] = (
            {"change": lambda n, d, gone=name: None if n == gone else d},
            f"no {name}",
        )
    for case, (how, inner) in cases.items():
        change = how.get("change", lambda _n, d: d)
        rewrite(path, bad, change, rename=how.get("rename"), add=how.get("add"))
        assert "seal" in _fails(bad, key), case
        rewrite(path, bad, change, rename=how.get("rename"), add=how.get("add"), reseal=key)
        assert inner in _fails(bad, key), case
    rewrite(path, bad, order=lambda infos: infos[::-1])
    assert "seal" in _fails(bad, key)


def test_seal_and_key(good: tuple[Path, ExportSigner], tmp_path: Path) -> None:
    path, key = good
    other = export_signer(tmp_path / "other-keys")
    _fails(path, other, "seal does not verify with this key")
    data = path.read_bytes()
    bad = tmp_path / "bad.zip"
    bad.write_bytes(data[:-SEAL_LENGTH] + b"x" * SEAL_LENGTH)
    _fails(bad, key, "not a callvault evidence seal")
    with pytest.raises(BadInput):
        verify_bundle(path, b"not a key")


def _custody_forgery(
    path: Path, tmp_path: Path, key: ExportSigner, edit: Callable[[dict[str, Any]], None]
) -> str:
    def change(name: str, data: bytes) -> bytes:
        if name != "custody.json":
            return data
        custody = orjson.loads(data)
        edit(custody)
        return orjson.dumps(custody)

    bad = tmp_path / "forged.zip"
    forge(path, bad, key, change)
    return _fails(bad, key)


def test_custody_checks_hold_against_a_forger_with_the_export_key(
    good: tuple[Path, ExportSigner], tmp_path: Path
) -> None:
    """Someone with the export key can sign anything, but cannot sign the audit head: each
    custody check still catches what they change."""
    path, key = good
    forged = tmp_path / "untouched.zip"
    forge(path, forged, key, lambda _n, d: d)
    assert verify_bundle(forged, key.public_pem)["ok"]  # the forging itself changes nothing

    def reword(custody: dict[str, Any]) -> None:
        custody["entries"][0]["text"] = custody["entries"][0]["text"].replace("parking", "rent")

    def rechain(custody: dict[str, Any]) -> None:
        # Entry 2 made to hash consistently, but to a different predecessor.
        entry = custody["entries"][1]
        entry["prev_hash"] = "f" * 64
        entry["hash"] = entry_hash(entry["seq"], entry["prev_hash"], entry["text"])

    def drop_own(custody: dict[str, Any]) -> None:
        custody["entries"].pop()

    def resign_head(custody: dict[str, Any]) -> None:
        impostor = Ed25519PrivateKey.generate()
        head = custody["head"]
        head["signature"] = impostor.sign(checkpoint_message(head["seq"], head["hash"])).hex()

    def swap_audit_key(custody: dict[str, Any]) -> None:
        impostor = Ed25519PrivateKey.generate()
        raw = impostor.public_key().public_bytes_raw()
        custody["audit_public_key"] = raw.hex()
        custody["audit_key_id"] = hashlib.sha256(raw).hexdigest()[:16]

    def stranger(custody: dict[str, Any]) -> None:
        custody["object_ids"] = custody["object_ids"][1:]

    expected = {
        reword: "its hash does not match its text",
        rechain: "do not chain",
        drop_own: "not the last entry",
        resign_head: "audit head's signature does not verify",
        swap_audit_key: "not the one the manifest names",
        stranger: "is not about this recording",
    }
    for edit, problem in expected.items():
        assert problem in _custody_forgery(path, tmp_path, key, edit), edit.__name__
