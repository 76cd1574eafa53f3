"""A backup folder's layout and its manifest: what each file is, its size and SHA-256.

Layout of one backup (every file 0600, every folder 0700)::

    manifest.json      this manifest: the time, counts, key ids, ledger position, file hashes
    callvault.db       the database (SQLite, rollback journal, self-contained)
    callvault.toml     the home's settings file, when it had one
    policy.yaml        the recording policy in force
    blobs/<name>       each recording's and training clip's blobs exactly as stored
                       (ciphertext), by blob name

``verify_backup`` reads every file back against the manifest before a restore touches
anything, and refuses a backup with a file changed, missing, added or linked elsewhere.

Version 2 added the training clips (``clip_blob_names``, ``clips_removed_during_backup``);
a version 1 manifest, from before clips were backed up, reads as a backup without clip audio.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from callvault.errors import BadInput, IntegrityFailure
from callvault.retention.ledger import LedgerPosition
from callvault.secretfile import fsync_dir
from callvault.vault.interfaces import validate_blob_name

MANIFEST = "manifest.json"
FORMAT = "callvault-backup"
VERSION = 2
READABLE_VERSIONS = frozenset({1, VERSION})
DATABASE = "callvault.db"
SETTINGS = "callvault.toml"
POLICY = "policy.yaml"
BLOBS = "blobs"
_COPY_CHUNK = 1024 * 1024
_CLIP_FIELDS = ("clip_blob_names", "clips_removed_during_backup")


@dataclass(frozen=True, slots=True)
class FileEntry:
    sha256: str
    bytes: int


@dataclass(frozen=True, slots=True)
class Manifest:
    created_at: str
    callvault_version: str
    schema_revision: str | None
    source_home: str
    recordings: int
    blob_names: tuple[str, ...]
    # Key-encryption keys the backup's data keys are wrapped under: the key file a restore
    # uses must hold every one (keys are never in a backup; docs/backup.md).
    kek_ids: tuple[str, ...]
    ledger: LedgerPosition
    # Blobs of recordings erased while the backup ran: their ledger entries erase them again.
    erased_during_backup: tuple[str, ...]
    # Blobs of the training clips live in the backup's database (each under its own key).
    clip_blob_names: tuple[str, ...] = ()
    # Training clips removed while the backup ran: neither their blob nor their key is in it.
    clips_removed_during_backup: tuple[str, ...] = ()
    files: dict[str, FileEntry] = field(default_factory=dict)

    @property
    def all_blob_names(self) -> tuple[str, ...]:
        """Every blob the backup holds: the recordings', then the clips'."""
        return self.blob_names + self.clip_blob_names

    @property
    def total_bytes(self) -> int:
        return sum(entry.bytes for entry in self.files.values())

    def to_json(self) -> bytes:
        data: dict[str, Any] = {
            "format": FORMAT,
            "version": VERSION,
            "created_at": self.created_at,
            "callvault_version": self.callvault_version,
            "schema_revision": self.schema_revision,
            "source_home": self.source_home,
            "recordings": self.recordings,
            "clips": len(self.clip_blob_names),
            "blobs": len(self.all_blob_names),
            "bytes": self.total_bytes,
            "keys_included": False,
            "kek_ids": list(self.kek_ids),
            "ledger": {"entries": self.ledger.entries, "hash": self.ledger.hash},
            "erased_during_backup": list(self.erased_during_backup),
            "blob_names": list(self.blob_names),
            "clip_blob_names": list(self.clip_blob_names),
            "clips_removed_during_backup": list(self.clips_removed_during_backup),
            "files": {
                path: {"sha256": entry.sha256, "bytes": entry.bytes}
                for path, entry in sorted(self.files.items())
            },
        }
        return orjson.dumps(data, option=orjson.OPT_INDENT_2) + b"\n"

    @classmethod
    def from_json(cls, raw: bytes, where: Path) -> Manifest:
        try:
            data = orjson.loads(raw)
            if data.get("format") != FORMAT:
                raise _damaged(where, f"is not a {FORMAT} manifest")
            if data.get("version") not in READABLE_VERSIONS:
                raise _damaged(
                    where,
                    f"has a manifest of version {data.get('version')!r}, which this callvault "
                    f"does not read (versions {min(READABLE_VERSIONS)} to {VERSION}); restore "
                    "it with the callvault that made it or a newer one",
                )
            # Version 1 (before clips were backed up) has no clip fields: no clip audio.
            clips = {k: data[k] for k in _CLIP_FIELDS} if data["version"] > 1 else {}
            ledger = data["ledger"]
            return cls(
                created_at=str(data["created_at"]),
                callvault_version=str(data["callvault_version"]),
                schema_revision=data["schema_revision"],
                source_home=str(data["source_home"]),
                recordings=int(data["recordings"]),
                blob_names=tuple(validate_blob_name(n) for n in data["blob_names"]),
                kek_ids=tuple(str(k) for k in data["kek_ids"]),
                ledger=LedgerPosition(int(ledger["entries"]), str(ledger["hash"])),
                erased_during_backup=tuple(str(n) for n in data["erased_during_backup"]),
                clip_blob_names=tuple(
                    validate_blob_name(n) for n in clips.get("clip_blob_names", [])
                ),
                clips_removed_during_backup=tuple(
                    str(c) for c in clips.get("clips_removed_during_backup", [])
                ),
                files={
                    str(path): FileEntry(str(entry["sha256"]), int(entry["bytes"]))
                    for path, entry in data["files"].items()
                },
            )
        except IntegrityFailure:
            raise
        except (orjson.JSONDecodeError, AttributeError, KeyError, TypeError, ValueError) as exc:
            raise _damaged(where, f"has an unreadable manifest ({exc})") from None
        except BadInput as exc:
            raise _damaged(where, f"names a bad blob: {exc.message}") from None


def blob_file(name: str) -> str:
    """Where blob ``name`` lies in a backup (a valid blob name is a safe relative path)."""
    return f"{BLOBS}/{name}"


def copy_private(source: BinaryIO, dest: Path) -> FileEntry:
    """Stream ``source`` into a new 0600 file ``dest`` (folders 0700), fsynced; its hash."""
    _make_dirs(dest.parent)
    digest = hashlib.sha256()
    size = 0
    fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    with os.fdopen(fd, "wb") as out:
        while chunk := source.read(_COPY_CHUNK):
            digest.update(chunk)
            size += len(chunk)
            out.write(chunk)
        out.flush()
        os.fsync(out.fileno())
    return FileEntry(digest.hexdigest(), size)


def hash_file(path: Path) -> FileEntry:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as file:
        while chunk := file.read(_COPY_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return FileEntry(digest.hexdigest(), size)


def fsync_tree(root: Path) -> None:
    """Flush every folder under ``root`` (deepest first), so its entries survive a crash."""
    for folder, _dirs, _files in sorted(os.walk(root), key=lambda w: -len(w[0])):
        fsync_dir(Path(folder))


def verify_backup(folder: Path) -> Manifest:
    """The manifest of the backup in ``folder``, once every file matches it.

    ``IntegrityFailure`` names the first difference: a file changed, missing, added, or a
    link (a backup is plain files only). Nothing is written.
    """
    where = folder
    try:
        raw = (folder / MANIFEST).read_bytes()
    except FileNotFoundError:
        raise _damaged(where, f"has no {MANIFEST}: it is not a callvault backup") from None
    manifest = Manifest.from_json(raw, where)
    present = set(_files_in(folder))
    listed = set(manifest.files)
    if DATABASE not in listed:
        raise _damaged(where, f"lists no {DATABASE}")
    expected_blobs = {blob_file(name) for name in manifest.all_blob_names}
    listed_blobs = {path for path in listed if path.startswith(f"{BLOBS}/")}
    if len(expected_blobs) != len(manifest.all_blob_names) or expected_blobs != listed_blobs:
        raise _damaged(where, "its blob list and its file list disagree")
    missing, unlisted = sorted(listed - present), sorted(present - listed)
    if missing:
        raise _damaged(where, f"is missing {missing[0]}")
    if unlisted:
        raise _damaged(where, f"holds {unlisted[0]}, which its manifest does not list")
    for path in sorted(listed):
        if hash_file(folder / path) != manifest.files[path]:
            raise _damaged(where, f"{path} does not match its SHA-256 in the manifest")
    return manifest


def _files_in(folder: Path) -> Iterator[str]:
    """Relative paths of the files under ``folder`` but the manifest; refuses links."""
    for entry_dir, dirs, files in os.walk(folder):
        here = Path(entry_dir)
        for name in [*dirs, *files]:
            path = here / name
            if path.is_symlink() or not (path.is_dir() or path.is_file()):
                rel = path.relative_to(folder).as_posix()
                raise _damaged(folder, f"{rel} is a link or special file, not a plain file")
        for name in files:
            rel = (here / name).relative_to(folder).as_posix()
            if rel != MANIFEST:
                yield rel


def _make_dirs(folder: Path) -> None:
    missing = []
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    for path in reversed(missing):
        path.mkdir(mode=0o700)


def _damaged(where: Path, problem: str) -> IntegrityFailure:
    return IntegrityFailure(
        f"backup {where} {problem}; nothing was restored. Use another backup, or copy this one "
        "again from where it is kept"
    )
