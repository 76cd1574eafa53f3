"""The Listen page (``/recordings/{id}/listen?grant=G``) and its download, over HTTP.

The page makes the audio route's checks without streaming: a grant that does not fit gets
the error page and the same audited refusal. It reads the transcript (audited) on the
server, lists what was muted, and leaves the audio to static/player.js, which fetches it
once from the API route; what the browser then does is checked in a real browser elsewhere.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html import unescape
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from access.access_helpers import record
from analytics.quality_helpers import sampled_case_ref
from audiofixtures import make_call_audio
from callvault.access.grants import Grant, GrantService
from callvault.bootstrap import Services
from callvault.context import RequestContext, system_context
from callvault.web.app import create_app
from callvault.web.pages.when import duration_text, when_text
from homes import worker_context
from speech_corpus import short_clip, tools_missing
from web_pages import (
    BASE_URL,
    embedded_leg,  # noqa: F401  (the embedded leg only)
    sent_back_to,
)
from web_people import PASSWORD, sign_in

PEOPLE = {
    "cora": "complaints_officer",
    "mina": "authorised_manager",
    "tess": "team_leader",
    "adam": "advisor",
}
CLEANER_GREENER = "020 8753 1100"  # a line that takes no payments: nothing muted in the original


@dataclass
class Home:
    services: Services
    app: Any
    recording: str

    def client(self, name: str | None = None) -> TestClient:
        client = TestClient(self.app, base_url=BASE_URL, follow_redirects=False)
        if name is not None:
            sign_in(client, self.services, name)
        return client

    def grant(
        self, holder: str, purpose: str, case_ref: str, flow: GrantService | None = None
    ) -> Grant:
        ctx = RequestContext(actor=self.services.access.person(holder), origin="test")
        grant = (flow or self.services.grants).request(ctx, [self.recording], purpose, case_ref)
        assert grant.status == "approved", grant
        return grant

    def audit_after(self, before: int) -> list[dict[str, Any]]:
        return self.services.audit.show(after=before, limit=10_000)


def _home(services: Services, recording: str) -> Home:
    admin = system_context("test")
    for name, role in PEOPLE.items():
        services.access.add_person(admin, name, role, PASSWORD)
    return Home(services, create_app(services), recording)


@pytest.fixture
def unprocessed(services: Services, ctx: RequestContext, call_wav: Path) -> Home:
    """The synthetic 3-second call, not yet through the speech job."""
    return _home(services, record(services, ctx, call_wav, "listen-1"))


@pytest.fixture
def processed(unprocessed: Home) -> Home:
    """The same call after the speech job: transcripts and the redacted rendition exist."""
    unprocessed.services.speech.process(worker_context(), unprocessed.recording)
    return unprocessed


@pytest.fixture
def spoken(services: Services, ctx: RequestContext, tmp_path: Path) -> Iterator[Home]:
    """A real spoken call (espeak-ng) in which the caller gives a name, through the speech job."""
    if tools_missing() is not None:
        pytest.skip(str(tools_missing()))
    clip = short_clip(
        tmp_path,
        "My name is {NAME:Sarah Jones} and I need a parking permit.",
        agent_text="Thank you, I have updated the parking permit.",
    )
    recording = record(services, ctx, clip.wav_path, clip.meta["call_id"], dialled=CLEANER_GREENER)
    summary = services.speech.process(worker_context(), recording)
    assert summary["found"].get("NAME"), summary
    yield _home(services, recording)


def listen_path(recording: str, grant: str, rendition: str | None = None) -> str:
    extra = f"&rendition={rendition}" if rendition else ""
    return f"/recordings/{recording}/listen?grant={grant}{extra}"


def attr(html: str, element_id: str, name: str) -> str:
    """The value of attribute ``name`` on the element with ``element_id``."""
    tag = re.search(rf'<[a-z]+ [^>]*id="{element_id}"[^>]*>', html)
    assert tag, f"no element #{element_id}"
    value = re.search(rf'\s{name}="([^"]*)"', tag.group(0))
    assert value, f"#{element_id} has no {name}"
    return unescape(value.group(1))


def segments(html: str) -> list[dict[str, str]]:
    """The transcript's buttons: data-start, data-end, data-speaker and the text shown."""
    found = re.findall(
        r'<button type="button" class="segment segment-(\w+)" data-start="([\d.]+)" '
        r'data-end="([\d.]+)" data-speaker="(\w+)">(.*?)</button>',
        html,
        re.S,
    )
    return [
        {"start": s, "end": e, "speaker": who, "text": unescape(re.sub(r"<[^>]+>", "", body))}
        for _cls, s, e, who, body in found
    ]


def assert_csp_clean(html: str) -> None:
    """Nothing the page's Content-Security-Policy would block: no inline script or style."""
    assert "style=" not in html and "<style" not in html
    for tag in re.findall(r"<script[^>]*>", html):
        assert re.search(r'src="/static/[^"]+"', tag), tag
    assert not re.search(r"\son[a-z]+=", html)  # no inline event handlers


# -- the page -------------------------------------------------------------------------------
@pytest.mark.skipif(tools_missing() is not None, reason=str(tools_missing()))
def test_page_for_an_approved_grant_shows_player_transcript_and_muted_spans(
    spoken: Home,
) -> None:
    home = spoken
    grant = home.grant("cora", "complaint", "CMP-2026-0101")
    cora = home.client("cora")
    before = home.services.audit.count()

    response = cora.get(listen_path(home.recording, grant.id))

    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["cache-control"] == "no-store"
    assert "script-src 'self'" in response.headers["content-security-policy"]
    html = response.text
    assert_csp_clean(html)
    assert html.count("<h1>") == 1 and "<h1>Listen: Cleaner Greener" in html
    assert "Complaint investigation" in html and "CMP-2026-0101" in html
    assert when_text(grant.expires_at) in html
    assert '<audio id="player" controls preload="none"' in html
    assert '<canvas id="waveform"' in html
    assert attr(html, "listen", "data-audio-url") == (
        f"/api/v1/recordings/{home.recording}/audio?grant={grant.id}&rendition=original"
    )
    assert attr(html, "listen", "data-channels") == "caller agent"
    assert attr(html, "listen", "data-channel-labels") == "Caller|Agent"
    assert attr(html, "rendition", "data-rendition") == "original"
    assert '<script src="/static/player.js?v=' in html
    # The original transcript, caller and agent, in time order, each a button that seeks.
    lines = segments(html)
    assert {line["speaker"] for line in lines} == {"caller", "agent"}
    starts = [float(line["start"]) for line in lines]
    assert starts == sorted(starts)
    assert any("Sarah" in line["text"] or "Jones" in line["text"] for line in lines), lines
    assert lines[0]["text"].startswith(("Caller ", "Agent "))
    # Nothing muted in the original on a line without payments; the other rendition offered.
    assert "Nothing is muted in the original audio." in html
    assert attr(html, "switch-rendition", "href") == listen_path(
        home.recording, grant.id, "redacted"
    )
    assert 'id="export-form"' in html  # complaints may be exported

    # The page read the transcript (audited) and streamed nothing: the script's fetch will.
    new = home.audit_after(before)
    assert [e["action"] for e in new] == ["transcript.read"]
    assert new[0]["details"] == {"grant_id": grant.id, "rendition": "original"}
    assert new[0]["purpose"] == "complaint" and new[0]["case_ref"] == "CMP-2026-0101"

    # The redacted rendition: its transcript, and the name listed as a muted span.
    redacted = cora.get(listen_path(home.recording, grant.id, "redacted")).text
    assert_csp_clean(redacted)
    assert attr(redacted, "rendition", "data-rendition") == "redacted"
    assert attr(redacted, "listen", "data-audio-url").endswith("rendition=redacted")
    assert "[NAME]" in " ".join(line["text"] for line in segments(redacted))
    assert "Sarah" not in redacted and "Jones" not in redacted
    spans = re.findall(
        r'<li data-start="([\d.]+)" data-end="([\d.]+)" data-kind="(\w+)" '
        r'data-speaker="(\w+)">([^<]+)</li>',
        redacted,
    )
    assert spans, redacted
    start, end, kind, speaker, label = spans[0]
    assert (kind, speaker) == ("NAME", "caller")
    assert label == (
        f"Name, caller, {duration_text(float(start))}\u2013{duration_text(float(end), up=True)}"
    )
    assert float(start) < float(end)
    assert attr(redacted, "switch-rendition", "href") == listen_path(
        home.recording, grant.id, "original"
    )
    assert home.audit_after(before)[-1]["details"]["rendition"] == "redacted"


def test_audio_url_on_the_page_streams_the_listen(processed: Home) -> None:
    home = processed
    grant = home.grant("cora", "complaint", "CMP-2026-0102")
    cora = home.client("cora")
    html = cora.get(listen_path(home.recording, grant.id)).text
    before = home.services.audit.count()

    audio = cora.get(attr(html, "listen", "data-audio-url"))

    assert audio.status_code == 200 and audio.headers["content-type"] == "audio/ogg"
    assert audio.content.startswith(b"OggS")
    [entry] = home.audit_after(before)
    assert entry["action"] == "recording.played" and entry["details"]["to"] == "stream"


def test_no_transcript_yet(unprocessed: Home) -> None:
    home = unprocessed
    grant = home.grant("cora", "complaint", "CMP-2026-0103")
    response = home.client("cora").get(listen_path(home.recording, grant.id))
    assert response.status_code == 200, response.text
    html = response.text
    assert "No transcript yet" in html
    assert 'id="transcript"' not in html
    assert "Not checked for personal data yet" in html
    # The redacted rendition is made by the speech job: nothing to switch to yet.
    assert 'id="switch-rendition"' not in html


def test_the_length_reads_as_the_players_clock(
    unprocessed: Home, ctx: RequestContext, tmp_path: Path
) -> None:
    """A call of 2.7 s: an audio element's clock shows 0:02 (whole seconds, rounded down),
    so the page says so too, and so does the recording's own page."""
    home = unprocessed
    wav = make_call_audio(tmp_path / "short.wav", seconds=2.7)
    recording = record(home.services, ctx, wav, "listen-short")
    assert home.services.catalog.get(recording).duration_s == pytest.approx(2.7)
    grant = home.services.grants.request(
        RequestContext(actor=home.services.access.person("cora"), origin="test"),
        [recording], "complaint", "CMP-2026-0112",
    )  # fmt: skip
    cora = home.client("cora")
    html = cora.get(listen_path(recording, grant.id)).text
    assert "<dt>Length</dt><dd>0:02</dd>" in html
    assert attr(html, "listen", "data-duration") == "2.7"
    details = cora.get(f"/recordings/{recording}").text
    assert re.search(r"<dt>Duration</dt>\s*<dd>0:02</dd>", details)


# -- refusals -------------------------------------------------------------------------------
def _refused(home: Home, client: TestClient, path: str, before: int) -> dict[str, Any]:
    response = client.get(path)
    assert response.status_code == 403, response.text
    assert response.headers["content-type"].startswith("text/html")
    assert "<h1>Not allowed</h1>" in response.text
    assert 'id="player"' not in response.text
    [entry] = [e for e in home.audit_after(before) if e["action"] == "access.refused"]
    assert not [e for e in home.audit_after(before) if e["action"] != "access.refused"]
    return entry


def test_grant_that_does_not_fit_is_refused_and_audited(unprocessed: Home) -> None:
    home = unprocessed
    services = home.services
    cora = home.client("cora")
    minas = home.grant("mina", "complaint", "CMP-2026-0104")
    revoked = home.grant("cora", "complaint", "CMP-2026-0105")
    cora_ctx = RequestContext(actor=services.access.person("cora"), origin="test")
    services.grants.revoke(cora_ctx, revoked.id, "case closed")
    then = datetime.now(UTC) - timedelta(days=21)
    old_flow = GrantService(
        services.engine, services.audit, services.policy.policy, services.catalog,
        services.permissions, clock=lambda: then,
    )  # fmt: skip
    expired = home.grant("cora", "complaint", "CMP-2026-0106", flow=old_flow)

    cases = {
        "no such grant": ("f" * 32, "no grant"),
        "someone else's": (minas.id, "was given to mina"),
        "revoked": (revoked.id, "is revoked"),
        "expired": (expired.id, "expired"),
    }
    for case, (grant_id, why) in cases.items():
        before = services.audit.count()
        entry = _refused(home, cora, listen_path(home.recording, grant_id), before)
        assert why in entry["details"]["why"], (case, entry)
        assert entry["actor"] == "cora" and entry["object_id"] == home.recording, case
        assert entry["details"]["grant_id"] == grant_id, case


def test_grant_for_another_recording_is_refused(
    unprocessed: Home, ctx: RequestContext, tmp_path: Path
) -> None:
    home = unprocessed
    wav = make_call_audio(tmp_path / "other.wav", seconds=2.0)
    other = record(home.services, ctx, wav, "listen-2")
    grant = home.grant("cora", "complaint", "CMP-2026-0107")
    cora = home.client("cora")
    before = home.services.audit.count()
    entry = _refused(home, cora, listen_path(other, grant.id), before)
    assert "does not cover" in entry["details"]["why"]


def test_roles_and_sign_in(unprocessed: Home) -> None:
    home = unprocessed
    grant = home.grant("cora", "complaint", "CMP-2026-0108")
    path = listen_path(home.recording, grant.id)
    # Signed out: to the sign-in page, coming back here afterwards.
    response = home.client().get(path)
    assert response.status_code == 303
    assert sent_back_to(response.headers["location"]) == path
    # An advisor never hears recordings: refused by the action check, audited.
    adam = home.client("adam")
    before = home.services.audit.count()
    refused = adam.get(path)
    assert refused.status_code == 403 and "<h1>Not allowed</h1>" in refused.text
    [entry] = home.audit_after(before)
    assert entry["action"] == "access.refused" and entry["object_id"] == "recordings:play"


def test_missing_grant_or_bad_rendition_is_bad_input(unprocessed: Home) -> None:
    home = unprocessed
    cora = home.client("cora")
    missing = cora.get(f"/recordings/{home.recording}/listen")
    assert missing.status_code == 422 and "approved grant" in missing.text
    grant = home.grant("cora", "complaint", "CMP-2026-0109")
    bad = cora.get(listen_path(home.recording, grant.id, "loud"))
    assert bad.status_code == 422 and "rendition must be one of" in bad.text


# -- purposes that hear only the redacted rendition -----------------------------------------
def test_quality_monitoring_gets_the_redacted_rendition(processed: Home) -> None:
    home = processed
    case_ref = sampled_case_ref(home.services, home.recording)
    grant = home.grant("tess", "quality", case_ref)
    tess = home.client("tess")

    response = tess.get(listen_path(home.recording, grant.id))

    assert response.status_code == 200, response.text
    html = response.text
    assert_csp_clean(html)
    assert attr(html, "rendition", "data-rendition") == "redacted"
    assert attr(html, "listen", "data-audio-url").endswith(f"grant={grant.id}&rendition=redacted")
    assert 'id="redacted-only"' in html and "hears only the redacted recording" in html
    assert 'id="switch-rendition"' not in html  # the original is not for this purpose
    assert 'id="export-form"' not in html  # quality monitoring never leaves the system
    assert "Quality monitoring" in html and case_ref in html

    # Asking for the original is refused, as the audio route refuses it, and audited.
    before = home.services.audit.count()
    entry = _refused(home, tess, listen_path(home.recording, grant.id, "original"), before)
    assert entry["details"]["field"] == "rendition"


def test_quality_before_the_speech_job_has_nothing_to_hear(unprocessed: Home) -> None:
    home = unprocessed
    grant = home.grant("tess", "quality", sampled_case_ref(home.services, home.recording))
    response = home.client("tess").get(listen_path(home.recording, grant.id))
    assert response.status_code == 404
    assert "no redacted rendition yet" in response.text


# -- the download -----------------------------------------------------------------------------
def _form_post(client: TestClient, path: str, fields: dict[str, str]) -> Any:
    # A page's form carries the token as a field, not the header a script sends.
    client.headers.pop("X-CSRF-Token", None)
    return client.post(path, data=fields)


def test_download_exports_the_recording_as_an_attachment(processed: Home) -> None:
    home = processed
    grant = home.grant("cora", "complaint", "CMP-2026-0110")
    cora = home.client("cora")
    html = cora.get(listen_path(home.recording, grant.id)).text
    action = attr(html, "export-form", "action")
    assert action == f"/recordings/{home.recording}/listen/export"
    form = re.search(r'<form id="export-form".*?</form>', html, re.S)
    assert form is not None
    fields = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', form.group(0)))
    assert set(fields) == {"csrf_token", "grant"} and fields["grant"] == grant.id
    before = home.services.audit.count()

    response = _form_post(cora, action, fields)

    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/zip"
    assert response.headers["content-disposition"].startswith("attachment; filename=")
    assert response.headers["cache-control"] == "no-store"
    names = zipfile.ZipFile(io.BytesIO(response.content)).namelist()
    assert f"audio/{home.recording}.opus" in names
    exported = [e for e in home.audit_after(before) if e["action"] == "recording.exported"]
    assert [e["object_id"] for e in exported] == [home.recording]
    assert exported[0]["details"]["export_id"] == response.headers["x-export-id"]


def test_download_is_refused_without_the_token_or_where_export_is_not_allowed(
    processed: Home,
) -> None:
    home = processed
    services = home.services
    action = f"/recordings/{home.recording}/listen/export"
    cora = home.client("cora")
    grant = home.grant("cora", "complaint", "CMP-2026-0111")
    before = services.audit.count()
    no_token = _form_post(cora, action, {"grant": grant.id})
    assert no_token.status_code == 403 and "<h1>Not allowed</h1>" in no_token.text
    assert {e["action"] for e in home.audit_after(before)} == {"session.csrf_refused"}

    # Quality monitoring may listen, never export: refused by the exporter, audited.
    quality = home.grant("tess", "quality", sampled_case_ref(services, home.recording))
    tess = home.client("tess")
    page = tess.get(listen_path(home.recording, quality.id)).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)  # the sign-out form's
    assert token is not None
    before = services.audit.count()
    refused = _form_post(tess, action, {"csrf_token": token.group(1), "grant": quality.id})
    assert refused.status_code == 403 and "does not allow export" in refused.text
    [entry] = home.audit_after(before)
    assert entry["action"] == "access.refused" and entry["details"]["field"] == "purpose"
    assert not [e for e in services.audit.show(limit=10_000) if e["action"] == "recording.exported"]


# -- the assets -------------------------------------------------------------------------------
def test_player_script_and_stylesheet_are_served(unprocessed: Home) -> None:
    home = unprocessed
    client = home.client()
    script = client.get("/static/player.js")
    assert script.status_code == 200
    assert script.headers["content-type"].split(";")[0] in (
        "text/javascript",
        "application/javascript",
    )
    assert "decodeAudioData" in script.text and "aria-current" in script.text
    style = client.get("/static/player.css")
    assert style.status_code == 200 and style.headers["content-type"].startswith("text/css")
