"""Live calls over the API: the payment system pauses and resumes a call's recording.

``POST /api/v1/calls/{call_id}/pause`` silences the call from that moment, both channels,
until ``/resume`` (PCI DSS: card details are never recorded). ``call_id`` is the recording
session's SIP Call-ID or the recorded call's own SIP session id. Only a service account with
the ``payments`` role (and the operator) may; every pause and resume is audited.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool

from callvault.capture.siprec.server import RecorderThread
from callvault.errors import NotFound
from callvault.web.security import declares, request_context

router = APIRouter(prefix="/api/v1/calls", tags=["calls"])


def _recorder(request: Request) -> RecorderThread:
    recorder: RecorderThread | None = getattr(request.app.state, "recorder", None)
    if recorder is None:
        raise NotFound(
            "this server records no live calls; the recorder runs with `serve --siprec`",
            "call_id",
        )
    return recorder


@router.post("/{call_id}/pause", **declares("calls:pause"))
async def pause_call(request: Request, call_id: str) -> dict[str, Any]:
    """Stop recording a live call's audio (a card payment begins)."""
    recorder = _recorder(request)
    return await run_in_threadpool(recorder.pause, request_context(request), call_id)


@router.post("/{call_id}/resume", **declares("calls:pause"))
async def resume_call(request: Request, call_id: str) -> dict[str, Any]:
    """Record a paused call's audio again (the payment is over)."""
    recorder = _recorder(request)
    return await run_in_threadpool(recorder.resume, request_context(request), call_id)
