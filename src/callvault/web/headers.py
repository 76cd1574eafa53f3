"""Security headers on every response, as a pure ASGI middleware.

Pure ASGI (not Starlette's ``BaseHTTPMiddleware``) so that streamed audio passes through
chunk by chunk, never buffered. A header a route set itself wins: the notice pages carry a
stricter policy of their own (no script, one hashed style).

- ``Content-Security-Policy``: only callvault's own origin for scripts, styles, media and
  connections; no inline script (no ``'unsafe-inline'``), no plugins, no framing
  (``frame-ancestors 'none'``), forms post only here. Council networks give the server no
  internet access, and the UI loads nothing from elsewhere, so nothing legitimate is lost.
- ``Strict-Transport-Security`` only on a request that came over HTTPS (directly, or through
  a proxy uvicorn trusts): sent over plain HTTP it would be ignored, and on 127.0.0.1 during
  development it must not pin the browser to HTTPS.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "media-src 'self' blob:; connect-src 'self'; font-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
DEFAULTS = (
    ("content-security-policy", CSP),
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    ("referrer-policy", "no-referrer"),
    ("cross-origin-opener-policy", "same-origin"),
    ("cross-origin-resource-policy", "same-origin"),
    ("permissions-policy", "camera=(), microphone=(), geolocation=(), payment=()"),
)
# Two years, subdomains too: the preload list's minimum, and what the NCSC advises.
HSTS = ("strict-transport-security", "max-age=63072000; includeSubDomains")


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        wanted = [*DEFAULTS, HSTS] if scope.get("scheme") == "https" else list(DEFAULTS)

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {bytes(name).lower() for name, _value in headers}
                headers += [
                    (name.encode(), value.encode())
                    for name, value in wanted
                    if name.encode() not in present
                ]
                message["headers"] = headers
            await send(message)

        await self._app(scope, receive, with_headers)
