"""What the speech pipeline produces: transcripts with word times, findings, redactions.

Times are seconds from the start of the recording, on the channel the words were spoken on.
A transcript is stored as JSON inside the vault (encrypted under the recording's data key),
never in the catalogue; only its redacted text is indexed for search.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

# Who spoke, from the recording's channel map: two-channel calls say caller or agent; a mono
# recording says "mixed".
SPEAKERS = ("caller", "agent", "mixed")

# What the detectors find. Card numbers and security codes are payment card data (PCI DSS);
# DIGITS is a long run of spoken digits no detector could name (ASR garbles digits most, so
# any such run is muted); DTMF is key presses heard in the audio.
KINDS = (
    "NAME",
    "ADDRESS",
    "POSTCODE",
    "PHONE",
    "EMAIL",
    "NI_NUMBER",
    "DATE_OF_BIRTH",
    "CARD",
    "SECURITY_CODE",
    "SORT_CODE",
    "ACCOUNT_NUMBER",
    "DIGITS",
    "DTMF",
)
PAYMENT_KINDS = frozenset({"CARD", "SECURITY_CODE", "DTMF"})


@dataclass(frozen=True, slots=True)
class Word:
    start_s: float
    end_s: float
    text: str  # as the recogniser wrote it, with its leading space stripped
    probability: float = 1.0


@dataclass(frozen=True, slots=True)
class Segment:
    speaker: str
    start_s: float
    end_s: float
    text: str
    words: tuple[Word, ...] = ()


@dataclass(frozen=True, slots=True)
class Finding:
    """One item of personal or payment data: what, who said it, when, and which detector.

    ``segment`` and ``first_word``/``last_word`` (inclusive) locate it in the transcript;
    DTMF findings come from the audio and have no words (``segment`` is -1).
    """

    kind: str
    speaker: str
    start_s: float
    end_s: float
    detector: str  # e.g. "presidio:UK_POSTCODE", "spoken-digits", "goertzel"
    score: float
    segment: int = -1
    first_word: int = -1
    last_word: int = -1

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "speaker": self.speaker,
            "start": round(self.start_s, 3),
            "end": round(self.end_s, 3),
            "detector": self.detector,
            "score": round(self.score, 3),
        }


@dataclass(frozen=True, slots=True)
class Transcript:
    model: str
    language: str
    segments: tuple[Segment, ...] = field(default_factory=tuple)

    def to_json(self) -> bytes:
        return orjson.dumps(
            {
                "model": self.model,
                "language": self.language,
                "segments": [
                    {
                        "speaker": s.speaker,
                        "start": round(s.start_s, 3),
                        "end": round(s.end_s, 3),
                        "text": s.text,
                        "words": [
                            [
                                round(w.start_s, 3),
                                round(w.end_s, 3),
                                w.text,
                                round(w.probability, 3),
                            ]
                            for w in s.words
                        ],
                    }
                    for s in self.segments
                ],
            }
        )

    @classmethod
    def from_json(cls, data: bytes) -> Transcript:
        doc = orjson.loads(data)
        return cls(
            model=str(doc["model"]),
            language=str(doc["language"]),
            segments=tuple(
                Segment(
                    speaker=str(s["speaker"]),
                    start_s=float(s["start"]),
                    end_s=float(s["end"]),
                    text=str(s["text"]),
                    words=tuple(
                        Word(float(w[0]), float(w[1]), str(w[2]), float(w[3])) for w in s["words"]
                    ),
                )
                for s in doc["segments"]
            ),
        )

    def public_segments(self) -> list[dict[str, Any]]:
        """The shape ``callvault transcript`` prints: speaker, start, end, text."""
        return [
            {"speaker": s.speaker, "start": round(s.start_s, 3), "end": round(s.end_s, 3),
             "text": s.text}
            for s in self.segments
        ]  # fmt: skip
