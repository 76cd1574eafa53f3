"""What the browser tests share: Debian's Chromium under Playwright, axe-core in the page,
a watch on each page's console, the visible-focus check and screenshots.

The browser is the system's ``chromium`` package (``executable_path``), never a download:
the tests must run on a council's CI machine that reaches no browser CDN. Its absence fails
the tests with the fix, never skips them. axe-core comes from npm, pinned by
``package-lock.json`` beside this file and installed by ``npm ci`` once, under a file lock
so parallel test workers do not race (as ``tests/oidc/oidc_op.py`` installs its provider).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playwright.sync_api import ConsoleMessage, Page, ViewportSize

from npm_packages import NpmInstallError, ensure_npm_package

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
DOCS_SCREENSHOTS = REPO / "docs" / "screenshots"
VIEWPORT: ViewportSize = {"width": 1280, "height": 800}
# Headless Chromium has no sound card and needs none: it plays into a null audio sink at
# real speed (currentTime advances about 1 s a second). The tests start playback by click
# or key, as a person does; this flag only keeps a stricter autoplay default in a future
# Chromium from refusing a play() that follows a synthetic event.
LAUNCH_ARGS = ["--autoplay-policy=no-user-gesture-required"]
# The accessibility standard the council's pages are held to: WCAG 2.2 AA, which axe tags
# by the version that introduced each rule.
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
FAILING_IMPACTS = ("serious", "critical")
AXE_LOG = "axe-findings.txt"
_NO_CHROMIUM = (
    "Chromium is needed for the browser tests (Playwright drives Debian's `chromium`; no "
    "browser is downloaded): install it (apt-get install chromium; `.ci/run` does this) or "
    "point CALLVAULT_CHROMIUM at a Chromium binary, and run the tests again"
)
_NO_NPM = (
    "npm is needed for the browser tests (they install axe-core, the accessibility checker, "
    "from tests/browser/package-lock.json): install it (Debian: apt-get install nodejs npm; "
    "`.ci/run` does this) and run the tests again"
)


class BrowserSetupError(RuntimeError):
    """Chromium or axe-core is missing and could not be set up; the message names the fix."""


def chromium_path() -> str:
    """Debian's Chromium (or CALLVAULT_CHROMIUM); BrowserSetupError naming the fix otherwise."""
    wanted = os.environ.get("CALLVAULT_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not (Path(wanted).is_file() and os.access(wanted, os.X_OK)):
        raise BrowserSetupError(f"{_NO_CHROMIUM} (looked for {wanted})")
    return wanted


def axe_source() -> str:
    """axe-core's browser build, installed by `npm ci` here if the pinned one is missing."""
    try:
        folder = ensure_npm_package(HERE, "axe-core", _NO_NPM)
    except NpmInstallError as error:
        raise BrowserSetupError(str(error)) from None
    return (folder / "axe.min.js").read_text(encoding="utf-8")


# -- what a page says in its console ------------------------------------------------------
@dataclass
class ConsoleWatch:
    """Every console error, uncaught exception and CSP violation of the pages of one
    browser context. A page with a broken script or a resource the CSP blocks fails its
    test here, even when what the test looks at still renders."""

    problems: list[str] = field(default_factory=list)

    def attach(self, page: Page) -> None:
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.problems.append(f"{page.url}: uncaught {error}"))

    def _console(self, message: ConsoleMessage) -> None:
        # Chromium reports a CSP violation as a console error ("Refused to ... because it
        # violates the following Content Security Policy directive"), so this catches both.
        if (
            message.type not in ("error", "assert")
            and "Content Security Policy" not in message.text
        ):
            return
        where = message.location.get("url", "?")
        # The browser asks for /favicon.ico by itself and the UI has none: a 404 that no page
        # asked for (reported to the UI's authors), not a fault of the page under test.
        if where.endswith("/favicon.ico"):
            return
        self.problems.append(f"{where}: {message.text}")

    def take(self, allowed: tuple[str, ...] = ()) -> list[str]:
        """The problems seen since the last take, less those matching an ``allowed`` regex
        (a refusal page's own "status of 403" that a test asked for)."""
        seen, self.problems = self.problems, []
        return [p for p in seen if not any(re.search(pattern, p) for pattern in allowed)]


# -- accessibility ------------------------------------------------------------------------
_RUN_AXE = """async (tags) => {
    const results = await axe.run(document, {runOnly: {type: 'tag', values: tags}});
    return results.violations.map(v => ({
        id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
        nodes: v.nodes.map(n => ({target: n.target.join(' '), summary: n.failureSummary,
                                  html: n.html.slice(0, 200)})),
    }));
}"""


def axe_violations(page: Page, source: str) -> list[dict[str, Any]]:
    """axe-core's WCAG 2.2 AA violations on the page as it is now.

    axe goes in through page.evaluate (the DevTools protocol), not a <script> element: the
    pages' CSP rightly refuses inline script, and a test must not loosen it to look in."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(source)
    found: list[dict[str, Any]] = page.evaluate(_RUN_AXE, AXE_TAGS)
    return found


def describe_violations(violations: list[dict[str, Any]]) -> str:
    lines = []
    for v in violations:
        lines.append(f"[{v['impact']}] {v['id']}: {v['help']} ({v['helpUrl']})")
        lines.extend(
            f"    {n['target']}: {n['html']}\n      {n['summary']}".replace("\n", "\n      ")
            for n in v["nodes"][:5]
        )
    return "\n".join(lines)


def assert_accessible(page: Page, source: str, name: str) -> None:
    """No serious or critical WCAG 2.2 AA violation on the page; every finding, whatever
    its impact, goes to axe-findings.txt among the artifacts, so lesser ones are seen too."""
    violations = axe_violations(page, source)
    if violations:
        with (artifacts_dir() / AXE_LOG).open("a", encoding="utf-8") as out:
            out.write(f"== {name} ({page.url})\n{describe_violations(violations)}\n")
    failing = [v for v in violations if v["impact"] in FAILING_IMPACTS]
    assert not failing, f"{name} ({page.url}) fails WCAG 2.2 AA:\n" + describe_violations(failing)


# -- keyboard -----------------------------------------------------------------------------
_FOCUS = """() => {
    const el = document.activeElement;
    if (!el || el === document.body || el === document.documentElement) return null;
    const style = getComputedStyle(el);
    const outline = style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0;
    const shadow = style.boxShadow !== 'none';
    // Focus on a part inside a native control (a date field's calendar button, an audio
    // element's volume or menu button) leaves the element itself unmatched by :focus; the
    // browser draws that part's ring, which no stylesheet reaches or computed style shows.
    // Only such controls get this allowance, so it cannot hide an ordinary element's.
    const natives = 'audio, video, input[type=date], input[type=time], '
        + 'input[type=datetime-local], input[type=month], input[type=week]';
    const part = !el.matches(':focus') && el.matches(natives);
    const field = ['INPUT', 'SELECT', 'TEXTAREA'].includes(el.tagName);
    const label = (el.getAttribute('aria-label') || (field ? el.name : el.innerText) || '')
        .trim().replace(/\\s+/g, ' ').slice(0, 60);
    return {tag: el.tagName.toLowerCase(), id: el.id, label: label,
            href: el.getAttribute('href') || '', type: el.getAttribute('type') || '',
            visible: outline || shadow || part, part: part,
            matchesFocusVisible: el.matches(':focus-visible'),
            outline: style.outlineStyle + ' ' + style.outlineWidth, shadow: style.boxShadow};
}"""


@dataclass(frozen=True)
class Focused:
    tag: str
    id: str
    label: str
    href: str
    type: str
    # How it shows, not which element it is: left out of comparisons.
    visible: bool = field(compare=False)
    part: bool = field(compare=False)  # a native control's inner part has the focus
    matches_focus_visible: bool = field(compare=False)
    outline: str = field(compare=False)
    shadow: str = field(compare=False)

    def __str__(self) -> str:
        where = f"#{self.id}" if self.id else (self.href or self.type)
        return f"<{self.tag} {where}> {self.label!r}"


def focused(page: Page) -> Focused | None:
    """What has the keyboard focus, and whether it shows (outline or box shadow)."""
    found: dict[str, Any] | None = page.evaluate(_FOCUS)
    if found is None:
        return None
    found["matches_focus_visible"] = found.pop("matchesFocusVisible")
    return Focused(**found)


# -- screenshots --------------------------------------------------------------------------
def artifacts_dir(*, create: bool = True) -> Path:
    """Where the screenshots of a run go: CALLVAULT_TEST_ARTIFACTS, or a fixed folder in the
    temporary directory (overwritten by the next run; CI uploads the former)."""
    chosen = os.environ.get("CALLVAULT_TEST_ARTIFACTS")
    folder = (
        Path(chosen) / "browser"
        if chosen
        else Path(tempfile.gettempdir()) / f"callvault-browser-artifacts-{os.getuid()}"
    )
    if create:
        folder.mkdir(parents=True, exist_ok=True)
    return folder


def clear_old_artifacts(started: float) -> None:
    """Remove what earlier runs left (older than ``started``), so the folder (and, when
    updating them, docs/screenshots) holds this run's pictures only; a parallel worker's
    new files are kept."""
    folder = artifacts_dir()
    stale = [*folder.glob("*.png"), folder / AXE_LOG]
    if updating_docs():  # the README's pictures are replaced as a set: none of a gone page
        stale += DOCS_SCREENSHOTS.glob("*.png")
    for old in stale:
        with contextlib.suppress(FileNotFoundError):
            if old.stat().st_mtime < started:
                old.unlink()


def updating_docs() -> bool:
    return os.environ.get("CALLVAULT_UPDATE_SCREENSHOTS") == "1"


# The pictures the README and docs/web-ui.md show: one of each page a reader would ask
# about, in the order of the main flow (every page still goes to the artifacts).
DOCS_PAGES = frozenset({
    "signin", "home-complaints_officer", "search-results", "recording", "flow-2-requested",
    "flow-4-approvals", "listen", "flow-6-recording-trail", "requests", "holds", "retention",
    "audit-trail", "audit-verification", "users", "access-review", "refused",
})  # fmt: skip


def screenshot(page: Page, name: str, *, docs: bool = True) -> Path:
    """The whole page as ``name``.png among the artifacts. With CALLVAULT_UPDATE_SCREENSHOTS=1
    also docs/screenshots/``name``.png for the README: the 1280x800 viewport only, what a
    reader sees first, at a size that stays the same from run to run."""
    path = artifacts_dir() / f"{name}.png"
    page.screenshot(path=str(path), full_page=True, animations="disabled")
    if docs and name in DOCS_PAGES and updating_docs():
        DOCS_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(DOCS_SCREENSHOTS / f"{name}.png"), animations="disabled")
    return path


# A native control's own parts take a Tab each while the element stays focused: a date
# field's day, month and year; an audio element's play, timeline, volume and menu buttons.
# More stops than this on one element is a trap.
MAX_STOPS_IN_ONE_ELEMENT = 6


def tab_to(
    page: Page, wanted: Callable[[Focused], bool], what: str, *, limit: int = 80, key: str = "Tab"
) -> Focused:
    """Press Tab (or ``key``, e.g. Shift+Tab) until ``wanted`` has the focus; every stop on
    the way must show its focus, and the focus must keep moving (no trap). Fails naming the
    stops when ``what`` is never reached."""
    stops: list[str] = []
    same = 0
    for _ in range(limit):
        before = focused(page)
        page.keyboard.press(key)
        now = focused(page)
        if now is None:  # past the last stop: the browser's own UI has the focus
            raise AssertionError(f"{what} not reached by keyboard; stops: {stops}")
        assert now.visible, f"the focus on {now} is not visible ({now.outline}; {now.shadow})"
        same = same + 1 if now == before else 0
        assert same < MAX_STOPS_IN_ONE_ELEMENT, f"keyboard trap: {key} stays on {now}"
        stops.append(str(now))
        if wanted(now):
            return now
    raise AssertionError(f"{what} not reached in {limit} presses; stops: {stops}")


def can_step_back(page: Page) -> None:
    """Shift+Tab leaves the focused element for another, visibly, and Tab comes back to
    it: the focus is not trapped in either direction."""
    here = focused(page)
    assert here is not None
    page.keyboard.press("Shift+Tab")
    before = focused(page)
    assert before is not None and before != here, f"Shift+Tab is trapped at {here}"
    assert before.visible, f"the focus on {before} is not visible"
    page.keyboard.press("Tab")
    assert focused(page) == here, f"Tab from {before} went to {focused(page)}, not {here}"
