"""``/``: the start page. Public: signed out it offers sign-in and the notices; signed in,
the areas this person's role opens (nothing more: a link never shows that would refuse)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from callvault.web.pages.render import page, render

router = APIRouter()


@router.get("/", **page("health:read"))
def home(request: Request) -> HTMLResponse:
    return render(request, "home.html")
