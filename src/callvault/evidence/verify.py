"""The layout of an evidence bundle and the check a recipient runs on it, offline.

This module is the recipient's side: it reads a bundle with nothing but the bundle and the
council's PEM export public key, so it imports only the standard library, ``cryptography``,
``orjson`` and callvault modules that are themselves pure (the error classes, the audit hash
formula, the PEM loader). No home folder, database or setting is touched; a test runs it in
a bare environment to prove it.

A bundle is a zip of STORED members (see ``docs/evidence.md``)::

    manifest.json        what is in the bundle: each member's SHA-256 and size, the bundle,
                         recording, grant, purpose, case, who made it, when, for whom
    manifest.sig         raw 64-byte Ed25519 signature of manifest.json's exact bytes
    metadata.json        the call: line, numbers, times, policy decision, retention
    custody.json         the recording's audit entries and the signed audit head
    transcript.json/.txt the machine transcript, when the speech job made one
    audio/<id>.opus      the recording as stored (Ogg Opus)

and the zip's comment is the *seal*: ``callvault-evidence-seal:v1:`` and the hex Ed25519
signature (same key) of ``callvault-evidence-file:v1:<sha256 of every byte before the
seal>``. Two signatures, because they prove different things: the seal that this file is,
byte for byte, what the council wrote (a zip has bytes no manifest covers: header dates,
attributes, order), so that changing any byte of it fails; the manifest signature that the
members are the council's even after the zip is unpacked, and it can be checked with
``openssl pkeyutl -verify -rawin`` alone.

``custody.json`` lists every audit entry about the recording, its grants, holds and exports
as ``(seq, prev_hash, text, hash)`` with ``hash = sha256(f"{seq}\\n{prev_hash}\\n{text}")``,
and the audit log's signed head, which is the bundle's own ``recording.exported`` entry
(written in the same transaction that read the trail). The check recomputes every hash,
checks that neighbouring entries chain, and that the head's signature verifies with the
audit public key the bundle carries; that entry names the bundle and the hashes of its
contents, so the audit key vouches for them too. What it cannot show offline: that entries
far apart in the log belong to one unbroken chain; the entries between them are about other
people's calls, so only the council's full log (``callvault audit verify``) proves that.
"""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path
from typing import IO, Any

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from callvault.access.export_signing import hash_member, load_public_key, read_member
from callvault.audit.chain import checkpoint_message, entry_hash
from callvault.errors import IntegrityFailure

FORMAT = "callvault-evidence/1"
CUSTODY_FORMAT = "callvault-custody/1"
MANIFEST, SIGNATURE = "manifest.json", "manifest.sig"
METADATA, CUSTODY = "metadata.json", "custody.json"
TRANSCRIPT_JSON, TRANSCRIPT_TEXT = "transcript.json", "transcript.txt"
# The bundle's own audit entry: an evidence bundle is an export (access/export.py).
EXPORTED = "recording.exported"
TO_EVIDENCE = "evidence_bundle"

SEAL_PREFIX = b"callvault-evidence-seal:v1:"
SEAL_LENGTH = len(SEAL_PREFIX) + 128  # the hex of a 64-byte Ed25519 signature
_FILE_MESSAGE = b"callvault-evidence-file:v1:"
_EOCD = b"PK\x05\x06"  # end of central directory record, 22 bytes before the comment
_BLOCK = 1 << 20


def seal_message(sealed_sha256: str) -> bytes:
    """What the seal signs: the SHA-256 (hex) of every byte of the file before the seal."""
    return _FILE_MESSAGE + sealed_sha256.encode("ascii")


def sealed_digest(file: IO[bytes], size: int) -> str:
    """The SHA-256 of the first ``size`` bytes of ``file``."""
    file.seek(0)
    digest, left = hashlib.sha256(), size
    while left > 0 and (block := file.read(min(_BLOCK, left))):
        digest.update(block)
        left -= len(block)
    if left:
        raise IntegrityFailure("the bundle ended early")
    return digest.hexdigest()


def verify_bundle(path: Path, public_key: bytes) -> dict[str, Any]:
    """Check the bundle at ``path`` against the PEM ``public_key``; return what it holds.

    BadInput for a key that is not an Ed25519 PEM public key; IntegrityFailure naming the
    first problem for anything wrong with the bundle.
    """
    with Path(path).open("rb") as file:
        return {"ok": True, "path": str(path), **verify_file(file, public_key)}


def verify_file(file: IO[bytes], public_key: bytes) -> dict[str, Any]:
    """``verify_bundle`` for an open, seekable bundle file."""
    key = load_public_key(public_key)
    try:
        _check_seal(file, key)
        with zipfile.ZipFile(file) as archive:
            return _check_archive(archive, key)
    except IntegrityFailure:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError) as exc:
        raise IntegrityFailure(f"not a readable evidence bundle: {exc}") from exc
    except (KeyError, TypeError, ValueError, AttributeError, orjson.JSONDecodeError) as exc:
        raise IntegrityFailure(f"a member is not in the bundle format ({exc})") from exc


def _check_seal(file: IO[bytes], key: Ed25519PublicKey) -> None:
    size = file.seek(0, 2)
    if size < SEAL_LENGTH + len(_EOCD) + 18:
        raise IntegrityFailure("the file is too short to be an evidence bundle")
    file.seek(size - SEAL_LENGTH - 22)
    eocd = file.read(22)
    seal = file.read(SEAL_LENGTH)
    if not (eocd.startswith(_EOCD) and int.from_bytes(eocd[20:22], "little") == SEAL_LENGTH):
        raise IntegrityFailure("the zip does not end with the bundle's seal")
    if not seal.startswith(SEAL_PREFIX):
        raise IntegrityFailure("the zip's comment is not a callvault evidence seal")
    try:
        written = seal[len(SEAL_PREFIX) :]
        signature = bytes.fromhex(written.decode("ascii"))
        if signature.hex().encode("ascii") != written:
            raise ValueError("not lower-case hex")  # "A" for "a" would read the same
        key.verify(signature, seal_message(sealed_digest(file, size - SEAL_LENGTH)))
    except (InvalidSignature, ValueError):
        raise IntegrityFailure(
            "the bundle's seal does not verify with this key: the file was changed after it "
            "was made, or it was made with another key"
        ) from None


def _check_archive(archive: zipfile.ZipFile, key: Ed25519PublicKey) -> dict[str, Any]:
    listed = archive.namelist()
    names = set(listed)
    if len(names) != len(listed):
        raise IntegrityFailure("a member name appears twice in the zip")
    manifest_bytes = read_member(archive, names, MANIFEST, "bundle")
    try:
        key.verify(read_member(archive, names, SIGNATURE, "bundle"), manifest_bytes)
    except InvalidSignature:
        raise IntegrityFailure("the manifest signature does not verify with this key") from None
    manifest: dict[str, Any] = orjson.loads(manifest_bytes)
    if manifest.get("format") != FORMAT:
        raise IntegrityFailure(f"the manifest is not {FORMAT}")
    members = {item["name"]: item for item in manifest["members"]}
    if len(members) != len(manifest["members"]):
        raise IntegrityFailure("the manifest names a member twice")
    extra = names - set(members) - {MANIFEST, SIGNATURE}
    if extra:
        raise IntegrityFailure(f"members not in the manifest: {sorted(extra)}")
    for name, item in members.items():
        digest, size = hash_member(archive, names, name, "bundle")
        if (digest, size) != (item["sha256"], item["size"]):
            raise IntegrityFailure(f"{name} differs from the manifest (SHA-256 or size)")
    custody = orjson.loads(archive.read(CUSTODY)) if CUSTODY in members else None
    if custody is None:
        raise IntegrityFailure("the bundle has no custody.json")
    head_seq = _check_custody(custody, manifest)
    return {
        "bundle_id": manifest["bundle_id"],
        "recording_id": manifest["recording_id"],
        "grant_id": manifest["grant_id"],
        "purpose": manifest["purpose"],
        "case_ref": manifest["case_ref"],
        "made_by": manifest["made_by"],
        "made_at": manifest["made_at"],
        "disclosure": manifest["disclosure"],
        "signing_key_id": manifest["signing_key_id"],
        "audit_key_id": custody["audit_key_id"],
        "members": sorted(members),
        "custody_entries": len(custody["entries"]),
        "audit_head_seq": head_seq,
    }


def _check_custody(custody: dict[str, Any], manifest: dict[str, Any]) -> int:
    """Recompute the trail's hashes and check the signed head; returns the head's seq."""
    if custody.get("format") != CUSTODY_FORMAT:
        raise IntegrityFailure(f"custody.json is not {CUSTODY_FORMAT}")
    if custody["recording_id"] != manifest["recording_id"]:
        raise IntegrityFailure("custody.json is about another recording")
    about = set(custody["object_ids"])
    previous: dict[str, Any] | None = None
    for entry in custody["entries"]:
        seq, prev_hash, text, hash_ = (entry[k] for k in ("seq", "prev_hash", "text", "hash"))
        if not isinstance(seq, int) or not all(isinstance(v, str) for v in (prev_hash, text)):
            raise IntegrityFailure("a custody entry is not (seq, prev_hash, text, hash)")
        if entry_hash(seq, prev_hash, text) != hash_:
            raise IntegrityFailure(f"custody entry {seq}: its hash does not match its text")
        if previous is not None:
            if seq <= previous["seq"]:
                raise IntegrityFailure(f"custody entry {seq} is out of order")
            if seq == previous["seq"] + 1 and prev_hash != previous["hash"]:
                raise IntegrityFailure(f"custody entries {seq - 1} and {seq} do not chain")
        if orjson.loads(text).get("object_id") not in about:
            raise IntegrityFailure(f"custody entry {seq} is not about this recording")
        previous = entry
    if previous is None:
        raise IntegrityFailure("custody.json has no entries")
    _check_head(custody, manifest, previous)
    return int(previous["seq"])


def _check_head(custody: dict[str, Any], manifest: dict[str, Any], last: dict[str, Any]) -> None:
    """The signed head is the bundle's own entry, signed by the audit key in the bundle, and
    that entry names this bundle and its contents' hashes."""
    head = custody["head"]
    raw = bytes.fromhex(custody["audit_public_key"])
    key_id = hashlib.sha256(raw).hexdigest()[:16]
    if not key_id == custody["audit_key_id"] == manifest["audit_key_id"] == head["key_id"]:
        raise IntegrityFailure("the audit key in custody.json is not the one the manifest names")
    try:
        audit_key = Ed25519PublicKey.from_public_bytes(raw)
        audit_key.verify(
            bytes.fromhex(head["signature"]), checkpoint_message(head["seq"], head["hash"])
        )
    except (InvalidSignature, ValueError):
        raise IntegrityFailure(
            "the audit head's signature does not verify with the audit key in the bundle"
        ) from None
    if (head["seq"], head["hash"]) != (last["seq"], last["hash"]):
        raise IntegrityFailure("the signed audit head is not the last entry of the custody trail")
    own = orjson.loads(last["text"])
    details = own.get("details", {})
    if (own.get("action"), own.get("object_id"), details.get("export_id")) != (
        EXPORTED,
        manifest["recording_id"],
        manifest["bundle_id"],
    ):
        raise IntegrityFailure("the signed audit head is not this bundle's own entry")
    hashed = {item["name"]: item["sha256"] for item in manifest["members"]}
    contents = details.get("contents") or {}
    if not contents or any(hashed.get(name) != sha for name, sha in contents.items()):
        raise IntegrityFailure("the bundle's audit entry names other contents than the manifest")
