"""Purging 100,000 expired recordings on SQLite, against deleting the same number of files.

Run: .venv/bin/python bench/bench_purge.py [--recordings 100000] [--blob-bytes 2048]

A fresh home (SQLite, files, as ``callvault init`` makes it) gets ``--recordings`` catalogue
rows inserted straight into its tables, each with a wrapped data key and a blob file of
``--blob-bytes`` in the blob store, all past their retention date. Measured side by side in
one run, on the same file system:

  (a) deleting the same number of files of the same size alone (``os.unlink``), created the
      same way beside them;
  (b) ``callvault retention run`` as shipped (``RetentionService.run``): the ledger entries
      (fsynced), the keys destroyed, the blobs deleted, the rows scrubbed, one certificate per
      recording in the audit trail, the run's own entry, the FTS optimise and WAL checkpoint.

Prints both times and the ratio (b)/(a); the target is < 10. Then checks that nothing is
left: no key, no blob, every recording certified, the audit chain intact.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from sqlalchemy import func, insert, select  # noqa: E402

from callvault.catalog.store import call_decisions, data_keys, recordings  # noqa: E402
from callvault.context import system_context  # noqa: E402
from callvault.db import transaction  # noqa: E402
from callvault.maintenance.service import init_home  # noqa: E402
from callvault.retention.store import disposals  # noqa: E402
from callvault.vault.blobs import FilesystemBlobStore  # noqa: E402

START = datetime.now(UTC) - timedelta(days=800)


def fill(services: object, count: int, blob_bytes: int) -> None:
    """``count`` expired recordings, each with a wrapped key row and a blob file."""
    from callvault.bootstrap import Services

    assert isinstance(services, Services)
    store = services.blobs
    assert isinstance(store, FilesystemBlobStore)
    rng = random.Random(11)
    payload = os.urandom(blob_bytes)
    lines = [line.id for line in services.policy.policy.lines]
    decisions, rows, keys = [], [], []
    for n in range(count):
        started = START + timedelta(seconds=rng.randrange(300 * 86400))
        rec_id = uuid.UUID(int=rng.getrandbits(128)).hex
        name = f"recordings/{rec_id[:2]}/{rec_id}.opus"
        decisions.append({"id": f"d{n:031d}", "call_id": f"c{n}", "direction": "inbound",
                          "dialled": "+442073715678", "record": True, "line": "parking",
                          "rule": "line", "policy_version": "bench",
                          "decided_at": started.isoformat(), "origin": "bench"})  # fmt: skip
        rows.append({
            "id": rec_id, "call_id": f"c{n}", "decision_id": f"d{n:031d}",
            "line": rng.choice(lines), "sensitivity": "standard", "direction": "inbound",
            "dialled": "+442073715678", "caller": f"+447700{900000 + n % 5000}",
            "agent": f"agent-{n % 300}", "started_at": started.isoformat(),
            "ended_at": (started + timedelta(seconds=120)).isoformat(), "duration_s": 120.0,
            "announcement_played": True, "notice_version": "v1",
            "channel_map": '{"caller":0,"agent":1}', "flags": "[]", "source_sha256": "0" * 64,
            "source_bytes": blob_bytes, "source_format": "bench", "blob_name": name,
            "codec": "opus", "sample_rate": 8000, "channels": 2,
            "retain_until": (started + timedelta(days=365)).isoformat(),
            "created_at": started.isoformat(),
        })  # fmt: skip
        keys.append({"recording_id": rec_id, "kek_id": "bench",
                     "wrapped": os.urandom(60), "created_at": started.isoformat()})  # fmt: skip
        path = store.path_of(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(payload)
    with transaction(services.engine) as conn:
        conn.execute(insert(call_decisions), decisions)
        conn.execute(insert(recordings), rows)
        conn.execute(insert(data_keys), keys)
    with services.engine.connect() as conn:
        conn.exec_driver_sql("ANALYZE")


def plain_files(root: Path, count: int, blob_bytes: int) -> list[Path]:
    """The same number of files of the same size, spread over 256 folders the same way."""
    payload = os.urandom(blob_bytes)
    paths = []
    for n in range(count):
        name = uuid.UUID(int=random.Random(n).getrandbits(128)).hex
        path = root / name[:2] / f"{name}.bin"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(payload)
        paths.append(path)
    return paths


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--recordings", type=int, default=100_000)
    parser.add_argument("--blob-bytes", type=int, default=2048)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="cv-bench-purge-") as tmp:
        ctx = system_context("bench")
        services = init_home(ctx, Path(tmp) / "home")
        started = time.perf_counter()
        fill(services, args.recordings, args.blob_bytes)
        files = plain_files(Path(tmp) / "plain", args.recordings, args.blob_bytes)
        os.sync()
        print(f"{args.recordings:,} expired recordings and as many plain files made in "
              f"{time.perf_counter() - started:.1f} s")  # fmt: skip

        t0 = time.perf_counter()
        for path in files:
            path.unlink()
        unlink_s = time.perf_counter() - t0

        t0 = time.perf_counter()
        report = services.retention.run(ctx)
        purge_s = time.perf_counter() - t0

        print(f"  (a) deleting {len(files):,} files alone        {unlink_s:8.2f} s")
        print(f"  (b) retention run (purge, certify)      {purge_s:8.2f} s"
              f"   {report.counts.purged / purge_s:,.0f} recordings/s")  # fmt: skip
        print(f"ratio (b)/(a) = {purge_s / unlink_s:.1f}  (target < 10)")

        with services.engine.connect() as conn:
            keys_left = conn.execute(select(func.count()).select_from(data_keys)).scalar_one()
            done = conn.execute(
                select(func.count()).select_from(disposals).where(disposals.c.state == "done")
            ).scalar_one()
        blobs_left = sum(1 for _ in services.blobs.names())
        verified = services.audit.verify()
        chain = "intact" if verified.ok else "BROKEN"
        print(
            f"after: purged {report.counts.purged:,}, keys left {keys_left}, blobs left "
            f"{blobs_left}, certified {done:,}, audit chain {chain} ({verified.entries:,} entries)"
        )
        services.engine.dispose()


if __name__ == "__main__":
    main()
