"""Audio with found items muted, encoded as the recordings are (Ogg Opus)."""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from callvault.access.playback import REDACTED_KIND
from callvault.catalog.service import SUPERSEDED as CATALOGUED_SUPERSEDED
from callvault.media.live_encode import LiveOpusEncoder
from callvault.media.mute import Span, mute_spans
from callvault.speech.model import Finding

# Blob names of a recording's derived renditions, beside its audio.
TRANSCRIPT, TRANSCRIPT_REDACTED = "transcript", "transcript_redacted"
REDACTED_AUDIO = REDACTED_KIND  # the player serves it as rendition "redacted"
# A new original with card data muted (it replaces the recording's audio, under a new key).
ORIGINAL = "original"
# The audio it replaced, where Object Lock keeps its (now unreadable) bytes until the purge.
SUPERSEDED = CATALOGUED_SUPERSEDED
_SUFFIX = {
    TRANSCRIPT: "transcript.json",
    TRANSCRIPT_REDACTED: "transcript-redacted.json",
    REDACTED_AUDIO: "redacted.opus",
}


# Whisper's word edges are off by up to a few hundred milliseconds on telephone audio (worst on
# a segment's first word): muting a little more than the words keeps their edges from leaking.
PAD_S = 0.3


def blob_name(recording_id: str, kind: str, generation: int = 1) -> str:
    """Where rendition ``kind`` of a recording is stored. The original's replacement (card
    data muted) gets a new name, ``generation``, because blob names are never reused."""
    if kind == ORIGINAL:
        return f"recordings/{recording_id[:2]}/{recording_id}.g{generation}.opus"
    return f"recordings/{recording_id[:2]}/{recording_id}.{_SUFFIX[kind]}"


def muted(
    pcm: npt.NDArray[np.int16], sample_rate: int, findings: Sequence[Finding], mode: str
) -> npt.NDArray[np.int16]:
    """``pcm`` with every finding muted on every channel: what one party says can be heard
    on the other's channel (echo, a headset), and an advisor often reads a number back."""
    spans = [Span(None, f.start_s, f.end_s) for f in findings]
    out, _applied = mute_spans(pcm, sample_rate, spans, mode=mode, pad_s=PAD_S)
    return out


def encode_opus(pcm: npt.NDArray[np.int16], sample_rate: int) -> bytes:
    """(channels, samples) PCM as Ogg Opus, the same format as every stored recording."""
    out = io.BytesIO()
    encoder = LiveOpusEncoder(out, sample_rate=sample_rate, channels=pcm.shape[0])
    try:
        encoder.write(np.ascontiguousarray(pcm.T).reshape(-1))
        encoder.close()
    except BaseException:
        encoder.abandon()
        raise
    return out.getvalue()
