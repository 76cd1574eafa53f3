"""The browser tests' seeded home and the people who use it, one browser context each.

Seeding happens in-process before the server starts (seconds): the people of each role, a
spoken call that the speech job has transcribed (so search finds its words and the player
shows a transcript and a muted span), plain calls on other lines, one approved grant for
the accessibility walk, every call's demand facts (the demand page's figures), and the
spoken call's quality sample, evaluation and calibration session.
Everything else, the grant the main flow asks for included, goes through the pages.

A person signs in once per test session, through the real form with password and one-time
code: a TOTP code is refused when used twice in its 30-second step, so a second sign-in of
the same person within the step would fail for a reason that has nothing to do with a page.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import orjson
from playwright.sync_api import Browser, BrowserContext, Page, StorageState
from sqlalchemy import select

from access.access_helpers import record
from analytics.quality_helpers import sampled_case_ref
from audiofixtures import make_call_audio
from browser.kit import VIEWPORT, ConsoleWatch, screenshot
from callvault.access.signin import SignInService
from callvault.analytics.demand_index import DemandIndexer
from callvault.analytics.evaluations import EvaluationService
from callvault.analytics.store import quality_samples
from callvault.bootstrap import Services
from callvault.capture.ingest import AudioInput
from callvault.conduct.service import IncidentService
from callvault.context import RequestContext, system_context
from callvault.maintenance.service import init_home
from callvault.rights.service import RightsService
from callvault.training.service import TrainingService
from homes import store_conduct_flag, worker_context
from speech_corpus import short_clip
from web_people import PASSWORD, current_code

TIMEOUT_MS = 10_000  # any one wait for a page; the server answers in milliseconds
# Who the tests sign in as. Each plays one part, so nobody signs in twice in a session.
PEOPLE = {
    "cora": "complaints_officer",  # the main flow: asks for an ombudsman grant, listens
    "mina": "authorised_manager",  # approves cora's request (the second person)
    "kit": "complaints_officer",  # the keyboard-only walk
    "carl": "complaints_officer",  # the accessibility walk (holds an approved grant)
    "adam": "advisor",  # refused: advisors never hear audio
    "aud": "auditor",
    "root": "administrator",
    "dana": "dpo",
    "sid": "dpo",  # the sign-in form's own test (a wrong password first)
    "bea": "business_intelligence",  # the demand figures, and nothing else
    "sol": "safety_officer",  # the conduct queue and an incident
    "tess": "team_leader",  # scores the sampled call in mina's calibration session (seeded)
}
# The spoken call: words Whisper hears reliably at telephone quality, and a name that the
# speech job mutes (a muted span for the player to list).
SPOKEN_CALLER = "I am calling about my parking permit. My name is {NAME:Sarah Jones}."
SPOKEN_AGENT = "Thank you. I will renew the parking permit today."
SEARCH_WORDS = "parking permit"
# Plain calls on other lines, so search has more than one thing to show and filter.
PLAIN_LINES = {
    "browser-plain-1": "020 8748 3020",  # switchboard
    "browser-plain-2": "020 8753 1100",  # cleaner greener
    "browser-plain-3": "020 7371 5678",  # parking
}
CARL_CASE = "CMP-2026-0100"
HOLD_CASE = "CMP-2026-0042"
SAR_CASE = "SAR-2026-0100"


@dataclass
class World:
    """The seeded home; ``base`` is the server in front of it once started."""

    services: Services
    spoken: str  # the spoken call's recording id
    spoken_call_id: str
    plain: list[str]
    carl_grant: str  # carl's approved complaint grant on the spoken call
    secrets: dict[str, str] = field(default_factory=dict)  # username -> TOTP secret
    base: str = ""
    clip: str = ""  # a training clip of the spoken call, proposed, awaiting adam
    incident: str = ""  # sol's conduct incident on a plain call
    case: str = ""  # the spoken call's quality case reference, evaluated by mina
    draw: str = ""  # the quality draw that sampled it
    calibration: str = ""  # a session on it: tess has scored, mina has not


def seed(home: Path, work: Path) -> World:
    admin = system_context("test")
    services = init_home(admin, home)
    signin = SignInService.for_services(services)
    secrets: dict[str, str] = {}
    for name, role in PEOPLE.items():
        services.access.add_person(admin, name, role, PASSWORD)
        if role in signin.second_factor_roles:
            secrets[name] = signin.enrol_totp(admin, name).secret
    clip = short_clip(work, SPOKEN_CALLER, agent_text=SPOKEN_AGENT)
    # adam took the call: the training clip proposed on it waits for his decision.
    spoken = services.ingest.ingest(
        admin, AudioInput(path=clip.wav_path), orjson.dumps({**clip.meta, "agent": "adam"})
    ).recording_id
    assert spoken is not None
    summary = services.speech.process(worker_context(), spoken)
    assert summary["status"] == "transcribed", summary
    plain = [
        record(services, admin, make_call_audio(work / f"{call}.wav", seconds=3.0, seed=n), call,
               dialled=line)
        for n, (call, line) in enumerate(PLAIN_LINES.items())
    ]  # fmt: skip
    carl = RequestContext(
        actor=services.access.person("carl", operator="operator:test"), origin="cli"
    )
    grant = services.grants.request(carl, [spoken], "complaint", CARL_CASE, "accessibility check")
    assert grant.status == "approved", grant
    # A hold, so the holds page has a row (and its release form) to show.
    dana = RequestContext(
        actor=services.access.person("dana", operator="operator:test"), origin="cli"
    )
    services.holds.place(dana, reason="complaint", case_ref=HOLD_CASE, recording_ids=plain[:1])
    # A subject access request from the spoken call's caller (its review page has the muted
    # name to propose), and a training clip of the call waiting for its advisor.
    RightsService.for_services(services).open(
        dana, kind="access", ref=SAR_CASE, requester="Sarah Jones", contact="s@example.org",
        received_on=None, identity="verified", phones=[str(clip.meta["caller"])],
    )  # fmt: skip
    mina = RequestContext(actor=services.access.person("mina"), origin="cli")
    proposed = TrainingService.for_services(services).propose(
        mina, spoken, start_s=0.0, end_s=3.0, why="a clear, friendly answer"
    )
    # The demand facts of every call, as the worker's job derives them (the server runs
    # without one), so the demand page draws bars: the spoken call's topic among them.
    assert DemandIndexer.for_services(services).run(worker_context()).indexed == 1 + len(plain)
    world = World(services, spoken, str(clip.meta["call_id"]), plain, grant.id, secrets)
    world.clip = proposed.id
    world.incident = _conduct(services, plain)
    world.case, world.draw, world.calibration = _quality(services, spoken)
    return world


def _conduct(services: Services, plain: list[str]) -> str:
    """A conduct flag in the queue, as the speech job stores one (a plain call has no words
    to flag), and an incident on another call; returns the incident's reference."""
    store_conduct_flag(services, plain[2])
    sol = RequestContext(actor=services.access.person("sol"), origin="cli")
    opened = IncidentService.for_services(services).open(
        sol, "Repeated abuse towards advisors", recording_ids=[plain[1]]
    )
    return str(opened["ref"])


def _quality(services: Services, spoken: str) -> tuple[str, str, str]:
    """The spoken call sampled for quality (its month drawn as the monthly job would once it
    is over), with mina's evaluation under her quality grant for adam to respond to, and a
    calibration session on it in which tess has scored and mina has not (her scorecard form,
    the results still blind). Returns the case reference, the draw and the session."""
    case = sampled_case_ref(services, spoken)
    people = {name: RequestContext(actor=services.access.person(name), origin="cli")
              for name in ("mina", "tess")}  # fmt: skip
    for ctx in people.values():
        grant = services.grants.request(ctx, [spoken], "quality", case, "quality monitoring")
        assert grant.status == "approved", grant
    card = services.policy.policy.quality.scorecards[0]
    evaluations = EvaluationService.for_services(services)
    full = {item.id: item.points for item in card.items}
    evaluations.evaluate(people["mina"], case, full, "Clear and friendly; say the date back.")
    session = evaluations.calibrate(people["mina"], case, ["mina", "tess"])
    evaluations.evaluate(people["tess"], case, {item.id: 1 for item in card.items},
                         calibration_id=session["id"])  # fmt: skip
    s = quality_samples.c
    with services.engine.connect() as conn:
        draw = conn.execute(select(s.draw_id).where(s.case_ref == case)).scalar_one()
    return case, str(draw), str(session["id"])


@dataclass
class Person:
    """One person's browser context (their cookies) and the console watch on its pages."""

    username: str
    context: BrowserContext
    watch: ConsoleWatch

    def page(self) -> Page:
        page = self.context.new_page()
        self.watch.attach(page)
        return page


def sign_in(page: Page, username: str, code: str, next_path: str = "/") -> None:
    """Through the sign-in form, as a person fills it in; lands on ``next_path``."""
    page.goto(f"/signin?next={quote(next_path)}")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    if code:
        page.get_by_label("One-time code").fill(code)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: "/signin" not in url)
    banner = page.get_by_text("Signed in as")
    assert username in banner.inner_text(), banner.inner_text()


class SignIns:
    """Each person's cookies after their one sign-in through the form, kept for the whole
    session: a later module's browser starts signed in from them."""

    def __init__(self) -> None:
        self.states: dict[str, StorageState] = {}


class Crew:
    """One module's browser contexts by person, made on first use; ``signed_in`` signs in
    through the form the first time in the session only."""

    def __init__(self, browser: Browser, world: World, sign_ins: SignIns) -> None:
        self._browser, self._world, self._sign_ins = browser, world, sign_ins
        self._people: dict[str, Person] = {}

    def fresh(self, label: str, state: StorageState | None = None) -> Person:
        """A context of its own: nobody signed in (no cookies), or the cookies ``state``."""
        context = self._browser.new_context(
            base_url=self._world.base, viewport=VIEWPORT, locale="en-GB", timezone_id="UTC",
            storage_state=state,
        )  # fmt: skip
        context.set_default_timeout(TIMEOUT_MS)
        context.set_default_navigation_timeout(TIMEOUT_MS)
        return Person(label, context, ConsoleWatch())

    def code_for(self, username: str) -> str:
        """What the person's authenticator shows now ("" for a role without one)."""
        secret = self._world.secrets.get(username)
        return current_code(secret) if secret else ""

    def signed_in(self, username: str) -> Person:
        if username not in self._people:
            saved = self._sign_ins.states.get(username)
            person = self.fresh(username, saved)
            if saved is None:
                page = person.page()
                sign_in(page, username, self.code_for(username))
                page.close()
                self._sign_ins.states[username] = person.context.storage_state()
            self._people[username] = person
        return self._people[username]

    def close(self) -> None:
        for person in self._people.values():
            person.context.close()


class Pages:
    """The pages one test opens, as whom: signed out (a context of the test's own) or as a
    person of the crew (their session-long context). After the test: a screenshot of each
    among the artifacts if it failed, then closed; and any console error or CSP violation
    they logged fails the test, unless the test allowed it."""

    def __init__(self, crew: Crew, name: str) -> None:
        self._crew, self._name = crew, name
        self.opened: list[tuple[Person, Page]] = []
        self._anonymous: Person | None = None
        self.allowed: tuple[str, ...] = ()

    def signed_out(self) -> Page:
        if self._anonymous is None:
            self._anonymous = self._crew.fresh(f"anon-{self._name}")
        return self._open(self._anonymous)

    def as_person(self, username: str) -> Page:
        return self._open(self._crew.signed_in(username))

    def context_of(self, page: Page) -> Person:
        return next(person for person, opened in self.opened if opened is page)

    def allow(self, *patterns: str) -> None:
        """Console errors matching these regexes are expected (a refusal's own status)."""
        self.allowed += patterns

    def _open(self, person: Person) -> Page:
        page = person.page()
        self.opened.append((person, page))
        return page

    def finish(self, failed: bool) -> list[str]:
        problems: list[str] = []
        people = {id(person): person for person, _page in self.opened}
        for n, (person, page) in enumerate(self.opened):
            if failed and not page.is_closed():
                screenshot(page, f"FAILED-{self._name}-{person.username}-{n}", docs=False)
            if not page.is_closed():
                page.close()
        for person in people.values():
            problems += person.watch.take(self.allowed)
        if self._anonymous is not None:
            self._anonymous.context.close()
        return problems
