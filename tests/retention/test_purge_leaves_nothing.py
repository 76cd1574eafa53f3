"""After a purge nothing of the recording is left, on disk or in the database: a search for
its caller number, its words, its wrapped key and its ciphertext over every file of the home."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from purge_helpers import PERIOD, has_key, now_utc, record_at, row

from callvault.bootstrap import Services
from callvault.catalog.fulltext import Segment, index_segments
from callvault.context import RequestContext
from callvault.db import transaction
from homes import raw_blob

CALLER = "+447700900777"
WORDS = "quixotic marmalade reference zebra"


def _files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


def _holding(root: Path, needle: bytes) -> list[str]:
    return [str(p.relative_to(root)) for p in _files(root) if needle in p.read_bytes()]


def test_no_blob_key_transcript_or_rendition_remains(
    services: Services, ctx: RequestContext, call_wav: Path, backend: str
) -> None:
    if backend != "sqlite":
        pytest.skip("searches the files of an embedded home")
    home = services.settings.home
    gone = record_at(
        services, ctx, call_wav, "old-1", now_utc() - PERIOD - timedelta(days=3),
        caller="07700 900777",
    )  # fmt: skip
    wrapped = services.catalog.wrapped_key(gone)
    data_key = services.vault.unwrap_key(wrapped, gone)
    rendition = f"renditions/{gone[:2]}/{gone}.redacted.opus"
    with services.vault.writer(rendition, data_key) as out:
        out.write(b"a derived rendition " * 100)
    # Other calls' transcripts before and after put the words in a middle FTS5 segment,
    # where a plain delete leaves them; the purge must merge them away.
    others = [
        record_at(services, ctx, call_wav, f"new-{n}", now_utc() - timedelta(days=1, minutes=n))
        for n in range(3)
    ]
    for n in range(60):
        with transaction(services.engine) as conn:
            if n == 40:
                index_segments(conn, gone, [Segment("caller", 0.0, 2.0, WORDS)])
            index_segments(conn, others[n % 3], [Segment("agent", 0.0, 1.0, f"words {n}")])
    with transaction(services.engine) as conn:
        services.catalog.add_rendition(conn, gone, "redacted", rendition)
    original = row(services, gone)["blob_name"]
    needles = {
        "caller number": CALLER.encode(),
        "words said": b"marmalade",
        "wrapped data key": wrapped.blob,
        "audio ciphertext": raw_blob(services, original)[200:264],
        "rendition ciphertext": raw_blob(services, rendition)[200:264],
    }
    for what, needle in needles.items():
        assert _holding(home, needle), f"the test cannot see the {what} before the purge"

    report = services.retention.run(ctx)

    assert report.counts.purged == 1 and not has_key(services, gone)
    assert not services.vault.exists(original) and not services.vault.exists(rendition)
    services.engine.dispose()  # every file closed and checkpointed as an operator would find it
    for what, needle in needles.items():
        assert _holding(home, needle) == [], f"the {what} is still in the home"
    certificate = services.audit.show(object_id=gone, limit=100)[-1]["details"]
    assert certificate["blobs_deleted"] == [original, rendition]
    assert certificate["transcript_segments_deleted"] == 1
