"""Recordings flagged for a person's review, and the review itself.

The speech job raises a flag; nothing else happens automatically (a flag is no finding of
fact: the recogniser may have misheard). Conduct flags (abusive or threatening language) go
to the safety and conduct officer; digit flags (a payment line where card digits could not be
ruled out) to an authorised manager, who checks the muted audio. Each role sees only the
flags that are its business, filtered in SQL; listing and reviewing are audited.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Engine, false, select, true, update

from callvault.access.actions import Permissions
from callvault.audit.service import AuditLog, utc_now_iso
from callvault.catalog.store import recordings
from callvault.context import RequestContext
from callvault.db import plain, transaction
from callvault.errors import BadInput, Conflict, NotFound
from callvault.speech.store import review_flags

READ, REVIEW = "flags:read", "flags:review"
KINDS = ("conduct", "digits")
OUTCOMES = ("no_action", "action_taken", "misheard")
# Which kinds of flag each role handles (the operator at the CLI: all).
_ROLE_KINDS = {
    "safety_officer": ("conduct",),
    "authorised_manager": KINDS,
    "dpo": KINDS,
}


@dataclass(frozen=True, slots=True)
class FlagQuery:
    kind: str | None = None
    open_only: bool = True
    limit: int = 100


class ReviewFlags:
    def __init__(self, engine: Engine, audit: AuditLog, permissions: Permissions) -> None:
        self._engine, self._audit, self._permissions = engine, audit, permissions

    def list(self, ctx: RequestContext, query: FlagQuery) -> list[dict[str, Any]]:
        """The flags ``ctx``'s actor handles, newest first; the listing is audited."""
        self._permissions.require(ctx.actor, READ)
        if query.kind is not None and query.kind not in KINDS:
            raise BadInput(f"kind must be one of {', '.join(KINDS)}", "kind")
        if not 1 <= query.limit <= 1000:
            raise BadInput("limit must be between 1 and 1000", "limit")
        wanted = [self._visible(ctx)]
        if query.kind is not None:
            wanted.append(review_flags.c.kind == query.kind)
        if query.open_only:
            wanted.append(review_flags.c.reviewed_at.is_(None))
        statement = (
            select(review_flags, recordings.c.line, recordings.c.started_at)
            .join(recordings, recordings.c.id == review_flags.c.recording_id)
            .where(*wanted, recordings.c.purged_at.is_(None))
            .order_by(review_flags.c.raised_at.desc(), review_flags.c.id)
            .limit(query.limit)
        )
        with transaction(self._engine) as conn:
            # Plain str keys: column names are SQLAlchemy quoted_name, which orjson refuses.
            rows = [plain(r) for r in conn.execute(statement)]
            self._audit.append(
                conn, ctx, "flags.listed", object_type="flags",
                details={"kind": query.kind, "open_only": query.open_only, "results": len(rows)},
            )  # fmt: skip
        return rows

    def review(
        self, ctx: RequestContext, flag_id: str, outcome: str, note: str = ""
    ) -> dict[str, Any]:
        """Close a flag with its outcome; a flag is reviewed once."""
        self._permissions.require(ctx.actor, REVIEW)
        if outcome not in OUTCOMES:
            raise BadInput(f"outcome must be one of {', '.join(OUTCOMES)}", "outcome")
        if len(note) > 2000:
            raise BadInput("note must be at most 2000 characters", "note")
        now = utc_now_iso()
        with transaction(self._engine) as conn:
            row = conn.execute(
                select(review_flags).where(review_flags.c.id == flag_id, self._visible(ctx))
            ).first()
            if row is None:
                raise NotFound(f"no flag {flag_id!r} that you review", "flag_id")
            if row.reviewed_at is not None:
                raise Conflict(
                    f"flag {flag_id} was reviewed by {row.reviewed_by} at {row.reviewed_at}",
                    "flag_id",
                )
            conn.execute(
                update(review_flags)
                .where(review_flags.c.id == flag_id)
                .values(reviewed_at=now, reviewed_by=ctx.actor.name, outcome=outcome)
            )
            self._audit.append(
                conn, ctx, "flag.reviewed", object_type="recording", object_id=row.recording_id,
                details={"flag_id": flag_id, "kind": row.kind, "rule": row.rule,
                         "outcome": outcome, "note": note},
            )  # fmt: skip
        return {"flag_id": flag_id, "outcome": outcome, "reviewed_by": ctx.actor.name}

    def _visible(self, ctx: RequestContext) -> ColumnElement[bool]:
        if ctx.actor.kind == "operator":
            return true()
        kinds = _ROLE_KINDS.get(ctx.actor.role or "")
        if kinds is None:
            # READ/REVIEW already refused anyone else; this keeps the filter total.
            return false()
        return review_flags.c.kind.in_(kinds)


__all__ = ["KINDS", "OUTCOMES", "FlagQuery", "ReviewFlags"]
