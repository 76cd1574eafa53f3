"""Exporting recordings under a grant: a zip of the audio and a signed manifest.

Only the holder of an approved, unexpired grant whose purpose allows export
(``export_allowed`` in the policy) may export, and only recordings the grant covers and
their role may still hear; every refusal is audited.

The manifest names each recording with the SHA-256 of its audio, and the audit entries
(``recording.exported``, one per recording, with the manifest's hash) commit before any
audio is written. So the audio is decrypted twice: first only to hash it (no byte goes
anywhere), then, after the commit, into the file, where each hash is checked again. The
zip is written to a 0600 temp file beside the target and renamed into place; a refusal or
failure leaves no file. The ``exports`` row is written with the audit entries and marked
complete once the file is in place; only a complete export can be disclosed.

Evidence bundles (``evidence.bundle``) are exports too and share the pieces below: the
purpose check, hashing before the audit commit, the ``exports`` row, and the private temp
file renamed into place.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import uuid
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import orjson
from sqlalchemy import Connection, Engine, insert, update

from callvault.access.export_signing import MANIFEST, SIGNATURE, ExportSigner, export_signer
from callvault.access.grants import MAX_RECORDINGS, Grant, GrantService, check_id
from callvault.access.playback import Player, copy_decrypted
from callvault.access.register import export_recordings, exports
from callvault.audit.service import AuditLog
from callvault.catalog.model import Recording
from callvault.context import RequestContext
from callvault.db import transaction
from callvault.errors import BadInput, IntegrityFailure, Refused
from callvault.policy.model import Policy
from callvault.vault.service import Vault

if TYPE_CHECKING:
    from callvault.bootstrap import Services

FORMAT = "callvault-export/1"
EXPORTED = "recording.exported"


@dataclass(frozen=True, slots=True)
class AudioFile:
    """One recording's audio as it goes into a zip: its member name, SHA-256 and size."""

    recording: Recording
    file: str
    sha256: str
    size: int


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="microseconds")


class Exporter:
    def __init__(
        self,
        engine: Engine,
        grants: GrantService,
        player: Player,
        audit: AuditLog,
        policy: Policy,
        vault: Vault,
        signer: Callable[[], ExportSigner],
    ) -> None:
        self._engine, self._grants, self._player, self._audit = engine, grants, player, audit
        self._policy, self._vault, self._signer = policy, vault, signer

    @classmethod
    def for_services(cls, services: Services) -> Exporter:
        keys = services.settings.home / "keys"
        return cls(
            services.engine, services.grants, services.player, services.audit,
            services.policy.policy, services.vault, lambda: export_signer(keys),
        )  # fmt: skip

    def public_key(self) -> dict[str, str]:
        """The PEM public key recipients verify exports with, and its id."""
        signer = self._signer()
        return {"public_key": signer.public_pem.decode(), "key_id": signer.key_id}

    def export(
        self,
        ctx: RequestContext,
        grant_id: str,
        out_path: Path,
        recording_ids: Sequence[str] | None = None,
    ) -> dict[str, Any]:
        """Write the grant's recordings (or ``recording_ids`` among them) to a signed zip."""
        check_id(grant_id, "grant_id")
        wanted = _wanted(recording_ids)
        out_path = new_file(Path(out_path))
        grant, ctx = self.clear_grant(ctx, grant_id, object_type="grant", object_id=grant_id)
        recordings = [
            self._player.clear_recording(ctx, grant, rid) for rid in wanted or grant.recording_ids
        ]
        signer = self._signer()
        export_id = uuid.uuid4().hex
        # Digests only: nothing is written.
        audio = [hash_audio(self._player, self._vault, rec) for rec in recordings]
        manifest = _manifest(export_id, grant, ctx, audio, signer.key_id)
        manifest_sha = hashlib.sha256(manifest).hexdigest()
        self._begin(ctx, export_id, grant, audio, manifest_sha, signer.key_id)
        # Committed: only now is any audio written.
        file_sha = _write_zip(self._player, self._vault, out_path, manifest, signer, audio)
        with transaction(self._engine) as conn:
            complete_export(conn, export_id, file_sha)
        return {
            "path": str(out_path),
            "export_id": export_id,
            "sha256": file_sha,
            "manifest_sha256": manifest_sha,
            "recording_ids": [item.recording.id for item in audio],
        }

    def clear_grant(
        self, ctx: RequestContext, grant_id: str, *, object_type: str, object_id: str
    ) -> tuple[Grant, RequestContext]:
        """``Player.clear_grant`` for ``recordings:export``, and the grant's purpose must allow
        export of the original audio; each refusal is audited against the object named."""
        grant, ctx = self._player.clear_grant(
            ctx, grant_id, "recordings:export", object_type=object_type, object_id=object_id
        )
        purpose = next(p for p in self._policy.purposes if p.id == grant.purpose)
        problem = None
        if not purpose.export_allowed:
            problem = "does not allow export (policy: export_allowed is false)"
        elif not purpose.original_allowed:
            # An export carries the original audio, which this purpose may not hear.
            problem = "hears only the redacted rendition (policy: original_allowed is false)"
        if problem is not None:
            refusal = Refused(
                f"purpose {purpose.id} {problem}; listen under the grant instead", "purpose"
            )
            self._grants.refuse(
                ctx, refusal, object_type=object_type, object_id=object_id, grant_id=grant_id
            )
        return grant, ctx

    def _begin(
        self,
        ctx: RequestContext,
        export_id: str,
        grant: Grant,
        audio: list[AudioFile],
        manifest_sha: str,
        key_id: str,
    ) -> None:
        with transaction(self._engine) as conn:
            insert_export(
                conn, ctx, export_id, grant, manifest_sha, key_id,
                [a.recording.id for a in audio],
            )  # fmt: skip
            for item in audio:
                self._audit.append(
                    conn, ctx, EXPORTED, object_type="recording", object_id=item.recording.id,
                    details={"export_id": export_id, "grant_id": grant.id, "to": "file",
                             "manifest_sha256": manifest_sha, "sha256": item.sha256},
                )  # fmt: skip


def hash_audio(player: Player, vault: Vault, rec: Recording) -> AudioFile:
    """The SHA-256 and size of a recording's audio, decrypted only to hash it: nothing is
    written, so this may come before the act's audit entry (which then carries the hash)."""
    digest, size = hashlib.sha256(), 0
    chunks = vault.read(rec.blob_name, player.data_key(rec.id))
    try:
        for chunk in chunks:
            digest.update(chunk)
            size += len(chunk)
    finally:
        chunks.close()
    return AudioFile(rec, f"audio/{rec.id}.opus", digest.hexdigest(), size)


def insert_export(
    conn: Connection,
    ctx: RequestContext,
    export_id: str,
    grant: Grant,
    manifest_sha: str,
    key_id: str,
    recording_ids: Sequence[str],
) -> None:
    """The ``exports`` row (not yet complete) and its recordings, inside ``conn``."""
    conn.execute(
        insert(exports).values(
            id=export_id, grant_id=grant.id, purpose=grant.purpose, case_ref=grant.case_ref,
            exported_by=ctx.actor.name, exported_at=_iso(datetime.now(UTC)),
            manifest_sha256=manifest_sha, signing_key_id=key_id,
        )
    )  # fmt: skip
    conn.execute(
        insert(export_recordings),
        [{"export_id": export_id, "recording_id": rid} for rid in recording_ids],
    )


def complete_export(conn: Connection, export_id: str, file_sha: str) -> None:
    """Mark the export complete (its file is written), inside ``conn``."""
    conn.execute(
        update(exports)
        .where(exports.c.id == export_id)
        .values(file_sha256=file_sha, completed_at=_iso(datetime.now(UTC)))
    )


def _wanted(recording_ids: Sequence[str] | None) -> tuple[str, ...]:
    if not recording_ids:
        return ()
    if isinstance(recording_ids, str):
        recording_ids = [recording_ids]
    if len(recording_ids) > MAX_RECORDINGS:
        raise BadInput(f"an export holds at most {MAX_RECORDINGS} recordings", "recording_ids")
    return tuple(dict.fromkeys(check_id(rid, "recording_id") for rid in recording_ids))


def new_file(out_path: Path) -> Path:
    """``out_path`` if it names a new file in an existing folder; BadInput otherwise."""
    if out_path.exists() or out_path.is_symlink():
        raise BadInput(f"{out_path} already exists; name a new file", "out")
    if not out_path.parent.is_dir():
        raise BadInput(f"folder {out_path.parent} does not exist", "out")
    return out_path


def _manifest(
    export_id: str, grant: Grant, ctx: RequestContext, audio: list[AudioFile], key_id: str
) -> bytes:
    document = {
        "format": FORMAT,
        "export_id": export_id,
        "grant_id": grant.id,
        "purpose": grant.purpose,
        "case_ref": grant.case_ref,
        "requester": grant.requester,
        "approver": grant.approver,
        "exported_by": ctx.actor.name,
        "operator": ctx.actor.operator,
        "exported_at": _iso(datetime.now(UTC)),
        "signing_key_id": key_id,
        "recordings": [
            {
                "id": item.recording.id,
                "line": item.recording.line,
                "started_at": item.recording.started_at,
                "ended_at": item.recording.ended_at,
                "codec": "opus",
                "container": "ogg",
                "file": item.file,
                "sha256": item.sha256,
                "size": item.size,
            }
            for item in audio
        ],
    }
    return orjson.dumps(document, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)


def zip_member(name: str) -> zipfile.ZipInfo:
    """A stored member with a fixed date and mode, so the zip says nothing of its writer."""
    # A fixed date keeps the zip free of the writer's local time; the manifest has the time.
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_STORED  # Opus is already compressed
    info.external_attr = 0o600 << 16
    return info


def _write_zip(
    player: Player,
    vault: Vault,
    out_path: Path,
    manifest: bytes,
    signer: ExportSigner,
    audio: list[AudioFile],
) -> str:
    def fill(archive: zipfile.ZipFile) -> None:
        archive.writestr(zip_member(MANIFEST), manifest)
        archive.writestr(zip_member(SIGNATURE), signer.sign(manifest))
        for item in audio:
            with archive.open(zip_member(item.file), "w", force_zip64=True) as member:
                _copy_audio(player, vault, item, member)

    return write_new_zip(out_path, fill)


def write_new_zip(
    out_path: Path,
    fill: Callable[[zipfile.ZipFile], None],
    *,
    seal: Callable[[IO[bytes]], None] | None = None,
    publish: Callable[[str], None] | None = None,
) -> str:
    """Write a zip to a new 0600 temp file beside ``out_path`` and rename it into place;
    return the file's SHA-256. ``fill`` adds the members; ``seal`` may then change the
    closed zip's bytes in place; ``publish`` gets the file's SHA-256 just before the rename
    (a failure there keeps the file from appearing). Any failure removes the temp file."""
    temp = out_path.with_name(f".{out_path.name}.{secrets.token_hex(6)}.part")
    flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(temp, flags, 0o600)
    try:
        with os.fdopen(fd, "w+b") as file:
            with zipfile.ZipFile(file, "w") as archive:
                fill(archive)
            if seal is not None:
                seal(file)
            file.flush()
            os.fsync(file.fileno())
            file_sha = _file_sha256(file)
        if publish is not None:
            publish(file_sha)
        temp.replace(out_path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return file_sha


def copy_audio(player: Player, vault: Vault, item: AudioFile, sink: IO[bytes]) -> None:
    """Decrypt ``item``'s audio into ``sink``: only after the act's audit entry is committed.
    IntegrityFailure if it is not the audio that was hashed."""
    key = player.data_key(item.recording.id)
    if copy_decrypted(vault, item.recording.blob_name, key, sink) != item.sha256:
        # The stored blob changed between the two passes: the manifest would lie.
        raise IntegrityFailure(f"recording {item.recording.id} changed while it was exported")


# The name the export writes audio through (tests replace it to watch or fail the write).
_copy_audio = copy_audio


def _file_sha256(file: IO[bytes]) -> str:
    file.seek(0)
    digest = hashlib.sha256()
    while block := file.read(1 << 20):
        digest.update(block)
    return digest.hexdigest()
