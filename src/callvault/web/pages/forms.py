"""Posting a page's form: run the act, follow where it leads, or bring the page back with the
mistake marked and what was typed kept (``render.as_entered``). The conduct, quality and
rights-request pages post through here."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response

from callvault.context import RequestContext
from callvault.errors import BadInput, CallvaultError, Conflict, NotSignedIn
from callvault.web.pages.render import as_entered, form_texts, redirect
from callvault.web.pages.rights_pages import Problem
from callvault.web.security import request_context

# What was typed into one form (a list for a group of checkboxes), by field name.
Entered = dict[str, Any]
Act = Callable[[RequestContext, dict[str, str]], tuple[str, str]]
Again = Callable[[dict[str, Entered], CallvaultError], HTMLResponse]


def problem_of(form_id: str, fields: Iterable[str], error: CallvaultError) -> Problem:
    """``error`` beside its field when the form has one, else about the form as a whole."""
    field = error.field or ""
    return Problem(error.message, f"{form_id}-{field}" if field in set(fields) else None)


async def act_on_form(
    request: Request,
    form_id: str,
    fields: Mapping[str, int],
    act: Act,
    again: Again,
    *,
    shown: tuple[type[CallvaultError], ...] = (BadInput, Conflict),
    lists: Sequence[str] = (),
) -> Response:
    """Run ``act`` with the form's ``fields`` (trimmed, each at most its length) and follow the
    (path, message) it returns. An error of a ``shown`` kind brings the page back through
    ``again``, with what was typed; any other (who may act, a thing not there) is the error
    page. ``lists`` are fields posted several times (checkboxes), kept for showing again."""
    form = await request.form()
    entered = as_entered(form, fields, lists)
    try:
        values = form_texts(form, fields)
        to, message = await run_in_threadpool(act, request_context(request), values)
    except shown as error:
        if isinstance(error, NotSignedIn):
            raise
        return await run_in_threadpool(again, {form_id: entered}, error)
    return redirect(request, to, message)
