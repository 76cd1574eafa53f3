"""Prometheus text exposition of operational counts. Counts only: no personal data."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterable

from sqlalchemy import func, select

from callvault.bootstrap import Services
from callvault.catalog.store import call_decisions, recordings


class IngestCounter:
    """Ingest outcomes seen by this process (a Prometheus counter per status)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()

    def add(self, status: str) -> None:
        with self._lock:
            self._counts[status] += 1

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)


def _metric(name: str, kind: str, help_text: str, samples: Iterable[tuple[str, float]]) -> str:
    lines = [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]
    lines += [f"{name}{labels} {value:g}" for labels, value in samples]
    return "\n".join(lines)


def render(services: Services, ingests: IngestCounter) -> str:
    with services.engine.connect() as conn:
        kept = conn.execute(select(func.count()).select_from(recordings)).scalar_one()
        rows = conn.execute(
            select(call_decisions.c.record, func.count()).group_by(call_decisions.c.record)
        ).all()
    by_outcome: dict[bool, int] = {bool(record): int(count) for record, count in rows}
    blocks = [
        _metric("callvault_recordings", "gauge", "Recordings in the catalogue.", [("", kept)]),
        _metric(
            "callvault_call_decisions",
            "gauge",
            "Calls decided by the policy, by outcome.",
            [
                ('{outcome="recorded"}', by_outcome.get(True, 0)),
                ('{outcome="not_recorded"}', by_outcome.get(False, 0)),
            ],
        ),
        _metric(
            "callvault_audit_entries",
            "gauge",
            "Entries in the audit trail.",
            [("", services.audit.count())],
        ),
        _metric(
            "callvault_jobs",
            "gauge",
            "Background jobs by queue and status (queued is the queue depth).",
            [
                (f'{{queue="{queue}",status="{status}"}}', count)
                for queue, statuses in sorted(services.jobs.stats().items())
                for status, count in sorted(statuses.items())
            ],
        ),
        _metric(
            "callvault_ingest_requests_total",
            "counter",
            "Ingest requests answered by this process, by status.",
            [(f'{{status="{k}"}}', v) for k, v in sorted(ingests.snapshot().items())],
        ),
    ]
    return "\n".join(blocks) + "\n"
