"""Real `callvault worker` processes: never the same job twice; a killed worker's job retried."""

from __future__ import annotations

import importlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import orjson

from callvault.bootstrap import Services
from callvault.db import transaction
from callvault.jobs.tasks import VERIFY
from jobs.jobs_helpers import actions, burst, ingest, job_rows, wait_for

TESTS = Path(__file__).resolve().parent.parent
CALLVAULT = str(Path(sys.executable).parent / "callvault")
# Runs the CLI with the test-only slow task registered.
WITH_SLOW_TASK = "import jobs.slow_task; from callvault.cli.main import main; main()"


def _worker(env: dict[str, str], *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", WITH_SLOW_TASK, "worker", *args],
                            env={**env, "PYTHONPATH": str(TESTS)},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip


def test_two_workers_never_run_the_same_job(
    services: Services, cli_env: dict[str, str], call_wav: Path
) -> None:
    recording_id = ingest(services, call_wav)
    with transaction(services.engine) as conn:  # 50 more jobs, each its own key
        for n in range(50):
            payload = {"recording_id": recording_id}
            services.jobs.enqueue(
                conn, VERIFY, key=f"verify:{recording_id}:{n}", payload=payload, queue="media"
            )
    procs = [_worker(cli_env, "--burst", "--json", "--queues", "media") for _ in range(2)]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err.decode()
        results.append(orjson.loads(out))
    assert sum(r["done"] for r in results) == 51
    assert all(r["failed"] == 0 for r in results)
    rows = job_rows(services, "media")
    assert {(r["status"], r["attempts"]) for r in rows} == {("done", 1)}
    verified = [e for e in services.audit.show(object_id=recording_id, limit=1000)
                if e["action"] == "recording.verified"]  # fmt: skip
    assert len(verified) == 51
    assert len({e["request_id"] for e in verified}) == 51  # one entry per job, none twice


def test_a_killed_workers_job_is_retried_after_the_stale_timeout(
    services: Services, cli_env: dict[str, str], tmp_path: Path
) -> None:
    slow = importlib.import_module("jobs.slow_task")
    marker = tmp_path / "started"
    with transaction(services.engine) as conn:
        services.jobs.enqueue(conn, slow.SLOW, key="slow:1", payload={"marker": str(marker)},
                              queue="retention")  # fmt: skip
    proc = _worker(cli_env, "--queues", "retention", "--stale-after", "1")
    try:
        wait_for(marker, 30)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)

    # Only the slow job is looked at: the worker also scheduled the periodic jobs of its
    # queue, which a burst may run.
    def slow_row() -> dict[str, Any]:
        [row] = [r for r in job_rows(services) if r["task"] == slow.SLOW]
        return row

    assert (slow_row()["status"], slow_row()["attempts"]) == ("running", 1)
    # A heartbeat younger than the timeout is left alone. The timeout here is a minute, not a
    # second: on a loaded machine more than a second can pass between the kill and this burst.
    assert burst(services, stale_after_s=60.0).as_dict()["failed"] == 0
    assert slow_row()["status"] == "running"  # not yet stale
    time.sleep(1.2)
    assert burst(services, stale_after_s=1.0).as_dict()["failed"] == 0
    assert (slow_row()["status"], slow_row()["attempts"]) == ("done", 2)
    assert actions(services, "slow:1") == ["test.slow_done"]
