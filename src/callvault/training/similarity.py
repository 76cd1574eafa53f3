"""How far an altered voice still sounds like the caller: a speaker-embedding score, and the label.

Each recording is turned into a speaker embedding by resemblyzer's voice encoder (a GE2E model
whose weights, ``pretrained.pt``, ship inside the package: nothing is downloaded) and two
recordings are compared by the cosine of their embeddings. resemblyzer and torch come with the
optional ``eval`` extra; this module imports them only when a measure is asked for.

A clip is labelled ``"anonymised"`` only when the measure ran and the altered voice scores at or
below ``PASS_THRESHOLD`` against the original: no closer to the caller than a different speaker
saying the same words usually is. Otherwise, and whenever there is no measure (the extra is not
installed, or too little speech to embed), the clip is ``"pseudonymised"``: no measure, no claim.
bench/voice_anonymity.py measures the figures behind the threshold (docs/voice-anonymisation.md).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np
import numpy.typing as npt

from callvault.errors import BadInput, ConfigError
from callvault.media.anonymise import check_voice

Label = Literal["anonymised", "pseudonymised"]
ANONYMISED: Label = "anonymised"
PSEUDONYMISED: Label = "pseudonymised"

# The pass criterion: the altered voice must be no closer to the caller than different speakers
# saying the same words usually are to each other: at or below the lower quartile of same-sentence
# impostor scores. Measured by bench/voice_anonymity.py (24 espeak-ng voices x 6 sentences, 8 kHz
# telephone audio): genuine mean 0.947 (p5 0.921); same-sentence impostors p5 0.701, p25 0.739,
# median 0.797, p95 0.948; EER 6.1% at 0.922. With the random draws, 42% of clips pass, and of
# those 1.6% still have their own voice as the nearest of 24 (chance 4.2%; unaltered 93.8%); at
# the median 79% would pass with 6.1% nearest, at the EER threshold or p95 every clip would.
PASS_THRESHOLD = 0.74
MIN_SPEECH_S = 1.0  # of speech left after resemblyzer trims long silences
ENCODER_RATE = 16000  # Hz: what resemblyzer's encoder was trained on


class Embedder(Protocol):
    """Turns a recording into a unit-length speaker embedding."""

    def embed(self, samples: npt.NDArray[np.floating], rate: int) -> npt.NDArray[np.float32] | None:
        """The embedding, or None when the recording has too little speech to embed."""
        ...


class MeasureUnavailable(ConfigError):
    """The speaker-similarity measure cannot run: the ``eval`` extra is not installed."""


@dataclass(frozen=True, slots=True)
class Assessment:
    """The label of an altered clip and what it rests on."""

    label: Label
    similarity: float | None  # cosine to the original; None when no measure ran
    threshold: float
    reason: str


class ResemblyzerEmbedder:
    """resemblyzer's voice encoder on the CPU, with its own preprocessing: resampling to 16 kHz,
    volume normalisation and trimming of long silences."""

    def __init__(self) -> None:
        from resemblyzer import VoiceEncoder

        self._encoder = VoiceEncoder("cpu", verbose=False)

    def embed(self, samples: npt.NDArray[np.floating], rate: int) -> npt.NDArray[np.float32] | None:
        import torch
        from resemblyzer import preprocess_wav

        if not np.any(samples):  # nothing to normalise: its level would be -inf dBFS
            return None
        speech = preprocess_wav(samples.astype(np.float32), source_sr=rate)
        if speech.size < MIN_SPEECH_S * ENCODER_RATE:
            return None
        # One thread: the model is small, and torch's thread pool spinning against other work on
        # a busy two-core machine made one embedding 10-50 times slower (0.12 s vs 1-10 s).
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            embedding = self._encoder.embed_utterance(speech)
        finally:
            torch.set_num_threads(threads)
        return np.asarray(embedding, dtype=np.float32)


@functools.cache
def _import_problem() -> str | None:
    """Why resemblyzer cannot be imported here, or None when it can."""
    try:
        import resemblyzer  # noqa: F401
    except ImportError as error:  # not installed, or one of its dependencies is broken
        return f"{type(error).__name__}: {error}"
    return None


def similarity_available() -> bool:
    """Whether the speaker-embedding measure can run (the ``eval`` extra imports cleanly)."""
    return _import_problem() is None


@functools.cache
def load_embedder() -> Embedder | None:
    """The shared resemblyzer embedder, loaded once; None when the extra is not installed."""
    if not similarity_available():
        return None
    return ResemblyzerEmbedder()


def speaker_similarity(
    first: npt.NDArray[np.floating],
    second: npt.NDArray[np.floating],
    rate: int,
    *,
    embedder: Embedder | None = None,
) -> float:
    """Cosine similarity of the two recordings' speaker embeddings: near 1 for one voice, lower
    for different voices. ``embedder`` defaults to the shared resemblyzer one."""
    _check_audio(first, "first")
    _check_audio(second, "second")
    _check_rate(rate)
    embedder = embedder or load_embedder()
    if embedder is None:
        raise MeasureUnavailable(
            f"speaker similarity needs resemblyzer ({_import_problem()}); install the eval "
            "extra: pip install torch==2.13.0 'callvault[eval]' (the CPU build of torch)",
            "embedder",
        )
    embeddings = []
    for name, samples in (("first", first), ("second", second)):
        embedding = embedder.embed(samples, rate)
        if embedding is None:
            raise BadInput(
                f"the {name} recording has less than {MIN_SPEECH_S:g} s of speech to measure; "
                "pass a longer stretch of the caller speaking",
                name,
            )
        embeddings.append(embedding)
    return _cosine(embeddings[0], embeddings[1])


def assess_anonymity(
    original: npt.NDArray[np.floating],
    altered: npt.NDArray[np.floating],
    rate: int,
    *,
    threshold: float = PASS_THRESHOLD,
    embedder: Embedder | Literal["default"] | None = "default",
) -> Assessment:
    """Label an altered caller's voice against the original: ``"anonymised"`` only when the
    measure ran and the similarity is at or below ``threshold``, else ``"pseudonymised"``.

    ``embedder``: ``"default"`` for the shared resemblyzer one when installed, ``None`` for no
    measure (the label is then ``"pseudonymised"``), or an ``Embedder`` of the caller's own.
    """
    _check_audio(original, "original")
    _check_audio(altered, "altered")
    _check_rate(rate)
    if not (math.isfinite(threshold) and -1.0 <= threshold <= 1.0):
        raise BadInput(
            f"the threshold is a cosine similarity from -1 to 1, not {threshold}; "
            f"use PASS_THRESHOLD ({PASS_THRESHOLD})",
            "threshold",
        )
    chosen = load_embedder() if embedder == "default" else embedder
    if chosen is None:
        problem = _import_problem() if embedder == "default" else "no embedder was given"
        reason = f"no speaker-similarity measure ({problem}): no measure, no claim"
        return Assessment(PSEUDONYMISED, None, threshold, reason)
    before, after = chosen.embed(original, rate), chosen.embed(altered, rate)
    if before is None or after is None:
        reason = f"less than {MIN_SPEECH_S:g} s of speech to measure: no measure, no claim"
        return Assessment(PSEUDONYMISED, None, threshold, reason)
    similarity = _cosine(before, after)
    if similarity <= threshold:
        reason = f"similarity {similarity:.3f} is at or below the threshold {threshold:.3f}"
        return Assessment(ANONYMISED, similarity, threshold, reason)
    reason = f"similarity {similarity:.3f} is above the threshold {threshold:.3f}"
    return Assessment(PSEUDONYMISED, similarity, threshold, reason)


def anonymity_label(
    original: npt.NDArray[np.floating],
    altered: npt.NDArray[np.floating],
    rate: int,
    *,
    threshold: float = PASS_THRESHOLD,
    embedder: Embedder | Literal["default"] | None = "default",
) -> Label:
    """Just the label of ``assess_anonymity``."""
    return assess_anonymity(original, altered, rate, threshold=threshold, embedder=embedder).label


def _cosine(first: npt.NDArray[np.float32], second: npt.NDArray[np.float32]) -> float:
    norms = float(np.linalg.norm(first) * np.linalg.norm(second))
    return float(np.dot(first, second)) / norms if norms > 0 else 0.0


def _check_audio(samples: npt.NDArray[np.floating], name: str) -> None:
    check_voice(samples, name, f"the {name} recording")


def _check_rate(rate: int) -> None:
    if isinstance(rate, bool) or not isinstance(rate, int) or rate < 4000:
        raise BadInput(
            f"the sample rate must be a whole number of Hz, 4000 or more, not {rate}; "
            "telephone audio is 8000",
            "rate",
        )
