"""The manager's web pages: Jinja2 templates rendered on the server, assets served here.

A page route declares its action like every API route (``page(action)`` wraps
``web.security.declares``), so the one authorisation dependency guards pages too and the
authorisation matrix walks them. Pages differ from the API in three ways:

- an unsafe request is an HTML form post, so its CSRF token arrives as the form field
  ``csrf_token`` (read here before the check runs) rather than the ``X-CSRF-Token`` header;
- an error is an HTML page (``error.html``) with the same status, and "sign in first" is a
  redirect to the sign-in page that comes back afterwards;
- after a form post the browser is sent on with 303 (post/redirect/get), carrying a one-off
  message in a short-lived cookie, so reloading never repeats an action.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from starlette.datastructures import FormData

from callvault import __version__
from callvault.access.sessions import LiveSession
from callvault.context import Actor
from callvault.errors import BadInput, CallvaultError
from callvault.web.pages.when import day_text, when_text
from callvault.web.security import current_actor, declares, services_of

PAGE_FLAG = "page"
CSRF_FIELD = "csrf_token"
FLASH_COOKIE = "callvault_flash"
_FLASH_MAX = 300
# Pages carry a CSRF token and personal data: no cache may keep them, the browser's
# back/forward cache included (a shared council PC after sign-out).
NO_STORE = {"Cache-Control": "no-store"}

templates = Environment(
    loader=PackageLoader("callvault.web", "templates"),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,  # a misspelt variable fails the test, not the page silently
    trim_blocks=True,
    lstrip_blocks=True,
)
# Times in templates as every page shows them (``when``): "{{ at | when }}".
templates.filters.update(when=when_text, day=day_text)


@dataclass(frozen=True, slots=True)
class NavItem:
    href: str
    label: str
    action: str
    description: str


# The main navigation, in the order people work; each entry shows only to those who may.
NAV = (
    NavItem("/recordings", "Search", "recordings:search", "Find recordings you may see."),
    NavItem("/requests", "My requests", "grants:read", "Access you asked for, and its state."),
    NavItem("/approvals", "Approvals", "recordings:approve", "Requests waiting for you."),
    NavItem("/holds", "Holds", "holds:read", "Recordings kept past retention for a case."),
    NavItem("/retention", "Retention", "retention:read", "What is due to be deleted, and when."),
    NavItem("/rights", "Rights requests", "rights:read", "People's rights requests and deadlines."),
    NavItem("/training", "Training", "training:read", "The training library, and your decisions."),
    NavItem("/conduct", "Conduct", "incidents:read", "Conduct flags and incidents."),
    NavItem("/quality", "Quality", "quality:read", "Monthly samples, evaluations and calibration."),
    NavItem(
        "/quality/mine",
        "My evaluations",
        "quality:own",
        "How your sampled calls were judged; your response.",
    ),
    NavItem("/demand", "Demand", "demand:read", "Calls per line, hour and topic."),
    NavItem("/audit", "Audit", "audit:read", "Every act, and the chain's verification."),
    NavItem("/users", "Users", "users:manage", "People, roles and service accounts."),
    NavItem("/access-review", "Access review", "users:review", "Who holds what, and uses it."),
)


async def _as_page(request: Request) -> None:
    """Mark the request as a page's (errors become HTML) and lift a posted form's CSRF
    token where ``session_actor`` finds it. Starlette keeps the parsed form on the request,
    so the handler reads it again for free."""
    setattr(request.state, PAGE_FLAG, True)
    if request.method == "POST":
        kind = request.headers.get("content-type", "").split(";")[0].strip()
        if kind in ("application/x-www-form-urlencoded", "multipart/form-data"):
            form = await request.form()
            token = form.get(CSRF_FIELD)
            request.state.form_csrf = token if isinstance(token, str) else None


def page(action: str) -> dict[str, Any]:
    """Route keyword arguments for a page that needs ``action``."""
    declared = declares(action)
    return {
        **declared,
        "dependencies": [Depends(_as_page), *declared["dependencies"]],
        "include_in_schema": False,  # the OpenAPI document describes the API, not pages
        "response_class": HTMLResponse,
    }


def is_page(request: Request) -> bool:
    return bool(getattr(request.state, PAGE_FLAG, False))


def optional_actor(request: Request) -> Actor | None:
    """Who is signed in, for a public page: None when nobody is or the session ended."""
    try:
        return current_actor(request)
    except CallvaultError:
        return None


def nav_for(request: Request, actor: Actor | None) -> list[NavItem]:
    if actor is None or actor.kind != "user":
        return []
    permissions = services_of(request).permissions
    return [item for item in NAV if permissions.allowed(actor, item.action)]


def current_item(path: str, nav: list[NavItem]) -> str | None:
    """The navigation entry ``path`` is in: the longest href that is the path or leads to it,
    so that /quality/mine marks "My evaluations" only, not "Quality" as well."""
    inside = [item.href for item in nav if path == item.href or path.startswith(item.href + "/")]
    return max(inside, key=len, default=None)


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """``template`` rendered with what every page shows: who is signed in, their navigation,
    the session's CSRF token for forms, and a message left by the previous post."""
    # A public page's action check resolves nobody, so ask who it is here, once: a session
    # already resolved (also one whose post was refused) is not checked again.
    if getattr(request.state, "session", None) is None:
        optional_actor(request)
    live: LiveSession | None = getattr(request.state, "session", None)
    actor: Actor | None = getattr(request.state, "actor", None) or (live.actor if live else None)
    flash = _read_flash(request)
    nav = nav_for(request, actor)
    html = templates.get_template(template).render(
        request=request,
        actor=actor,
        nav=nav,
        current=request.url.path,
        nav_current=current_item(request.url.path, nav),
        csrf_token=live.csrf_token if live else "",
        flash=flash,
        version=__version__,
        **context,
    )
    response = HTMLResponse(html, status_code=status_code, headers=NO_STORE)
    if flash is not None:
        response.delete_cookie(FLASH_COOKIE, path="/", httponly=True, samesite="strict")
    return response


def redirect(request: Request, to: str, message: str | None = None) -> RedirectResponse:
    """303 to a path on this site (post/redirect/get), leaving ``message`` for the next page."""
    response = RedirectResponse(local_path(to), status_code=303)
    if message:
        value = base64.urlsafe_b64encode(message[:_FLASH_MAX].encode()).decode()
        response.set_cookie(
            FLASH_COOKIE, value, max_age=60, path="/", httponly=True, samesite="strict",
            secure=request.url.scheme == "https",
        )  # fmt: skip
    return response


def _read_flash(request: Request) -> str | None:
    value = request.cookies.get(FLASH_COOKIE)
    if not value:
        return None
    try:
        return base64.urlsafe_b64decode(value.encode()).decode()[:_FLASH_MAX]
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None


def local_path(target: str | None, fallback: str = "/") -> str:
    """``target`` when it is a path on this site; ``fallback`` otherwise, so a crafted
    ``next=`` can never send a person who just signed in to another site."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return fallback
    if any(ord(char) < 0x20 for char in target):
        return fallback
    return target


def sign_in_url(request: Request) -> str:
    back = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return "/signin?next=" + quote(back, safe="/")


def error_page(request: Request, error: CallvaultError) -> Response:
    """A refused or failed page request, as a page: sign-in first, or what went wrong."""
    if error.http_status == 401:
        return RedirectResponse(sign_in_url(request), status_code=303)
    return render(
        request,
        "error.html",
        status_code=error.http_status,
        title=_ERROR_TITLES.get(error.http_status, "Something went wrong"),
        message=error.message,
        status=error.http_status,
    )


def form_text(form: Mapping[str, Any], name: str, limit: int, required: bool = True) -> str:
    """A text field from a posted form, trimmed; BadInput naming the field when it is
    missing, empty or longer than ``limit``."""
    value = form.get(name)
    text = value.strip() if isinstance(value, str) else ""
    if required and not text:
        raise BadInput(f"fill in {name.replace('_', ' ')}", name)
    if len(text) > limit:
        raise BadInput(f"{name.replace('_', ' ')} is longer than {limit} characters", name)
    return text


def form_texts(form: Mapping[str, Any], fields: Mapping[str, int]) -> dict[str, str]:
    """Each of ``fields`` (name: longest value) as ``form_text`` reads it, none required."""
    return {name: form_text(form, name, limit, required=False) for name, limit in fields.items()}


def as_entered(
    form: FormData, fields: Mapping[str, int], lists: Sequence[str] = ()
) -> dict[str, Any]:
    """What was typed into ``fields``, each cut to its bound, to show the form again after an
    error. ``lists`` are fields posted several times (checkboxes): the first 100 of each."""
    entered: dict[str, Any] = {
        name: value[:limit] if isinstance(value := form.get(name), str) else ""
        for name, limit in fields.items()
    }
    for name in lists:
        entered[name] = [value for value in form.getlist(name) if isinstance(value, str)][:100]
    return entered


_ERROR_TITLES = {
    403: "Not allowed",
    404: "Not found",
    409: "Conflict",
    422: "Please check what you entered",
}
