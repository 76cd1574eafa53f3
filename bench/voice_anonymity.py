"""Voice anonymisation: how far altered voices still match the caller, and how fast it runs.

Builds a multi-voice test set with espeak-ng: 24 voices (12 voice variants, each with two of 8
English accents, each at its own speaking rate) saying the same 6 caller-like sentences, as 8 kHz
telephone audio (tests/speech_corpus.py's ``synthesise``: sox band-limit, µ-law and back).
Synthetic voices, not real callers: the figures say how the measure separates these voices,
not what it would do on a council's callers.

Prints, measured in one run with resemblyzer's voice encoder:

1. **Genuine** (same voice, different sentences) and **impostor** similarity distributions,
   impostors both with different sentences and with the same sentence; the equal error rate.
2. The pass threshold the criterion gives (``PASS_THRESHOLD`` in training/similarity.py).
3. For several McAdams/pitch settings and for ``draw_parameters``' random draw: similarity of
   the altered clip to its original (the same words, what the clip workflow measures) and to the
   same voice's other sentences (an intruder holding another recording of the caller), and the
   share of clips that would be labelled anonymised.
4. Speed of ``anonymise_voice`` as times real time at 8 kHz, beside a plain copy and the mute pass.

    .venv/bin/python bench/voice_anonymity.py [--seed 7] [--speed-seconds 60]
"""

from __future__ import annotations

import argparse
import itertools
import math
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "tests")]

import numpy as np  # noqa: E402
import numpy.typing as npt  # noqa: E402

from callvault.media.anonymise import anonymise_voice, draw_parameters  # noqa: E402
from callvault.media.mute import Span, mute_spans  # noqa: E402
from callvault.training.similarity import (  # noqa: E402
    PASS_THRESHOLD,
    ResemblyzerEmbedder,
    similarity_available,
)
from speech_corpus import RATE, synthesise, tools_missing  # noqa: E402

Audio = npt.NDArray[np.float32]
Scores = npt.NDArray[np.float64]

ACCENTS = (
    "en-gb",
    "en-us",
    "en-gb-scotland",
    "en-gb-x-rp",
    "en-gb-x-gbclan",
    "en-gb-x-gbcwmd",
    "en-029",
    "en-us-nyc",
)
VARIANTS = ("m1", "m2", "m3", "m4", "m5", "m6", "m7", "f1", "f2", "f3", "f4", "f5")
# Each variant (pitch, formants, voicing) with two accents three apart, each voice at its own rate.
VOICES = tuple(
    (f"{ACCENTS[(i + shift) % len(ACCENTS)]}+{variant}", 140 + (7 * (2 * i + shift)) % 50)
    for i, variant in enumerate(VARIANTS)
    for shift in (0, 3)
)
SENTENCES = (
    "Hello, I'm ringing about my council tax bill, it went up again this month.",
    "My recycling wasn't collected on Tuesday and the bins are overflowing now.",
    "I'd like to book a repair, there's water coming through the kitchen ceiling.",
    "Can you tell me when the library on the high street opens on a Saturday?",
    "I've moved house and I need to change the address on the electoral register.",
    "The street light outside my house has been broken for nearly three weeks.",
)
SETTINGS: tuple[tuple[str, float, float], ...] = (  # name, alpha, semitones
    ("alpha 0.90, no pitch shift", 0.90, 0.0),
    ("alpha 0.80, no pitch shift", 0.80, 0.0),
    ("alpha 0.75, no pitch shift", 0.75, 0.0),
    ("alpha 0.90, +3 semitones", 0.90, 3.0),
    ("alpha 0.80, +3 semitones", 0.80, 3.0),
    ("alpha 0.80, -3 semitones", 0.80, -3.0),
    ("alpha 0.75, +4 semitones", 0.75, 4.0),
    ("alpha 0.75, -4 semitones", 0.75, -4.0),
)


def make_voice_set() -> list[list[Audio]]:
    """Per voice, its sentences as float audio at 8 kHz, full scale ±1."""
    return [
        [(synthesise(text, voice, wpm) / 32768).astype(np.float32) for text in SENTENCES]
        for voice, wpm in VOICES
    ]


def unit_rows(embeddings: list[list[npt.NDArray[np.float32]]]) -> npt.NDArray[np.float64]:
    """(voices, sentences, dims), each embedding scaled to length one."""
    stacked = np.asarray(embeddings, dtype=np.float64)
    unit: npt.NDArray[np.float64] = stacked / np.linalg.norm(stacked, axis=-1, keepdims=True)
    return unit


def trial_scores(e: npt.NDArray[np.float64]) -> tuple[Scores, Scores, Scores]:
    """Cosines: genuine (one voice, two sentences), impostor with different sentences, impostor
    with the same sentence."""
    voices, sentences = e.shape[:2]
    pairs = list(itertools.combinations(range(sentences), 2))
    genuine = [float(e[v, s] @ e[v, t]) for v in range(voices) for s, t in pairs]
    other: list[float] = []
    same: list[float] = []
    for v, w in itertools.combinations(range(voices), 2):
        for s, t in itertools.product(range(sentences), repeat=2):
            (same if s == t else other).append(float(e[v, s] @ e[w, t]))
    return np.array(genuine), np.array(other), np.array(same)


def equal_error_rate(genuine: Scores, impostor: Scores) -> tuple[float, float]:
    """(EER, threshold): where the share of genuine trials below the threshold equals the share
    of impostor trials at or above it."""
    candidates = np.unique(np.concatenate([genuine, impostor]))
    misses = np.searchsorted(np.sort(genuine), candidates, side="left") / genuine.size
    accepts = 1 - np.searchsorted(np.sort(impostor), candidates, side="left") / impostor.size
    best = int(np.argmin(np.abs(misses - accepts)))
    return float((misses[best] + accepts[best]) / 2), float(candidates[best])


def describe(name: str, scores: Scores) -> str:
    p5, p50, p95 = np.percentile(scores, [5, 50, 95])
    return (f"  {name:40} n={scores.size:5}  mean {scores.mean():.3f}  "
            f"p5 {p5:.3f}  median {p50:.3f}  p95 {p95:.3f}")  # fmt: skip


def enrolments(e: npt.NDArray[np.float64], sentence: int) -> npt.NDArray[np.float64]:
    """(voices, dims): each voice's mean embedding over its sentences other than ``sentence``,
    the recordings an intruder would hold of each candidate caller."""
    others = np.delete(e, sentence, axis=1).mean(axis=1)
    unit: npt.NDArray[np.float64] = others / np.linalg.norm(others, axis=-1, keepdims=True)
    return unit


def identified(unit: npt.NDArray[np.float64], e: npt.NDArray[np.float64], v: int, s: int) -> bool:
    """Whether voice ``v`` is the closest of all voices to ``unit`` (top-1 identification)."""
    return int(np.argmax(enrolments(e, s) @ unit)) == v


def altered_scores(
    voice_set: list[list[Audio]],
    e: npt.NDArray[np.float64],
    embedder: ResemblyzerEmbedder,
    change: Callable[[int, int], tuple[float, float]],
) -> tuple[Scores, Scores, npt.NDArray[np.bool_]]:
    """For every clip altered with ``change(voice, sentence)`` -> (alpha, semitones): cosine to
    its original, mean cosine to the same voice's other sentences, and whether its own voice is
    still the closest of all the voices' other sentences."""
    to_original, to_voice, found = [], [], []
    for v, clips in enumerate(voice_set):
        for s, clip in enumerate(clips):
            alpha, semitones = change(v, s)
            altered = anonymise_voice(clip, RATE, alpha=alpha, semitones=semitones)
            embedding = embedder.embed(altered, RATE)
            if embedding is None:
                raise SystemExit(f"voice {v} sentence {s}: too little speech after altering")
            unit = embedding / np.linalg.norm(embedding)
            to_original.append(unit @ e[v, s])
            to_voice.append(np.mean([unit @ e[v, t] for t in range(e.shape[1]) if t != s]))
            found.append(identified(unit, e, v, s))
    return np.array(to_original), np.array(to_voice), np.array(found)


def speeds(seconds: float) -> tuple[float, float, float]:
    """Times real time for a copy, the mute pass (one span muted) and anonymise_voice, at 8 kHz."""
    rng = np.random.default_rng(0)
    speech = np.concatenate(make_long_speech(rng, seconds))[: int(seconds * RATE)]
    pcm = np.round(speech * 32767).astype(np.int16)[None, :]
    timings = []
    for run in (
        speech.copy,
        lambda: mute_spans(pcm, RATE, [Span(None, seconds / 3, seconds / 3 + 2.0)]),
        lambda: anonymise_voice(speech, RATE, alpha=0.8, semitones=3.0),
    ):
        best = math.inf
        for _ in range(3):  # best of three: the machine is shared
            began = time.perf_counter()
            run()
            best = min(best, time.perf_counter() - began)
        timings.append(seconds / best)
    return timings[0], timings[1], timings[2]


def make_long_speech(rng: np.random.Generator, seconds: float) -> list[Audio]:
    """Sentences by random voices until ``seconds`` of audio are made."""
    clips: list[Audio] = []
    while sum(c.size for c in clips) < seconds * RATE:
        voice, wpm = VOICES[int(rng.integers(len(VOICES)))]
        text = SENTENCES[int(rng.integers(len(SENTENCES)))]
        clips.append((synthesise(text, voice, wpm) / 32768).astype(np.float32))
    return clips


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seed", type=int, default=7, help="seed of the random draws")
    parser.add_argument("--speed-seconds", type=float, default=60.0)
    args = parser.parse_args(argv)
    reason = tools_missing() or (None if similarity_available() else "resemblyzer not installed "
                                 "(pip install torch==2.13.0 'callvault[eval]')")  # fmt: skip
    if reason:
        print(reason, file=sys.stderr)
        return 1
    began = time.perf_counter()
    voice_set = make_voice_set()
    audio_s = sum(c.size for clips in voice_set for c in clips) / RATE
    print(f"test set: {len(VOICES)} espeak-ng voices x {len(SENTENCES)} sentences, "
          f"{audio_s / 60:.1f} min of 8 kHz telephone audio, made in "
          f"{time.perf_counter() - began:.1f} s")  # fmt: skip
    embedder = ResemblyzerEmbedder()
    e = unit_rows([[embedding_of(embedder, clip) for clip in clips] for clips in voice_set])
    candidates = report_distributions(e)
    report_altered(voice_set, e, embedder, args.seed, candidates)
    copy, mute, anonymise = speeds(args.speed_seconds)
    print(f"\nspeed, {args.speed_seconds:g} s of 8 kHz speech (x real time, best of 3):")
    print(f"  plain copy          {copy:12.0f}x")
    print(f"  mute pass (1 span)  {mute:12.0f}x")
    print(f"  anonymise_voice     {anonymise:12.0f}x   ({copy / anonymise:.0f}x slower than a "
          f"copy, {mute / anonymise:.1f}x slower than muting)")  # fmt: skip
    print(f"\ntotal {time.perf_counter() - began:.0f} s")
    return 0


def embedding_of(embedder: ResemblyzerEmbedder, clip: Audio) -> npt.NDArray[np.float32]:
    embedding = embedder.embed(clip, RATE)
    if embedding is None:
        raise SystemExit("a clip of the test set had too little speech to embed")
    return embedding


def report_distributions(e: npt.NDArray[np.float64]) -> dict[str, float]:
    """Print the genuine and impostor distributions and EERs; return the candidate thresholds."""
    genuine, other, same = trial_scores(e)
    eer, at = equal_error_rate(genuine, other)
    eer_same, at_same = equal_error_rate(genuine, same)
    print("\nspeaker similarity (cosine of resemblyzer embeddings):")
    print(describe("genuine: same voice, other sentence", genuine))
    print(describe("impostor: other voice, other sentence", other))
    print(describe("impostor: other voice, same sentence", same))
    print(f"  EER genuine vs other-sentence impostors: {eer:.3f} at threshold {at:.3f}")
    print(f"  EER genuine vs same-sentence impostors:  {eer_same:.3f} at threshold {at_same:.3f}")
    return {
        "EER threshold (other sentences)": at,
        "95th percentile, same-sentence impostors": float(np.percentile(same, 95)),
        "median, same-sentence impostors": float(np.percentile(same, 50)),
        "25th percentile, same-sentence impostors (the criterion)": float(np.percentile(same, 25)),
        "5th percentile, same-sentence impostors": float(np.percentile(same, 5)),
        "PASS_THRESHOLD (training/similarity.py)": PASS_THRESHOLD,
    }


def fixed(alpha: float, semitones: float) -> Callable[[int, int], tuple[float, float]]:
    """The same change for every clip."""
    return lambda voice, sentence: (alpha, semitones)


def report_altered(
    voice_set: list[list[Audio]], e: npt.NDArray[np.float64], embedder: ResemblyzerEmbedder,
    seed: int, candidates: dict[str, float],
) -> None:  # fmt: skip
    voices, sentences = e.shape[:2]
    print(f"\naltered voices (each of the {voices * sentences} clips): cosine to the original "
          "clip (same words) | mean cosine to the same voice's other sentences | top-1: share "
          f"whose closest voice is still their own (chance {1 / voices:.1%}) | share at or "
          f"below PASS_THRESHOLD {PASS_THRESHOLD:.3f} (labelled anonymised):")  # fmt: skip
    top1 = np.mean([identified(e[v, s], e, v, s) for v in range(voices) for s in range(sentences)])
    print(f"  {'unaltered':28} to original 1.000 (the same clip)            | top-1 {top1:6.1%}")
    rng = np.random.default_rng(seed)
    draws = [[draw_parameters(rng) for _ in clips] for clips in voice_set]
    runs = [(name, fixed(alpha, pitch)) for name, alpha, pitch in SETTINGS]
    runs.append(("random draw per clip", lambda v, s: (draws[v][s].alpha, draws[v][s].semitones)))
    results = {name: altered_scores(voice_set, e, embedder, change) for name, change in runs}
    for name, (to_original, to_voice, found) in results.items():
        passed = to_original <= PASS_THRESHOLD
        p5, p95 = np.percentile(to_original, [5, 95])
        print(f"  {name:28} to original mean {to_original.mean():.3f} (p5 {p5:.3f}, "
              f"p95 {p95:.3f}) | to voice {to_voice.mean():.3f} | top-1 {found.mean():6.1%} "
              f"| anonymised {passed.mean():6.1%}")  # fmt: skip
    print(
        "\ncandidate thresholds, applied to the random draws: share labelled anonymised, and "
        "top-1 identification among those"
    )
    to_original, _, found = results["random draw per clip"]
    for label, threshold in candidates.items():
        passed = to_original <= threshold
        among = f"{found[passed].mean():6.1%}" if passed.any() else "   n/a"
        print(f"  {label:57} {threshold:.3f}: anonymised {passed.mean():6.1%}, top-1 {among}")


if __name__ == "__main__":
    raise SystemExit(main())
