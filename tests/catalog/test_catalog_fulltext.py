"""Search by what was said, on SQLite FTS5 and PostgreSQL full text alike."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from callvault.bootstrap import Services
from callvault.capture.ingest import AudioInput
from callvault.catalog.fulltext import Segment, delete_segments, index_segments, search_words
from callvault.context import RequestContext
from callvault.db import transaction
from callvault.errors import BadInput
from homes import meta_for

PARKING = [
    Segment("agent", 0.0, 3.1, "Good morning, parking services, how can I help?"),
    Segment("caller", 3.4, 9.0, "I was given a penalty charge outside the library on Tuesday."),
    Segment("agent", 9.2, 14.0, "I can see the charge. You have resident permits for that zone."),
]
REPAIRS = [
    Segment("caller", 0.5, 6.0, "There is a leak from the ceiling in the kitchen."),
    Segment("agent", 6.2, 10.0, "I will book a repairs visit for Thursday morning."),
]


@pytest.fixture
def indexed(services: Services, ctx: RequestContext, call_wav: Path) -> dict[str, str]:
    ids = {}
    for call_id, segments in (("ft-parking", PARKING), ("ft-repairs", REPAIRS)):
        meta = orjson.dumps(meta_for(call_id=call_id))
        rec_id = services.ingest.ingest(ctx, AudioInput(path=call_wav), meta).recording_id
        assert rec_id is not None
        with transaction(services.engine) as conn:
            index_segments(conn, rec_id, segments)
        ids[call_id] = rec_id
    return ids


def _search(services: Services, words: str, **kwargs: object) -> list[tuple[str, float, str]]:
    with services.engine.connect() as conn:
        hits = search_words(conn, words, **kwargs)  # type: ignore[arg-type]
    return [(h.recording_id, h.start_s, h.snippet) for h in hits]


def test_finds_the_moment_with_a_snippet(services: Services, indexed: dict[str, str]) -> None:
    [(rec_id, start, snippet)] = _search(services, "penalty charge library")
    assert rec_id == indexed["ft-parking"] and start == 3.4
    assert "[penalty]" in snippet and "[library]" in snippet


def test_word_forms_match(services: Services, indexed: dict[str, str]) -> None:
    """English stemming on both engines: "permit" finds "permits", "leaking" finds "leak"."""
    assert [h[0] for h in _search(services, "permit")] == [indexed["ft-parking"]]
    assert [h[0] for h in _search(services, "leaking")] == [indexed["ft-repairs"]]


def test_every_word_must_be_said(services: Services, indexed: dict[str, str]) -> None:
    assert _search(services, "leak library") == []
    assert _search(services, "zebra") == []


@pytest.mark.parametrize(
    "words",
    [
        '"penalty',
        "penalty NEAR( charge",
        "penalty*",
        "-penalty",
        "penalty OR zebra",
        "penalty'; DROP TABLE recordings; --",
        "penalty:charge",
        "(penalty)",
    ],
)
def test_query_syntax_is_just_words(
    services: Services, indexed: dict[str, str], words: str
) -> None:
    hits = _search(services, words)
    assert all(h[0] == indexed["ft-parking"] for h in hits)
    assert services.catalog.count() == 2


def test_no_words_is_bad_input(services: Services, indexed: dict[str, str]) -> None:
    with pytest.raises(BadInput) as err:
        _search(services, " ?! ")
    assert err.value.field == "text"


def test_restricted_to_visible_recordings(services: Services, indexed: dict[str, str]) -> None:
    """Both calls mention the morning; the asker sees only the one they may see."""
    assert len(_search(services, "morning")) == 2
    hits = _search(services, "morning", recording_ids=[indexed["ft-repairs"]])
    assert [(rec_id, start) for rec_id, start, _ in hits] == [(indexed["ft-repairs"], 6.2)]
    assert _search(services, "morning", recording_ids=[]) == []


def test_deleting_removes_every_hit(services: Services, indexed: dict[str, str]) -> None:
    with transaction(services.engine) as conn:
        delete_segments(conn, indexed["ft-parking"])
    assert _search(services, "penalty") == []
    assert len(_search(services, "morning")) == 1
