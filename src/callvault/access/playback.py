"""Playing a recording to a file under a grant.

The audit entry ``recording.played`` is committed before the first audio byte is decrypted;
the file is written to a temp file (mode 0600) beside the target and renamed into place, so a
refused or failed play leaves no file behind.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from dataclasses import replace
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from callvault.access.grants import GrantService, check_id
from callvault.audit.service import AuditLog
from callvault.catalog.service import Catalog
from callvault.context import RequestContext
from callvault.db import transaction
from callvault.errors import BadInput, CallvaultError, NotFound, Refused
from callvault.vault.service import Vault


class Player:
    def __init__(
        self, engine: Engine, grants: GrantService, audit: AuditLog, catalog: Catalog, vault: Vault
    ) -> None:
        self._engine, self._grants, self._audit = engine, grants, audit
        self._catalog, self._vault = catalog, vault

    def play(
        self, ctx: RequestContext, recording_id: str, grant_id: str, out_path: Path
    ) -> dict[str, Any]:
        """Decrypt ``recording_id`` (Ogg Opus) to ``out_path`` under ``grant_id``."""
        check_id(recording_id, "recording_id")
        check_id(grant_id, "grant_id")
        out_path = Path(out_path)
        if out_path.exists() or out_path.is_symlink():
            raise BadInput(f"{out_path} already exists; name a new file", "out")
        if not out_path.parent.is_dir():
            raise BadInput(f"folder {out_path.parent} does not exist", "out")
        self._grants.require(ctx, "recordings:play", recording_id, grant_id=grant_id)

        def refuse(error: CallvaultError, context: RequestContext = ctx) -> None:
            self._grants.refuse(
                context, error, object_type="recording", object_id=recording_id, grant_id=grant_id
            )

        try:
            grant = self._grants.get(grant_id)
        except NotFound:
            refuse(Refused(f"no grant {grant_id!r}", "grant_id"))
            raise AssertionError("unreachable") from None
        ctx = replace(ctx, purpose=grant.purpose, case_ref=grant.case_ref)
        problem = None
        if recording_id not in grant.recording_ids:
            problem = f"grant {grant_id} does not cover recording {recording_id}"
        elif grant.requester != ctx.actor.name:
            problem = f"grant {grant_id} was given to {grant.requester}, not {ctx.actor.name}"
        elif grant.status != "approved":
            problem = f"grant {grant_id} is {grant.status}, not approved"
        elif grant.expired(self._grants.now()):
            problem = f"grant {grant_id} expired at {grant.expires_at}; request access again"
        if problem is not None:
            refuse(Refused(problem, "grant_id"), ctx)
        rec = self._catalog.get(recording_id)
        try:
            # The actor's role may have changed since the grant was given.
            self._grants.eligibility(ctx, grant.purpose, rec)
        except Refused as exc:
            refuse(exc, ctx)
        with transaction(self._engine) as conn:
            self._audit.append(
                conn, ctx, "recording.played", object_type="recording", object_id=recording_id,
                details={"grant_id": grant_id, "to": "file"},
            )  # fmt: skip
        # Committed: only now is the data key unwrapped and audio decrypted.
        return _write(self._vault, rec.blob_name, self._key(recording_id), out_path)

    def _key(self, recording_id: str) -> bytes:
        return self._vault.unwrap_key(self._catalog.wrapped_key(recording_id), recording_id)


def _write(vault: Vault, blob_name: str, key: bytes, out_path: Path) -> dict[str, Any]:
    temp = out_path.with_name(f".{out_path.name}.{secrets.token_hex(6)}.part")
    digest = hashlib.sha256()
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    try:
        with os.fdopen(fd, "wb") as sink:
            chunks = vault.read(blob_name, key)
            try:
                for chunk in chunks:
                    digest.update(chunk)
                    sink.write(chunk)
            finally:
                chunks.close()
            sink.flush()
            os.fsync(sink.fileno())
        temp.replace(out_path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return {"path": str(out_path), "sha256": digest.hexdigest()}
