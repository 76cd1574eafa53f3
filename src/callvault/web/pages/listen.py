"""``/recordings/{id}/listen?grant=G``: the player, and ``.../listen/export``: the download.

The page makes every check the audio route makes (``Player.check``: the grant is this
person's, approved, unexpired, covers the recording; their role may still use its purpose;
the purpose may hear the rendition) before anything is shown, so a grant that does not fit
gets the error page and the same audited refusal as the API gives. It streams nothing
itself: ``static/player.js`` fetches the audio once from the API route (that request is the
audited listen), plays it from a Blob URL and draws its waveform from the same bytes.

The transcript is read here, on the server, through ``SpeechService.transcript`` (audited
``transcript.read``), redacted whenever the redacted audio is what is heard. The muted spans
come from the redaction log, which holds kinds and times, never words.

A purpose that may not hear the original (quality monitoring, training) gets the redacted
rendition without asking, and the page says so. The download is offered only where the
grant's purpose allows export; the export route runs the API's export, refusals and all.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import Engine, select

from callvault.access.grants import check_id
from callvault.access.playback import REDACTED_KIND, RENDITIONS
from callvault.bootstrap import Services
from callvault.context import RequestContext
from callvault.errors import BadInput, NotFound
from callvault.policy.model import Purpose
from callvault.speech.renditions import TRANSCRIPT
from callvault.speech.service import READ_ACTION, speakers_of
from callvault.speech.store import redactions
from callvault.web.pages.render import form_text, page, render
from callvault.web.pages.when import duration_text, when_text
from callvault.web.routes import disclosures
from callvault.web.security import request_context, services_of

router = APIRouter()

EXPORT_ACTION = "recordings:export"
EN_DASH = "\u2013"  # between the ends of a range of times

SPEAKER_LABELS = {"caller": "Caller", "agent": "Agent", "mixed": "Both parties"}
KIND_LABELS = {
    "NAME": "Name",
    "ADDRESS": "Address",
    "POSTCODE": "Postcode",
    "PHONE": "Phone number",
    "EMAIL": "Email address",
    "NI_NUMBER": "National Insurance number",
    "DATE_OF_BIRTH": "Date of birth",
    "CARD": "Card number",
    "SECURITY_CODE": "Security code",
    "SORT_CODE": "Sort code",
    "ACCOUNT_NUMBER": "Account number",
    "DIGITS": "Digits",
    "DTMF": "Key presses",
}
RENDITION_LABELS = {
    "original": "Original audio",
    "redacted": "Redacted audio (personal and card data muted)",
}
RENDITION_PHRASES = {"original": "the original audio", "redacted": "the redacted audio"}


def speaker_label(speaker: str) -> str:
    return SPEAKER_LABELS.get(speaker, speaker.replace("_", " ").capitalize())


@dataclass(frozen=True, slots=True)
class MutedSpan:
    kind: str
    speaker: str
    start_s: float
    end_s: float

    @property
    def label(self) -> str:
        """What the text alternative to the waveform says: "Card number, caller, 0:42-0:58"
        (with an en dash, as a range is written)."""
        kind = KIND_LABELS.get(self.kind, self.kind.replace("_", " ").capitalize())
        who = speaker_label(self.speaker).lower()
        start, end = duration_text(self.start_s), duration_text(self.end_s, up=True)
        return f"{kind}, {who}, {start}{EN_DASH}{end}"


@dataclass(frozen=True, slots=True)
class Line:
    """One transcript segment as the page lists it."""

    speaker: str
    start_s: float
    end_s: float
    text: str

    @property
    def who(self) -> str:
        return speaker_label(self.speaker)

    @property
    def when(self) -> str:
        return duration_text(self.start_s)


def muted_spans(engine: Engine, recording_id: str, rendition: str) -> list[MutedSpan]:
    """What the speech job muted in ``rendition`` of the recording, in time order."""
    with engine.connect() as conn:
        columns = (
            redactions.c.kind,
            redactions.c.speaker,
            redactions.c.start_s,
            redactions.c.end_s,
        )
        rows = conn.execute(
            select(*columns)
            .where(redactions.c.recording_id == recording_id, redactions.c.rendition == rendition)
            .order_by(redactions.c.start_s, redactions.c.id)
        ).all()
    return [MutedSpan(r.kind, r.speaker, float(r.start_s), float(r.end_s)) for r in rows]


def transcript_lines(
    services: Services, ctx: RequestContext, recording_id: str, grant_id: str, rendition: str
) -> list[Line] | None:
    """The transcript of ``rendition`` under the grant (audited there), in time order; None
    when the speech job has not made one yet."""
    try:
        body = services.speech.transcript(ctx, recording_id, grant_id, rendition)
    except NotFound:
        return None
    lines = [
        Line(str(s["speaker"]), float(s["start"]), float(s["end"]), str(s["text"]).strip())
        for s in body["segments"]
    ]
    # Each channel is transcribed on its own: interleave the two parties by time.
    return sorted(lines, key=lambda line: (line.start_s, line.end_s))


def may_export(services: Services, ctx: RequestContext, purpose: Purpose) -> bool:
    """Whether to offer the download: the rule ``Exporter.export`` enforces (the role may
    export; the purpose allows export and may hear the original, which an export carries).
    The export route asks the exporter itself, so this only decides what is shown."""
    allowed = services.permissions.allowed(ctx.actor, EXPORT_ACTION)
    return allowed and purpose.export_allowed and purpose.original_allowed


def listen_url(recording_id: str, grant_id: str, rendition: str) -> str:
    query = urlencode({"grant": grant_id, "rendition": rendition})
    return f"/recordings/{recording_id}/listen?{query}"


def audio_url(recording_id: str, grant_id: str, rendition: str) -> str:
    query = urlencode({"grant": grant_id, "rendition": rendition})
    return f"/api/v1/recordings/{recording_id}/audio?{query}"


def access_left(services: Services, expires_at: str | None) -> int:
    """Whole seconds until the grant expires (the player stops then), by the grants' clock,
    which the browser's may not match."""
    if not expires_at:
        return 0
    left = datetime.fromisoformat(expires_at) - services.grants.now()
    return max(0, math.floor(left.total_seconds()))


def _line_name(services: Services, line_id: str) -> str:
    try:
        return services.policy.policy.line(line_id).name
    except NotFound:  # a line since removed from the policy: its id still says which
        return line_id


@router.get("/recordings/{recording_id}/listen", **page("recordings:play"))
def listen(
    request: Request,
    recording_id: str,
    grant: str | None = Query(default=None, max_length=40),
    rendition: str | None = Query(default=None, max_length=16),
) -> HTMLResponse:
    """The player for one recording under a grant; ``rendition`` defaults to what the
    grant's purpose may hear (the original, else the redacted)."""
    if not grant:
        raise BadInput(
            "listening needs an approved grant: ask for access to the recording, then open "
            "the link to listen from your requests",
            "grant",
        )
    services = services_of(request)
    ctx = request_context(request)
    player = services.player
    chosen_by_purpose = rendition is None
    if rendition is None:
        # The purpose decides the default, so the grant is cleared first (refusals audited).
        cleared = player.clear(ctx, recording_id, grant)
        purpose = services.grants.purpose(cleared.grant.purpose)
        rendition = "original" if purpose.original_allowed else "redacted"
    # Every check the audio route makes, the rendition's included; no listen is audited.
    cleared, _blob = player.check(ctx, recording_id, grant, rendition)
    purpose = services.grants.purpose(cleared.grant.purpose)
    rec = cleared.recording
    redacted_ready = services.catalog.rendition(rec.id, REDACTED_KIND) is not None
    other = next(r for r in RENDITIONS if r != rendition)
    switch = None
    if purpose.original_allowed and (other == "original" or redacted_ready):
        switch = {"url": listen_url(rec.id, grant, other), "phrase": RENDITION_PHRASES[other]}
    reads_transcripts = services.permissions.allowed(ctx.actor, READ_ACTION)
    lines = transcript_lines(services, ctx, rec.id, grant, rendition) if reads_transcripts else None
    context: dict[str, Any] = {
        "recording": rec,
        "grant": cleared.grant,
        "purpose": purpose,
        "line_name": _line_name(services, rec.line),
        "started": when_text(rec.started_at),
        "length": duration_text(rec.duration_s),  # as the audio element's clock shows it
        "expires": when_text(cleared.grant.expires_at),
        "access_left_s": access_left(services, cleared.grant.expires_at),
        "rendition": rendition,
        "rendition_label": RENDITION_LABELS[rendition],
        "rendition_phrase": RENDITION_PHRASES[rendition],
        "redacted_only": not purpose.original_allowed,
        "chosen_by_purpose": chosen_by_purpose,
        "switch": switch,
        "audio_url": audio_url(rec.id, grant, rendition),
        "channels": [(s, speaker_label(s)) for s in speakers_of(rec)],
        "analysed": services.catalog.rendition(rec.id, TRANSCRIPT) is not None,
        "spans": muted_spans(services.engine, rec.id, rendition),
        "reads_transcripts": reads_transcripts,
        "lines": lines,
        "may_export": may_export(services, ctx, purpose),
        "export_url": f"/recordings/{rec.id}/listen/export",
    }
    return render(request, "listen.html", **context)


@router.post("/recordings/{recording_id}/listen/export", **page(EXPORT_ACTION))
async def listen_export(request: Request, recording_id: str) -> Response:
    """This recording exported under the grant named in the form: the API's export (the
    exporter's checks, audit entries and signed zip), answered as a download."""
    check_id(recording_id, "recording_id")
    form = await request.form()
    grant = form_text(form, "grant", 40)
    body = disclosures.ExportRequest(recording_ids=[recording_id])
    # The API route itself, so the page can never export differently from the API.
    return await disclosures.export(request, grant, body)
