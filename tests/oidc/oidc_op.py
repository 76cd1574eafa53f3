"""A real OpenID Provider for the SSO tests: panva's certified `oidc-provider` under node.

    provider = start_provider(tmp, clients=[...], accounts={...})   # seconds
    params = complete_login(start.url, REDIRECT_URI)                # the callback's query
    provider.stop()

``provider.mjs`` beside this file runs it on 127.0.0.1 (a free port it picks and reports) and
signs in, without a person, the account named by the request's ``login_hint``. Its npm
packages come from ``package-lock.json`` (``npm ci``, once, under a lock so parallel test
workers do not race). node and npm are test dependencies: their absence fails the tests with
the fix, never skips them. Every wait is bounded; a provider that does not come up is killed
and its log tail is raised.
"""

from __future__ import annotations

import contextlib
import json
import selectors
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx

from npm_packages import NpmInstallError, ensure_npm_package

HERE = Path(__file__).resolve().parent
START_TIMEOUT_S = 30.0
MIN_NODE_MAJOR = 20
_MAX_HOPS = 10
_MISSING = (
    "node and npm are needed for the single sign-on tests (they run a real OpenID Provider, "
    "npm's oidc-provider): install them (Debian: apt-get install nodejs npm; `.ci/run` does "
    "this) and run the tests again"
)


class ProviderError(RuntimeError):
    """The test provider could not be installed or started; the message says why."""


@dataclass
class RunningProvider:
    issuer: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        if self.process.stdout is not None:
            self.process.stdout.close()

    def log_tail(self) -> str:
        with contextlib.suppress(OSError):
            return self.log_path.read_text(errors="replace")[-2000:]
        return ""


def node_binary() -> str:
    """The node executable, checked for version; ProviderError naming the fix otherwise."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        raise ProviderError(_MISSING)
    version = subprocess.run(
        [node, "--version"], capture_output=True, text=True, timeout=30, check=False
    ).stdout.strip()
    major = int(version.lstrip("v").split(".")[0] or 0) if version.startswith("v") else 0
    if major < MIN_NODE_MAJOR:
        raise ProviderError(
            f"node {version or '?'} is too old: oidc-provider needs {MIN_NODE_MAJOR}+"
        )
    return node


def ensure_packages() -> None:
    """`npm ci` in tests/oidc unless the pinned oidc-provider is already installed there."""
    try:
        ensure_npm_package(HERE, "oidc-provider", _MISSING)
    except NpmInstallError as error:
        raise ProviderError(str(error)) from None


def start_provider(
    workdir: Path, clients: list[dict[str, Any]], accounts: dict[str, Any]
) -> RunningProvider:
    """Install if needed, start the provider and wait (bounded) until discovery answers."""
    node = node_binary()
    ensure_packages()
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "oidc-provider.json"
    config.write_text(json.dumps({"clients": clients, "accounts": accounts}))
    log_path = workdir / "oidc-provider.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [node, str(HERE / "provider.mjs"), str(config)],
            cwd=HERE,
            stdout=subprocess.PIPE,
            stderr=log,
        )
    provider = RunningProvider(issuer="", process=process, log_path=log_path)
    try:
        provider.issuer = _read_issuer(process, time.monotonic() + START_TIMEOUT_S)
        _wait_for_discovery(provider, time.monotonic() + START_TIMEOUT_S)
    except BaseException:
        provider.stop()
        raise
    return provider


def _read_issuer(process: subprocess.Popen[bytes], deadline: float) -> str:
    stdout: IO[bytes] | None = process.stdout
    if stdout is None:
        raise ProviderError("the provider's stdout is not a pipe")
    with selectors.DefaultSelector() as selector:
        selector.register(stdout, selectors.EVENT_READ)
        while time.monotonic() < deadline and process.poll() is None:
            if selector.select(timeout=0.2):
                line = stdout.readline()
                if line:
                    return str(json.loads(line)["issuer"])
    raise ProviderError(f"oidc-provider did not start (exit code {process.poll()})")


def _wait_for_discovery(provider: RunningProvider, deadline: float) -> None:
    url = f"{provider.issuer}/.well-known/openid-configuration"
    while time.monotonic() < deadline:
        if provider.process.poll() is not None:
            break
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=2).status_code == 200:
                return
        time.sleep(0.1)
    raise ProviderError(f"oidc-provider did not answer at {url}:\n{provider.log_tail()}")


def complete_login(url: str, redirect_uri: str) -> dict[str, str]:
    """Follow the provider's redirects as a browser would, up to our callback; its query."""
    with httpx.Client(follow_redirects=False, timeout=10) as browser:
        for _ in range(_MAX_HOPS):
            response = browser.get(url)
            if response.status_code not in (302, 303):
                raise ProviderError(
                    f"GET {url} answered {response.status_code}: {response.text[:500]}"
                )
            url = urljoin(url, response.headers["location"])
            if url.startswith(redirect_uri):
                query = parse_qs(urlsplit(url).query)
                return {key: values[0] for key, values in query.items()}
    raise ProviderError(f"no redirect to {redirect_uri} after {_MAX_HOPS} hops")
