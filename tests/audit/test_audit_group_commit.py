"""Group commit: many threads' entries share transactions, each returns once committed."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from callvault.audit.group_commit import GroupCommit
from callvault.bootstrap import Services
from callvault.context import system_context
from callvault.errors import CallvaultError


def test_concurrent_appends_are_each_committed_once_in_chain_order(services: Services) -> None:
    batch = GroupCommit(services.engine, services.audit)
    before = services.audit.count()
    start = threading.Barrier(40)

    def one(n: int) -> int:
        start.wait()
        seq = batch.append(system_context("test"), "test.grouped", details={"n": n})
        # Returned only once committed: a fresh connection sees the entry.
        assert any(e["seq"] == seq for e in services.audit.show(after=seq - 1, limit=1))
        return seq

    with ThreadPoolExecutor(40) as pool:
        seqs = list(pool.map(one, range(200)))
    assert len(set(seqs)) == 200
    entries = services.audit.show(after=before, limit=1000)
    assert sorted(e["details"]["n"] for e in entries) == list(range(200))
    assert services.audit.verify().ok


def test_a_failed_commit_fails_every_caller_in_the_batch(services: Services) -> None:
    batch = GroupCommit(services.engine, services.audit)
    before = services.audit.count()
    with pytest.raises((TypeError, CallvaultError)):
        # Details that cannot be written: the append raises inside the batch's transaction.
        batch.append(system_context("test"), "test.bad", details={"x": object()})
    assert services.audit.count() == before
    # The batcher is not wedged: the next append commits.
    assert batch.append(system_context("test"), "test.after") == before + 1
