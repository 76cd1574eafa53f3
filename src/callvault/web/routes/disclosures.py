"""Exports and the disclosure register over the API.

``POST /api/v1/grants/{grant_id}/export`` answers the signed zip as a download: it is built
in a private temp folder (0700), opened, and removed before the first byte is sent, so no
path to the audio outlives the request even if the client goes away. ``POST
/api/v1/disclosures`` records where an export went; ``GET /api/v1/disclosures`` reads the
register.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from callvault.access.disclosures import DisclosureRegister
from callvault.access.export import Exporter
from callvault.access.grants import MAX_RECORDINGS
from callvault.web.routes.playback import NO_STORE
from callvault.web.security import declares, request_context, services_of

router = APIRouter(prefix="/api/v1", tags=["disclosures"])

_BLOCK = 1 << 20


class ExportRequest(BaseModel):
    recording_ids: list[str] | None = Field(
        default=None,
        max_length=MAX_RECORDINGS,
        description="Only these of the grant's recordings; default: all of them.",
    )


# Every field optional here so that the service names what is missing or wrong, in the same
# {"error", "field"} shape as every other refusal.
class DisclosureIn(BaseModel):
    export_id: str = Field(default="", description="The export that was sent.")
    recipient: str = Field(default="", description="The person it was sent to.")
    organisation: str = Field(default="", description="Their organisation.")
    reason: str = Field(default="", description="Why it was disclosed.")
    method: str = Field(default="", description="How it was sent (see `callvault disclosure`).")
    sent_on: str = Field(default="", description="The day it was sent, YYYY-MM-DD.")


@router.post(
    "/grants/{grant_id}/export",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/zip": {}}, "description": "The signed zip."}},
    **declares("recordings:export"),
)
async def export(
    request: Request, grant_id: str, body: ExportRequest | None = None
) -> StreamingResponse:
    """Export a grant's recordings as a zip with a signed manifest (the purpose must allow
    export); audited before any audio is written."""
    services = services_of(request)
    folder = Path(tempfile.mkdtemp(prefix="callvault-export-"))
    try:
        result = await run_in_threadpool(
            Exporter.for_services(services).export,
            request_context(request),
            grant_id,
            folder / "export.zip",
            body.recording_ids if body else None,
        )
        # The open file outlives its name: nothing is left on disk whatever the client does.
        file = Path(result["path"]).open("rb")  # noqa: SIM115 (closed by _file_chunks)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    size = os.fstat(file.fileno()).st_size
    headers = {
        **NO_STORE,
        "Content-Length": str(size),
        "Content-Disposition": f'attachment; filename="callvault-export-{result["export_id"]}.zip"',
        "X-Export-Id": result["export_id"],
    }
    return StreamingResponse(_file_chunks(file), media_type="application/zip", headers=headers)


def _file_chunks(file: BinaryIO) -> Iterator[bytes]:
    with file:
        while block := file.read(_BLOCK):
            yield block


@router.post("/disclosures", status_code=201, **declares("disclosures:record"))
def record_disclosure(request: Request, body: DisclosureIn) -> dict[str, Any]:
    """Record that an export was sent: to whom, at which organisation, why, how, when."""
    register = DisclosureRegister.for_services(services_of(request))
    return register.record(
        request_context(request), body.export_id, recipient=body.recipient,
        organisation=body.organisation, reason=body.reason, method=body.method,
        sent_on=body.sent_on,
    )  # fmt: skip


@router.get("/disclosures", **declares("disclosures:read"))
def list_disclosures(
    request: Request,
    sent_from: str | None = Query(default=None, alias="from", description="YYYY-MM-DD"),
    sent_to: str | None = Query(default=None, alias="to", description="YYYY-MM-DD"),
) -> dict[str, Any]:
    """The disclosure register, oldest first; every reading is audited."""
    register = DisclosureRegister.for_services(services_of(request))
    return {"disclosures": register.entries(request_context(request), sent_from, sent_to)}
