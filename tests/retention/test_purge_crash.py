"""A purge killed at any step resumes cleanly: each due recording ends purged exactly once."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from purge_crash_harness import POINTS
from purge_helpers import PERIOD, now_utc, purger, record_at, row
from sqlalchemy import func, select

from callvault.bootstrap import Services
from callvault.catalog.store import data_keys
from callvault.context import RequestContext

HARNESS = Path(__file__).with_name("purge_crash_harness.py")


@pytest.mark.parametrize("point", sorted(POINTS))
def test_kill_at_each_step_then_resume(
    services: Services, ctx: RequestContext, call_wav: Path, cli_env: dict[str, str], point: str
) -> None:
    started = now_utc() - PERIOD - timedelta(days=3)
    due = [
        record_at(services, ctx, call_wav, f"old-{n}", started + timedelta(minutes=n))
        for n in range(3)
    ]
    kept = record_at(services, ctx, call_wav, "new-1", now_utc() - timedelta(days=1))
    blobs = [row(services, rid)["blob_name"] for rid in due]
    env = {**cli_env, "PYTHONPATH": os.pathsep.join(sys.path)}
    killed = subprocess.run(
        [sys.executable, str(HARNESS), point],
        check=False,
        env=env,
        capture_output=True,
        timeout=120,
    )
    assert killed.returncode == -9, killed.stderr.decode()
    services.engine.dispose()  # forget pooled connections the killed process shared nothing of

    # The dead run still looks like it is running until its heartbeat goes stale.
    report = purger(services, now_utc() + timedelta(minutes=20)).run(ctx)

    assert report.counts.held == 0 and report.counts.kept == 1
    with services.engine.connect() as conn:
        keys = set(conn.execute(select(data_keys.c.recording_id)).scalars())
        assert conn.execute(select(func.count()).select_from(data_keys)).scalar_one() == 1
    assert keys == {kept}
    assert not any(services.vault.exists(name) for name in blobs)
    for rid in due:
        actions = [e["action"] for e in services.audit.show(object_id=rid, limit=100)]
        assert actions.count("recording.purged") == 1, (rid, actions)
        assert row(services, rid)["purged_at"] is not None
    assert services.audit.verify().ok
    erased = {e.recording_id for e in services.ledger.entries()}
    assert erased == set(due)
