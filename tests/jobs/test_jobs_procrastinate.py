"""The procrastinate leg: queue_url names the test's PostgreSQL database (its own schema)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from sqlalchemy import text

from callvault.bootstrap import Services
from callvault.config import load_settings
from callvault.db import transaction
from callvault.errors import ConfigError
from callvault.jobs.procrastinate_queue import ProcrastinateQueue, check_same_database
from callvault.jobs.tasks import VERIFY
from jobs.jobs_helpers import actions, ingest

CALLVAULT = str(Path(sys.executable).parent / "callvault")


@pytest.fixture
def pg_queue(services: Services, monkeypatch: pytest.MonkeyPatch) -> tuple[Services, str]:
    if services.engine.dialect.name != "postgresql":
        pytest.skip("procrastinate runs on PostgreSQL")
    queue_url = services.settings.db_url.replace("postgresql+psycopg://", "postgresql://", 1)
    monkeypatch.setenv("CALLVAULT_QUEUE_URL", queue_url)
    return Services(load_settings(services.settings.home)), queue_url


def test_schema_lands_in_our_schema_not_public(pg_queue: tuple[Services, str]) -> None:
    services, _ = pg_queue
    assert services.jobs.kind == "procrastinate"
    query = "SELECT table_schema FROM information_schema.tables WHERE table_name = :t"
    with services.engine.connect() as conn:
        schema = conn.execute(text("SELECT current_schema()")).scalar_one()
        found = conn.execute(text(query), {"t": "procrastinate_jobs"}).scalars().all()
    assert schema in found
    assert isinstance(services.jobs, ProcrastinateQueue)
    assert services.jobs.apply_schema() is False  # idempotent


def test_defer_is_transactional_and_deduplicated(pg_queue: tuple[Services, str]) -> None:
    services, _ = pg_queue
    with pytest.raises(RuntimeError), transaction(services.engine) as conn:
        services.jobs.enqueue(conn, VERIFY, key="verify:a", payload={"recording_id": "a"},
                              queue="media")  # fmt: skip
        raise RuntimeError("the act failed")
    assert services.jobs.stats() == {}
    for _ in range(2):
        with transaction(services.engine) as conn:
            services.jobs.enqueue(conn, VERIFY, key="verify:b", payload={"recording_id": "b"},
                                  queue="media")  # fmt: skip
    assert services.jobs.stats() == {"media": {"todo": 1}}


def test_ingest_then_procrastinate_worker_verifies(
    pg_queue: tuple[Services, str], cli_env: dict[str, str], call_wav: Path
) -> None:
    services, queue_url = pg_queue
    recording_id = ingest(services, call_wav)
    assert services.jobs.stats() == {"media": {"todo": 1}, "speech": {"todo": 1}}
    env = {**cli_env, "CALLVAULT_QUEUE_URL": queue_url}
    run = subprocess.run([CALLVAULT, "worker", "--burst", "--json"], env=env,
                         capture_output=True, timeout=180, check=False)  # fmt: skip
    assert run.returncode == 0, run.stderr.decode()
    # Verified, and transcribed on the speech queue (the models load in the worker process).
    assert orjson.loads(run.stdout) == {"done": 2, "failed": 0}
    assert sorted(actions(services, recording_id)) == [
        "recording.ingested", "recording.transcribed", "recording.verified"
    ]  # fmt: skip
    assert services.jobs.stats() == {"media": {"succeeded": 1}, "speech": {"succeeded": 1}}


def test_a_queue_elsewhere_is_refused() -> None:
    db = "postgresql+psycopg://u@db1/callvault?options=-csearch_path%3Dcv"
    check_same_database(db, "postgresql://worker@db1:5432/callvault?options=-csearch_path%3Dcv")
    for other in ("postgresql://u@db2/callvault", "postgresql://u@db1/other",
                  "postgresql://u@db1/callvault", "redis://localhost"):  # fmt: skip
        with pytest.raises(ConfigError):
            check_same_database(db, other)
    with pytest.raises(ConfigError, match="same transaction"):
        check_same_database("sqlite:///x.db", "postgresql://u@db1/callvault")
