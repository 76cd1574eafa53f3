"""Runs ``callvault retention run`` and SIGKILLs itself at a named point (fault injection).

Usage: python purge_crash_harness.py POINT. The kill is real: no finally blocks, no atexit,
exactly what a power cut or an OOM kill does to the process.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence

from callvault.audit.service import AuditLog
from callvault.cli.main import main
from callvault.retention import purge
from callvault.retention.ledger import ErasureLedger
from callvault.vault.service import Vault
from fault_injection import die, kill_after, kill_before


def kill_halfway_through_deleting() -> None:
    original = Vault.delete_many

    def delete_many(self: Vault, names: Sequence[str]) -> list[str]:
        original(self, names[: len(names) // 2])
        die()
        return []

    Vault.delete_many = delete_many  # type: ignore[method-assign]


POINTS: dict[str, Callable[[], None]] = {
    "after_ledger": lambda: kill_after(ErasureLedger, "record"),
    "after_shred": lambda: kill_before(purge.RetentionService, "_complete"),
    "mid_blobs": kill_halfway_through_deleting,
    "in_certificate_transaction": lambda: kill_before(AuditLog, "append_many"),
    "before_run_finished": lambda: kill_before(purge, "finish_run"),
}

if __name__ == "__main__":
    POINTS[sys.argv[1]]()
    main(["retention", "run", "--json"])
