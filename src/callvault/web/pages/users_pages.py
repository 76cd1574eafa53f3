"""``/users`` and ``/access-review``: accounts for administrators, the access review for
those who oversee them.

``/users`` does what ``callvault user ...`` and the API's ``/api/v1/users`` do, through the
same services, so each change is audited the same way (``user.added``, ``user.disabled``,
``user.totp_enrolled``, ``user.unlocked``, with the administrator as the actor). A secret
made for an account (a person's first password, a service account's API token, a TOTP
secret) is shown once, on the page that answers the post: never put in a cookie or a
redirect, and the page is never cached (``render`` sends no-store). Reloading that page
posts again, which asks for a new secret or is refused; it never shows the old one.

``/access-review`` is the API's access review (``access_review_as``, audited as
``report.access_review``), and for the DPO the bulk-access alerts over the same days
(``bulk_alerts_as``, audited as ``alerts.read``).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Path, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import Engine, select

from callvault.access.bulk_access import MAX_DAYS, bulk_alerts_as
from callvault.access.oversight import (
    REVIEW_MONTHS,
    UNUSED_DAYS,
    ReviewWindow,
    access_review_as,
    months_before,
)
from callvault.access.service import SERVICE_ROLES
from callvault.access.sessions import seconds
from callvault.access.store import users
from callvault.errors import BadInput, CallvaultError, Conflict, NotFound
from callvault.web.pages.render import as_entered, form_text, page, redirect, render
from callvault.web.pages.when import day_start, parse_day
from callvault.web.security import request_context, services_of, signin_of

router = APIRouter()

MANAGE = "users:manage"
USERNAME_MAX = 64
# What each kind of service account is for, as the API documents them.
_SERVICE_ROLE_WORDS = {
    "ingest": "Ingest: a PBX's uploader, sends recordings",
    "payments": "Payments: the payment system, pauses live recordings",
}
# Every service role the service accepts is offered, in words where there are some.
SERVICE_ROLE_NAMES = {role: _SERVICE_ROLE_WORDS.get(role, role) for role in sorted(SERVICE_ROLES)}

_Username = Path(max_length=USERNAME_MAX)


@dataclass(frozen=True, slots=True)
class Account:
    """One row of the accounts table."""

    username: str
    role: str
    kind: str  # "person" | "service"
    disabled: bool
    created_at: str
    auth_source: str  # "local" | "oidc"
    second_factor_at: str | None  # when a TOTP secret was enrolled
    second_factor_needed: bool  # the role cannot sign in without one
    locked_until: str | None  # set only while the lock lasts
    failed_signins: int
    last_signin_at: str | None

    @property
    def person(self) -> bool:
        return self.kind == "person"


def accounts(request: Request) -> list[Account]:
    """Every account as ``AccessService.list_users`` lists it, with its sign-in state."""
    services = services_of(request)
    needed = signin_of(request).second_factor_roles
    states = _signin_states(services.engine)
    now = time.time()
    found = []
    for listed in services.access.list_users():
        state = states.get(listed["user"], {})
        locked = state.get("locked_until")
        found.append(
            Account(
                username=listed["user"],
                role=listed["role"],
                kind=listed["kind"],
                disabled=listed["disabled"],
                created_at=listed["created_at"],
                auth_source=state.get("auth_source") or "local",
                second_factor_at=state.get("totp_enrolled_at"),
                second_factor_needed=listed["kind"] == "person" and listed["role"] in needed,
                locked_until=locked if locked and seconds(locked) > now else None,
                failed_signins=int(state.get("failed_signins") or 0),
                last_signin_at=state.get("last_signin_at"),
            )
        )
    return found


def _signin_states(engine: Engine) -> dict[str, dict[str, Any]]:
    """username -> the sign-in columns ``list_users`` does not return (no secret among
    them: whether a TOTP secret exists is read from its enrolment time)."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                users.c.username,
                users.c.auth_source,
                users.c.totp_enrolled_at,
                users.c.locked_until,
                users.c.failed_signins,
                users.c.last_signin_at,
            )
        ).all()
    return {row.username: dict(row._mapping) for row in rows}


def role_names(request: Request) -> dict[str, str]:
    """Role id -> the name the policy gives it, for people to read."""
    return {role.id: role.name for role in services_of(request).policy.policy.roles}


def _account(request: Request, username: str) -> Account:
    for account in accounts(request):
        if account.username == username:
            return account
    raise NotFound(f"no user {username[:64]!r}", "username")


def _users_page(
    request: Request,
    status_code: int = 200,
    errors: Mapping[str, str] | None = None,
    person: Mapping[str, str] | None = None,
    service: Mapping[str, str] | None = None,
) -> HTMLResponse:
    services = services_of(request)
    return render(
        request,
        "users.html",
        status_code=status_code,
        view="list",
        accounts=accounts(request),
        roles=services.policy.policy.roles,
        service_roles=SERVICE_ROLE_NAMES,
        errors=errors or {},
        person=person or {"username": "", "role": ""},
        service=service or {"username": "", "role": "ingest"},
        me=request.state.actor.name,
        role_names=role_names(request),
    )


@router.get("/users", **page(MANAGE))
def users_page(request: Request) -> HTMLResponse:
    return _users_page(request)


def _rejected(
    request: Request, form_name: str, error: CallvaultError, values: Mapping[str, str]
) -> HTMLResponse:
    """The list again with ``error`` beside its field of the ``form_name`` form (run in
    the thread pool: it reads the accounts)."""
    field = error.field if error.field in ("username", "role") else "username"
    return _users_page(
        request,
        status_code=error.http_status,
        errors={f"{form_name}-{field}": error.message},
        person=values if form_name == "person" else None,
        service=values if form_name == "service" else None,
    )


@router.post("/users", **page(MANAGE))
async def add_person(request: Request) -> Response:
    """Add a person with a generated first password, shown once (as the API does)."""
    return await _add_account(request, "person", role_limit=64)


@router.post("/users/service-accounts", **page(MANAGE))
async def add_service_account(request: Request) -> Response:
    """Add a service account; its API token is shown once (as the API does)."""
    return await _add_account(request, "service", role_limit=16)


async def _add_account(request: Request, kind: str, role_limit: int) -> Response:
    """The account the form names, and its first secret (a person's password, a service's
    token) shown once on the page that answers the post; the form again on bad input."""
    form = await request.form()
    # Shown again trimmed, as form_text reads them: the name the account would have had.
    typed = as_entered(form, {"username": USERNAME_MAX, "role": role_limit})
    values = {name: text.strip() for name, text in typed.items()}
    access = services_of(request).access
    create = access.add_person if kind == "person" else access.add_service
    try:
        username = form_text(form, "username", USERNAME_MAX)
        role = form_text(form, "role", role_limit)
        # argon2 hashing takes tens of milliseconds of CPU: off the event loop.
        secret = await run_in_threadpool(create, request_context(request), username, role)
    except (BadInput, Conflict) as error:
        return await run_in_threadpool(_rejected, request, kind, error, values)
    person = kind == "person"
    return render(
        request,
        "users.html",
        status_code=201,
        view="created",
        username=username,
        role=role,
        kind=kind,
        secret=secret,
        needs_second_factor=person and role in signin_of(request).second_factor_roles,
        role_names=role_names(request) if person else SERVICE_ROLE_NAMES,
    )


def _not_yourself(request: Request, username: str) -> None:
    # The API lets anyone with users:manage disable any account; the page keeps an
    # administrator from locking themselves out with a stray click (nobody could re-enable
    # them: there is no enable, only the operator adding a new account).
    if username == request.state.actor.name:
        raise Conflict(
            "you cannot disable your own account here; ask another administrator", "username"
        )


@router.get("/users/{username}/disable", **page(MANAGE))
def confirm_disable(request: Request, username: str = _Username) -> HTMLResponse:
    account = _account(request, username)
    _not_yourself(request, username)
    return render(
        request, "users.html", view="disable", account=account, role_names=role_names(request)
    )


@router.post("/users/{username}/disable", **page(MANAGE))
async def disable(request: Request, username: str = _Username) -> Response:
    _not_yourself(request, username)
    await run_in_threadpool(services_of(request).access.disable, request_context(request), username)
    return redirect(
        request,
        "/users",
        f"{username} is disabled: they can no longer sign in, act or use their grants.",
    )


@router.post("/users/{username}/totp", **page(MANAGE))
async def enrol_second_factor(request: Request, username: str = _Username) -> Response:
    """A new TOTP secret for a person, as ``callvault user totp`` does; shown once."""
    enrolment = await run_in_threadpool(
        signin_of(request).enrol_totp, request_context(request), username
    )
    return render(
        request,
        "users.html",
        view="totp",
        username=enrolment.username,
        secret=enrolment.secret,
        uri=enrolment.uri,
    )


@router.post("/users/{username}/unlock", **page(MANAGE))
async def unlock(request: Request, username: str = _Username) -> Response:
    """Clear the failure count and any lock, as ``callvault user unlock`` does."""
    await run_in_threadpool(signin_of(request).unlock, request_context(request), username)
    return redirect(request, "/users", f"{username} is unlocked and may sign in again.")


# -- the access review ----------------------------------------------------------------------
FLAG_NAMES = {
    "disabled": ("Disabled", "warn"),
    "never_used": ("Never used", "warn"),
    "unused_listener": ("Listening role unused", "bad"),
    "role_changed": ("Role changed", "warn"),
    "role_not_in_policy": ("Role not in policy", "bad"),
}


@dataclass(frozen=True, slots=True)
class ReviewQuery:
    window: ReviewWindow
    unused_days: int


def read_review_query(
    params: Mapping[str, Any], now: datetime
) -> tuple[ReviewQuery | None, dict[str, str]]:
    """The window (UK days, both included; by default the six months to now) and the days
    after which a listening role counts as unused; or the problems, by field."""
    errors: dict[str, str] = {}
    days: dict[str, date | None] = {}
    for name in ("from", "to"):
        try:
            days[name] = parse_day(params, name)
        except BadInput as error:
            errors[name] = error.message
    unused = UNUSED_DAYS
    try:
        text = form_text(params, "unused_days", 4, required=False)
        if text:
            if not text.isdigit() or not 1 <= int(text) <= 3660:
                raise BadInput("unused days must be a whole number from 1 to 3660", "unused_days")
            unused = int(text)
    except BadInput as error:
        errors["unused_days"] = error.message
    if errors:
        return None, errors
    first, last = days["from"], days["to"]
    end = day_start(last + timedelta(days=1)) if last else now
    start = day_start(first) if first else months_before(end, REVIEW_MONTHS)
    if start >= end:
        return None, {"from": "from must not be after to"}
    return ReviewQuery(ReviewWindow(start, end), unused), {}


def alert_days_of(window: ReviewWindow, today: date) -> list[date]:
    """The UTC days the bulk-access alerts cover: the window's up to ``today``, its last
    ``MAX_DAYS`` at most (each day is judged against the 30 before it, so a longer span
    costs too much); none when the window lies wholly ahead."""
    last = min((window.end - timedelta(microseconds=1)).astimezone(UTC).date(), today)
    first = max(window.start.astimezone(UTC).date(), last - timedelta(days=MAX_DAYS - 1))
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


@router.get("/access-review", **page("users:review"))
async def access_review_page(request: Request) -> HTMLResponse:
    params = request.query_params
    form = {name: params.get(name, "")[:200] for name in ("from", "to", "unused_days")}
    form["unused_days"] = form["unused_days"] or str(UNUSED_DAYS)
    now = datetime.now(UTC)
    query, errors = read_review_query(params, now)
    services = services_of(request)
    may_see_alerts = services.permissions.allowed(request.state.actor, "alerts:read")
    if query is None:
        return render(
            request,
            "access_review.html",
            status_code=422,
            form=form,
            errors=errors,
            report=None,
            alerts=None,
            may_see_alerts=may_see_alerts,
        )
    ctx = request_context(request)
    roles = frozenset(role.id for role in services.policy.policy.roles)
    report: dict[str, Any] = await run_in_threadpool(
        access_review_as,
        services.engine,
        services.audit,
        services.permissions,
        ctx,
        query.window,
        query.unused_days,
        roles,
    )
    alerts: dict[str, Any] | None = None
    alert_days = alert_days_of(query.window, now.date())
    if may_see_alerts and alert_days:
        alerts = await run_in_threadpool(
            bulk_alerts_as,
            services.engine,
            services.audit,
            services.permissions,
            ctx,
            alert_days,
        )
    return render(
        request,
        "access_review.html",
        form=form,
        errors={},
        report=report,
        alerts=alerts,
        may_see_alerts=may_see_alerts,
        role_names=role_names(request),
        flag_names=FLAG_NAMES,
        by_role=sorted(report["accounts"], key=lambda row: (row["role"], row["user"])),
        unused=[row for row in report["accounts"] if "unused_listener" in row["flags"]],
    )
