"""The access review (PCI DSS 7.2.4, every six months): who holds which role, and uses it.

For every account, person or service: its role, whether it is disabled, when it was created
and when it was LAST USED (its latest audit entry as the actor, up to the window's end), and
over the review window its listens, searches, requests, approvals and refusals. Last use and
the counts are each one grouped query over the audit trail, on SQLite and PostgreSQL alike.

Flags for the reviewer (docs/oversight.md):
- ``unused_listener``: a role that may hear audio, not used for ``unused_days`` (90 by
  default) before the window's end: consider removing the role;
- ``never_used``: no audit entry names the account as the actor;
- ``disabled``: confirm it should stay so (a leaver's account is kept disabled, not deleted);
- ``role_changed``: the account's ``user.*`` audit entries name another role than it holds;
- ``role_not_in_policy``: the role is no longer in the policy file, so it grants nothing.
Administrators and auditors cannot hold a listening role (the policy separates duties), so
there is no flag for that.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    and_,
    case,
    func,
    literal_column,
    select,
)

from callvault.access.actions import Permissions
from callvault.access.bulk_access import LISTENING_ACTIONS, refuse
from callvault.access.searching import parse_when
from callvault.access.store import users
from callvault.audit.service import AuditLog
from callvault.audit.store import audit_log
from callvault.context import RequestContext
from callvault.db import transaction
from callvault.errors import BadInput

REVIEW = "users:review"
REVIEW_MONTHS = 6
UNUSED_DAYS = 90
# Keys under which user.* entries name a role (user.added today; role changes later).
_ROLE_KEYS = ("role", "old_role", "new_role", "from_role", "to_role")
# What the counts count: column name -> the audit actions it sums.
_COUNTED = {
    "listens": LISTENING_ACTIONS,
    "searches": ("recordings.searched",),
    "requests": ("access.requested",),
    "approvals": ("access.approved",),
    "refusals": ("access.refused",),
}


@dataclass(frozen=True, slots=True)
class ReviewWindow:
    start: datetime
    end: datetime

    @classmethod
    def parse(cls, start: str | None, end: str | None, now: datetime | None = None) -> ReviewWindow:
        """From ``--from``/``--to`` (dates or ISO times, UTC); by default the six months to
        now."""
        until = parse_when(end, "to") or now or datetime.now(UTC)
        since = parse_when(start, "from") or months_before(until, REVIEW_MONTHS)
        if since >= until:
            raise BadInput("from must be before to", "from")
        return cls(since, until)

    def as_dict(self) -> dict[str, str]:
        return {"from": _iso(self.start), "to": _iso(self.end)}


def months_before(moment: datetime, months: int) -> datetime:
    """The same day ``months`` earlier (31 Aug - 6 months is 28/29 Feb)."""
    index = moment.year * 12 + moment.month - 1 - months
    year, month = divmod(index, 12)
    day = min(moment.day, calendar.monthrange(year, month + 1)[1])
    return moment.replace(year=year, month=month + 1, day=day)


def access_review_as(
    engine: Engine,
    audit: AuditLog,
    permissions: Permissions,
    ctx: RequestContext,
    window: ReviewWindow,
    unused_days: int = UNUSED_DAYS,
    policy_roles: frozenset[str] | None = None,
) -> dict[str, Any]:
    """The access review for ``window`` (``users:review``; a refusal is audited); the
    reading is audited too, as the report describes what staff did."""
    if not permissions.allowed(ctx.actor, REVIEW):
        refuse(engine, audit, ctx, REVIEW)
    if not 1 <= unused_days <= 3660:
        raise BadInput("unused_days must be between 1 and 3660", "unused_days")
    report = access_review(engine, permissions.listener_roles, window, unused_days, policy_roles)
    with transaction(engine) as conn:
        audit.append(
            conn, ctx, "report.access_review", object_type="report",
            details={**window.as_dict(), "accounts": len(report["accounts"])},
        )  # fmt: skip
    return report


def access_review(
    engine: Engine,
    listener_roles: frozenset[str],
    window: ReviewWindow,
    unused_days: int = UNUSED_DAYS,
    policy_roles: frozenset[str] | None = None,
) -> dict[str, Any]:
    """Every account with its last use, its counts over ``window`` and its flags."""
    with engine.connect() as conn:
        accounts = conn.execute(
            select(users.c.username, users.c.role, users.c.kind, users.c.disabled,
                   users.c.created_at).order_by(users.c.username)
        ).all()  # fmt: skip
        last = last_use(conn, window.end)
        counts = activity_counts(conn, window)
        roles_seen = role_history(conn)
    stale_before = _iso(window.end - timedelta(days=unused_days))
    rows = []
    for account in accounts:
        used = last.get(account.username)
        history = roles_seen.get(account.username, [])
        row = {
            "user": account.username,
            "kind": account.kind,
            "role": account.role,
            "disabled": bool(account.disabled),
            "created_at": account.created_at,
            "last_used_at": used[0] if used else None,
            "last_action": used[1] if used else None,
            **{name: counts.get(account.username, {}).get(name, 0) for name in _COUNTED},
            "role_history": history,
        }
        row["flags"] = _flags(row, listener_roles, policy_roles, stale_before)
        rows.append(row)
    return {
        **window.as_dict(),
        "unused_days": unused_days,
        "accounts": rows,
        "summary": _summary(rows),
    }


def last_use(conn: Connection, until: datetime) -> dict[str, tuple[str, str]]:
    """account -> (time, action) of its latest audit entry as the actor before ``until``:
    one grouped query (the latest sequence number per actor, joined back for its time)."""
    latest = (
        select(audit_log.c.actor, func.max(audit_log.c.seq).label("seq"))
        .where(audit_log.c.actor.in_(select(users.c.username)), audit_log.c.at < _iso(until))
        .group_by(audit_log.c.actor)
        .subquery()
    )
    rows = conn.execute(
        select(audit_log.c.actor, audit_log.c.at, audit_log.c.action).join(
            latest, audit_log.c.seq == latest.c.seq
        )
    ).all()
    return {actor: (at, action) for actor, at, action in rows}


def activity_counts(conn: Connection, window: ReviewWindow) -> dict[str, dict[str, int]]:
    """account -> {listens, searches, requests, approvals, refusals} within ``window``: one
    grouped query. Approvals are those given to someone else (not automatic ones)."""
    approver: ColumnElement[str] = literal_column(_detail_sql(conn.dialect.name, "approver"))
    sums = []
    for name, actions in _COUNTED.items():
        when: ColumnElement[bool] = audit_log.c.action.in_(actions)
        if name == "approvals":
            when = and_(when, func.coalesce(approver, "") != "auto")
        sums.append(func.sum(case((when, 1), else_=0)).label(name))
    every_action = [action for actions in _COUNTED.values() for action in actions]
    rows = conn.execute(
        select(audit_log.c.actor, *sums)
        .where(
            audit_log.c.action.in_(every_action),
            audit_log.c.at >= _iso(window.start),
            audit_log.c.at < _iso(window.end),
        )
        .group_by(audit_log.c.actor)
    ).all()
    return {row.actor: {name: int(getattr(row, name) or 0) for name in _COUNTED} for row in rows}


def role_history(conn: Connection) -> dict[str, list[dict[str, str]]]:
    """account -> the roles its ``user.*`` audit entries name, oldest first (through the
    object id index: those entries name the account)."""
    rows = conn.execute(
        select(audit_log.c.object_id, audit_log.c.entry)
        .where(
            audit_log.c.object_id.in_(select(users.c.username)),
            audit_log.c.object_type == "user",
            audit_log.c.action.like("user.%"),
        )
        .order_by(audit_log.c.seq)
    ).all()
    history: dict[str, list[dict[str, str]]] = {}
    for account, text in rows:
        entry = orjson.loads(text)
        details = entry.get("details") or {}
        for key in _ROLE_KEYS:
            if isinstance(details.get(key), str):
                history.setdefault(account, []).append(
                    {"at": entry["at"], "action": entry["action"], key: details[key]}
                )
    return history


def _flags(
    row: dict[str, Any],
    listener_roles: frozenset[str],
    policy_roles: frozenset[str] | None,
    stale_before: str,
) -> list[str]:
    flags = []
    if row["disabled"]:
        flags.append("disabled")
    if row["last_used_at"] is None:
        flags.append("never_used")
    # A new account is not "unused" until it has had unused_days to be used.
    since = max(row["last_used_at"] or "", row["created_at"])
    if row["role"] in listener_roles and not row["disabled"] and since < stale_before:
        flags.append("unused_listener")
    named = {value for item in row["role_history"] for key, value in item.items()
             if key in _ROLE_KEYS}  # fmt: skip
    if named - {row["role"]} or any("role" in item["action"] for item in row["role_history"]):
        flags.append("role_changed")
    if policy_roles is not None and row["kind"] == "person" and row["role"] not in policy_roles:
        flags.append("role_not_in_policy")
    return flags


def _summary(rows: list[dict[str, Any]]) -> dict[str, int]:
    def flagged(flag: str) -> int:
        return sum(flag in row["flags"] for row in rows)

    return {
        "accounts": len(rows),
        "people": sum(row["kind"] == "person" for row in rows),
        "services": sum(row["kind"] == "service" for row in rows),
        **{flag: flagged(flag) for flag in
           ("disabled", "never_used", "unused_listener", "role_changed", "role_not_in_policy")},
    }  # fmt: skip


def _detail_sql(dialect: str, key: str) -> str:
    """SQL for ``details.<key>`` of an entry (``key`` is one of ours, never user input)."""
    if dialect == "sqlite":
        return f"json_extract(audit_log.entry, '$.details.{key}')"
    return f"((audit_log.entry::jsonb) -> 'details' ->> '{key}')"


def _iso(moment: datetime) -> str:
    """As the audit trail writes times, so they compare as text."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")
