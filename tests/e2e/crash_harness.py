"""Runs ``callvault ingest`` and SIGKILLs itself at a named point (fault injection).

Usage: python crash_harness.py POINT AUDIO META. POINT "none" runs without a crash.
The kill is real: no finally blocks, no atexit, exactly what a power cut or OOM kill does
to the process.
"""

from __future__ import annotations

import sys
from typing import Any

from callvault.audit.service import AuditLog
from callvault.capture import ingest
from callvault.cli.main import main
from callvault.vault.crypto import EncryptingWriter
from callvault.vault.service import Vault
from fault_injection import die, kill_after, kill_before


def kill_on_write(calls: int) -> None:
    original = EncryptingWriter.write
    seen = {"n": 0}

    def write(self: EncryptingWriter, data: Any) -> int:
        seen["n"] += 1
        if seen["n"] >= calls:
            die()
        return original(self, data)

    EncryptingWriter.write = write  # type: ignore[method-assign]


POINTS = {
    "before_encode": lambda: kill_before(ingest, "transcode_to_opus"),
    "mid_blob_first_write": lambda: kill_on_write(1),
    "mid_blob": lambda: kill_on_write(3),
    "blob_complete": lambda: kill_before(Vault, "wrap_key"),
    "in_transaction": lambda: kill_before(AuditLog, "append"),
    "before_head_signed": lambda: kill_before(AuditLog, "_sign_head"),
    "after_head_signed": lambda: kill_after(AuditLog, "_sign_head"),
    "after_commit": lambda: kill_before(ingest.IngestResult, "as_dict"),
    "none": lambda: None,
}

if __name__ == "__main__":
    point, audio, meta = sys.argv[1:4]
    POINTS[point]()
    main(["ingest", audio, "--meta", meta, "--json"])
