"""The browser tests' fixtures: one seeded home behind a real `callvault serve` and each
person's sign-in, made once per test session (``crew.py`` says what is seeded and why each
person signs in once); a headless Chromium per test module.

Chromium (Playwright's sync API) lives only as long as a module: while Playwright runs, its
event loop counts as running in this thread, and a later test in the same worker that
calls ``asyncio.run`` (the SIP tests do) would fail. Sign-ins outlive it as saved cookies.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Playwright, sync_playwright

from browser.crew import Crew, Pages, SignIns, World, seed
from browser.kit import (
    LAUNCH_ARGS,
    BrowserSetupError,
    artifacts_dir,
    axe_source,
    chromium_path,
    clear_old_artifacts,
)
from speech_corpus import tools_missing

# `callvault serve` in its own process, as the end-to-end tests run it (tests/e2e is on
# mypy's path under this name, so it is imported the same way here).
_E2E = str(Path(__file__).resolve().parents[1] / "e2e")
if _E2E not in sys.path:
    sys.path.insert(0, _E2E)
from server_process import running_server  # noqa: E402


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    missing = tools_missing()
    if missing:
        pytest.fail(f"the browser tests speak their own call: {missing}", pytrace=False)
    work = tmp_path_factory.mktemp("browser")
    # The embedded leg only (SQLite, files): the pages are the same on either backend, whose
    # behaviour the other suites test. The caller's backend choices stay out of the seeding
    # and out of the server.
    saved = {k: v for k, v in os.environ.items() if k.startswith("CALLVAULT_")}
    for key in saved:
        del os.environ[key]
    try:
        seeded = seed(work / "home", work)
    finally:
        os.environ.update(saved)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLVAULT_")}
    env["CALLVAULT_HOME"] = str(seeded.services.settings.home)
    # No worker: the jobs the plain calls queued (verify, transcribe) would compete with
    # the browser for the CPU and change nothing the tests look at.
    with running_server(env, ["--no-worker"]) as base:
        seeded.base = base
        yield seeded
    seeded.services.engine.dispose()


# When this test process started: artifacts older than this are an earlier run's.
_STARTED = time.time()


@pytest.fixture(scope="session")
def sign_ins() -> SignIns:
    clear_old_artifacts(_STARTED)
    return SignIns()


@pytest.fixture(scope="module")
def browser(sign_ins: SignIns) -> Iterator[Browser]:
    executable = _or_fail(chromium_path)
    driver: Playwright
    with sync_playwright() as driver:
        launched = driver.chromium.launch(
            executable_path=executable, headless=True, args=LAUNCH_ARGS
        )
        yield launched
        launched.close()


@pytest.fixture(scope="session")
def axe() -> str:
    """axe-core's source, installed from tests/browser/package-lock.json if need be."""
    return _or_fail(axe_source)


def _or_fail(setup: Callable[[], str]) -> str:
    """``setup()``, or the test fails (never skips) with the message naming the fix."""
    problem = ""
    try:
        return setup()
    except BrowserSetupError as error:
        problem = str(error)
    pytest.fail(problem, pytrace=False)


@pytest.fixture(scope="module")
def crew(browser: Browser, world: World, sign_ins: SignIns) -> Iterator[Crew]:
    made = Crew(browser, world, sign_ins)
    yield made
    made.close()


@pytest.fixture
def pages(crew: Crew, request: pytest.FixtureRequest) -> Iterator[Pages]:
    opened = Pages(crew, request.node.name)
    yield opened
    report = getattr(request.node, "rep_call", None)
    failed = report is None or report.failed
    problems = opened.finish(failed)
    if problems and not failed:
        pytest.fail("console errors or CSP violations:\n" + "\n".join(problems), pytrace=False)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]) -> Any:
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


def pytest_terminal_summary(terminalreporter: Any) -> None:
    folder = artifacts_dir(create=False)
    if folder.is_dir() and any(folder.glob("*.png")):
        terminalreporter.write_line(f"browser test screenshots: {folder}")
