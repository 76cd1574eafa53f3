"""The job Protocol's promises, on SQLite and PostgreSQL: transactional, deduplicated."""

from __future__ import annotations

from pathlib import Path

import pytest

from callvault.bootstrap import Services
from callvault.db import transaction
from callvault.jobs.dbqueue import DatabaseQueue
from callvault.jobs.speech_tasks import TRANSCRIBE
from callvault.jobs.tasks import VERIFY
from jobs.jobs_helpers import ingest, job_rows


def test_a_job_rolls_back_with_its_act(services: Services) -> None:
    with pytest.raises(RuntimeError), transaction(services.engine) as conn:
        services.jobs.enqueue(conn, VERIFY, key="verify:x", payload={"recording_id": "x"},
                              queue="media")  # fmt: skip
        raise RuntimeError("the act failed after the job was written")
    assert job_rows(services) == []
    assert services.jobs.stats() == {}


def test_enqueueing_an_unfinished_key_again_is_a_no_op(services: Services) -> None:
    for _ in range(3):
        with transaction(services.engine) as conn:
            services.jobs.enqueue(conn, VERIFY, key="verify:y", payload={"recording_id": "y"},
                                  queue="media")  # fmt: skip
    assert services.jobs.stats() == {"media": {"queued": 1}}


def test_ingest_enqueues_verify_in_the_recording_transaction(
    services: Services, call_wav: Path
) -> None:
    recording_id = ingest(services, call_wav)
    ingest(services, call_wav)  # the same call again: no second recording, no second job
    rows = job_rows(services)
    payload = {"recording_id": recording_id}
    assert [(r["task"], r["queue"], r["key"], r["payload"], r["status"]) for r in rows] == [
        (VERIFY, "media", f"verify:{recording_id}", payload, "queued"),
        (TRANSCRIBE, "speech", f"speech:{recording_id}", payload, "queued"),
    ]


def test_claims_skip_what_another_worker_holds(services: Services) -> None:
    queue = services.jobs
    assert isinstance(queue, DatabaseQueue)
    with transaction(services.engine) as conn:
        for n in range(3):
            queue.enqueue(conn, VERIFY, key=f"k{n}", payload={}, queue="media")
    taken = [queue.claim(("media",), f"w{n}", 300) for n in range(4)]
    assert sorted(j.key for j in taken if j is not None) == ["k0", "k1", "k2"]
    assert taken[3] is None
    assert queue.claim(("speech",), "w9", 300) is None
