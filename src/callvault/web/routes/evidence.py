"""``POST /api/v1/recordings/{id}/evidence``: an evidence bundle, entered in the disclosure
register as it is made, answered as a download.

The same act as ``callvault evidence bundle`` (``evidence.service``), declared as
``recordings:export``: a bundle is an export. As for exports (``routes.disclosures``), the
zip is built in a private temp folder, opened, and the folder removed before the first byte
is sent, so nothing of it outlives the request on the server.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from callvault.evidence.service import EvidenceService
from callvault.web.routes.playback import NO_STORE
from callvault.web.security import declares, request_context, services_of

router = APIRouter(prefix="/api/v1/recordings", tags=["evidence"])

_BLOCK = 1 << 20


# Every field optional here so that the service names what is missing or wrong, in the same
# {"error", "field"} shape as every other refusal.
class EvidenceRequest(BaseModel):
    grant: str = Field(default="", description="Your approved grant for the recording.")
    recipient: str = Field(default="", description="The person it goes to.")
    organisation: str = Field(default="", description="Their organisation.")
    reason: str = Field(default="", description="Why it is disclosed.")
    method: str = Field(default="", description="How it will be sent (see `callvault evidence`).")


@router.post(
    "/{recording_id}/evidence",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/zip": {}}, "description": "The signed bundle."}},
    **declares("recordings:export"),
)
async def evidence(request: Request, recording_id: str, body: EvidenceRequest) -> StreamingResponse:
    """Make a signed evidence bundle of a recording under a grant whose purpose allows export,
    and enter it in the disclosure register as sent today; audited before any byte is written.
    """
    services = services_of(request)
    folder = Path(tempfile.mkdtemp(prefix="callvault-evidence-"))
    try:
        result = await run_in_threadpool(
            EvidenceService.for_services(services).bundle,
            request_context(request),
            recording_id,
            body.grant,
            folder / "evidence.zip",
            recipient=body.recipient,
            organisation=body.organisation,
            reason=body.reason,
            method=body.method,
        )
        # The open file outlives its name: nothing is left on disk whatever the client does.
        file = Path(result["path"]).open("rb")  # noqa: SIM115 (closed by _chunks)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    name = f"callvault-evidence-{result['bundle_id']}.zip"
    headers = {
        **NO_STORE,
        "Content-Length": str(os.fstat(file.fileno()).st_size),
        "Content-Disposition": f'attachment; filename="{name}"',
        "X-Bundle-Id": result["bundle_id"],
        "X-Disclosure-Id": result["disclosure_id"],
    }
    return StreamingResponse(_chunks(file), media_type="application/zip", headers=headers)


def _chunks(file: BinaryIO) -> Iterator[bytes]:
    with file:
        while block := file.read(_BLOCK):
            yield block
