"""Playback, export and the disclosure register over HTTP, against a real home (both legs).

People are signed in through the real session service (``SignInService.open_session``, as
after a single sign-on with a second factor); requests carry the cookie and CSRF token.
"""

from __future__ import annotations

import hashlib
import zipfile
from collections.abc import Generator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from access.access_helpers import add_people, as_person, entries, grants, record
from analytics.quality_helpers import sampled_case_ref
from audiofixtures import make_call_audio
from callvault.access.export import Exporter
from callvault.access.export_signing import verify_export
from callvault.access.sessions import ANONYMOUS, CSRF_HEADER
from callvault.access.signin import SignInService
from callvault.access.store import grants as grants_table
from callvault.bootstrap import Services
from callvault.context import RequestContext
from callvault.vault.crypto import CHUNK_SIZE
from callvault.vault.service import Vault
from callvault.web.app import create_app

Audio = tuple[Services, str, str, bytes]  # services, recording id, cora's grant id, the audio


def signed_in(services: Services, name: str) -> TestClient:
    client = TestClient(create_app(services))
    signin = SignInService.for_services(services)
    web = RequestContext(actor=ANONYMOUS, origin="api:testclient")
    session = signin.open_session(web, name, True)
    client.cookies.set(signin.sessions.rules.cookie_name, session.session_id)
    client.headers[CSRF_HEADER] = session.csrf_token
    return client


@pytest.fixture
def audio(services: Services, ctx: RequestContext, tmp_path: Path) -> Audio:
    """A 90-second call (several 64 KiB chunks), cora's complaint grant, and its audio as
    ``callvault play`` writes it."""
    add_people(services, ctx)
    wav = make_call_audio(tmp_path / "long.wav", seconds=90.0)
    rec_id = record(services, ctx, wav)
    cora = as_person(services, "cora")
    grant = grants(services).flow.request(cora, rec_id, "complaint", "CMP-2026-0031")
    played = grants(services).player.play(cora, rec_id, grant.id, tmp_path / "played.opus")
    data = Path(played["path"]).read_bytes()
    assert len(data) > 2 * CHUNK_SIZE + 100
    return services, rec_id, grant.id, data


def _url(rec_id: str, grant_id: str, extra: str = "") -> str:
    return f"/api/v1/recordings/{rec_id}/audio?grant={grant_id}{extra}"


def test_whole_recording_equals_play_byte_for_byte(audio: Audio) -> None:
    services, rec_id, grant_id, data = audio
    cora = signed_in(services, "cora")
    before = services.audit.count()
    response = cora.get(_url(rec_id, grant_id))
    assert response.status_code == 200 and response.content == data
    assert response.headers["content-type"] == "audio/ogg"
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["accept-ranges"] == "bytes"
    assert response.headers["content-length"] == str(len(data))
    assert "content-range" not in response.headers
    # The security headers reach a streamed response too (web/headers.py is pure ASGI).
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    [entry] = entries(services, before)
    assert entry["action"] == "recording.played" and entry["object_id"] == rec_id
    whole = f"bytes 0-{len(data) - 1}/{len(data)}"
    assert entry["details"] == {
        "grant_id": grant_id, "range": whole, "to": "stream", "rendition": "original"
    }  # fmt: skip
    assert entry["purpose"] == "complaint" and entry["case_ref"] == "CMP-2026-0031"


def test_ranges(audio: Audio) -> None:
    services, rec_id, grant_id, data = audio
    client, size = signed_in(services, "cora"), len(data)
    cases = [
        ("bytes=0-0", 0, 1),
        (f"bytes=0-{CHUNK_SIZE - 1}", 0, CHUNK_SIZE),  # exactly the first chunk
        (f"bytes={CHUNK_SIZE - 10}-{CHUNK_SIZE + 9}", CHUNK_SIZE - 10, CHUNK_SIZE + 10),
        (f"bytes=100-{2 * CHUNK_SIZE + 50}", 100, 2 * CHUNK_SIZE + 51),  # three chunks
        ("bytes=-100", size - 100, size),  # suffix
        (f"bytes=-{size + 10}", 0, size),  # suffix longer than the file: all of it
        (f"bytes={CHUNK_SIZE + 1}-", CHUNK_SIZE + 1, size),  # open-ended
        (f"bytes={size - 1}-{size + 1000}", size - 1, size),  # end clipped
    ]
    for header, start, end in cases:
        response = client.get(_url(rec_id, grant_id), headers={"Range": header})
        assert response.status_code == 206, header
        assert response.content == data[start:end], header
        assert response.headers["content-range"] == f"bytes {start}-{end - 1}/{size}", header
        assert response.headers["content-length"] == str(end - start)
        assert response.headers["cache-control"] == "no-store"
    for everything in (f"bytes=0-{size - 1}", "bytes=0-"):  # how a browser player starts
        whole = client.get(_url(rec_id, grant_id), headers={"Range": everything})
        assert whole.status_code == 206 and whole.content == data
        assert whole.headers["content-range"] == f"bytes 0-{size - 1}/{size}"
    for ignored in ("bytes=5-1", "items=0-5", "bytes=0-1,5-6", "bytes=x-"):
        response = client.get(_url(rec_id, grant_id), headers={"Range": ignored})
        assert response.status_code == 200 and response.content == data, ignored


def test_unsatisfiable_range_is_416_and_sends_nothing(audio: Audio) -> None:
    services, rec_id, grant_id, data = audio
    client = signed_in(services, "cora")
    before = services.audit.count()
    for header in (f"bytes={len(data)}-", f"bytes={len(data) + 5}-{len(data) + 9}", "bytes=-0"):
        response = client.get(_url(rec_id, grant_id), headers={"Range": header})
        assert response.status_code == 416, header
        assert response.headers["content-range"] == f"bytes */{len(data)}"
        assert response.json()["field"] == "range"
    assert services.audit.count() == before  # nothing was played


def test_every_range_request_is_audited_first_as_played_then_streamed(audio: Audio) -> None:
    services, rec_id, grant_id, _ = audio
    client = signed_in(services, "cora")
    before = services.audit.count()
    for header in ("bytes=0-", "bytes=70000-", "bytes=-2000"):
        assert client.get(_url(rec_id, grant_id), headers={"Range": header}).status_code == 206
    new = entries(services, before)
    assert [e["action"] for e in new] == [
        "recording.played",
        "recording.streamed",
        "recording.streamed",
    ]
    assert new[1]["details"]["range"].startswith("bytes 70000-")
    # A `callvault play` to a file is a listen of its own, and does not open a stream window.
    mina = as_person(services, "mina")
    other = grants(services).flow.request(mina, rec_id, "complaint", "CMP-2026-0032")
    mina_client = signed_in(services, "mina")
    assert mina_client.get(_url(rec_id, other.id)).status_code == 200
    assert entries(services, before)[-1]["action"] == "recording.played"


def test_audit_entry_is_committed_before_the_first_chunk_is_decrypted(
    audio: Audio, monkeypatch: pytest.MonkeyPatch
) -> None:
    services, rec_id, grant_id, data = audio
    trail_at_first_chunk: list[dict[str, Any]] = []
    real_read_range = Vault.read_range

    def read_range(self: Vault, *args: Any, **kwargs: Any) -> Generator[bytes, None, None]:
        chunks = real_read_range(self, *args, **kwargs)

        def looking_first() -> Iterator[bytes]:
            trail_at_first_chunk.extend(entries(services))  # read from a new connection
            yield from chunks

        return (chunk for chunk in looking_first())

    monkeypatch.setattr(Vault, "read_range", read_range)
    response = signed_in(services, "cora").get(_url(rec_id, grant_id))
    assert response.content == data
    assert trail_at_first_chunk[-1]["action"] == "recording.played"
    assert trail_at_first_chunk[-1]["details"]["to"] == "stream"


def _refused(client: TestClient, services: Services, url: str, match: str) -> None:
    before = services.audit.count()
    response = client.get(url, headers={"Range": "bytes=0-"})
    assert response.status_code == 403, response.text
    assert response.headers["content-type"] == "application/json"  # an error, no audio
    assert match in response.json()["error"]
    new = entries(services, before)
    assert [e["action"] for e in new] == ["access.refused"] and match in new[0]["details"]["why"]


def test_refused_plays_are_audited_and_stream_nothing(
    audio: Audio, ctx: RequestContext, tmp_path: Path
) -> None:
    services, rec_id, grant_id, _ = audio
    flow = grants(services).flow
    cora, mina = signed_in(services, "cora"), signed_in(services, "mina")
    other_rec = record(
        services, ctx, make_call_audio(tmp_path / "b.wav", seconds=3.0), call_id="pbx-9"
    )
    _refused(cora, services, _url(rec_id, "nogrant"), "no grant 'nogrant'")
    _refused(cora, services, _url(other_rec, grant_id), "does not cover recording")
    _refused(mina, services, _url(rec_id, grant_id), "was given to cora, not mina")
    pending = flow.request(as_person(services, "mina"), rec_id, "crime", "CRM-2026-0031")
    _refused(mina, services, _url(rec_id, pending.id), "is pending, not approved")
    late = flow.request(as_person(services, "cora"), rec_id, "complaint", "CMP-2026-0033")
    past = (datetime.now(UTC) - timedelta(seconds=1)).isoformat()
    with services.engine.begin() as conn:
        conn.execute(
            update(grants_table).where(grants_table.c.id == late.id).values(expires_at=past)
        )
    _refused(cora, services, _url(rec_id, late.id), "expired at")
    flow.revoke(as_person(services, "cora"), grant_id, "case closed")
    _refused(cora, services, _url(rec_id, grant_id), "is revoked, not approved")
    assert services.audit.verify().ok


def test_bad_requests(audio: Audio) -> None:
    services, rec_id, grant_id, _ = audio
    cora, adam = signed_in(services, "cora"), signed_in(services, "adam")
    before = services.audit.count()
    missing = cora.get(f"/api/v1/recordings/{rec_id}/audio")
    assert missing.status_code == 422 and missing.json()["field"] == "grant"
    bad = cora.get(_url(rec_id, grant_id, "&rendition=loud"))
    assert bad.status_code == 422 and bad.json()["field"] == "rendition"
    assert cora.get(_url("..", grant_id)).status_code in {404, 422}
    anonymous = TestClient(create_app(services)).get(_url(rec_id, grant_id))
    assert anonymous.status_code in {401, 403}
    assert services.audit.count() == before  # bad input and nobody: nothing to audit
    assert adam.get(_url(rec_id, grant_id)).status_code == 403  # advisors never hear audio
    assert [e["action"] for e in entries(services, before)] == ["access.refused"]
    before = services.audit.count()
    redacted = cora.get(_url(rec_id, grant_id, "&rendition=redacted"))
    assert redacted.status_code == 404 and redacted.json()["field"] == "rendition"
    assert "no redacted rendition" in redacted.json()["error"]


def test_export_and_disclosure_over_http(audio: Audio, tmp_path: Path) -> None:
    services, rec_id, grant_id, data = audio
    cora = signed_in(services, "cora")
    response = cora.post(f"/api/v1/grants/{grant_id}/export")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/zip"
    assert response.headers["cache-control"] == "no-store"
    export_id = response.headers["x-export-id"]
    assert export_id in response.headers["content-disposition"]
    saved = tmp_path / "download.zip"
    saved.write_bytes(response.content)
    public = Exporter.for_services(services).public_key()["public_key"].encode()
    manifest = verify_export(saved, public)
    with zipfile.ZipFile(saved) as archive:
        assert archive.read(f"audio/{rec_id}.opus") == data
    assert manifest["recordings"][0]["sha256"] == hashlib.sha256(data).hexdigest()

    body = {"export_id": export_id, "recipient": "Ms J Okafor", "organisation": "LGSCO",
            "reason": "investigation", "method": "portal",
            "sent_on": datetime.now(UTC).date().isoformat()}  # fmt: skip
    missing = cora.post("/api/v1/disclosures", json={**body, "recipient": ""})
    assert missing.status_code == 422 and missing.json()["field"] == "recipient"
    bad_date = cora.post("/api/v1/disclosures", json={**body, "sent_on": "31/12/2026"})
    assert bad_date.status_code == 422 and bad_date.json()["field"] == "sent_on"
    unknown = cora.post("/api/v1/disclosures", json={**body, "export_id": "feedface"})
    assert unknown.status_code == 404 and unknown.json()["field"] == "export_id"
    created = cora.post("/api/v1/disclosures", json=body)
    assert created.status_code == 201 and created.json()["recorded_by"] == "cora"
    assert cora.get("/api/v1/disclosures").status_code == 403
    listed = signed_in(services, "dana").get("/api/v1/disclosures", params={"from": "2026-01-01"})
    assert [d["id"] for d in listed.json()["disclosures"]] == [created.json()["id"]]


def test_export_refused_for_quality_over_http(audio: Audio) -> None:
    services, rec_id, _, _ = audio
    grant = grants(services).flow.request(
        as_person(services, "mina"), rec_id, "quality", sampled_case_ref(services, rec_id)
    )
    mina = signed_in(services, "mina")
    before = services.audit.count()
    response = mina.post(f"/api/v1/grants/{grant.id}/export")
    assert response.status_code == 403 and "does not allow export" in response.json()["error"]
    assert [e["action"] for e in entries(services, before)] == ["access.refused"]
