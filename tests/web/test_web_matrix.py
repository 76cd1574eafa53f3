"""The authorisation matrix: every route x every role x every grant state.

The expectations below are written out by hand from the policy's promises (who may hear
audio, separation of duties, second approval), not derived from ``access.actions``, so a
wrong entry in the registry or a missing check in a service makes this test fail. Each cell
is classed as ALLOW (2xx), DENY (401/403) or OTHER (404/409/416/422: the route ran its checks
and found the request wrong); the test fails on any cell that differs, an unexpected allow
above all.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from access.access_helpers import record
from analytics.quality_helpers import drawable_month, sampled_case_ref
from callvault.access.grants import Grant, GrantService
from callvault.analytics.evaluations import EvaluationService
from callvault.analytics.store import quality_draws
from callvault.bootstrap import Services
from callvault.conduct.service import IncidentService
from callvault.context import RequestContext, system_context
from callvault.rights.review import ReviewService
from callvault.rights.service import RightsService
from callvault.training.service import TrainingService
from callvault.web.app import create_app
from callvault.web.security import ACTION_KEY, api_routes
from homes import store_conduct_flag, worker_context
from web_people import PASSWORD, sign_in

ALLOW, DENY, OTHER = "allow", "deny", "other"
# One person per role, by username; "pbx" is a service account, "anon" is nobody.
PEOPLE = {
    "adv": "advisor",
    "tl": "team_leader",
    "am": "authorised_manager",
    "co": "complaints_officer",
    "so": "safety_officer",
    "dpo": "dpo",
    "aud": "auditor",
    "adm": "administrator",
    "bi": "business_intelligence",
}
CALLERS = ("anon", "pbx", *PEOPLE)
LISTENERS = frozenset({"tl", "am", "co", "so", "dpo"})
# A purpose each listener may use for the parking call, and its case reference.
OWN_PURPOSE = {
    "tl": ("quality", ""),  # the sample's case reference: _grant_in draws it
    "am": ("complaint", "CMP-2026-0001"),
    "co": ("complaint", "CMP-2026-0002"),
    "so": ("staff_safety", "SAF-2026-0001"),
    "dpo": ("subject_access", "SAR-2026-0001"),
}
# A purpose needing a second person, for the pending state (none for the others).
PENDING_PURPOSE = {
    "am": ("crime", "CRM-2026-0001"),
    "co": ("ombudsman", "LGO-2026-0001"),
    "dpo": ("legal", "LEG-2026-0001"),
}
STATES = ("none", "pending", "approved", "expired", "revoked")
# Routes that sign people in: public by design, each with its own tests (test_web_session,
# test_web_oidc); a matrix cell there would test the credentials, not the authorisation.
SIGN_IN_ROUTES = {("POST", "/api/v1/session"), ("GET", "/auth/oidc/login"),
                  ("GET", "/auth/oidc/callback"), ("GET", "/signin"),
                  ("POST", "/signin")}  # fmt: skip


@dataclass
class World:
    services: Services
    clients: dict[str, TestClient]
    recording: str
    # grants[holder][state]: a grant of that holder's in that state (absent: unreachable).
    grants: dict[str, dict[str, Grant]]
    export_id: str


@pytest.fixture
def world(services: Services, ctx: RequestContext, call_wav: Path) -> Iterator[World]:
    admin = system_context("test")
    for name, role in PEOPLE.items():
        services.access.add_person(admin, name, role, PASSWORD)
    # am2 asks for grants others decide; am3..am6 are accounts the users routes change.
    for extra in ("am2", "am3", "am4", "am5", "am6"):
        services.access.add_person(admin, extra, "authorised_manager", PASSWORD)
    token = services.access.add_service(admin, "pbx")
    recording = record(services, ctx, call_wav, "matrix-1", agent="adv")
    # Transcribed (and its redacted rendition made) as the speech job does after ingest.
    services.speech.process(worker_context(), recording)
    app = create_app(services)
    # Redirects are answers here (a page's sign-in redirect, a form's post/redirect/get).
    clients = {
        name: TestClient(app, base_url="https://testserver", follow_redirects=False)
        for name in CALLERS
    }
    clients["pbx"].headers["Authorization"] = f"Bearer {token}"
    for name in PEOPLE:
        sign_in(clients[name], services, name)
    grants = {name: _grants_in_each_state(services, name, recording) for name in LISTENERS}
    export = clients["am"].post(f"/api/v1/grants/{grants['am']['approved'].id}/export")
    assert export.status_code == 200, export.text
    yield World(services, clients, recording, grants, export.headers["X-Export-Id"])
    for client in clients.values():
        client.close()


def _grants_in_each_state(services: Services, name: str, recording: str) -> dict[str, Grant]:
    made = {
        state: _grant_in(services, name, recording, state, *OWN_PURPOSE[name])
        for state in ("approved", "revoked", "expired")
    }
    if name in PENDING_PURPOSE:
        made["pending"] = _grant_in(services, name, recording, "pending", *PENDING_PURPOSE[name])
    return made


def _grant_in(
    services: Services, holder: str, recording: str, state: str, purpose: str, case: str
) -> Grant:
    """A new grant of ``holder``'s in ``state`` (a second person approves where needed)."""
    ctx = RequestContext(actor=services.access.person(holder), origin="test")
    if purpose == "quality":  # quality hears only what the system sampled
        case = sampled_case_ref(services, recording)
    # Expired: asked for (and approved) three weeks ago, by a flow whose clock says so.
    then = datetime.now(UTC) - timedelta(days=21)
    flow = services.grants if state != "expired" else GrantService(
        services.engine, services.audit, services.policy.policy, services.catalog,
        services.permissions, clock=lambda: then,
    )  # fmt: skip
    grant = flow.request(ctx, [recording], purpose, case)
    if grant.status == "pending" and state != "pending":
        second = "dpo" if holder != "dpo" else "am"
        other = RequestContext(actor=services.access.person(second), origin="test")
        grant = flow.approve(other, grant.id)
    if state == "revoked":
        grant = flow.revoke(ctx, grant.id, "matrix")
    return grant


# -- the calls: (method, path) -> how to make the request for one caller and grant state ----
Call = Callable[[World, str, str], httpx.Response]


def _own(world: World, who: str, state: str) -> str:
    """The id of ``who``'s grant in ``state`` (the manager's if they have none)."""
    if state == "none":
        return "f" * 32
    holder = who if who in world.grants else "am"
    grant = world.grants[holder].get(state) or world.grants["am"][state]
    return grant.id


def _case_ref(world: World, who: str) -> str:
    """``who``'s case reference for the parking call (for quality, the sample's)."""
    purpose, case = OWN_PURPOSE.get(who, ("complaint", "CMP-2026-0005"))
    return sampled_case_ref(world.services, world.recording) if purpose == "quality" else case


def _fresh_own(world: World, who: str, state: str) -> str:
    """As ``_own``, but a new grant: the call may change it (revoking)."""
    if state == "none":
        return "f" * 32
    holder = who if who in world.grants and state in world_states(who) else "am"
    purpose = (PENDING_PURPOSE if state == "pending" else OWN_PURPOSE)[holder]
    return _grant_in(world.services, holder, world.recording, state, *purpose).id


def _decidable(world: World, _who: str, state: str) -> str:
    """A new crime grant of a second manager's in ``state``, for ``_who`` to decide."""
    if state == "none":
        return "f" * 32
    made = _grant_in(world.services, "am2", world.recording, state, "crime", "CRM-2026-0099")
    return made.id


def _fresh_hold(world: World) -> str:
    """A new hold on the parking call, placed by the DPO, for a caller to release."""
    dpo = RequestContext(actor=world.services.access.person("dpo"), origin="test")
    hold = world.services.holds.place(
        dpo, reason="complaint", case_ref="CMP-2026-0098", recording_ids=[world.recording]
    )
    return hold.id


_REFS = itertools.count(100)


def _next_ref() -> str:
    return f"SAR-2026-{next(_REFS):04d}"


def _request_fields(ref: str, kind: str = "access", identity: str = "verified") -> dict[str, Any]:
    """A rights request for the parking call's caller (meta_for's 07700 900123)."""
    return {"kind": kind, "ref": ref, "requester": "M. Atrix", "contact": "m@example.org",
            "identity": identity, "phones": ["07700 900123"], "received_on": None}  # fmt: skip


def _fresh_request(world: World, kind: str = "access", identity: str = "verified") -> str:
    """A new rights request opened by the DPO; its reference."""
    dpo = RequestContext(actor=world.services.access.person("dpo"), origin="test")
    fields = _request_fields(_next_ref(), kind, identity)
    opened = RightsService.for_services(world.services).open(dpo, **fields)
    return opened.ref


def _reviewed_request(world: World) -> str:
    """A new subject access request whose every recording the DPO has reviewed (withheld:
    no audio to read, so the package is quick to make); its reference."""
    ref = _fresh_request(world)
    dpo = RequestContext(actor=world.services.access.person("dpo"), origin="test")
    review = ReviewService.for_services(world.services)
    for item in RightsService.for_services(world.services).get(dpo, ref, audited=False).items:
        review.review(dpo, ref, item.recording_id, outcome="withheld",
                      reason_code="not_requester", note="matrix")  # fmt: skip
    return ref


def _fresh_clip(world: World, *, consented: bool = False) -> str:
    """A new training clip of the parking call proposed by the team leader; agreed to by its
    advisor when ``consented``."""
    training = TrainingService.for_services(world.services)
    leader = RequestContext(actor=world.services.access.person("tl"), origin="test")
    clip = training.propose(leader, world.recording, start_s=0, end_s=3, why="matrix")
    if consented:
        advisor = RequestContext(actor=world.services.access.person("adv"), origin="test")
        training.consent(advisor, clip.id, agree=True)
    return clip.id


# The shipped policy's standard scorecard, every question at full points.
FULL_SCORES: dict[str, int] = {"greeting": 2, "identity": 3, "understanding": 3, "resolution": 4,
               "courtesy": 3, "data_protection": 3}  # fmt: skip


def _fresh_flag(world: World) -> str:
    """A new open conduct flag on the parking call."""
    return store_conduct_flag(world.services, world.recording, start_s=0.5, end_s=1.0)


def _fresh_incident(world: World) -> str:
    """A new conduct incident on the parking call, opened by the safety officer."""
    so = RequestContext(actor=world.services.access.person("so"), origin="test")
    incident = IncidentService.for_services(world.services).open(
        so, "matrix", recording_ids=[world.recording]
    )
    return str(incident["ref"])


def _a_draw(world: World) -> str:
    """The id of the current draw that sampled the parking call."""
    sampled_case_ref(world.services, world.recording)
    with world.services.engine.connect() as conn:
        return str(conn.execute(
            select(quality_draws.c.id).where(quality_draws.c.superseded_at.is_(None))
        ).scalars().first())  # fmt: skip


def _fresh_calibration(world: World) -> str:
    """A new calibration session on the parking call's sample, opened by the manager."""
    am = RequestContext(actor=world.services.access.person("am"), origin="test")
    case = sampled_case_ref(world.services, world.recording)
    opened = EvaluationService.for_services(world.services).calibrate(am, case, ["tl", "am2"])
    return str(opened["id"])


def _rendition(who: str) -> str:
    # Quality monitoring hears only the redacted rendition (policy: original_allowed false).
    return "redacted" if OWN_PURPOSE.get(who, ("",))[0] == "quality" else "original"


def _get(path: str) -> Call:
    return lambda w, who, _s: w.clients[who].get(path)


def _post_form(path: Callable[[World, str, str], str], **data: str) -> Call:
    """A page's form post (the client's CSRF header stands in for the form's field)."""
    return lambda w, who, s: w.clients[who].post(path(w, who, s), data=data)


CALLS: dict[tuple[str, str], Call] = {
    ("GET", "/health"): _get("/health"),
    ("GET", "/ready"): _get("/ready"),
    ("GET", "/metrics"): _get("/metrics"),
    ("GET", "/"): _get("/"),
    ("POST", "/api/v1/ingest"): lambda w, who, _s: w.clients[who].post(
        "/api/v1/ingest", content=b"", headers={"Callvault-Meta": "e30"}
    ),
    ("GET", "/api/v1/session"): _get("/api/v1/session"),
    ("GET", "/api/v1/recordings"): _get("/api/v1/recordings?line=parking"),
    ("POST", "/api/v1/grants"): lambda w, who, _s: w.clients[who].post(
        "/api/v1/grants",
        json={
            "recording_ids": [w.recording],
            "purpose": OWN_PURPOSE.get(who, ("complaint",))[0],
            "case_ref": _case_ref(w, who),
        },
    ),
    ("GET", "/api/v1/grants"): _get("/api/v1/grants"),
    ("POST", "/api/v1/grants/{grant_id}/approve"): lambda w, who, s: w.clients[who].post(
        f"/api/v1/grants/{_decidable(w, who, s)}/approve"
    ),
    ("POST", "/api/v1/grants/{grant_id}/deny"): lambda w, who, s: w.clients[who].post(
        f"/api/v1/grants/{_decidable(w, who, s)}/deny"
    ),
    ("POST", "/api/v1/grants/{grant_id}/revoke"): lambda w, who, s: w.clients[who].post(
        f"/api/v1/grants/{_fresh_own(w, who, s)}/revoke", json={"reason": "matrix"}
    ),
    ("GET", "/api/v1/recordings/{recording_id}/audio"): lambda w, who, s: w.clients[who].get(
        f"/api/v1/recordings/{w.recording}/audio?grant={_own(w, who, s)}"
        f"&rendition={_rendition(who)}",
        headers={"Range": "bytes=0-99"},
    ),
    ("GET", "/api/v1/recordings/{recording_id}/transcript"): lambda w, who, s: w.clients[who].get(
        f"/api/v1/recordings/{w.recording}/transcript?grant={_own(w, who, s)}"
        f"&rendition={_rendition(who)}"
    ),
    ("GET", "/api/v1/flags"): _get("/api/v1/flags"),
    ("POST", "/api/v1/flags/{flag_id}/review"): lambda w, who, _s: w.clients[who].post(
        f"/api/v1/flags/{'f' * 32}/review", json={"outcome": "no_action"}
    ),
    ("POST", "/api/v1/grants/{grant_id}/export"): lambda w, who, s: w.clients[who].post(
        f"/api/v1/grants/{_own(w, who, s)}/export"
    ),
    ("POST", "/api/v1/recordings/{recording_id}/evidence"): lambda w, who, s: w.clients[who].post(
        f"/api/v1/recordings/{w.recording}/evidence",
        json={
            "grant": _own(w, who, s),
            "recipient": "A. Investigator",
            "organisation": "LGSCO",
            "reason": "ombudsman case",
            "method": "secure_email",
        },
    ),
    ("POST", "/api/v1/disclosures"): lambda w, who, _s: w.clients[who].post(
        "/api/v1/disclosures",
        json={
            "export_id": w.export_id,
            "recipient": "A. Investigator",
            "organisation": "LGSCO",
            "reason": "ombudsman case",
            "method": "secure_email",
            "sent_on": datetime.now(UTC).date().isoformat(),
        },
    ),
    ("GET", "/api/v1/disclosures"): _get("/api/v1/disclosures"),
    ("GET", "/api/v1/holds"): _get("/api/v1/holds"),
    ("POST", "/api/v1/holds"): lambda w, who, _s: w.clients[who].post(
        "/api/v1/holds",
        json={"recording_ids": [w.recording], "reason": "complaint", "case_ref": "CMP-2026-0097"},
    ),
    ("POST", "/api/v1/holds/{hold_id}/release"): lambda w, who, _s: w.clients[who].post(
        f"/api/v1/holds/{_fresh_hold(w)}/release", json={"reason": "matrix"}
    ),
    ("GET", "/api/v1/users"): _get("/api/v1/users"),
    ("POST", "/api/v1/users"): lambda w, who, s: w.clients[who].post(
        "/api/v1/users", json={"username": f"new-{who}-{s}", "role": "advisor"}
    ),
    ("POST", "/api/v1/service-accounts"): lambda w, who, s: w.clients[who].post(
        "/api/v1/service-accounts", json={"username": f"svc-{who}-{s}"}
    ),
    ("POST", "/api/v1/users/{username}/disable"): lambda w, who, _s: w.clients[who].post(
        "/api/v1/users/am3/disable"
    ),
    ("GET", "/api/v1/audit"): _get("/api/v1/audit?limit=5"),
    ("GET", "/api/v1/audit/verify"): _get("/api/v1/audit/verify"),
    ("GET", "/api/v1/policy"): _get("/api/v1/policy"),
    ("GET", "/api/v1/reports/access-review"): _get("/api/v1/reports/access-review"),
    ("GET", "/api/v1/alerts/bulk-access"): _get("/api/v1/alerts/bulk-access"),
    # Only the payment system's service account (none here) pauses live calls.
    ("POST", "/api/v1/calls/{call_id}/pause"): lambda w, who, _s: w.clients[who].post(
        "/api/v1/calls/matrix@src/pause"
    ),
    ("POST", "/api/v1/calls/{call_id}/resume"): lambda w, who, _s: w.clients[who].post(
        "/api/v1/calls/matrix@src/resume"
    ),
    ("GET", "/notice"): _get("/notice"),
    ("GET", "/notice/staff"): _get("/notice/staff"),
    ("GET", "/api/v1/reports/scope"): _get("/api/v1/reports/scope"),
    ("GET", "/api/v1/reports/ropa"): _get("/api/v1/reports/ropa?format=csv"),
    # The web pages: the same promises as the API they stand beside.
    ("GET", "/recordings"): _get("/recordings?line=parking"),
    ("GET", "/recordings/{recording_id}"): lambda w, who, _s: w.clients[who].get(
        f"/recordings/{w.recording}"
    ),
    ("POST", "/recordings/{recording_id}/request"): lambda w, who, _s: w.clients[who].post(
        f"/recordings/{w.recording}/request",
        data={
            "purpose": OWN_PURPOSE.get(who, ("complaint",))[0],
            "case_ref": _case_ref(w, who),
            "reason": "matrix",
        },
    ),
    ("GET", "/recordings/{recording_id}/listen"): lambda w, who, s: w.clients[who].get(
        f"/recordings/{w.recording}/listen?grant={_own(w, who, s)}&rendition={_rendition(who)}"
    ),
    ("POST", "/recordings/{recording_id}/listen/export"): lambda w, who, s: w.clients[who].post(
        f"/recordings/{w.recording}/listen/export", data={"grant": _own(w, who, s)}
    ),
    ("GET", "/approvals"): _get("/approvals"),
    ("POST", "/approvals/{grant_id}/approve"): _post_form(
        lambda w, who, s: f"/approvals/{_decidable(w, who, s)}/approve"
    ),
    ("POST", "/approvals/{grant_id}/deny"): _post_form(
        lambda w, who, s: f"/approvals/{_decidable(w, who, s)}/deny"
    ),
    ("GET", "/requests"): _get("/requests"),
    ("POST", "/requests/{grant_id}/revoke"): _post_form(
        lambda w, who, s: f"/requests/{_fresh_own(w, who, s)}/revoke", reason="matrix"
    ),
    ("GET", "/holds"): _get("/holds"),
    ("POST", "/holds"): lambda w, who, _s: w.clients[who].post(
        "/holds",
        data={"recording_ids": w.recording, "reason": "complaint", "case_ref": "CMP-2026-0096"},
    ),
    ("POST", "/holds/{hold_id}/release"): _post_form(
        lambda w, _who, _s: f"/holds/{_fresh_hold(w)}/release", reason="matrix"
    ),
    ("GET", "/retention"): _get("/retention"),
    ("GET", "/audit"): _get("/audit"),
    ("GET", "/audit/verify"): _get("/audit/verify"),
    ("GET", "/users"): _get("/users"),
    ("POST", "/users"): lambda w, who, s: w.clients[who].post(
        "/users", data={"username": f"page-{who}-{s}", "role": "advisor"}
    ),
    ("POST", "/users/service-accounts"): lambda w, who, s: w.clients[who].post(
        "/users/service-accounts", data={"username": f"psvc-{who}-{s}", "role": "ingest"}
    ),
    ("GET", "/users/{username}/disable"): _get("/users/am4/disable"),
    ("POST", "/users/{username}/disable"): _post_form(lambda w, who, s: "/users/am4/disable"),
    ("POST", "/users/{username}/totp"): _post_form(lambda w, who, s: "/users/am5/totp"),
    ("POST", "/users/{username}/unlock"): _post_form(lambda w, who, s: "/users/am6/unlock"),
    ("GET", "/access-review"): _get("/access-review"),
    # People's rights: each call on a request of its own, so every cell can succeed.
    ("GET", "/api/v1/rights"): _get("/api/v1/rights?days=7"),
    ("POST", "/api/v1/rights"): lambda w, who, _s: w.clients[who].post(
        "/api/v1/rights", json=_request_fields(_next_ref())
    ),
    ("GET", "/api/v1/rights/{ref}"): lambda w, who, _s: w.clients[who].get(
        f"/api/v1/rights/{_fresh_request(w)}"
    ),
    ("POST", "/api/v1/rights/{ref}/search"): lambda w, who, _s: w.clients[who].post(
        f"/api/v1/rights/{_fresh_request(w)}/search", json={}
    ),
    ("POST", "/api/v1/rights/{ref}/pause"): lambda w, who, _s: w.clients[who].post(
        f"/api/v1/rights/{_fresh_request(w)}/pause",
        json={"reason": "clarification", "note": "matrix"},
    ),
    ("POST", "/api/v1/rights/{ref}/resume"): lambda w, who, _s: w.clients[who].post(
        f"/api/v1/rights/{_fresh_request(w, identity='awaiting')}/resume"
    ),
    ("POST", "/api/v1/rights/{ref}/extend"): lambda w, who, _s: w.clients[who].post(
        f"/api/v1/rights/{_fresh_request(w)}/extend", json={"months": 1, "reason": "matrix"}
    ),
    ("POST", "/api/v1/rights/{ref}/close"): lambda w, who, _s: w.clients[who].post(
        f"/api/v1/rights/{_fresh_request(w)}/close",
        json={"outcome": "withdrawn", "note": "matrix"},
    ),
    ("POST", "/api/v1/rights/{ref}/recordings/{recording_id}/decision"): (
        lambda w, who, _s: w.clients[who].post(
            f"/api/v1/rights/{_fresh_request(w, kind='objection')}/recordings/{w.recording}"
            "/decision",
            json={"decision": "keep", "reason_code": "legal_claims"},
        )
    ),
    # The rights pages: the same promises as the rights API.
    ("GET", "/rights"): _get("/rights?closed=true"),
    ("POST", "/rights"): lambda w, who, _s: w.clients[who].post(
        "/rights", data={**_request_fields(_next_ref()), "phones": "07700 900123"}
    ),
    ("GET", "/rights/{ref}"): lambda w, who, _s: w.clients[who].get(f"/rights/{_fresh_request(w)}"),
    ("POST", "/rights/{ref}/search"): _post_form(
        lambda w, _who, _s: f"/rights/{_fresh_request(w)}/search"
    ),
    ("POST", "/rights/{ref}/pause"): _post_form(
        lambda w, _who, _s: f"/rights/{_fresh_request(w)}/pause", reason="identity", note="matrix"
    ),
    ("POST", "/rights/{ref}/resume"): _post_form(
        lambda w, _who, _s: f"/rights/{_fresh_request(w, identity='awaiting')}/resume"
    ),
    ("POST", "/rights/{ref}/extend"): _post_form(
        lambda w, _who, _s: f"/rights/{_fresh_request(w)}/extend", months="1", reason="matrix"
    ),
    ("POST", "/rights/{ref}/close"): _post_form(
        lambda w, _who, _s: f"/rights/{_fresh_request(w)}/close", outcome="withdrawn", note="m"
    ),
    ("POST", "/rights/{ref}/recordings/{recording_id}/decision"): _post_form(
        lambda w, _who, _s: (
            f"/rights/{_fresh_request(w, kind='objection')}/recordings/{w.recording}/decision"
        ),
        decision="keep",
        reason_code="legal_claims",
    ),
    # The review step and the response package of a subject access request.
    ("GET", "/rights/{ref}/recordings/{recording_id}/review"): lambda w, who, _s: w.clients[
        who
    ].get(f"/rights/{_fresh_request(w)}/recordings/{w.recording}/review"),
    ("POST", "/rights/{ref}/recordings/{recording_id}/review"): _post_form(
        lambda w, _who, _s: f"/rights/{_fresh_request(w)}/recordings/{w.recording}/review",
        outcome="withheld",
        reason_code="not_requester",
        note="matrix",
    ),
    ("POST", "/rights/{ref}/package"): _post_form(
        lambda w, _who, _s: f"/rights/{_reviewed_request(w)}/package"
    ),
    # Training clips: the parking call's advisor ("adv") is the staff member on it.
    ("GET", "/api/v1/training/checklist"): _get("/api/v1/training/checklist"),
    ("GET", "/api/v1/training/clips"): _get("/api/v1/training/clips?all=true"),
    ("POST", "/api/v1/training/clips"): lambda w, who, _s: w.clients[who].post(
        "/api/v1/training/clips",
        json={"recording_id": w.recording, "start_s": 0, "end_s": 3, "why": "matrix"},
    ),
    ("GET", "/api/v1/training/clips/{clip_id}"): lambda w, who, _s: w.clients[who].get(
        f"/api/v1/training/clips/{_fresh_clip(w)}"
    ),
    ("POST", "/api/v1/training/clips/{clip_id}/consent"): lambda w, who, _s: w.clients[who].post(
        f"/api/v1/training/clips/{_fresh_clip(w)}/consent", json={"agree": True}
    ),
    ("POST", "/api/v1/training/clips/{clip_id}/withdraw"): lambda w, who, _s: w.clients[who].post(
        f"/api/v1/training/clips/{_fresh_clip(w, consented=True)}/withdraw"
    ),
    # A proposed clip: the reviewers get past authorisation to "not made yet" (409).
    ("POST", "/api/v1/training/clips/{clip_id}/review"): lambda w, who, _s: w.clients[who].post(
        f"/api/v1/training/clips/{_fresh_clip(w)}/review", json={"approve": False, "note": "m"}
    ),
    # Only a published clip plays; publishing needs a made clip (tests/training covers it).
    ("GET", "/api/v1/training/clips/{clip_id}/audio"): lambda w, who, _s: w.clients[who].get(
        f"/api/v1/training/clips/{_fresh_clip(w)}/audio"
    ),
    # The training pages: the same promises as the training API.
    ("GET", "/training"): _get("/training"),
    ("GET", "/training/{clip_id}"): lambda w, who, _s: w.clients[who].get(
        f"/training/{_fresh_clip(w)}"
    ),
    ("POST", "/training/{clip_id}/consent"): _post_form(
        lambda w, _who, _s: f"/training/{_fresh_clip(w)}/consent", agree="yes"
    ),
    ("POST", "/training/{clip_id}/withdraw"): _post_form(
        lambda w, _who, _s: f"/training/{_fresh_clip(w, consented=True)}/withdraw"
    ),
    ("POST", "/training/{clip_id}/review"): _post_form(
        lambda w, _who, _s: f"/training/{_fresh_clip(w)}/review", decision="reject", note="m"
    ),
    ("POST", "/recordings/{recording_id}/training"): _post_form(
        lambda w, _who, _s: f"/recordings/{w.recording}/training",
        start_s="0",
        end_s="3",
        why="matrix",
    ),
    # Demand analysis: figures only, for business intelligence and the managers.
    ("GET", "/api/v1/reports/demand"): _get("/api/v1/reports/demand?format=csv"),
    ("GET", "/demand"): _get("/demand"),
    # Customer conduct: the safety officer's queue and incidents.
    ("GET", "/conduct"): _get("/conduct?all=1"),
    ("POST", "/conduct/flags/{flag_id}/incident"): _post_form(
        lambda w, _who, _s: f"/conduct/flags/{_fresh_flag(w)}/incident", summary="matrix"
    ),
    ("POST", "/conduct/flags/{flag_id}/review"): _post_form(
        lambda w, _who, _s: f"/conduct/flags/{_fresh_flag(w)}/review", outcome="misheard"
    ),
    ("GET", "/conduct/incidents/{ref}"): lambda w, who, _s: w.clients[who].get(
        f"/conduct/incidents/{_fresh_incident(w)}"
    ),
    # The parking call is already linked: managers get past authorisation to 409.
    ("POST", "/conduct/incidents/{ref}/links"): lambda w, who, _s: w.clients[who].post(
        f"/conduct/incidents/{_fresh_incident(w)}/links", data={"recording_id": w.recording}
    ),
    ("POST", "/conduct/incidents/{ref}/close"): _post_form(
        lambda w, _who, _s: f"/conduct/incidents/{_fresh_incident(w)}/close",
        outcome="warning_letter",
        note="matrix",
    ),
    ("GET", "/api/v1/incidents"): _get("/api/v1/incidents?all=true"),
    ("POST", "/api/v1/incidents"): lambda w, who, _s: w.clients[who].post(
        "/api/v1/incidents", json={"summary": "matrix", "recording_ids": [w.recording]}
    ),
    ("GET", "/api/v1/incidents/{ref}"): lambda w, who, _s: w.clients[who].get(
        f"/api/v1/incidents/{_fresh_incident(w)}"
    ),
    ("POST", "/api/v1/incidents/{ref}/links"): lambda w, who, _s: w.clients[who].post(
        f"/api/v1/incidents/{_fresh_incident(w)}/links", json={"recording_id": w.recording}
    ),
    ("POST", "/api/v1/incidents/{ref}/close"): lambda w, who, _s: w.clients[who].post(
        f"/api/v1/incidents/{_fresh_incident(w)}/close",
        json={"outcome": "no_further_action", "note": "matrix"},
    ),
    # Quality monitoring: the monthly sample, evaluations and calibration.
    ("GET", "/api/v1/quality/draws"): _get("/api/v1/quality/draws"),
    ("POST", "/api/v1/quality/draws"): lambda w, who, _s: w.clients[who].post(
        "/api/v1/quality/draws",
        json={"month": drawable_month(w.services), "reason": "matrix again"},
    ),
    ("GET", "/api/v1/quality/draws/{draw_id}/verify"): lambda w, who, _s: w.clients[who].get(
        f"/api/v1/quality/draws/{_a_draw(w)}/verify"
    ),
    ("GET", "/api/v1/quality/samples"): _get("/api/v1/quality/samples"),
    ("GET", "/api/v1/quality/evaluations"): _get("/api/v1/quality/evaluations"),
    ("POST", "/api/v1/quality/evaluations"): lambda w, who, _s: w.clients[who].post(
        "/api/v1/quality/evaluations",
        json={"case_ref": sampled_case_ref(w.services, w.recording), "scores": FULL_SCORES},
    ),
    ("GET", "/api/v1/quality/evaluations/mine"): _get("/api/v1/quality/evaluations/mine"),
    ("POST", "/api/v1/quality/evaluations/{evaluation_id}/response"): (
        lambda w, who, _s: w.clients[who].post(
            f"/api/v1/quality/evaluations/{'f' * 32}/response",
            json={"agrees": True, "response": "matrix"},
        )
    ),
    ("POST", "/api/v1/quality/calibrations"): lambda w, who, _s: w.clients[who].post(
        "/api/v1/quality/calibrations",
        json={"case_ref": sampled_case_ref(w.services, w.recording), "evaluators": ["tl", "am2"]},
    ),
    ("GET", "/api/v1/quality/calibrations/{calibration_id}"): lambda w, who, _s: w.clients[who].get(
        f"/api/v1/quality/calibrations/{_fresh_calibration(w)}"
    ),
    ("POST", "/api/v1/quality/calibrations/{calibration_id}/close"): (
        lambda w, who, _s: w.clients[who].post(
            f"/api/v1/quality/calibrations/{_fresh_calibration(w)}/close", json={"note": "m"}
        )
    ),
    # The quality pages: the same promises as the quality API.
    ("GET", "/quality"): _get("/quality"),
    ("POST", "/quality/draws"): lambda w, who, _s: w.clients[who].post(
        "/quality/draws",
        data={"month": drawable_month(w.services), "reason": "the matrix draws again"},
    ),
    ("GET", "/quality/draws/{draw_id}"): lambda w, who, _s: w.clients[who].get(
        f"/quality/draws/{_a_draw(w)}"
    ),
    ("GET", "/quality/samples/{case_ref}"): lambda w, who, _s: w.clients[who].get(
        f"/quality/samples/{sampled_case_ref(w.services, w.recording)}"
    ),
    ("POST", "/quality/samples/{case_ref}/evaluate"): lambda w, who, _s: w.clients[who].post(
        f"/quality/samples/{sampled_case_ref(w.services, w.recording)}/evaluate",
        data={f"scores.{item}": str(points) for item, points in FULL_SCORES.items()},
    ),
    ("POST", "/quality/samples/{case_ref}/calibrate"): lambda w, who, _s: w.clients[who].post(
        f"/quality/samples/{sampled_case_ref(w.services, w.recording)}/calibrate",
        data={"evaluators": ["tl", "am2"]},
    ),
    ("GET", "/quality/calibrations/{calibration_id}"): lambda w, who, _s: w.clients[who].get(
        f"/quality/calibrations/{_fresh_calibration(w)}"
    ),
    ("POST", "/quality/calibrations/{calibration_id}/close"): _post_form(
        lambda w, _who, _s: f"/quality/calibrations/{_fresh_calibration(w)}/close", note="m"
    ),
    ("GET", "/quality/mine"): _get("/quality/mine"),
    ("POST", "/quality/mine/{evaluation_id}/respond"): _post_form(
        lambda w, _who, _s: f"/quality/mine/{'f' * 32}/respond", agrees="yes", response="m"
    ),
}
# Signing out would end the sessions the other cells use: test_sign_out_cell checks it last
# (the page's sign-out form has its own tests in test_ui_signin).
SIGN_OUT = ("DELETE", "/api/v1/session")
PAGE_SIGN_OUT = ("POST", "/signout")

EVERYONE = frozenset(CALLERS)
SIGNED_IN = EVERYONE - {"anon"}


def expected(route: tuple[str, str], who: str, state: str) -> str:
    """What the policy promises for one cell."""
    path = route[1]
    by_role: dict[tuple[str, str], frozenset[str]] = {
        ("GET", "/health"): EVERYONE,
        ("GET", "/ready"): EVERYONE,
        ("GET", "/metrics"): EVERYONE,
        ("GET", "/"): EVERYONE,
        ("GET", "/api/v1/session"): SIGNED_IN,
        ("GET", "/api/v1/recordings"): LISTENERS,
        ("POST", "/api/v1/grants"): LISTENERS,
        ("GET", "/api/v1/grants"): LISTENERS | {"adv"},
        ("GET", "/api/v1/disclosures"): frozenset({"dpo", "aud"}),
        ("POST", "/api/v1/disclosures"): frozenset({"am"}),  # who made the export
        # Legal holds: the roles that run cases place and release; auditors also read.
        ("GET", "/api/v1/holds"): frozenset({"am", "co", "so", "dpo", "aud"}),
        ("POST", "/api/v1/holds"): frozenset({"am", "co", "so", "dpo"}),
        ("POST", "/api/v1/holds/{hold_id}/release"): frozenset({"am", "co", "so", "dpo"}),
        ("GET", "/api/v1/users"): frozenset({"adm"}),
        ("POST", "/api/v1/users"): frozenset({"adm"}),
        ("POST", "/api/v1/service-accounts"): frozenset({"adm"}),
        ("POST", "/api/v1/users/{username}/disable"): frozenset({"adm"}),
        ("GET", "/api/v1/audit"): frozenset({"aud", "dpo"}),
        ("GET", "/api/v1/audit/verify"): frozenset({"aud", "dpo"}),
        ("GET", "/api/v1/policy"): frozenset({"adm", "dpo", "aud"}),
        ("GET", "/api/v1/reports/access-review"): frozenset({"adm", "dpo", "aud"}),
        ("GET", "/api/v1/alerts/bulk-access"): frozenset({"dpo"}),
        ("POST", "/api/v1/calls/{call_id}/pause"): frozenset(),
        ("POST", "/api/v1/calls/{call_id}/resume"): frozenset(),
        # The notices are for everyone, callers and staff without an account included.
        ("GET", "/notice"): EVERYONE,
        ("GET", "/notice/staff"): EVERYONE,
        ("GET", "/api/v1/reports/scope"): frozenset({"adm", "dpo", "aud"}),
        ("GET", "/api/v1/reports/ropa"): frozenset({"adm", "dpo", "aud"}),
        # Review flags: the safety officer (conduct), authorised managers and the DPO.
        ("GET", "/api/v1/flags"): frozenset({"am", "so", "dpo"}),
        ("GET", "/recordings"): LISTENERS,
        ("GET", "/recordings/{recording_id}"): LISTENERS,
        ("POST", "/recordings/{recording_id}/request"): LISTENERS,
        ("GET", "/approvals"): LISTENERS,
        ("GET", "/requests"): LISTENERS | {"adv"},
        ("GET", "/holds"): frozenset({"am", "co", "so", "dpo", "aud"}),
        ("POST", "/holds"): frozenset({"am", "co", "so", "dpo"}),
        ("POST", "/holds/{hold_id}/release"): frozenset({"am", "co", "so", "dpo"}),
        # What is due to be deleted: those who could hold it, and the auditor.
        ("GET", "/retention"): frozenset({"am", "co", "so", "dpo", "aud"}),
        ("GET", "/audit"): frozenset({"aud", "dpo"}),
        ("GET", "/audit/verify"): frozenset({"aud", "dpo"}),
        ("GET", "/access-review"): frozenset({"adm", "dpo", "aud"}),
        # The rights register holds requesters' details: the DPO works it, auditors read it.
        ("GET", "/api/v1/rights"): frozenset({"dpo", "aud"}),
        ("GET", "/api/v1/rights/{ref}"): frozenset({"dpo", "aud"}),
        ("GET", "/rights"): frozenset({"dpo", "aud"}),
        ("GET", "/rights/{ref}"): frozenset({"dpo", "aud"}),
        ("GET", "/rights/{ref}/recordings/{recording_id}/review"): frozenset({"dpo", "aud"}),
    }
    if path.startswith(("/demand", "/api/v1/reports/demand")):
        return ALLOW if who in {"am", "dpo", "bi"} else DENY
    if path.startswith(("/conduct", "/api/v1/incidents")):
        return _conduct_expected(route, who)
    if path.startswith(("/api/v1/quality", "/quality")):
        return _quality_expected(route, who)
    if path.startswith(("/api/v1/rights", "/rights")) and route not in by_role:
        return ALLOW if who == "dpo" else DENY
    if path.startswith(("/api/v1/training", "/training")) or route == PROPOSE_PAGE:
        return _training_expected(route, who)
    if route in by_role:
        return ALLOW if who in by_role[route] else DENY
    if path.startswith("/users"):
        return ALLOW if who == "adm" else DENY
    if route == ("POST", "/api/v1/ingest"):
        return OTHER if who == "pbx" else DENY  # allowed, then the empty body is bad input
    if path.endswith(("/approve", "/deny")):
        # Another person's grant, decided only by a role that may use its purpose (crime:
        # authorised managers and the DPO); only a pending grant can be decided.
        if who not in LISTENERS:
            return DENY
        if state == "none":
            return OTHER  # no such grant: 404 (audited)
        if who not in {"am", "dpo"}:
            return DENY
        return ALLOW if state == "pending" else OTHER
    if path.endswith("/revoke"):
        if who not in LISTENERS:
            return DENY
        if state == "none":
            return OTHER
        if state not in world_states(who):
            return DENY  # another's pending crime grant: not a purpose their role may use
        return OTHER if state == "revoked" else ALLOW
    if route == ("POST", "/api/v1/flags/{flag_id}/review"):
        return OTHER if who in {"am", "so", "dpo"} else DENY  # allowed; no such flag: 404
    if path.endswith(("/audio", "/transcript", "/export", "/listen", "/evidence")):
        if who not in LISTENERS:
            return DENY
        if state == "none":
            return DENY  # no such grant: refused like any grant that does not fit
        if state != "approved" or state not in world_states(who):
            return DENY
        if path.endswith(("/export", "/evidence")) and who == "tl":
            return DENY  # quality monitoring never leaves the system
        return ALLOW
    raise AssertionError(f"no expectation for {route}")


# The recording page's form proposing a training clip (web/pages/training_pages.py).
PROPOSE_PAGE = ("POST", "/recordings/{recording_id}/training")


def _training_expected(route: tuple[str, str], who: str) -> str:
    """Staff and their managers read the library; team leaders and authorised managers
    propose; only the staff member on the call consents or withdraws (signed in as
    themselves); authorised managers and the DPO review."""
    path = route[1]
    readers = {"adv", "tl", "am", "dpo"}
    if path.endswith(("/consent", "/withdraw")):
        return ALLOW if who == "adv" else DENY
    if path.endswith("/review"):
        return OTHER if who in {"am", "dpo"} else DENY
    if path.endswith("/audio"):
        return DENY  # a proposed clip plays for nobody
    if route in {("POST", "/api/v1/training/clips"), PROPOSE_PAGE}:
        return ALLOW if who in {"tl", "am"} else DENY
    # A proposed clip: its staff member, proposers and reviewers see it; nobody else may read.
    return ALLOW if who in readers else DENY


def _conduct_expected(route: tuple[str, str], who: str) -> str:
    """The safety officer and authorised managers work incidents; the DPO and auditors read
    them; the flag queue is the flag reviewers' (safety officer, managers, DPO)."""
    method, path = route
    readers, workers = {"so", "am", "dpo", "aud"}, {"so", "am"}
    if path.endswith("/links"):
        return OTHER if who in workers else DENY  # the parking call is linked already: 409
    if path.endswith("/review"):
        return ALLOW if who in {"so", "am", "dpo"} else DENY
    if method == "POST":
        return ALLOW if who in workers else DENY
    return ALLOW if who in readers else DENY


def _quality_expected(route: tuple[str, str], who: str) -> str:
    """Quality readers (team leaders, managers, DPO, auditors) see draws, samples and
    evaluations; managers draw and run calibrations; the team leader, who listened to the
    sample under the quality purpose, evaluates it (a manager who did not is refused);
    the staff who take calls read the evaluations of their own."""
    method, path = route
    readers = {"tl", "am", "dpo", "aud"}
    if path.endswith("/mine"):
        return ALLOW if who in {"adv", "tl"} else DENY
    if path.endswith(("/response", "/respond")):
        return OTHER if who in {"adv", "tl"} else DENY  # no such evaluation: 404
    if route == ("POST", "/api/v1/quality/evaluations"):
        return ALLOW if who == "tl" else DENY
    if route == ("POST", "/quality/samples/{case_ref}/evaluate"):
        # The API cell above gave the call its evaluation: the team leader gets past the
        # door to 409; the manager never listened under the quality purpose (403).
        return OTHER if who == "tl" else DENY
    if method == "POST":
        return ALLOW if who == "am" else DENY
    return ALLOW if who in readers else DENY


def world_states(who: str) -> set[str]:
    """The grant states ``who`` holds a grant in."""
    if who not in LISTENERS:
        return set()
    return {"approved", "revoked", "expired"} | ({"pending"} if who in PENDING_PURPOSE else set())


def classify(response: httpx.Response) -> str:
    if 200 <= response.status_code < 300:
        return ALLOW
    if response.status_code == 303:
        # A page: signed out, it sends the browser to sign in; a form post that did its
        # work sends the browser on to the next page (post/redirect/get).
        return DENY if response.headers["location"].startswith("/signin") else ALLOW
    if response.status_code in (401, 403):
        return DENY
    assert response.status_code < 500, response.text
    return OTHER


GRANT_ROUTES = {
    route
    for route in CALLS
    if "{grant_id}" in route[1] or route[1].endswith(("audio", "listen", "evidence"))
}


def test_every_route_is_in_the_matrix(services: Services) -> None:
    app = create_app(services)
    routes = {
        (method, route.path)
        for route in api_routes(app.routes)
        for method in route.methods or ()
        if method != "HEAD"
    }
    assert routes == set(CALLS) | SIGN_IN_ROUTES | {SIGN_OUT, PAGE_SIGN_OUT}
    for route in api_routes(app.routes):
        assert (route.openapi_extra or {}).get(ACTION_KEY)


def test_authorisation_matrix(world: World) -> None:
    unexpected: list[str] = []
    cells = 0
    for route, call in CALLS.items():
        states = STATES if route in GRANT_ROUTES else ("none",)
        for state in states:
            for who in CALLERS:
                want = expected(route, who, state)
                got = classify(call(world, who, state))
                cells += 1
                if got != want:
                    unexpected.append(f"{route} {who} {state}: wanted {want}, got {got}")
    assert not unexpected, "\n".join(unexpected)
    assert cells >= 450  # 10 callers x (21 routes + 5 grant routes x 5 states)
    assert world.services.audit.verify().ok


def test_refusals_are_audited_and_change_nothing(world: World) -> None:
    before = world.services.audit.count()
    response = world.clients["adm"].get(
        f"/api/v1/recordings/{world.recording}/audio?grant={_own(world, 'am', 'approved')}"
    )
    assert response.status_code == 403
    assert "adm" in response.json()["error"]
    (entry,) = world.services.audit.show(after=before, limit=10)
    assert entry["action"] == "access.refused" and entry["actor"] == "adm"


def test_sign_out_cell(world: World) -> None:
    for who in CALLERS:
        client = world.clients[who]
        response = client.delete("/api/v1/session")
        if who == "anon":
            assert response.status_code in (401, 403)
        elif who == "pbx":
            assert response.status_code == 422  # tokens don't sign in, so can't sign out
        else:
            assert response.status_code == 200, response.text
            assert client.get("/api/v1/session").status_code in (401, 403)
