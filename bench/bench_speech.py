"""Speech: word error rate, speed, and how much personal and card data the muting catches.

Runs the project's labelled corpus (tests/speech_corpus.py: scripted council calls spoken by
espeak-ng, 8 kHz µ-law telephone audio) through a real home:

1. **Transcription alone**: the packaged Whisper base (int8) on each channel; word error rate
   per channel against the script, and seconds of compute per second of call.
2. **The pipeline**: each call ingested and processed by the speech job (transcribe, find,
   mute, encode, encrypt, index), timed side by side with transcription alone.
3. **Recall**, judged in the audio: the redacted rendition (and the stored original, for card
   data) is transcribed again; an item counts as *audible* when at least half its words are
   heard in the original, and as *leaked* when at least half are still heard in the muted
   audio. Recall = 1 - leaked / audible. Precision: of the items the detectors marked, the
   share that overlap a labelled item.

    python bench/bench_speech.py [--limit N] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "tests")]

import numpy as np  # noqa: E402
import numpy.typing as npt  # noqa: E402

from callvault.bootstrap import Services  # noqa: E402
from callvault.capture.ingest import AudioInput  # noqa: E402
from callvault.context import RequestContext, system_context  # noqa: E402
from callvault.jobs.registry import WORKER_ACTOR  # noqa: E402
from callvault.maintenance.service import init_home  # noqa: E402
from callvault.media.decode import decode_to_pcm  # noqa: E402
from callvault.speech.loading import shared_finder  # noqa: E402
from callvault.speech.model import Finding, Transcript  # noqa: E402
from callvault.speech.renditions import REDACTED_AUDIO  # noqa: E402
from callvault.speech.transcriber import SpeechOptions, Transcriber, load  # noqa: E402
from speech_corpus import (  # noqa: E402
    CorpusCall,
    CorpusItem,
    edit_distance,
    make_corpus,
    normalise_words,
    tools_missing,
)

SPEAKERS = ("caller", "agent")
HEARD = 0.5  # share of an item's words that must be heard for it to count as heard
CARD_KINDS = frozenset({"CARD", "SECURITY_CODE"})


def common_share(item: list[str], heard: list[str]) -> float:
    """Share of ``item``'s words heard in order in ``heard`` (longest common subsequence)."""
    if not item:
        return 0.0
    previous = [0] * (len(heard) + 1)
    for word in item:
        current = [0]
        for h, other in enumerate(heard, start=1):
            current.append(previous[h - 1] + 1 if word == other else max(previous[h], current[-1]))
        previous = current
    return previous[-1] / len(item)


def words_in(transcript: Transcript, speaker: str, start_s: float, end_s: float) -> list[str]:
    """Normalised words ``speaker`` said between ``start_s`` and ``end_s`` (half a second of
    slack each side: Whisper's word times are not exact)."""
    said = [
        w.text
        for s in transcript.segments
        if s.speaker == speaker
        for w in s.words
        if w.end_s >= start_s - 0.5 and w.start_s <= end_s + 0.5
    ]
    return normalise_words(" ".join(said))


def heard_share(transcript: Transcript, item: CorpusItem) -> float:
    window = words_in(transcript, item.speaker, item.start_s, item.end_s)
    return common_share(normalise_words(item.text), window)


def finding_words(transcript: Transcript, finding: Finding) -> list[str]:
    segment = transcript.segments[finding.segment]
    picked = segment.words[finding.first_word : finding.last_word + 1]
    return normalise_words(" ".join(w.text for w in picked))


def precise(transcript: Transcript, finding: Finding, items: Sequence[CorpusItem]) -> bool:
    """Whether ``finding`` overlaps a labelled item of the same speaker and turn."""
    marked = finding_words(transcript, finding)
    return any(
        item.speaker == finding.speaker
        and item.start_s - 0.5 <= finding.end_s
        and finding.start_s <= item.end_s + 0.5
        and common_share(marked, normalise_words(item.text)) >= HEARD
        for item in items
    )


def channel_pcm(call: CorpusCall) -> tuple[npt.NDArray[np.int16], int]:
    return decode_to_pcm(call.wav_path)


def stored(services: Services, recording_id: str, blob: str) -> tuple[npt.NDArray[np.int16], int]:
    # The bench reads what is at rest directly: it measures, it does not listen for a purpose.
    key = services.player.data_key(recording_id)
    return decode_to_pcm(services.vault.read_all(blob, key))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, default=None, help="only the first N scripts")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads for Whisper")
    args = parser.parse_args()
    if (reason := tools_missing()) is not None:
        print(reason, file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        return run(Path(tmp), args.limit, args.threads)


def run(tmp: Path, limit: int | None, threads: int) -> int:
    began = time.perf_counter()
    calls = make_corpus(tmp / "corpus", limit=limit)
    audio_s = sum(c.duration_s for c in calls)
    print(f"corpus: {len(calls)} calls, {audio_s / 60:.1f} min, made in "
          f"{time.perf_counter() - began:.0f} s")  # fmt: skip

    options = SpeechOptions(threads=threads)
    began = time.perf_counter()
    transcriber = load(options)
    print(f"model load (join, hash check, CTranslate2): {time.perf_counter() - began:.2f} s")
    began = time.perf_counter()
    finder = shared_finder()
    print(f"personal-data finder load (spaCy + Presidio): {time.perf_counter() - began:.2f} s")

    edits = ref_words = 0
    transcribe_s = find_s = 0.0
    originals: dict[str, Transcript] = {}
    found_total = found_right = 0
    for call in calls:
        pcm, rate = channel_pcm(call)
        t0 = time.perf_counter()
        transcript = transcriber.transcribe(pcm, rate, SPEAKERS)
        t1 = time.perf_counter()
        findings = finder.find(transcript.segments)
        t2 = time.perf_counter()
        transcribe_s, find_s = transcribe_s + t1 - t0, find_s + t2 - t1
        originals[call.name] = transcript
        for speaker in SPEAKERS:
            ref = normalise_words(call.reference[speaker])
            hyp = normalise_words(" ".join(s.text for s in transcript.segments
                                           if s.speaker == speaker))  # fmt: skip
            edits, ref_words = edits + edit_distance(ref, hyp), ref_words + len(ref)
        found_total += len(findings)
        found_right += sum(precise(transcript, f, call.items) for f in findings)
    print(f"\ntranscription alone: WER {edits / max(ref_words, 1):.3f} "
          f"({edits} edits / {ref_words} words); {transcribe_s:.1f} s for {audio_s:.0f} s of "
          f"two-channel calls = {transcribe_s / audio_s:.3f} x real time "
          f"({threads} threads)")  # fmt: skip
    print(f"finding personal data in the text: {find_s:.2f} s "
          f"({find_s / audio_s * 60:.2f} s per call-minute)")  # fmt: skip

    pipeline_s, recall = run_pipeline(tmp / "home", calls, options, originals)
    print(f"\npipeline (decrypt, transcribe, find, mute, encode, encrypt, index): "
          f"{pipeline_s:.1f} s = {pipeline_s / audio_s:.3f} x real time; "
          f"{pipeline_s / transcribe_s:.2f} x transcription alone")  # fmt: skip
    audible, leaked, card_audible, card_leaked, card_original_leaked = recall
    total_audible, total_leaked = sum(audible.values()), sum(leaked.values())
    print("\npersonal data, judged by transcribing the redacted rendition again:")
    for kind in sorted(audible):
        a, lk = audible[kind], leaked[kind]
        print(f"  {kind:15} audible {a:3}  leaked {lk:3}  recall {1 - lk / a:.3f}")
    print(f"  all             audible {total_audible:3}  leaked {total_leaked:3}  "
          f"recall {1 - total_leaked / max(total_audible, 1):.3f}")  # fmt: skip
    print(f"  precision of what the detectors marked: {found_right}/{found_total} = "
          f"{found_right / max(found_total, 1):.3f}")  # fmt: skip
    print(f"card data: recall {1 - card_leaked / max(card_audible, 1):.3f} in the redacted "
          f"rendition, {1 - card_original_leaked / max(card_audible, 1):.3f} in the stored "
          f"original ({card_audible} audible items)")  # fmt: skip
    print(json.dumps({
        "wer": round(edits / max(ref_words, 1), 4),
        "rtf": round(transcribe_s / audio_s, 4),
        "pipeline_rtf": round(pipeline_s / audio_s, 4),
        "pii_recall": round(1 - total_leaked / max(total_audible, 1), 4),
        "pii_precision": round(found_right / max(found_total, 1), 4),
        "card_recall": round(1 - card_leaked / max(card_audible, 1), 4),
        "card_recall_original": round(1 - card_original_leaked / max(card_audible, 1), 4),
    }))  # fmt: skip
    return 0


Recall = tuple[Counter[str], Counter[str], int, int, int]


def run_pipeline(
    home: Path,
    calls: Sequence[CorpusCall],
    options: SpeechOptions,
    originals: dict[str, Transcript],
) -> tuple[float, Recall]:
    """Ingest and process every call; judge each labelled item in the muted audio."""
    services = init_home(system_context("bench"), home)
    worker = RequestContext(actor=WORKER_ACTOR, origin="job", request_id="bench")
    transcriber: Transcriber = load(options)
    audible: Counter[str] = Counter()
    leaked: Counter[str] = Counter()
    card_audible = card_leaked = card_original_leaked = 0
    pipeline_s = 0.0
    for call in calls:
        result = services.ingest.ingest(
            system_context("bench"), AudioInput(path=call.wav_path),
            call.meta_path.read_bytes(),
        )  # fmt: skip
        assert result.recording_id is not None, result.reason
        rid = result.recording_id
        t0 = time.perf_counter()
        services.speech.process(worker, rid)
        pipeline_s += time.perf_counter() - t0
        redacted_blob = services.catalog.rendition(rid, REDACTED_AUDIO)
        assert redacted_blob is not None
        pcm, rate = stored(services, rid, redacted_blob)
        after = transcriber.transcribe(pcm, rate, SPEAKERS)
        pcm, rate = stored(services, rid, services.catalog.get(rid).blob_name)
        at_rest = transcriber.transcribe(pcm, rate, SPEAKERS)
        before = originals[call.name]
        for item in call.items:
            if heard_share(before, item) < HEARD:
                continue  # not heard even in the original: nothing to judge
            audible[item.kind] += 1
            still = heard_share(after, item) >= HEARD
            leaked[item.kind] += still
            if item.kind in CARD_KINDS:
                card_audible += 1
                card_leaked += still
                card_original_leaked += heard_share(at_rest, item) >= HEARD
    services.engine.dispose()
    return pipeline_s, (audible, leaked, card_audible, card_leaked, card_original_leaked)


if __name__ == "__main__":
    raise SystemExit(main())
