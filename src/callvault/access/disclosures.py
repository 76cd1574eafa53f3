"""The disclosure register: to whom an export was sent, why, when and how.

A disclosure is always of an export (``access.export``): what went out is then exactly the
signed zip, with its manifest hash, and the register can say which recordings each
recipient holds. The person who made the export records it; the DPO, auditors and the
operator read the register. Recording one is audited (``disclosure.recorded``), in the same
transaction as its row, and so is each reading of the register.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, Row, insert, select

from callvault.access.grants import GrantService, check_id
from callvault.access.register import disclosures, export_recordings, exports
from callvault.audit.service import AuditLog
from callvault.context import RequestContext
from callvault.db import plain, transaction
from callvault.errors import BadInput, Conflict, NotFound, Refused

if TYPE_CHECKING:
    from callvault.bootstrap import Services

# How an export may leave the council: each keeps the audio encrypted or hand to hand.
METHODS = ("secure_email", "encrypted_usb", "portal", "secure_download", "in_person")
_MAX_NAME = 200
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_MAX_REASON = 2000

Clock = Callable[[], datetime]


def parse_day(value: str | None, field: str) -> date | None:
    """``YYYY-MM-DD`` as a date (None for None or ""); BadInput naming ``field`` otherwise."""
    if not value:
        return None
    try:
        if not _DAY.fullmatch(value):
            raise ValueError(value)  # fromisoformat also takes 20261201 and week dates
        return date.fromisoformat(value)
    except (TypeError, ValueError):
        raise BadInput(f"{field} {value[:40]!r} is not a date as YYYY-MM-DD", field) from None


def _text(value: str | None, field: str, limit: int) -> str:
    value = (value or "").strip()
    if not value or len(value) > limit:
        raise BadInput(f"{field} is required (1 to {limit} characters)", field)
    return value


def check_fields(
    *, recipient: str, organisation: str, reason: str, method: str, sent_on: str
) -> dict[str, str]:
    """The register's fields, checked (BadInput naming the first that is wrong)."""
    row = {
        "recipient": _text(recipient, "recipient", _MAX_NAME),
        "organisation": _text(organisation, "organisation", _MAX_NAME),
        "reason": _text(reason, "reason", _MAX_REASON),
        "method": method,
    }
    if method not in METHODS:
        raise BadInput(f"method must be one of {', '.join(METHODS)}", "method")
    day = parse_day(sent_on, "sent_on")
    if day is None:
        raise BadInput("sent_on (the date it was sent, YYYY-MM-DD) is required", "sent_on")
    return row | {"sent_on": day.isoformat()}


class DisclosureRegister:
    def __init__(
        self, engine: Engine, audit: AuditLog, grants: GrantService, clock: Clock | None = None
    ) -> None:
        self._engine, self._audit, self._grants = engine, audit, grants
        self._clock: Clock = clock or (lambda: datetime.now(UTC))

    @classmethod
    def for_services(cls, services: Services) -> DisclosureRegister:
        return cls(services.engine, services.audit, services.grants)

    def record(
        self,
        ctx: RequestContext,
        export_id: str,
        *,
        recipient: str,
        organisation: str,
        reason: str,
        method: str,
        sent_on: str,
    ) -> dict[str, Any]:
        """Enter that export ``export_id`` was sent to ``recipient`` at ``organisation``."""
        check_id(export_id, "export_id")
        self._grants.require(ctx, "disclosures:record", export_id)
        fields = check_fields(
            recipient=recipient, organisation=organisation, reason=reason, method=method,
            sent_on=sent_on,
        )  # fmt: skip
        export = self._export(export_id)
        ctx = replace(ctx, purpose=export.purpose, case_ref=export.case_ref)
        self._check(ctx, export, date.fromisoformat(fields["sent_on"]))
        with transaction(self._engine) as conn:
            return self.enter(conn, ctx, export_id, fields)

    def enter(
        self, conn: Connection, ctx: RequestContext, export_id: str, fields: dict[str, str]
    ) -> dict[str, Any]:
        """Insert the disclosure of ``export_id`` and its audit entry inside ``conn``.

        ``fields`` come from ``check_fields``; the caller has made ``record``'s checks (or,
        for an evidence bundle entered as it is made, holds them true by construction).
        """
        row: dict[str, Any] = fields | {
            "id": uuid.uuid4().hex,
            "export_id": export_id,
            "recorded_by": ctx.actor.name,
            "recorded_at": self._clock().isoformat(timespec="microseconds"),
        }
        conn.execute(insert(disclosures).values(**row))
        self._audit.append(
            conn, ctx, "disclosure.recorded", object_type="export", object_id=export_id,
            details={k: row[k] for k in ("id", "recipient", "organisation", "reason",
                                         "method", "sent_on")},
        )  # fmt: skip
        return row

    def entries(
        self, ctx: RequestContext, sent_from: str | None = None, sent_to: str | None = None
    ) -> list[dict[str, Any]]:
        """Disclosures sent between the two dates (inclusive), oldest first; audited."""
        first, last = parse_day(sent_from, "from"), parse_day(sent_to, "to")
        if first and last and first > last:
            raise BadInput(f"from {first} is after to {last}", "from")
        self._grants.require(ctx, "disclosures:read")
        query = (
            select(disclosures, exports.c.grant_id, exports.c.purpose, exports.c.case_ref,
                   exports.c.manifest_sha256)
            .join(exports, exports.c.id == disclosures.c.export_id)
            .order_by(disclosures.c.sent_on, disclosures.c.recorded_at)
        )  # fmt: skip
        if first:
            query = query.where(disclosures.c.sent_on >= first.isoformat())
        if last:
            query = query.where(disclosures.c.sent_on <= last.isoformat())
        with transaction(self._engine) as conn:
            # Plain str keys: SQLAlchemy's are a str subclass that orjson refuses.
            rows = [plain(r) for r in conn.execute(query)]
            held = self._recordings(conn, {r["export_id"] for r in rows})
            self._audit.append(
                conn, ctx, "disclosure.listed", object_type="disclosures", object_id=None,
                details={"from": sent_from, "to": sent_to, "count": len(rows)},
            )  # fmt: skip
        return [{**r, "recording_ids": held.get(r["export_id"], [])} for r in rows]

    def _export(self, export_id: str) -> Row[Any]:
        with self._engine.connect() as conn:
            export = conn.execute(select(exports).where(exports.c.id == export_id)).first()
        if export is None:
            raise NotFound(
                f"no export {export_id!r}: a disclosure is recorded against an export "
                "(`callvault export`)",
                "export_id",
            )
        return export

    def _check(self, ctx: RequestContext, export: Row[Any], day: date) -> None:
        if export.completed_at is None:
            raise Conflict(f"export {export.id} was never completed; export again", "export_id")
        if export.exported_by != ctx.actor.name:
            self._grants.refuse(
                ctx,
                Refused(
                    f"export {export.id} was made by {export.exported_by}; they record "
                    "where it went",
                    "actor",
                ),
                object_type="export",
                object_id=export.id,
            )
        made = datetime.fromisoformat(export.exported_at).date()
        if not made <= day <= self._clock().date():
            raise BadInput(
                f"sent_on {day} must be between the export's date ({made}) and today", "sent_on"
            )

    def _recordings(self, conn: Connection, export_ids: set[str]) -> dict[str, list[str]]:
        held: dict[str, list[str]] = {}
        if export_ids:
            pairs = conn.execute(
                select(export_recordings.c.export_id, export_recordings.c.recording_id)
                .where(export_recordings.c.export_id.in_(export_ids))
                .order_by(export_recordings.c.recording_id)
            )
            for export_id, recording_id in pairs:
                held.setdefault(export_id, []).append(recording_id)
        return held
