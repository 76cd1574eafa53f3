"""The access flow through the real HTTP server, as people in a browser would use it.

A complaints officer asks to hear a call for an ombudsman investigation (the recording will
leave the council, so a second person must approve), an authorised manager approves, the
officer streams it; the audit trail shows request, approval and play in that order, each with the
purpose and case reference, and verifies.
"""

from __future__ import annotations

import os
from pathlib import Path

import httpx
from server_process import running_server

from access.access_helpers import record
from callvault.access.signin import SignInService
from callvault.bootstrap import Services
from callvault.context import RequestContext, system_context
from callvault.media.decode import decode_to_pcm
from web_people import PASSWORD, current_code


def _signed_in(base: str, services: Services, username: str) -> httpx.Client:
    """A client with ``username``'s session. The cookie is Secure (the default), which an
    http:// client won't send by itself, so it goes in the Cookie header as a browser on
    localhost (a secure context) sends it."""
    enrolment = SignInService.for_services(services).enrol_totp(system_context("e2e"), username)
    client = httpx.Client(base_url=base, timeout=30)
    response = client.post(
        "/api/v1/session",
        json={"username": username, "password": PASSWORD, "totp": current_code(enrolment.secret)},
    )
    assert response.status_code == 200, response.text
    cookie = response.headers["set-cookie"].split(";")[0]
    assert "HttpOnly" in response.headers["set-cookie"]
    client.cookies.clear()
    client.headers.update({"Cookie": cookie, "X-CSRF-Token": response.json()["csrf_token"]})
    return client


def test_request_approve_play_through_the_server(
    services: Services, ctx: RequestContext, call_wav: Path, tmp_path: Path
) -> None:
    admin = system_context("e2e")
    services.access.add_person(admin, "cora", "complaints_officer", PASSWORD)
    services.access.add_person(admin, "mina", "authorised_manager", PASSWORD)
    rec_id = record(services, ctx, call_wav, "e2e-access")
    env = {**os.environ, "CALLVAULT_HOME": str(services.settings.home)}
    with running_server(env, ["--no-worker"]) as base:
        cora, mina = _signed_in(base, services, "cora"), _signed_in(base, services, "mina")
        before = services.audit.count()
        asked = cora.post(
            "/api/v1/grants",
            json={"recording_ids": [rec_id], "purpose": "ombudsman",
                  "case_ref": "LGO-2026-0417", "reason": "complaint about a parking call"},
        )  # fmt: skip
        assert asked.status_code == 201, asked.text
        grant = asked.json()
        assert grant["status"] == "pending"
        # Pending: nothing plays yet.
        refused = cora.get(f"/api/v1/recordings/{rec_id}/audio", params={"grant": grant["id"]})
        assert refused.status_code == 403 and "pending" in refused.json()["error"]
        # The officer cannot approve their own request; the manager sees it and approves.
        assert cora.post(f"/api/v1/grants/{grant['id']}/approve").status_code == 403
        waiting = mina.get("/api/v1/grants", params={"status": "pending"}).json()["grants"]
        assert [g["id"] for g in waiting] == [grant["id"]]
        approved = mina.post(f"/api/v1/grants/{grant['id']}/approve")
        assert approved.status_code == 200 and approved.json()["status"] == "approved"
        # The officer streams it: the first bytes by range, then the whole call.
        first = cora.get(
            f"/api/v1/recordings/{rec_id}/audio",
            params={"grant": grant["id"]},
            headers={"Range": "bytes=0-3"},
        )
        assert first.status_code == 206 and first.content == b"OggS"
        whole = cora.get(f"/api/v1/recordings/{rec_id}/audio", params={"grant": grant["id"]})
        assert whole.status_code == 200 and whole.headers["cache-control"] == "no-store"
        (tmp_path / "call.opus").write_bytes(whole.content)
        pcm, rate = decode_to_pcm(tmp_path / "call.opus")
        assert abs(pcm.shape[1] / rate - 3.0) < 0.1
    trail = services.audit.show(after=before, limit=1000)
    steps = [e for e in trail if e["action"] in
             {"access.requested", "access.approved", "recording.played"}]  # fmt: skip
    assert [e["action"] for e in steps][:3] == [
        "access.requested",
        "access.approved",
        "recording.played",
    ]
    assert [e["actor"] for e in steps][:3] == ["cora", "mina", "cora"]
    for entry in steps:
        assert entry["purpose"] == "ombudsman" and entry["case_ref"] == "LGO-2026-0417"
        assert entry["origin"].startswith("api:127.0.0.1")
    refusals = [e for e in trail if e["action"] == "access.refused"]
    assert len(refusals) == 2  # the pending play and the self-approval
    assert services.audit.verify().ok
