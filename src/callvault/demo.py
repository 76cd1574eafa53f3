"""Sample calls and people for ``callvault init --demo``: real ingest, real accounts.

Three calls are spoken (espeak-ng voices, shipped as small Ogg Opus files in
``callvault/demo_calls``, made by ``tools/make_demo_calls.py``), so the demo's worker has
something to transcribe and mute; the rest are tone bursts on other lines, two of them to
numbers the policy declines. One person per role, so each page of the web UI can be tried.
"""

from __future__ import annotations

import io
import wave
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import av
import numpy as np
import orjson

from callvault.access.signin import SignInService
from callvault.bootstrap import Services
from callvault.capture.ingest import AudioInput
from callvault.context import RequestContext
from callvault.uktime import UK

RATE = 8000

# (call id, dialled, caller, agent, minutes ago, seconds long): covered lines and two calls
# to staff extensions, which the policy declines.
DEMO_CALLS = (
    ("demo-0001", "020 7371 5678", "07700 900123", "agent-101", 300, 14),
    ("demo-0002", "0800 023 4499", "020 7946 0001", "agent-102", 240, 11),
    ("demo-0003", "020 8753 6032", "withheld", "agent-103", 180, 9),
    ("demo-0004", "0800 145 6095", "07700 900456", "agent-104", 120, 12),
    ("demo-0005", "020 8741 4008", "07700 900789", "agent-105", 60, 8),
    ("demo-0006", "020 8753 9999", "07700 900111", "agent-106", 30, 6),
    ("demo-0007", "4321", "07700 900222", "agent-107", 10, 5),
)


def synthetic_call(seconds: float, seed: int) -> bytes:
    """Two channels of speech-like tone bursts (caller low, advisor high), as 16-bit WAV."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * RATE)) / RATE
    channels = []
    for base, turn in ((220.0, 0), (660.0, 1)):
        pitch = base * (1 + 0.05 * np.sin(2 * np.pi * 3 * t))
        voice = np.sin(2 * np.pi * pitch * t) + 0.3 * np.sin(4 * np.pi * pitch * t)
        # Turn-taking: the two parties speak in alternating two-second stretches.
        speaking = (np.floor(t / 2).astype(int) % 2) == turn
        noise = rng.normal(0, 0.01, t.size)
        channels.append((voice * speaking * 0.3 + noise) * 32767)
    frames = np.stack(channels, axis=1).clip(-32768, 32767).astype("<i2")
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(2)
        wav.setsampwidth(2)
        wav.setframerate(RATE)
        wav.writeframes(frames.tobytes())
    return out.getvalue()


# (file in callvault/demo_calls, call id, dialled, caller, agent, minutes ago)
SPOKEN_CALLS = (
    ("parking_permit_card.opus", "demo-1001", "020 7371 5678", "07700 900321", "agent-101", 90),
    ("adult_social_care_referral.opus", "demo-1002", "0800 145 6095", "07700 900654",
     "agent-104", 75),
    ("housing_repair.opus", "demo-1003", "0800 023 4499", "020 7946 0002", "agent-102", 45),
)  # fmt: skip

# One person per role that uses the web UI; the advisor's username is their agent id, which
# is how an advisor's own calls are matched.
DEMO_PEOPLE = (
    ("cora", "complaints_officer"),
    ("manny", "authorised_manager"),
    ("tess", "team_leader"),
    ("sara", "safety_officer"),
    ("dee", "dpo"),
    ("audrey", "auditor"),
    ("agent-101", "advisor"),
    ("bianca", "business_intelligence"),
)

# Four weeks of short calls for the demand figures: (dialled, the UK hours it is called in).
# Callers come from a small pool, so some call again (repeat callers).
HISTORY_LINES = (
    ("020 7371 5678", (8, 9, 10, 11, 13, 14, 16)),  # parking
    ("0800 023 4499", (8, 9, 9, 10, 12, 15, 18)),  # housing repairs
    ("020 8753 6032", (9, 11, 14, 16)),  # rent income
    ("020 8741 4008", (2, 7, 11, 19, 22)),  # careline, around the clock
    ("020 8748 8588", (18, 20, 21, 23)),  # out of hours
)
HISTORY_DAYS, HISTORY_SECONDS = 28, (4, 15)  # seconds: short, so init stays quick
HISTORY_CALLERS = tuple(f"07700 9{n:05d}" for n in range(200, 240))
# Calls long enough to judge (the policy's quality.min_duration_s is 60), in the month before
# this one, so the demo can draw a quality sample for the advisor agent-101.
SAMPLED_CALLS, SAMPLED_SECONDS = 6, 62


@dataclass(frozen=True, slots=True)
class DemoPerson:
    username: str
    role: str
    totp_uri: str | None  # where the role signs in with a second factor


def ingest_demo_calls(services: Services, ctx: RequestContext) -> dict[str, Any]:
    now = datetime.now(UTC)
    counts = {"recorded": 0, "not_recorded": 0}
    for file_name, call_id, dialled, caller, agent, ago in SPOKEN_CALLS:
        audio = resources.files("callvault.demo_calls").joinpath(file_name).read_bytes()
        meta = _meta(call_id, dialled, caller, agent, now - timedelta(minutes=ago),
                     _seconds_of(audio))  # fmt: skip
        result = services.ingest.ingest(ctx, AudioInput(data=audio), orjson.dumps(meta))
        counts[result.status] += 1
    for n, (call_id, dialled, caller, agent, ago, length) in enumerate(DEMO_CALLS):
        meta = _meta(call_id, dialled, caller, agent, now - timedelta(minutes=ago), length)
        audio_input = AudioInput(data=synthetic_call(length, seed=n))
        result = services.ingest.ingest(ctx, audio_input, orjson.dumps(meta))
        counts[result.status] += 1
    return counts


def ingest_demo_history(services: Services, ctx: RequestContext) -> dict[str, int]:
    """Four weeks of short calls on five lines (for the demand page) and a few longer calls
    of agent-101's last month (for the quality sample), all synthetic tone bursts."""
    rng = np.random.default_rng(2026)
    today = datetime.now(UK).replace(hour=0, minute=0, second=0, microsecond=0)
    calls = []
    for day in range(1, HISTORY_DAYS + 1):
        for dialled, hours in HISTORY_LINES:
            for _ in range(int(rng.integers(0, 3))):
                hour, minute = int(rng.choice(hours)), int(rng.integers(0, 60))
                started = today - timedelta(days=day) + timedelta(hours=hour, minutes=minute)
                caller = HISTORY_CALLERS[int(rng.integers(0, len(HISTORY_CALLERS)))]
                agent = f"agent-10{int(rng.integers(1, 6))}"
                length = int(rng.integers(*HISTORY_SECONDS))
                calls.append((dialled, caller, agent, started, length))
    last_month = (today.replace(day=1) - timedelta(days=1)).replace(day=1)
    for n in range(SAMPLED_CALLS):
        started = last_month + timedelta(days=2 + 3 * n, hours=10)
        calls.append(("020 7371 5678", HISTORY_CALLERS[n], "agent-101", started, SAMPLED_SECONDS))
    recorded = 0
    for n, (dialled, caller, agent, started, length) in enumerate(calls):
        meta = _meta(f"demo-h{n:04d}", dialled, caller, agent, started.astimezone(UTC), length)
        audio = AudioInput(data=synthetic_call(length, seed=1000 + n))
        recorded += services.ingest.ingest(ctx, audio, orjson.dumps(meta)).status == "recorded"
    return {"history_recorded": recorded}


def prepare_demo_figures(services: Services) -> dict[str, Any]:
    """What the worker's jobs would do in their first hours, done now so the pages have
    something to show: the demand facts of every call, and last month's quality sample."""
    from callvault.analytics.demand_index import DemandIndexer
    from callvault.analytics.sampling import QualitySampler
    from callvault.analytics.sampling_rule import month_text, previous_month
    from callvault.jobs.registry import WORKER_ACTOR

    system = RequestContext(actor=WORKER_ACTOR, origin="job", request_id="demo")
    indexed = DemandIndexer.for_services(services).run(system).as_dict()
    # The demo's calls are all in now, none can arrive late: last month is drawn at once,
    # early if its draw day has not come, so the quality pages have a sample on any day.
    last_month = month_text(*previous_month(datetime.now(UTC)))
    drawn = QualitySampler.for_services(services).draw(system, last_month, early=True)
    return {"demand_indexed": indexed.get("indexed", 0), "quality_sampled": drawn["drawn"]}


def _seconds_of(audio: bytes) -> float:
    with av.open(io.BytesIO(audio), mode="r") as container:
        return float(container.duration or 0) / av.time_base


def add_demo_people(services: Services, ctx: RequestContext, password: str) -> list[DemoPerson]:
    """The demo's people, all with ``password``; a second factor enrolled where the role
    needs one (its URI goes into an authenticator app)."""
    signin = SignInService.for_services(services)
    people = []
    for username, role in DEMO_PEOPLE:
        services.access.add_person(ctx, username, role, password)
        uri = None
        if role in signin.second_factor_roles:
            uri = signin.enrol_totp(ctx, username).uri
        people.append(DemoPerson(username, role, uri))
    return people


def open_demo_request(services: Services) -> str:
    """A subject access request from the housing repair call's caller, received a few days ago,
    so the deadlines view and the review step have something to show; its reference."""
    from callvault.rights.service import RightsService

    rights = RightsService.for_services(services)
    dpo = RequestContext(actor=services.access.person("dee", operator="operator:demo"),
                         origin="cli")  # fmt: skip
    received = rights.today() - timedelta(days=5)
    request = rights.open(
        dpo, kind="access", ref="SAR-2026-0001", requester="Sam Okafor (demo)",
        contact="sam.okafor@example.org", received_on=received.isoformat(),
        identity="verified", phones=["020 7946 0002"],
        note="Demo: asked by email for recordings of their calls about a housing repair.",
    )  # fmt: skip
    return request.ref


def write_demo_accounts(home: Path, password: str, people: list[DemoPerson]) -> Path:
    """The demo's sign-ins in a file only the owner can read, so they outlive the terminal."""
    lines = [
        "callvault demo accounts (a demo only: never use these in production)",
        f"password for every account: {password}",
        "second factor: add the otpauth URI to an authenticator app, or, with the secret in",
        "it, run `oathtool --totp -b SECRET` (Debian package oathtool).",
        "",
    ]
    for person in people:
        lines.append(f"{person.username:<10} {person.role:<20} {person.totp_uri or '-'}")
    path = home / "demo-accounts.txt"
    path.touch(mode=0o600)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _meta(
    call_id: str, dialled: str, caller: str, agent: str, started: datetime, length: float
) -> dict[str, Any]:
    return {
        "call_id": call_id,
        "direction": "inbound",
        "dialled": dialled,
        "caller": caller,
        "agent": agent,
        "started_at": started.isoformat(),
        "ended_at": (started + timedelta(seconds=length)).isoformat(),
        "announcement_played": True,
        "channel_map": {"caller": 0, "agent": 1},
        "source": "callvault demo",
    }
