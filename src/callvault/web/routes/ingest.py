"""``POST /api/v1/ingest``: a PBX or recorder hands over one call."""

from __future__ import annotations

import base64
import binascii

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from callvault.capture.ingest import AudioInput
from callvault.errors import BadInput
from callvault.web.security import declares, request_context, services_of

META_HEADER = "callvault-meta"

router = APIRouter(prefix="/api/v1", tags=["ingest"])


@router.post("/ingest", **declares("recordings:ingest"))
async def ingest(request: Request) -> JSONResponse:
    """Ingest a call: the body is the audio; the `Callvault-Meta` header is the metadata
    JSON, base64-encoded. Answers 201 when recorded, 200 when not covered."""
    services = services_of(request)
    meta = _meta_from_header(request)
    audio = await _read_body(request, services.settings.max_ingest_bytes)
    ctx = request_context(request)
    result = await run_in_threadpool(services.ingest.ingest, ctx, AudioInput(data=audio), meta)
    request.app.state.ingests.add(result.status)
    status = 201 if result.status == "recorded" else 200
    return JSONResponse(result.as_dict(), status_code=status)


def _meta_from_header(request: Request) -> bytes:
    raw = request.headers.get(META_HEADER)
    if not raw:
        raise BadInput(
            "send the call's metadata JSON, base64-encoded, in the Callvault-Meta header", "meta"
        )
    try:
        # Accept standard and URL-safe alphabets, with or without padding.
        text = raw.strip().replace("-", "+").replace("_", "/")
        return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise BadInput("the Callvault-Meta header is not base64", "meta") from exc


async def _read_body(request: Request, limit: int) -> bytes:
    """The upload, held in memory only (never spooled to disk), refused past ``limit``."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise BadInput(f"the audio is over the limit of {limit} bytes", "audio")
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > limit:
            raise BadInput(f"the audio is over the limit of {limit} bytes", "audio")
    return bytes(body)
