"""The response to a subject access request: one ZIP for the requester.

``audio/NN-<day>-<line>.wav`` for each recording released (decoded from the vault, the
reviewer's spans silenced, 16-bit PCM with both channels), ``transcripts/NN-<day>-<line>.txt``
where a transcript exists (words in muted spans ``[withheld]``), ``letter.txt`` (the Art. 15
information, ``letter.py``), ``redaction-log.csv`` and ``manifest.json`` (each other file's
SHA-256 and size).

Made only when every recording is reviewed, by someone who may manage rights requests. Audio
and transcripts leave the vault only under a grant for the subject access purpose and the
request's reference (requested here when the DPO holds none; the purpose needs no second
approval in the example policy, and where a policy asks for one the DPO is told to get it
approved and pass ``grant_id``), through the export gate (``Exporter.clear_grant``).

As for exports (``access/export.py``), the audit entries come before any audio is written:
the package is first made into a hash alone (nothing written; transcripts are read then, under
their own audit entries), then ``rights.packaged`` (with the zip's SHA-256) and one
``recording.exported`` per recording commit, and only then is the same package made again into
a new 0600 file beside the target, checked against that hash, and renamed into place. The zip
is written as a stream (never seeking back), so the same members make the same bytes both
times. Any failure removes the file; a package written in full is recorded by
``rights.package_written``, which is how the request's packages are looked up.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, select

from callvault.access.actions import Permissions
from callvault.access.export import EXPORTED, Exporter, new_file, zip_member
from callvault.access.grants import Grant, GrantService, load_grants
from callvault.access.playback import Player
from callvault.access.store import grants as grants_table
from callvault.audit.service import AuditLog
from callvault.catalog.model import Recording
from callvault.catalog.service import Catalog
from callvault.context import RequestContext
from callvault.db import transaction
from callvault.errors import Conflict, IntegrityFailure, Refused
from callvault.policy.model import Policy
from callvault.rights.bank_holidays import HolidayCalendar
from callvault.rights.items import (
    ACCESS_PURPOSE,
    MANAGE,
    PACKAGE_WRITTEN,
    PACKAGED,
    READ,
    NumberedItem,
    access_request,
    case_context,
    numbered_items,
    packages,
    require,
)
from callvault.rights.letter import Findings, letter_document, render_text
from callvault.rights.model import RightsRequest
from callvault.rights.package_contents import (
    LogRow,
    described,
    log_rows,
    manifest,
    muted_wav,
    redaction_log,
    transcript_text,
)
from callvault.rights.review import Proposal
from callvault.rights.review_terms import REASON_CODES, MuteSpan
from callvault.rights.store import rights_mutes
from callvault.speech.renditions import TRANSCRIPT
from callvault.speech.service import SpeechService
from callvault.speech.store import redactions
from callvault.uktime import UK
from callvault.vault.service import Vault

if TYPE_CHECKING:
    from callvault.bootstrap import Services

LETTER, LOG, MANIFEST = "letter.txt", "redaction-log.csv", "manifest.json"
APPROVED = "approved"
Clock = Callable[[], datetime]


@dataclass(frozen=True, slots=True)
class _Part:
    """One member of the zip: bytes made already, or a recording's audio made on demand."""

    name: str
    data: bytes | None = None
    recording: Recording | None = None
    spans: tuple[MuteSpan, ...] = field(default=())


@dataclass(frozen=True, slots=True)
class _Plan:
    """Everything the package holds, decided before the first pass."""

    parts: list[_Part]
    document: dict[str, Any]
    findings: Findings


class _Sink:
    """A write-only, unseekable zip target that hashes what passes, and writes it to ``file``
    if given: zipfile then streams each member once, in order (no seeking back to patch a
    header), so hashing alone and writing give the same bytes."""

    def __init__(self, file: IO[bytes] | None = None) -> None:
        self._file, self._digest = file, hashlib.sha256()

    def write(self, data: bytes) -> int:
        self._digest.update(data)
        if self._file is not None:
            _disk_write(self._file, data)
        return len(data)

    def flush(self) -> None:
        if self._file is not None:
            self._file.flush()

    def close(self) -> None:
        """Nothing to close: the caller owns ``file``."""

    def hexdigest(self) -> str:
        return self._digest.hexdigest()


def _disk_write(file: IO[bytes], data: bytes) -> None:
    # Module-level so a test can fail the disk part-way through a package.
    file.write(data)


class Packager:
    def __init__(
        self,
        engine: Engine,
        audit: AuditLog,
        permissions: Permissions,
        grants: GrantService,
        player: Player,
        exporter: Exporter,
        speech: SpeechService,
        catalog: Catalog,
        vault: Vault,
        policy: Policy,
        clock: Clock | None = None,
    ) -> None:
        self._engine, self._audit, self._permissions = engine, audit, permissions
        self._grants, self._player, self._exporter = grants, player, exporter
        self._speech, self._catalog, self._vault, self._policy = speech, catalog, vault, policy
        self._calendar = HolidayCalendar()
        self._clock: Clock = clock or (lambda: datetime.now(UTC))

    @classmethod
    def for_services(cls, services: Services) -> Packager:
        return cls(
            services.engine, services.audit, services.permissions, services.grants,
            services.player, Exporter.for_services(services), services.speech,
            services.catalog, services.vault, services.policy.policy,
        )  # fmt: skip

    def package(
        self, ctx: RequestContext, ref: str, out_path: Path, *, grant_id: str | None = None
    ) -> dict[str, Any]:
        """Write the response package of ``ref`` to the new file ``out_path``; every recording
        must be reviewed. ``grant_id``: a subject access grant for ``ref`` to read under
        (default: one the actor holds, or a new one)."""
        require(self._engine, self._audit, self._permissions, ctx, MANAGE, ref)
        out_path = new_file(Path(out_path))
        request = access_request(self._engine, self._calendar, ref)
        ctx = case_context(ctx, request.ref)
        with self._engine.connect() as conn:
            items = numbered_items(conn, request.id)
        pending = [str(item.number) for item in items if item.outcome == "pending"]
        if pending:
            raise Conflict(
                f"recording(s) {', '.join(pending)} of {request.ref} are not reviewed yet; "
                f"review each (callvault rights review {request.ref} RECORDING) first",
                "ref",
            )
        released = [item for item in items if item.outcome == "released"]
        grant, ctx, recs = self._clear(ctx, request.id, request.ref, released, grant_id)
        at = self._clock()
        plan = self._plan(ctx, request, items, recs, grant, at)
        # Pass one: the package into a hash only; nothing is written.
        hashed = _Sink()
        members, manifest_sha = self._fill(hashed, plan)
        sha = hashed.hexdigest()
        self._begin(ctx, request.id, plan, members, sha, manifest_sha, grant)
        # Committed: only now is the package written.
        self._write(out_path, plan, {name: digest for name, digest, _ in members}, sha)
        self._finish(ctx, request.id, request.ref, out_path, sha, plan)
        findings = plan.findings
        return {
            "path": str(out_path),
            "ref": request.ref,
            "sha256": sha,
            "manifest_sha256": manifest_sha,
            "packaged_at": plan.document["packaged_at"],
            "grant_id": grant.id if grant else None,
            "found": findings.found,
            "released": findings.released,
            "withheld": len(findings.withheld),
            "transcripts": findings.transcripts,
            "mutes": findings.mutes,
            "files": [name for name, _, _ in members] + [MANIFEST],
        }

    def packages(self, ctx: RequestContext, ref: str) -> list[dict[str, Any]]:
        """The packages written for ``ref``, oldest first (``stale``: reviewed since)."""
        require(self._engine, self._audit, self._permissions, ctx, READ, ref)
        request = access_request(self._engine, self._calendar, ref, open_only=False)
        return packages(self._audit, request.id)

    # -- the grant ------------------------------------------------------------------------------
    def _clear(
        self,
        ctx: RequestContext,
        request_id: str,
        ref: str,
        released: Sequence[NumberedItem],
        grant_id: str | None,
    ) -> tuple[Grant | None, RequestContext, dict[str, Recording]]:
        """The grant to read the released recordings under, every check made (refusals
        audited), and the recordings; nothing to release, no grant."""
        if not released:
            return None, ctx, {}
        ids = [item.recording_id for item in released]
        grant_id = grant_id or self._held_grant(ctx, ref, ids) or self._new_grant(ctx, ref, ids)
        grant, ctx = self._exporter.clear_grant(
            ctx, grant_id, object_type="rights_request", object_id=request_id
        )
        if grant.purpose != ACCESS_PURPOSE or grant.case_ref != ref:
            refusal = Refused(
                f"grant {grant.id} is for {grant.purpose} case {grant.case_ref}, not subject "
                f"access request {ref}",
                "grant_id",
            )
            self._grants.refuse(ctx, refusal, object_type="rights_request",
                                object_id=request_id, grant_id=grant.id)  # fmt: skip
        recs = {rid: self._player.clear_recording(ctx, grant, rid) for rid in ids}
        return grant, ctx, recs

    def _held_grant(self, ctx: RequestContext, ref: str, ids: Sequence[str]) -> str | None:
        """An approved, unexpired subject access grant for ``ref`` the actor holds that
        covers ``ids`` (a package made again needs no new grant)."""
        g = grants_table.c
        with self._engine.connect() as conn:
            mine = (g.requester == ctx.actor.name) & (g.case_ref == ref)
            held = load_grants(
                conn, mine & (g.purpose == ACCESS_PURPOSE) & (g.status == "approved")
            )
        now = self._grants.now()
        usable = [x for x in held if not x.expired(now) and set(ids) <= set(x.recording_ids)]
        return usable[-1].id if usable else None

    def _new_grant(self, ctx: RequestContext, ref: str, ids: Sequence[str]) -> str:
        grant = self._grants.request(
            ctx, ids, ACCESS_PURPOSE, ref, f"Response package for subject access request {ref}"
        )
        if grant.status != "approved":
            raise Conflict(
                f"grant {grant.id} to read {ref}'s recordings waits for a second person's "
                "approval (the policy's subject_access purpose asks for one); once approved, "
                f"run the package again with --grant {grant.id}",
                "grant_id",
            )
        return grant.id

    # -- what goes in ---------------------------------------------------------------------------
    def _plan(
        self,
        ctx: RequestContext,
        request: RightsRequest,
        items: Sequence[NumberedItem],
        recs: dict[str, Recording],
        grant: Grant | None,
        at: datetime,
    ) -> _Plan:
        count = len(items)
        with self._engine.connect() as conn:
            spans = _mutes(conn, request.id)
            captured = _at_capture(conn, list(recs))
        parts: list[_Part] = []
        log: list[LogRow] = []
        transcripts = 0
        for item in items:
            stem = f"{item.label(count)}-{item.started_on}-{_safe(item.line)}"
            if item.outcome != "released":
                law, words = REASON_CODES.get(item.reason_code or "", ("", ""))
                log.append(LogRow(item.number, "", "withheld", "", None, None,
                                  f"{item.reason_code}: {words} ({law})",
                                  item.decided_by or "", item.decided_at or ""))  # fmt: skip
                continue
            rec, mine = recs[item.recording_id], tuple(spans.get(item.recording_id, ()))
            audio = f"audio/{stem}.wav"
            parts.append(_Part(audio, recording=rec, spans=tuple(s for s, _ in mine)))
            log += log_rows(item, audio, captured.get(item.recording_id, ()), mine)
            if grant is not None and self._catalog.rendition(rec.id, TRANSCRIPT) is not None:
                transcript = self._speech.read_transcript(ctx, rec.id, grant.id, "original")
                title = f"Transcript of recording {item.number}: call on {item.started_on}"
                text = transcript_text(title, rec, transcript, [s for s, _ in mine])
                parts.append(_Part(f"transcripts/{stem}.txt", text))
                transcripts += 1
        findings = Findings(
            ref=request.ref, requester=request.requester, contact=request.contact,
            received_on=request.received_on, phones=tuple(request.phones), found=count,
            released=len(recs), transcripts=transcripts,
            mutes=sum(len(spans.get(rid, ())) for rid in recs),
            withheld=tuple((i.number, i.reason_code or "") for i in items
                           if i.outcome != "released"),
            lines=tuple(i.line for i in items), written_on=at.astimezone(UK).date(),
        )  # fmt: skip
        letter = render_text(letter_document(self._policy, findings)).encode()
        parts[:0] = [_Part(LETTER, letter), _Part(LOG, redaction_log(log))]
        document = {
            "ref": request.ref,
            "packaged_at": at.astimezone(UTC).isoformat(timespec="seconds"),
            "controller": self._policy.controller,
            "policy_version": self._policy.version,
            "recordings": [described(item, count) for item in items],
        }
        return _Plan(parts, document, findings)

    # -- the two passes -------------------------------------------------------------------------
    def _fill(
        self, sink: _Sink, plan: _Plan, expected: dict[str, str] | None = None
    ) -> tuple[list[tuple[str, str, int]], str]:
        """Stream the package into ``sink``; each member's (name, SHA-256, size), and the
        manifest's SHA-256. ``expected``: the first pass's digests, checked member by member."""
        members: list[tuple[str, str, int]] = []
        with zipfile.ZipFile(sink, "w", allowZip64=True) as archive:
            for part in plan.parts:
                data = part.data if part.data is not None else self._audio(part)
                digest = hashlib.sha256(data).hexdigest()
                if expected is not None and expected.get(part.name) != digest:
                    # The stored audio changed between the passes: the audit entry would lie.
                    raise IntegrityFailure(f"{part.name} changed while the package was written")
                archive.writestr(_member(part.name), data)
                members.append((part.name, digest, len(data)))
            listing = manifest(plan.document, members)
            archive.writestr(_member(MANIFEST), listing)
        return members, hashlib.sha256(listing).hexdigest()

    def _audio(self, part: _Part) -> bytes:
        """The released audio: decrypted (the grant was cleared), decoded and muted."""
        assert part.recording is not None  # parts without data are audio
        rec = part.recording
        stored = self._vault.read_all(rec.blob_name, self._player.data_key(rec.id))
        return muted_wav(stored, part.spans)

    def _begin(
        self,
        ctx: RequestContext,
        request_id: str,
        plan: _Plan,
        members: Sequence[tuple[str, str, int]],
        sha: str,
        manifest_sha: str,
        grant: Grant | None,
    ) -> None:
        findings = plan.findings
        audio = [(p, d) for p, (_, d, _) in zip(plan.parts, members, strict=True) if p.recording]
        with transaction(self._engine) as conn:
            self._audit.append(
                conn, ctx, PACKAGED, object_type="rights_request", object_id=request_id,
                details={"ref": findings.ref, "sha256": sha, "manifest_sha256": manifest_sha,
                         "packaged_at": plan.document["packaged_at"],
                         "grant_id": grant.id if grant else None,
                         "released": [p.recording.id for p, _ in audio if p.recording],
                         "withheld": [{"number": n, "reason_code": c}
                                      for n, c in findings.withheld],
                         "mutes": findings.mutes, "transcripts": findings.transcripts},
            )  # fmt: skip
            for part, digest in audio:
                assert part.recording is not None and grant is not None
                self._audit.append(
                    conn, ctx, EXPORTED, object_type="recording", object_id=part.recording.id,
                    details={"grant_id": grant.id, "to": "subject_access_package",
                             "file": part.name, "sha256": digest, "package_sha256": sha},
                )  # fmt: skip

    def _write(self, out_path: Path, plan: _Plan, expected: dict[str, str], sha: str) -> None:
        """The package into a new 0600 file beside ``out_path``, renamed into place once it
        matches the audited hash; removed on any failure."""
        temp = out_path.with_name(f".{out_path.name}.{secrets.token_hex(6)}.part")
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
        fd = os.open(temp, flags, 0o600)
        try:
            with os.fdopen(fd, "wb") as file:
                sink = _Sink(file)
                self._fill(sink, plan, expected)
                file.flush()
                os.fsync(file.fileno())
            if sink.hexdigest() != sha:
                raise IntegrityFailure("the package written differs from the one audited")
            temp.replace(out_path)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise

    def _finish(
        self, ctx: RequestContext, request_id: str, ref: str, out_path: Path, sha: str,
        plan: _Plan,
    ) -> None:  # fmt: skip
        """Record the package as written; if that cannot be recorded, no package exists."""
        try:
            with transaction(self._engine) as conn:
                self._audit.append(
                    conn, ctx, PACKAGE_WRITTEN, object_type="rights_request",
                    object_id=request_id,
                    details={"ref": ref, "sha256": sha,
                             "packaged_at": plan.document["packaged_at"]},
                )  # fmt: skip
        except BaseException:
            out_path.unlink(missing_ok=True)
            raise


def _member(name: str) -> zipfile.ZipInfo:
    info = zip_member(name)
    info.compress_type = zipfile.ZIP_DEFLATED  # WAV and text compress; Opus did not
    return info


def _mutes(conn: Connection, request_id: str) -> dict[str, list[tuple[MuteSpan, str]]]:
    """Each recording's stored mutes, in time order, with who added each."""
    rows = conn.execute(
        select(rights_mutes).where(rights_mutes.c.request_id == request_id)
        .order_by(rights_mutes.c.recording_id, rights_mutes.c.start_s, rights_mutes.c.id)
    )  # fmt: skip
    found: dict[str, list[tuple[MuteSpan, str]]] = {}
    for row in rows:
        span = MuteSpan(row.channel, float(row.start_s), float(row.end_s), row.reason)
        found.setdefault(row.recording_id, []).append((span, row.added_by))
    return found


def _at_capture(conn: Connection, recording_ids: Sequence[str]) -> dict[str, list[Proposal]]:
    """Card data muted in each stored recording when it was kept (not the reviewer's to
    decide, but the requester should know why it is silent)."""
    if not recording_ids:
        return {}
    rows = conn.execute(
        select(redactions)
        .where(redactions.c.recording_id.in_(recording_ids), redactions.c.rendition == "original")
        .order_by(redactions.c.start_s, redactions.c.id)
    )
    found: dict[str, list[Proposal]] = {}
    for row in rows:
        found.setdefault(row.recording_id, []).append(
            Proposal(row.id, row.kind, row.speaker, float(row.start_s), float(row.end_s),
                     row.detector)
        )  # fmt: skip
    return found


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "-", text)[:40] or "line"
