"""``GET /api/v1/recordings/{id}/audio?grant=G``: a recording streamed to a browser's player.

The checks and the audit entry are ``Player.stream``'s (the same gate as ``callvault
play``): the entry commits before the first byte, then chunks are decrypted as they are
sent, never written to disk, and marked ``no-store`` so no cache keeps them. ``Range``
requests (``bytes=a-b``, ``a-``, ``-n``) answer 206 with ``Content-Range``; one that starts
past the end answers 416. Each range request is audited (``access.playback`` explains how).
"""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from callvault.access.byterange import ByteRange, RangeNotSatisfiable
from callvault.access.playback import RENDITIONS
from callvault.errors import BadInput
from callvault.web.security import declares, request_context, services_of

router = APIRouter(prefix="/api/v1/recordings", tags=["playback"])

AUDIO_TYPE = "audio/ogg"
# Decrypted audio must not outlive the response in any cache, the browser's included.
NO_STORE = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}


@router.get(
    "/{recording_id}/audio",
    response_class=StreamingResponse,
    responses={
        200: {"content": {AUDIO_TYPE: {}}, "description": "The whole recording (Ogg Opus)."},
        206: {"content": {AUDIO_TYPE: {}}, "description": "The byte range asked for."},
        416: {"description": "The range starts past the end; Content-Range gives the size."},
    },
    **declares("recordings:play"),
)
def audio(
    request: Request,
    recording_id: str,
    grant: str | None = Query(default=None, max_length=40, description="An approved grant."),
    rendition: str = Query(default="original", description=" or ".join(RENDITIONS)),
) -> Response:
    """Stream a recording under a grant; the listen is audited before the first byte."""
    if not grant:
        raise BadInput("name the grant you listen under: ?grant=GRANT_ID", "grant")
    wanted = ByteRange.parse(request.headers.get("range"))
    player = services_of(request).player
    try:
        stream = player.stream(request_context(request), recording_id, grant, wanted, rendition)
    except RangeNotSatisfiable as exc:
        headers = {**NO_STORE, "Content-Range": f"bytes */{exc.size}"}
        return JSONResponse(exc.as_dict(), status_code=416, headers=headers)
    headers = {
        **NO_STORE,
        "Accept-Ranges": "bytes",
        "Content-Length": str(stream.end - stream.start),
    }
    # Any honoured Range gets 206 and Content-Range, also one that spans the whole file:
    # Safari's player insists on it.
    if stream.ranged:
        headers["Content-Range"] = f"bytes {stream.start}-{stream.end - 1}/{stream.size}"
    return StreamingResponse(
        stream.chunks,
        status_code=206 if stream.ranged else 200,
        media_type=AUDIO_TYPE,
        headers=headers,
    )
