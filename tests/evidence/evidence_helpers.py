"""Helpers for the evidence tests: a home with people and a recording, bundles, and the
rewriting a tamperer (or a forger holding a key) would do to one."""

from __future__ import annotations

import hashlib
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from access.access_helpers import as_person
from callvault.access.export_signing import ExportSigner, export_signer
from callvault.bootstrap import Services
from callvault.evidence.service import EvidenceService
from callvault.evidence.verify import MANIFEST, SEAL_LENGTH, SEAL_PREFIX, SIGNATURE, seal_message

FIELDS = {
    "recipient": "DC R Adeyemi",
    "organisation": "Metropolitan Police Service",
    "reason": "Request under DPA 2018 Sch. 2 para 2, ref MPS/2026/4411",
    "method": "secure_download",
}


def bundle(
    services: Services, who: str, recording_id: str, grant_id: str, out: Path, /, **fields: str
) -> dict[str, Any]:
    """``who`` bundles ``recording_id`` under ``grant_id`` to ``out`` (FIELDS unless given)."""
    return EvidenceService.for_services(services).bundle(
        as_person(services, who), recording_id, grant_id, out, **(FIELDS | fields)
    )


def signer(services: Services) -> ExportSigner:
    return export_signer(services.settings.home / "keys")


def public_pem(services: Services) -> bytes:
    return signer(services).public_pem


Change = Callable[[str, bytes], bytes | None]


def rewrite(
    source: Path,
    target: Path,
    change: Change = lambda _name, data: data,
    *,
    order: Callable[[list[zipfile.ZipInfo]], list[zipfile.ZipInfo]] = lambda infos: infos,
    rename: dict[str, str] | None = None,
    add: dict[str, bytes] | None = None,
    reseal: ExportSigner | None = None,
) -> None:
    """Copy a bundle member by member (``change`` gives new bytes, or None to drop one),
    with the seal's placeholder, then seal it with ``reseal`` (a forger holding the export
    key) or copy the old seal (a tamperer without it)."""
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w") as new:
        for info in order(old.infolist()):
            data = change(info.filename, old.read(info.filename))
            if data is not None:
                info.filename = (rename or {}).get(info.filename, info.filename)
                new.writestr(info, data)
        for name, data in (add or {}).items():
            new.writestr(name, data)
        new.comment = b"0" * SEAL_LENGTH
    body = target.read_bytes()[:-SEAL_LENGTH]
    if reseal is None:
        seal = source.read_bytes()[-SEAL_LENGTH:]
    else:
        message = seal_message(hashlib.sha256(body).hexdigest())
        seal = SEAL_PREFIX + reseal.sign(message).hex().encode()
    target.write_bytes(body + seal)


def forge(source: Path, target: Path, key: ExportSigner, change: Change) -> None:
    """What a forger holding the export key (not the audit key) could make: members changed,
    the manifest's hashes made to match, manifest signed and the file sealed again."""
    changed = {}
    with zipfile.ZipFile(source) as old:
        for name in old.namelist():
            if name not in (MANIFEST, SIGNATURE):
                data = change(name, old.read(name))
                if data is not None:
                    changed[name] = data
        manifest = orjson.loads(old.read(MANIFEST))
    manifest["members"] = [
        {"name": name, "sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
        for name, data in changed.items()
    ]
    signed = orjson.dumps(manifest)

    def swap(name: str, data: bytes) -> bytes | None:
        if name == MANIFEST:
            return signed
        if name == SIGNATURE:
            return key.sign(signed)
        return changed.get(name)

    rewrite(source, target, swap, reseal=key)


def custody_of(path: Path) -> dict[str, Any]:
    with zipfile.ZipFile(path) as archive:
        custody: dict[str, Any] = orjson.loads(archive.read("custody.json"))
    return custody


def manifest_of(path: Path) -> dict[str, Any]:
    with zipfile.ZipFile(path) as archive:
        manifest: dict[str, Any] = orjson.loads(archive.read(MANIFEST))
    return manifest
