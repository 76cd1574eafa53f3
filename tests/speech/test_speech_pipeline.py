"""The speech pipeline end to end on real parts: a corpus call is ingested, the speech job
transcribes it with the packaged Whisper model, finds personal and card data, mutes it, and
stores encrypted transcripts and a redacted rendition; people read them only under grants."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from speech_helpers import (
    add_people,
    granted,
    ingest_clip,
    needs_corpus_tools,
    person,
    rendition_names,
    stored_audio,
    with_key_presses,
)
from sqlalchemy import select

from analytics.quality_helpers import sampled_case_ref
from callvault.access.searching import search_as
from callvault.bootstrap import Services
from callvault.catalog.search import RecordingQuery
from callvault.cli.output import operator_context
from callvault.context import RequestContext
from callvault.errors import BadInput, NotFound, Refused
from callvault.maintenance.service import check_home
from callvault.media.decode import decode_to_pcm
from callvault.media.tones import find_dtmf
from callvault.speech.flags import FlagQuery
from callvault.speech.store import redactions, review_flags
from homes import worker_context
from speech_corpus import normalise_words, short_clip

pytestmark = needs_corpus_tools

NAMED_CALLER = "Hello, my name is {NAME:Daniel Kowalski} and I am calling about my parking permit."
CARD_WORDS = normalise_words("four nine two nine one two three four five six seven eight")


def _contains_run(words: list[str], run: list[str], length: int = 4) -> bool:
    """Whether any ``length`` consecutive words of ``run`` appear in ``words`` in order."""
    pieces = {tuple(run[i : i + length]) for i in range(len(run) - length + 1)}
    return any(tuple(words[i : i + length]) in pieces for i in range(len(words) - length + 1))


def _logged(services: Services, recording_id: str) -> list[tuple[str, str]]:
    with services.engine.connect() as conn:
        rows = conn.execute(
            select(redactions.c.rendition, redactions.c.kind).where(
                redactions.c.recording_id == recording_id
            )
        )
        return sorted((r.rendition, r.kind) for r in rows)


def _search(services: Services, ctx: RequestContext, words: str) -> list[dict[str, Any]]:
    return search_as(
        services.engine, services.audit_batch, services.permissions, ctx, RecordingQuery(text=words)
    )


def test_card_number_on_payment_line_is_muted_in_the_stored_original(
    services: Services, tmp_path: Path
) -> None:
    clip = short_clip(tmp_path, "CARD")
    rec_id = ingest_clip(services, clip)
    before = services.catalog.get(rec_id)
    old_key = services.catalog.wrapped_key(rec_id)

    summary = services.speech.process(worker_context(), rec_id)

    # Whisper garbles the digits on this line ("nine" as "I'm"), so the number may be named
    # only as an unnamed run of digits: on a payment line that is muted and flagged too.
    found = summary["found"]
    assert summary["status"] == "transcribed" and found.get("CARD", 0) + found.get("DIGITS", 0)
    assert summary["muted_in_original"] >= 1
    after = services.catalog.get(rec_id)
    assert after.blob_name != before.blob_name
    assert services.catalog.wrapped_key(rec_id) != old_key  # the old audio is crypto-shredded
    # Deleted, or (under Object Lock, the scale leg) kept unreadable and catalogued for purge.
    superseded = rendition_names(services, rec_id).get("superseded")
    assert superseded == before.blob_name or not services.vault.exists(before.blob_name)
    assert check_home(services, repair=False).ok
    # What is at rest no longer says the card number: transcribe the stored original again.
    pcm, rate = stored_audio(services, rec_id)
    heard = services.speech.analyser().transcriber.transcribe(pcm, rate, ("caller", "agent"))
    words = normalise_words(" ".join(s.text for s in heard.segments))
    assert not _contains_run(words, CARD_WORDS), words
    logged = _logged(services, rec_id)
    assert {k for r, k in logged if r == "original"} <= {"CARD", "DIGITS", "SECURITY_CODE"}
    assert {k for r, k in logged if r == "redacted"} >= {k for r, k in logged if r == "original"}
    if "DIGITS" in found:
        assert "digits:unnamed-run-on-payment-line" in summary["flags"]
    # Even the original transcript never holds the number.
    add_people(services)
    grant = granted(services, "cora", rec_id, "complaint", "CMP-2026-0001")
    original = services.speech.transcript(person(services, "cora"), rec_id, grant, "original")
    text = " ".join(s["text"] for s in original["segments"])
    assert "[CARD]" in text or "[DIGITS]" in text
    assert not _contains_run(normalise_words(text), CARD_WORDS), text
    assert services.audit.verify().ok


def test_redacted_rendition_for_quality_original_for_complaints(
    services: Services, tmp_path: Path
) -> None:
    clip = short_clip(
        tmp_path,
        "My name is {NAME:Sarah Jones} and my postcode is {POSTCODE:S W six, one A A}.",
        agent_text="Thank you, I have updated the parking permit.",
    )
    # Cleaner Greener takes no payments: only personal data, muted in the redacted rendition.
    rec_id = ingest_clip(services, clip, dialled="020 8753 1100")
    services.speech.process(worker_context(), rec_id)
    add_people(services)

    complaint = granted(services, "cora", rec_id, "complaint", "CMP-2026-0002")
    original = services.speech.transcript(person(services, "cora"), rec_id, complaint, "original")
    said = " ".join(s["text"] for s in original["segments"])
    redacted = services.speech.transcript(person(services, "cora"), rec_id, complaint, "redacted")
    shown = " ".join(s["text"] for s in redacted["segments"])
    # Whisper hears the name its own way ("Aaron Owens"); whatever it heard, the original
    # keeps it and the redacted transcript says [NAME] in its place.
    assert "my name is" in said.lower() and "[" not in said
    assert "[NAME]" in shown
    name = said.lower().split("my name is", 1)[1].split()[0].strip(",.")
    assert name not in shown.lower()

    quality = granted(services, "tess", rec_id, "quality", sampled_case_ref(services, rec_id))
    tess = person(services, "tess")
    with pytest.raises(Refused, match="redacted"):
        services.speech.transcript(tess, rec_id, quality, "original")
    with pytest.raises(Refused, match="redacted"):
        services.player.play(tess, rec_id, quality, tmp_path / "orig.opus", "original")
    played = services.player.play(tess, rec_id, quality, tmp_path / "red.opus", "redacted")
    assert Path(played["path"]).stat().st_size > 0
    acts = [e["action"] for e in services.audit.show(object_id=rec_id)]
    assert acts.count("transcript.read") == 2 and "access.refused" in acts
    assert ("redacted", "NAME") in _logged(services, rec_id)
    assert not [k for r, k in _logged(services, rec_id) if r == "original"]


def test_search_finds_words_said_but_never_the_redacted_ones(
    services: Services, tmp_path: Path
) -> None:
    # A sentence with some context around the name: Whisper (base, int8) mishears a bare
    # "My name is ..." cut out by the VAD on some CPUs, a clip too short to search for.
    clip = short_clip(tmp_path, NAMED_CALLER)
    rec_id = ingest_clip(services, clip)
    services.speech.process(worker_context(), rec_id)
    add_people(services)
    cora = person(services, "cora")
    found = _search(services, cora, "name")
    assert [r["recording_id"] for r in found] == [rec_id]
    moment = found[0]["moments"][0]
    assert moment["speaker"] == "caller" and "[name]" in moment["snippet"].lower()
    assert 0 <= moment["start_s"] < clip.duration_s
    surname = next(i for i in clip.items if i.kind == "NAME").text.split()[-1]
    assert _search(services, cora, surname) == []
    searched = [e for e in services.audit.show() if e["action"] == "recordings.searched"]
    assert len(searched) == 2


def test_key_tones_in_file_audio_are_found_and_muted(services: Services, tmp_path: Path) -> None:
    clip = with_key_presses(short_clip(tmp_path, "NONE"), "4929123456789012", at_s=0.05)
    before, rate = decode_to_pcm(clip.wav_path)
    assert len(find_dtmf(before[0], rate)) == 16  # the tones are there to find
    rec_id = ingest_clip(services, clip)
    services.speech.process(worker_context(), rec_id)
    pcm, rate = stored_audio(services, rec_id)
    assert find_dtmf(pcm[0], rate) == []
    logged = _logged(services, rec_id)
    assert logged.count(("original", "DTMF")) == 16
    assert logged.count(("redacted", "DTMF")) == 16


def test_processing_twice_changes_nothing(services: Services, tmp_path: Path) -> None:
    rec_id = ingest_clip(services, short_clip(tmp_path, "NONE"))
    services.speech.process(worker_context(), rec_id)
    names = rendition_names(services, rec_id)
    assert set(names) == {"transcript", "transcript_redacted", "redacted"}
    again = services.speech.process(worker_context(), rec_id)
    assert again["status"] == "done already"
    assert rendition_names(services, rec_id) == names
    entries = services.audit.show(object_id=rec_id)
    assert [e["action"] for e in entries].count("recording.transcribed") == 1


def test_abusive_language_raises_a_review_flag(services: Services, tmp_path: Path) -> None:
    rec_id = ingest_clip(services, short_clip(tmp_path, "ABUSE"))
    summary = services.speech.process(worker_context(), rec_id)
    with services.engine.connect() as conn:
        kinds = conn.execute(
            select(review_flags.c.kind).where(review_flags.c.recording_id == rec_id)
        ).scalars()
        assert "conduct" in set(kinds)
    assert summary["flags"]
    # Bad input to the review names the field and changes nothing: the flag stays open.
    operator = operator_context()
    [flag] = services.flags.list(operator, FlagQuery(kind="conduct"))
    entries = services.audit.count()
    for bad, field in (({"outcome": "sorted"}, "outcome"), ({"note": "x" * 2001}, "note")):
        args = {"outcome": "no_action", "note": "", **bad}
        with pytest.raises(BadInput) as caught:
            services.flags.review(operator, flag["id"], args["outcome"], args["note"])
        assert caught.value.field == field
    with pytest.raises(BadInput, match="kind must be one of"):
        services.flags.list(operator, FlagQuery(kind="rudeness"))
    assert services.audit.count() == entries
    assert [f["id"] for f in services.flags.list(operator, FlagQuery())] == [flag["id"]]


def test_a_transcript_before_the_job_ran_is_not_found(services: Services, tmp_path: Path) -> None:
    rec_id = ingest_clip(services, short_clip(tmp_path, "NONE"))
    add_people(services)
    grant = granted(services, "cora", rec_id, "complaint", "CMP-2026-0004")
    with pytest.raises(NotFound, match="speech job"):
        services.speech.transcript(person(services, "cora"), rec_id, grant, "original")
