"""Make a training clip's audio: cut, caller's details already muted, caller's voice altered.

The source is the recording's redacted rendition, in which the speech job muted every item of
personal data and card data on both channels (what one party says can be heard on the other's
channel). The caller's channel is then altered with a McAdams coefficient and a pitch shift
drawn at random for this clip (``media/anonymise.py``); the draw is a secret that is never
stored, because it is what would undo the change. The staff member's channel is left as it is:
they consented to being heard. How far the altered voice still matches the caller is measured
(``training/similarity.py``) and decides the label.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from callvault.errors import BadInput
from callvault.media.anonymise import anonymise_voice, draw_parameters
from callvault.speech.renditions import encode_opus
from callvault.training.similarity import PASS_THRESHOLD, Assessment, assess_anonymity

_FULL_SCALE = 32768.0
# A clip is a moment of a call (an example of good handling), not a call.
MAX_CLIP_S = 300.0
MIN_CLIP_S = 3.0
# A random draw from VoicePrivacy's range moves a voice far enough for the measure in about
# two clips of five (bench/voice_anonymity.py: 42% on 8 kHz speech, where low formants move
# less than at the 16 kHz the range was tuned for). Each failed draw is discarded and a fresh
# one tried: the clip kept is the one measured, so its label stays honest, and five draws
# bring the share of clips that can be published to about 93% (1 - 0.58^5).
DRAWS = 5


@dataclass(frozen=True, slots=True)
class MadeClip:
    opus: bytes
    duration_s: float
    assessment: Assessment
    draws: int  # how many random voice changes were tried


def check_span(start_s: float, end_s: float, duration_s: float) -> tuple[float, float]:
    """The clip's span, within the call and of a sensible length; BadInput naming the field."""
    for value, field in ((start_s, "start_s"), (end_s, "end_s")):
        if not isinstance(value, int | float) or not np.isfinite(value) or value < 0:
            raise BadInput(f"{field} must be a number of seconds, 0 or more", field)
    if end_s > duration_s + 1e-6:
        raise BadInput(
            f"end_s {end_s:g} is after the call's end ({duration_s:.1f} s); give a time within it",
            "end_s",
        )
    length = end_s - start_s
    if not MIN_CLIP_S <= length <= MAX_CLIP_S:
        raise BadInput(
            f"a clip lasts {MIN_CLIP_S:g} to {MAX_CLIP_S:g} seconds (end_s - start_s is "
            f"{length:g}); choose the moment that shows the example",
            "end_s",
        )
    return float(start_s), float(end_s)


def make_clip(
    pcm: npt.NDArray[np.int16],
    rate: int,
    *,
    start_s: float,
    end_s: float,
    caller_channel: int,
    threshold: float = PASS_THRESHOLD,
    rng: random.Random | None = None,
) -> MadeClip:
    """The clip of redacted ``pcm`` (channels, samples) from ``start_s`` to ``end_s`` with the
    caller's channel altered, encoded as Ogg Opus, and the measure of what is left of the
    caller's voice (up to ``DRAWS`` random voice changes, the first that passes kept)."""
    first, last = round(start_s * rate), round(end_s * rate)
    cut = np.array(pcm[:, first:last], dtype=np.int16, copy=True)
    caller = cut[caller_channel].astype(np.float32) / _FULL_SCALE
    rng = rng or random.SystemRandom()
    draws = 0
    while True:
        draws += 1
        change = draw_parameters(rng)
        altered = anonymise_voice(caller, rate, alpha=change.alpha, semitones=change.semitones)
        assessment = assess_anonymity(caller, altered, rate, threshold=threshold)
        # No measure, or a pass: a further draw could change nothing, or is not needed.
        if assessment.similarity is None or assessment.label == "anonymised" or draws == DRAWS:
            break
    cut[caller_channel] = np.clip(np.round(altered * _FULL_SCALE), -32768, 32767).astype(np.int16)
    return MadeClip(encode_opus(cut, rate), cut.shape[1] / rate, assessment, draws)
