"""recording.verify: the stored recording decrypts and decodes, and the audit says so."""

from __future__ import annotations

from pathlib import Path

from callvault.bootstrap import Services
from callvault.db import transaction
from callvault.jobs.tasks import VERIFY, verify_key
from homes import raw_blob, replace_raw_blob
from jobs.jobs_helpers import actions, burst, ingest, job_rows

MEDIA = ("media",)


def test_burst_worker_verifies_and_audits(services: Services, call_wav: Path) -> None:
    recording_id = ingest(services, call_wav)
    # The media queue alone: the speech job ingest also queues has tests of its own.
    assert burst(services, queues=MEDIA).as_dict() == {"done": 1, "failed": 0}
    assert actions(services, recording_id) == ["recording.ingested", "recording.verified"]
    entry = services.audit.show(object_id=recording_id)[-1]
    assert entry["actor"] == "system:worker"
    assert entry["origin"] == "job"
    assert entry["details"]["ok"] is True
    assert abs(entry["details"]["duration_s"] - 3.0) < 0.1
    [row] = job_rows(services, "media")
    assert (row["status"], row["attempts"], row["locked_by"]) == ("done", 1, None)
    assert burst(services, queues=MEDIA).as_dict() == {"done": 0, "failed": 0}


def test_verifying_twice_is_harmless(services: Services, call_wav: Path) -> None:
    recording_id = ingest(services, call_wav)
    burst(services, queues=MEDIA)
    with transaction(services.engine) as conn:  # a done key may be queued again
        services.jobs.enqueue(conn, VERIFY, key=verify_key(recording_id),
                              payload={"recording_id": recording_id}, queue="media")  # fmt: skip
    assert burst(services, queues=MEDIA).as_dict() == {"done": 1, "failed": 0}
    assert actions(services, recording_id).count("recording.verified") == 2
    assert services.audit.verify().ok


def test_a_tampered_blob_fails_verification_without_retry(
    services: Services, call_wav: Path
) -> None:
    recording_id = ingest(services, call_wav)
    name = services.catalog.get(recording_id).blob_name
    data = bytearray(raw_blob(services, name))
    data[len(data) // 2] ^= 0x01
    replace_raw_blob(services, name, bytes(data))
    assert burst(services, queues=MEDIA).as_dict() == {"done": 0, "failed": 1}
    assert actions(services, recording_id) == ["recording.ingested", "recording.verify_failed"]
    entry = services.audit.show(object_id=recording_id)[-1]
    assert entry["details"]["ok"] is False
    assert "IntegrityFailure" in entry["details"]["problem"]
    [row] = job_rows(services, "media")
    assert (row["status"], row["attempts"]) == ("failed", 1)
    assert "IntegrityFailure" in row["last_error"]
    assert services.audit.verify().ok


def test_a_purged_recording_has_nothing_to_verify(services: Services) -> None:
    with transaction(services.engine) as conn:
        services.jobs.enqueue(conn, VERIFY, key="verify:gone", payload={"recording_id": "gone"},
                              queue="media")  # fmt: skip
    assert burst(services, queues=MEDIA).as_dict() == {"done": 1, "failed": 0}
    assert actions(services, "gone") == []
