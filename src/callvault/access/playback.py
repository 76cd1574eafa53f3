"""Playing a recording under a grant: to a file (the CLI) or as a byte-range stream (the web).

One gate, ``Player.clear``, makes every check for both (the action, the grant: held by the
actor, approved, unexpired, covering the recording; the actor's role for the purpose) and
audits each refusal; ``Player.check`` adds the rendition's (the purpose may hear it, it
exists), and the web player's page asks it alone before any audio is fetched. The audit
entry for a play is committed before the data key is unwrapped or any audio decrypted. A
file is written to a temp file (mode 0600) beside the target and renamed into place, so a
refused or failed play leaves no file behind.

A browser's audio element fetches one listen as several range requests (the start, a seek,
sometimes the tail for the duration). Every request is audited with its byte range before
any byte of it is sent; the first for a grant and recording within ``LISTEN_WINDOW`` is the
listen (``recording.played``) and later ones are ``recording.streamed``, so counting
``recording.played`` counts listens, and the trail still shows every range that went out.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any, NoReturn

import orjson
from sqlalchemy import Connection, Engine, select

from callvault.access.byterange import ByteRange
from callvault.access.grants import Grant, GrantService, check_id
from callvault.audit.service import AuditLog
from callvault.audit.store import audit_log
from callvault.catalog.model import Recording
from callvault.catalog.service import Catalog
from callvault.context import RequestContext
from callvault.db import transaction
from callvault.errors import BadInput, CallvaultError, NotFound, Refused
from callvault.vault.service import Vault

RENDITIONS = ("original", "redacted")
# The ``renditions`` row of the redacted audio (speech/renditions.py writes it).
REDACTED_KIND = "redacted"
LISTEN_WINDOW = timedelta(minutes=30)
PLAYED, STREAMED = "recording.played", "recording.streamed"


@dataclass(frozen=True, slots=True)
class Cleared:
    """A recording the actor may hear now; ``ctx`` carries the grant's purpose and case."""

    ctx: RequestContext
    grant: Grant
    recording: Recording


@dataclass(frozen=True, slots=True)
class AudioStream:
    """Plaintext bytes ``start`` to ``end`` (exclusive) of a ``size``-byte recording."""

    start: int
    end: int
    size: int
    chunks: Iterator[bytes]
    ranged: bool  # a range was asked for (HTTP answers 206 then, even for the whole file)


def check_rendition(rendition: str) -> str:
    if rendition not in RENDITIONS:
        raise BadInput(f"rendition must be one of {', '.join(RENDITIONS)}", "rendition")
    return rendition


class Player:
    def __init__(
        self, engine: Engine, grants: GrantService, audit: AuditLog, catalog: Catalog, vault: Vault
    ) -> None:
        self._engine, self._grants, self._audit = engine, grants, audit
        self._catalog, self._vault = catalog, vault

    # -- the gate ---------------------------------------------------------------------------
    def clear_grant(
        self, ctx: RequestContext, grant_id: str, action: str, *, object_type: str, object_id: str
    ) -> tuple[Grant, RequestContext]:
        """The grant, if ``ctx``'s actor may do ``action`` under it now: they hold it and it
        is approved and unexpired. Each refusal is audited, with the grant's purpose and case
        once the grant is known; the returned context carries them."""
        check_id(grant_id, "grant_id")
        self._grants.require(ctx, action, object_id, grant_id=grant_id)

        def refuse(error: CallvaultError, context: RequestContext = ctx) -> NoReturn:
            self._grants.refuse(
                context, error, object_type=object_type, object_id=object_id, grant_id=grant_id
            )

        try:
            grant = self._grants.get(grant_id)
        except NotFound:
            refuse(Refused(f"no grant {grant_id!r}", "grant_id"))
        ctx = replace(ctx, purpose=grant.purpose, case_ref=grant.case_ref)
        problem = None
        if grant.requester != ctx.actor.name:
            problem = f"grant {grant_id} was given to {grant.requester}, not {ctx.actor.name}"
        elif grant.status != "approved":
            problem = f"grant {grant_id} is {grant.status}, not approved"
        elif grant.expired(self._grants.now()):
            problem = f"grant {grant_id} expired at {grant.expires_at}; request access again"
        if problem is not None:
            refuse(Refused(problem, "grant_id"), ctx)
        return grant, ctx

    def clear_recording(self, ctx: RequestContext, grant: Grant, recording_id: str) -> Recording:
        """``recording_id`` if ``grant`` covers it and the actor's role (which may have changed
        since the grant was given) may still hear it for the grant's purpose; ``ctx`` is the
        context ``clear_grant`` returned. Refusals are audited."""
        try:
            if recording_id not in grant.recording_ids:
                raise Refused(
                    f"grant {grant.id} does not cover recording {recording_id}", "grant_id"
                )
            rec = self._catalog.get(recording_id)
            self._grants.eligibility(ctx, grant.purpose, rec)
        except Refused as exc:
            self._grants.refuse(
                ctx, exc, object_type="recording", object_id=recording_id, grant_id=grant.id
            )
        return rec

    def clear(
        self, ctx: RequestContext, recording_id: str, grant_id: str, action: str = "recordings:play"
    ) -> Cleared:
        """Every check for hearing ``recording_id`` under ``grant_id``; refusals audited."""
        check_id(recording_id, "recording_id")
        grant, ctx = self.clear_grant(
            ctx, grant_id, action, object_type="recording", object_id=recording_id
        )
        return Cleared(ctx, grant, self.clear_recording(ctx, grant, recording_id))

    def check(
        self, ctx: RequestContext, recording_id: str, grant_id: str, rendition: str = "original"
    ) -> tuple[Cleared, str]:
        """Every check ``stream`` and ``play`` make before their audit entry, and nothing
        more: no listen is audited and nothing is decrypted (the web player's page asks this
        before its script fetches the audio). Refusals are audited. Returns the clearance and
        the blob holding ``rendition``."""
        check_id(recording_id, "recording_id")
        check_id(grant_id, "grant_id")
        check_rendition(rendition)
        cleared = self.clear(ctx, recording_id, grant_id)
        return cleared, self.blob_of(cleared, rendition)

    def blob_of(self, cleared: Cleared, rendition: str) -> str:
        """The blob holding ``rendition`` of a cleared recording, if the grant's purpose may
        have it (``original_allowed`` in the policy; a refusal is audited)."""
        self.check_purpose_rendition(cleared, rendition)
        if rendition == "original":
            return cleared.recording.blob_name
        name = self._catalog.rendition(cleared.recording.id, REDACTED_KIND)
        if name is None:
            raise NotFound(
                f"recording {cleared.recording.id} has no redacted rendition yet: the speech "
                "job makes it after the recording is stored (callvault worker --queues speech)",
                "rendition",
            )
        return name

    def check_purpose_rendition(self, cleared: Cleared, rendition: str) -> None:
        """Refuse (audited) the original to a grant whose purpose hears the redacted only."""
        if check_rendition(rendition) == "redacted":
            return
        purpose = self._grants.purpose(cleared.grant.purpose)
        if not purpose.original_allowed:
            self._grants.refuse(
                cleared.ctx,
                Refused(
                    f"purpose {purpose.id} hears only the redacted rendition (personal data "
                    "muted): ask for rendition redacted",
                    "rendition",
                ),
                object_type="recording",
                object_id=cleared.recording.id,
                grant_id=cleared.grant.id,
            )

    # -- acts -------------------------------------------------------------------------------
    def play(
        self,
        ctx: RequestContext,
        recording_id: str,
        grant_id: str,
        out_path: Path,
        rendition: str = "original",
    ) -> dict[str, Any]:
        """Decrypt ``recording_id`` (Ogg Opus) to ``out_path`` under ``grant_id``."""
        check_id(recording_id, "recording_id")
        check_id(grant_id, "grant_id")
        check_rendition(rendition)
        out_path = Path(out_path)
        if out_path.exists() or out_path.is_symlink():
            raise BadInput(f"{out_path} already exists; name a new file", "out")
        if not out_path.parent.is_dir():
            raise BadInput(f"folder {out_path.parent} does not exist", "out")
        cleared, blob = self.check(ctx, recording_id, grant_id, rendition)
        with transaction(self._engine) as conn:
            self._audit.append(
                conn, cleared.ctx, PLAYED, object_type="recording", object_id=recording_id,
                details={"grant_id": grant_id, "to": "file", "rendition": rendition},
            )  # fmt: skip
        # Committed: only now is the data key unwrapped and audio decrypted.
        return _write(self._vault, blob, self.data_key(recording_id), out_path)

    def stream(
        self,
        ctx: RequestContext,
        recording_id: str,
        grant_id: str,
        wanted: ByteRange | None = None,
        rendition: str = "original",
    ) -> AudioStream:
        """Bytes of ``recording_id`` (Ogg Opus) under ``grant_id``: ``wanted`` or all of it.

        The request is audited (``recording.played`` or ``recording.streamed``, with its
        range) and committed before this returns; the chunks are decrypted as they are
        consumed and never stored. ``RangeNotSatisfiable`` (nothing audited, nothing read)
        when ``wanted`` starts past the end.
        """
        cleared, blob = self.check(ctx, recording_id, grant_id, rendition)
        stored = self._vault.stored_size(blob)
        size = self._vault.plaintext_size(blob, stored_size=stored)
        start, end = wanted.resolve(size) if wanted is not None else (0, size)
        with transaction(self._engine) as conn:
            self._audit.append(
                conn, cleared.ctx, self._listen_action(conn, cleared), object_type="recording",
                object_id=recording_id,
                details={"grant_id": grant_id, "range": f"bytes {start}-{end - 1}/{size}",
                         "to": "stream", "rendition": rendition},
            )  # fmt: skip
        # Committed: only now is the data key unwrapped and audio decrypted.
        if start == end:  # an empty recording, asked for whole: nothing to decrypt
            return AudioStream(start, end, size, iter(()), wanted is not None)
        chunks = self._vault.read_range(
            blob, self.data_key(recording_id), start, end, stored_size=stored
        )
        return AudioStream(start, end, size, chunks, wanted is not None)

    def data_key(self, recording_id: str) -> bytes:
        """The recording's data key: call only after the act's audit entry is committed."""
        return self._vault.unwrap_key(self._catalog.wrapped_key(recording_id), recording_id)

    def _listen_action(self, conn: Connection, cleared: Cleared) -> str:
        """``recording.played`` unless this grant's holder began streaming this recording
        within ``LISTEN_WINDOW``: then the request continues that listen."""
        # The audit trail's own clock: entries carry the real time, whatever the grants' clock.
        since = (datetime.now(UTC) - LISTEN_WINDOW).isoformat(timespec="microseconds")
        recent = conn.execute(
            select(audit_log.c.entry)
            .where(
                audit_log.c.object_id == cleared.recording.id,
                audit_log.c.action == PLAYED,
                audit_log.c.actor == cleared.ctx.actor.name,
                audit_log.c.at >= since,
            )
            .order_by(audit_log.c.seq.desc())
            .limit(50)
        ).scalars()
        for entry in recent:
            details = orjson.loads(entry)["details"]
            if details.get("grant_id") == cleared.grant.id and details.get("to") == "stream":
                return STREAMED
        return PLAYED


def _write(vault: Vault, blob_name: str, key: bytes, out_path: Path) -> dict[str, Any]:
    temp = out_path.with_name(f".{out_path.name}.{secrets.token_hex(6)}.part")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    try:
        with os.fdopen(fd, "wb") as sink:
            sha256 = copy_decrypted(vault, blob_name, key, sink)
            sink.flush()
            os.fsync(sink.fileno())
        temp.replace(out_path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return {"path": str(out_path), "sha256": sha256}


def copy_decrypted(vault: Vault, blob_name: str, key: bytes, sink: IO[bytes]) -> str:
    """Decrypt ``blob_name`` into ``sink`` chunk by chunk; returns the plaintext's SHA-256."""
    digest = hashlib.sha256()
    chunks = vault.read(blob_name, key)
    try:
        for chunk in chunks:
            digest.update(chunk)
            sink.write(chunk)
    finally:
        chunks.close()
    return digest.hexdigest()
