"""The public pages: the fair processing notice and the notice for staff, as HTML.

Public by design (``notice:read``): callers must be able to read the notice without an account,
and so must staff who have none. A page is built from the loaded policy alone, so it can show
nothing the policy does not say. An incomplete policy gets 503 naming the empty field
(``NoticeIncomplete``) and no page at all, never a notice with a gap.
"""

from __future__ import annotations

import base64
import hashlib

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from callvault.notice.render import STYLE
from callvault.notice.service import NOTICE, publish
from callvault.web.security import declares, services_of

router = APIRouter(tags=["notice"])

_STYLE_HASH = base64.b64encode(hashlib.sha256(STYLE.encode()).digest()).decode()
# No script, no external resource, no framing: escaping keeps policy text inert, and this
# would stop a script even if escaping ever failed.
CSP = (
    f"default-src 'none'; style-src 'sha256-{_STYLE_HASH}'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)


def _page(request: Request, audience: str) -> HTMLResponse:
    published = publish(services_of(request).policy.policy, audience, "html")
    return HTMLResponse(
        published.text,
        headers={
            "Content-Security-Policy": CSP,
            "X-Content-Type-Options": "nosniff",
            # The content hash names the words; a reader's cache revalidates against it.
            "ETag": f'"{published.document.sha256}"',
            "Cache-Control": "no-cache",
        },
    )


@router.get("/notice", response_class=HTMLResponse, **declares(NOTICE))
def public_notice(request: Request) -> HTMLResponse:
    """How calls are recorded: the fair processing notice (UK GDPR Art. 13) for callers."""
    return _page(request, "public")


@router.get("/notice/staff", response_class=HTMLResponse, **declares(NOTICE))
def staff_notice(request: Request) -> HTMLResponse:
    """The notice for staff: what is recorded, who may listen and why, their rights."""
    return _page(request, "staff")
