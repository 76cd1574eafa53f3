"""Audit trail speed: `audit verify` entries per second, and append cost.

Run: .venv/bin/python bench/bench_audit.py [--entries 250000]

The log is filled through the real chain code (entry_hash, signed head), in one transaction so
setup stays quick; verify then reads it back from SQLite as `callvault audit verify` does.
Target: verify >= 200,000 entries per second.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import insert, select

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from callvault.audit.chain import entry_hash, entry_text  # noqa: E402
from callvault.audit.service import CHECKPOINT_EVERY  # noqa: E402
from callvault.audit.store import audit_log  # noqa: E402
from callvault.bootstrap import Services  # noqa: E402
from callvault.context import Actor, RequestContext, system_context  # noqa: E402
from callvault.db import transaction  # noqa: E402
from callvault.maintenance.service import init_home  # noqa: E402


def fill(services: Services, count: int) -> None:
    """Chain ``count`` realistic entries after the existing ones, through the chain code."""
    with transaction(services.engine) as conn:
        last = conn.execute(
            select(audit_log.c.seq, audit_log.c.hash).order_by(audit_log.c.seq.desc()).limit(1)
        ).one()
        seq, prev = last.seq, last.hash
        rows = []
        for _ in range(count):
            seq += 1
            text = entry_text({
                "at": "2026-11-28T10:00:00.000000+00:00", "actor": "alice", "operator": None,
                "action": "recording.played", "object_type": "recording",
                "object_id": f"{seq:032x}", "purpose": "complaint", "case_ref": "CMP-2026-0042",
                "origin": "api:10.0.0.7", "request_id": f"{seq:032x}",
                "details": {"grant": "g1", "bytes": 123456},
            })  # fmt: skip
            hash_ = entry_hash(seq, prev, text)
            rows.append({"seq": seq, "entry": text, "prev_hash": prev, "hash": hash_})
            prev = hash_
        conn.execute(insert(audit_log), rows)
        # The real signing code: checkpoints every CHECKPOINT_EVERY entries, then the head.
        first = rows[0]["seq"]
        for cp in range(CHECKPOINT_EVERY, seq + 1, CHECKPOINT_EVERY):
            if cp >= first:
                services.audit._sign_head(conn, cp, rows[cp - first]["hash"], "2026-11-28")
        services.audit._sign_head(conn, seq, prev, "2026-11-28")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--entries", type=int, default=250_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        services = init_home(system_context("bench"), Path(tmp) / "home")
        fill(services, args.entries)
        start = time.perf_counter()
        result = services.audit.verify()
        elapsed = time.perf_counter() - start
        assert result.ok, result
        print(f"audit verify: {result.entries} entries in {elapsed:.3f} s = "
              f"{result.entries / elapsed:,.0f} entries/s  (target >= 200,000/s)")  # fmt: skip
        ctx = RequestContext(actor=Actor("alice"), origin="bench", purpose="complaint")
        n = 2000
        start = time.perf_counter()
        for i in range(n):
            with transaction(services.engine) as conn:
                services.audit.append(conn, ctx, "recording.played", object_id=str(i))
        per = (time.perf_counter() - start) / n
        print(f"audit append: {per * 1e3:.2f} ms per act in its own committed transaction "
              f"(fsync included)")  # fmt: skip


if __name__ == "__main__":
    main()
