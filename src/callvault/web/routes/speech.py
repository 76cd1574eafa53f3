"""Transcripts under a grant, and review flags, over the API (``speech/`` does the work)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from callvault.access.playback import RENDITIONS
from callvault.errors import BadInput
from callvault.speech.flags import FlagQuery
from callvault.web.routes.playback import NO_STORE
from callvault.web.security import declares, request_context, services_of

router = APIRouter(prefix="/api/v1", tags=["speech"])


class ReviewIn(BaseModel):
    outcome: str = Field(default="", description="no_action, action_taken or misheard.")
    note: str = Field(default="", description="Anything the next reader needs to know.")


@router.get("/recordings/{recording_id}/transcript", **declares("transcripts:read"))
def transcript(
    request: Request,
    recording_id: str,
    grant: str | None = Query(default=None, max_length=40, description="An approved grant."),
    rendition: str = Query(default="original", description=" or ".join(RENDITIONS)),
) -> JSONResponse:
    """A recording's transcript under a grant: who spoke, when, what (audited first)."""
    if not grant:
        raise BadInput("name the grant you read under: ?grant=GRANT_ID", "grant")
    body = services_of(request).speech.transcript(
        request_context(request), recording_id, grant, rendition
    )
    # Decrypted words must not outlive the response in any cache.
    return JSONResponse(body, headers=NO_STORE)


@router.get("/flags", **declares("flags:read"))
def list_flags(
    request: Request,
    kind: str | None = Query(default=None, description="conduct or digits."),
    include_reviewed: bool = Query(default=False, alias="all", description="Reviewed too."),
    limit: int = Query(default=100, description="At most this many (1-1000)."),
) -> dict[str, Any]:
    """Recordings flagged for your review, newest first; the listing is audited."""
    query = FlagQuery(kind=kind, open_only=not include_reviewed, limit=limit)
    return {"flags": services_of(request).flags.list(request_context(request), query)}


@router.post("/flags/{flag_id}/review", **declares("flags:review"))
def review_flag(request: Request, flag_id: str, body: ReviewIn | None = None) -> dict[str, Any]:
    """Close a flag with what you found; nothing happens to the recording by itself."""
    review = body or ReviewIn()
    return services_of(request).flags.review(
        request_context(request), flag_id, review.outcome, review.note
    )
