"""Making an evidence bundle: one recording, under a grant, for one named recipient.

A bundle is an export (``access.export``) with more in it: the same checks (an approved,
unexpired grant of the actor's whose purpose allows export and the original audio), the same
``recording.exported`` audit entry committed before any byte is written, the same
``exports`` row, and the same private temp file renamed into place (nothing is left on a
refusal or a failure). ``evidence.verify`` describes the layout and what the signatures prove.

Its entry in the disclosure register is made in the same act, not afterwards: the command
names the recipient, organisation, reason and method, they are checked before anything is
audited, and the register row commits in the transaction that marks the export complete,
before the file is renamed into place. So no bundle file exists without its register entry;
if the rename then failed, the register would name a bundle that never appeared, the safe
way round. The disclosure is dated the day the bundle is made (the register allows no later
day, and it cannot leave before it exists); a bundle sent on another day is a new bundle.

The bundle's audit entry names the recipient and the SHA-256 of every content member, and
it is the audit log's signed head when the trail is read (same transaction, appends are
serialised), so the council's audit key vouches for what the bundle holds as well as its
export key. The audio and transcript are decrypted before that entry commits, only to hash
them (as an export does); nothing is written until it has. The transcript is read as part of
this one act (its hash is in the entry), not as a separate ``transcript.read``, so the actor
must also hold ``transcripts:read``; and ``disclosures:record``, for the register entry.
"""

from __future__ import annotations

import hashlib
import uuid
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import orjson
from sqlalchemy import Connection, Engine

from callvault.access.disclosures import DisclosureRegister, check_fields
from callvault.access.export import (
    AudioFile,
    Exporter,
    complete_export,
    copy_audio,
    hash_audio,
    insert_export,
    new_file,
    write_new_zip,
    zip_member,
)
from callvault.access.export_signing import ExportSigner, export_signer
from callvault.access.grants import Grant, GrantService, check_id
from callvault.access.playback import Player
from callvault.audit.service import AuditLog
from callvault.audit.signing import CheckpointSigner, load_signer
from callvault.catalog.model import Recording
from callvault.catalog.service import Catalog
from callvault.context import RequestContext
from callvault.db import transaction
from callvault.errors import IntegrityFailure
from callvault.evidence.contents import holds_on, metadata_json, transcript_files
from callvault.evidence.custody import custody_document, entries_about, signed_head, subject_ids
from callvault.evidence.verify import (
    CUSTODY,
    EXPORTED,
    FORMAT,
    MANIFEST,
    METADATA,
    SEAL_LENGTH,
    SEAL_PREFIX,
    SIGNATURE,
    TO_EVIDENCE,
    seal_message,
    sealed_digest,
)
from callvault.policy.model import Policy
from callvault.speech.model import Transcript
from callvault.speech.renditions import TRANSCRIPT
from callvault.speech.service import READ_ACTION
from callvault.vault.service import Vault

if TYPE_CHECKING:
    from callvault.bootstrap import Services

RECORD_DISCLOSURE = "disclosures:record"


@dataclass(frozen=True, slots=True)
class _Draft:
    """What goes into one bundle, known before its audit entry is written."""

    bundle_id: str
    grant: Grant
    ctx: RequestContext
    recording: Recording
    audio: AudioFile
    contents: dict[str, bytes]  # member name -> bytes, for the small members
    disclosure: dict[str, str]


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="microseconds")


class EvidenceService:
    def __init__(
        self,
        engine: Engine,
        grants: GrantService,
        player: Player,
        exporter: Exporter,
        register: DisclosureRegister,
        audit: AuditLog,
        catalog: Catalog,
        vault: Vault,
        policy: Policy,
        signer: Callable[[], ExportSigner],
        audit_signer: Callable[[], CheckpointSigner],
    ) -> None:
        self._engine, self._grants, self._player = engine, grants, player
        self._exporter, self._register, self._audit = exporter, register, audit
        self._catalog, self._vault, self._policy = catalog, vault, policy
        self._signer, self._audit_signer = signer, audit_signer

    @classmethod
    def for_services(cls, services: Services) -> EvidenceService:
        keys, audit_key = services.settings.home / "keys", services.settings.audit_key_file
        return cls(
            services.engine, services.grants, services.player, Exporter.for_services(services),
            DisclosureRegister.for_services(services), services.audit, services.catalog,
            services.vault, services.policy.policy, lambda: export_signer(keys),
            lambda: load_signer(audit_key),
        )  # fmt: skip

    def bundle(
        self,
        ctx: RequestContext,
        recording_id: str,
        grant_id: str,
        out_path: Path,
        *,
        recipient: str,
        organisation: str,
        reason: str,
        method: str,
    ) -> dict[str, Any]:
        """Write a signed evidence bundle of ``recording_id`` under ``grant_id`` to the new
        file ``out_path`` and enter it in the disclosure register as sent today to
        ``recipient`` at ``organisation``, for ``reason``, by ``method``.

        BadInput (nothing audited) for malformed input; Refused (audited) when the grant,
        purpose or role does not allow it; nothing is written unless it all succeeds.
        """
        check_id(recording_id, "recording_id")
        check_id(grant_id, "grant_id")
        disclosure = check_fields(
            recipient=recipient, organisation=organisation, reason=reason, method=method,
            sent_on=datetime.now(UTC).date().isoformat(),
        )  # fmt: skip
        out_path = new_file(Path(out_path))
        grant, ctx = self._exporter.clear_grant(
            ctx, grant_id, object_type="recording", object_id=recording_id
        )
        rec = self._player.clear_recording(ctx, grant, recording_id)
        for action in (READ_ACTION, RECORD_DISCLOSURE):  # a bundle holds and registers both
            self._grants.require(ctx, action, recording_id, grant_id=grant_id)
        signer, audit_signer = self._signer(), self._audit_signer()
        audio = hash_audio(self._player, self._vault, rec)  # digests only: nothing is written
        draft = _Draft(
            uuid.uuid4().hex, grant, ctx, rec, audio, self._contents(ctx, rec, audio), disclosure
        )
        manifest, custody = self._begin(draft, signer, audit_signer)
        # Committed: only now is any byte written.
        file_sha, entered = self._write(draft, out_path, manifest, custody, signer)
        return {
            "path": str(out_path),
            "bundle_id": draft.bundle_id,
            "export_id": draft.bundle_id,
            "recording_id": rec.id,
            "sha256": file_sha,
            "manifest_sha256": hashlib.sha256(manifest).hexdigest(),
            "disclosure_id": entered["id"],
            "members": [m["name"] for m in orjson.loads(manifest)["members"]],
        }

    def _contents(self, ctx: RequestContext, rec: Recording, audio: AudioFile) -> dict[str, bytes]:
        with self._engine.connect() as conn:
            held = holds_on(conn, rec.id)
        decision = self._catalog.decision_for_call(rec.call_id)
        contents = {METADATA: metadata_json(rec, decision, self._policy, ctx.actor.role, audio,
                                            held)}  # fmt: skip
        # Every purpose that may export hears the original, so its transcript goes in.
        name = self._catalog.rendition(rec.id, TRANSCRIPT)
        if name is not None:
            data = self._vault.read_all(name, self._player.data_key(rec.id))
            contents |= transcript_files(rec, Transcript.from_json(data))
        return contents

    def _begin(
        self, draft: _Draft, signer: ExportSigner, audit_signer: CheckpointSigner
    ) -> tuple[bytes, bytes]:
        """Commit the bundle's audit entry and ``exports`` row; return the manifest and
        ``custody.json``.

        The custody trail is read in the same transaction, after the entry, so the signed
        head it carries is the bundle's own entry. Most of the trail is read first, outside
        the transaction, to keep other appenders waiting no longer than they must.
        """
        rec = draft.recording
        with self._engine.connect() as conn:
            ids = [*subject_ids(conn, rec), draft.bundle_id]
            earlier = entries_about(conn, ids)
        hashes = {name: hashlib.sha256(data).hexdigest() for name, data in draft.contents.items()}
        details = {
            "export_id": draft.bundle_id, "grant_id": draft.grant.id, "to": TO_EVIDENCE,
            "sha256": draft.audio.sha256, "contents": {draft.audio.file: draft.audio.sha256,
                                                       **hashes},
            "recipient": draft.disclosure["recipient"],
            "organisation": draft.disclosure["organisation"],
            "method": draft.disclosure["method"],
        }  # fmt: skip
        with transaction(self._engine) as conn:
            seq = self._audit.append(
                conn, draft.ctx, EXPORTED, object_type="recording", object_id=rec.id,
                details=details,
            )  # fmt: skip
            ids, trail = _trail(conn, rec, ids, earlier)
            head = signed_head(conn)
            if (head["seq"], head["hash"]) != (seq, trail[-1]["hash"]):
                # Appends are serialised until commit; anything else is a broken database.
                raise IntegrityFailure("the audit head moved while the bundle was made")
            custody = custody_document(
                rec.id, ids, trail, head, audit_signer.public_bytes, audit_signer.key_id
            )
            manifest = self._manifest(draft, {**draft.contents, CUSTODY: custody}, signer,
                                      audit_signer.key_id)  # fmt: skip
            insert_export(
                conn, draft.ctx, draft.bundle_id, draft.grant,
                hashlib.sha256(manifest).hexdigest(), signer.key_id, [rec.id],
            )  # fmt: skip
        return manifest, custody

    def _manifest(
        self, draft: _Draft, small: dict[str, bytes], signer: ExportSigner, audit_key_id: str
    ) -> bytes:
        members = [
            {"name": name, "sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
            for name, data in small.items()
        ]
        members.append(
            {"name": draft.audio.file, "sha256": draft.audio.sha256, "size": draft.audio.size}
        )
        grant, ctx = draft.grant, draft.ctx
        document = {
            "format": FORMAT,
            "bundle_id": draft.bundle_id,
            "recording_id": draft.recording.id,
            "grant_id": grant.id,
            "purpose": grant.purpose,
            "purpose_name": self._policy.purpose(grant.purpose).name,
            "case_ref": grant.case_ref,
            "requester": grant.requester,
            "approver": grant.approver,
            "made_by": ctx.actor.name,
            "operator": ctx.actor.operator,
            "made_at": _iso(datetime.now(UTC)),
            "signing_key_id": signer.key_id,
            "audit_key_id": audit_key_id,
            "disclosure": draft.disclosure,
            "members": members,
        }
        return orjson.dumps(document, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)

    def _write(
        self, draft: _Draft, out_path: Path, manifest: bytes, custody: bytes, signer: ExportSigner
    ) -> tuple[str, dict[str, Any]]:
        """Write the zip, seal it, then complete the export and enter the disclosure in one
        transaction before the file takes its name."""
        entered: dict[str, Any] = {}

        def fill(archive: zipfile.ZipFile) -> None:
            archive.writestr(zip_member(MANIFEST), manifest)
            archive.writestr(zip_member(SIGNATURE), signer.sign(manifest))
            for name, data in {**draft.contents, CUSTODY: custody}.items():
                archive.writestr(zip_member(name), data)
            with archive.open(zip_member(draft.audio.file), "w", force_zip64=True) as member:
                copy_audio(self._player, self._vault, draft.audio, member)
            archive.comment = b"0" * SEAL_LENGTH  # the seal's place: its length is signed

        def seal(file: IO[bytes]) -> None:
            size = file.seek(0, 2)
            signature = signer.sign(seal_message(sealed_digest(file, size - SEAL_LENGTH)))
            file.seek(size - SEAL_LENGTH)
            file.write(SEAL_PREFIX + signature.hex().encode("ascii"))

        def publish(file_sha: str) -> None:
            with transaction(self._engine) as conn:
                complete_export(conn, draft.bundle_id, file_sha)
                entered.update(
                    self._register.enter(conn, draft.ctx, draft.bundle_id, draft.disclosure)
                )

        return write_new_zip(out_path, fill, seal=seal, publish=publish), entered


def _trail(
    conn: Connection, rec: Recording, ids: list[str], earlier: list[dict[str, Any]]
) -> tuple[list[str], list[dict[str, Any]]]:
    """The object ids and the trail: ``earlier`` and what was appended since about ``ids``,
    and everything about a grant, hold or export that came to name the recording since, in
    sequence order."""
    after = earlier[-1]["seq"] if earlier else 0
    trail = earlier + entries_about(conn, ids, after)
    new_ids = [i for i in subject_ids(conn, rec) if i not in ids]
    if new_ids:
        # Their entries have object ids not asked for before: none can be in the trail yet.
        trail = sorted(trail + entries_about(conn, new_ids), key=lambda e: int(e["seq"]))
    return ids + new_ids, trail
