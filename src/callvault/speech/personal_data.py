"""Find personal and payment data in a call transcript, and redact it from the text.

``PersonalDataFinder.find`` looks at each speaker's words as one stream (items straddle
Whisper's segments) with these detectors:

- presidio (``uk_recognisers``): spaCy PERSON names, names after a cue ("my name is ..."),
  addresses, written and spoken email addresses;
- read-out characters (``pd_spelled``): card numbers, security codes, expiry dates, sort codes,
  account numbers, phone numbers, NI numbers, postcodes, spelled names, and any other run of
  six or more digits (DIGITS, the safety net for garbled numbers);
- dates of birth (``pd_dates``): dates with a birth cue nearby;
- safety nets for garbled numbers (``pd_garbled``): digit-bearing words soon after anyone
  mentioned a card are CARD; six or more digits inside consecutive words are DIGITS.

Overlapping detections merge under the most specific kind (``pd_merge``). Everything runs
offline: the spaCy model is an installed package and nothing is fetched.
"""

from __future__ import annotations

from collections.abc import Sequence

from presidio_analyzer import AnalyzerEngine, RecognizerResult

from callvault.speech.model import Finding, Segment
from callvault.speech.pd_dates import birth_date_hits
from callvault.speech.pd_garbled import (
    card_context_hits,
    card_cue_times,
    digit_stretch_hits,
    outward_code_hits,
)
from callvault.speech.pd_merge import merge_hits
from callvault.speech.pd_spelled import SpelledFinder
from callvault.speech.pd_stream import Conversation, Hit, SpeakerStream
from callvault.speech.redact_text import redact_segments
from callvault.speech.uk_recognisers import build_analyzer

__all__ = ["PersonalDataFinder", "redact_segments"]

# Presidio's entity types for the finder's kinds; the rule-based recognisers already use kinds.
_PRESIDIO_KINDS = {"PERSON": "NAME", "EMAIL_ADDRESS": "EMAIL"}
_PAYMENT = frozenset({"CARD", "SECURITY_CODE"})
# spaCy's small model gives every PERSON 0.85; anything presidio scores lower is noise.
_MIN_SCORE = 0.3


class PersonalDataFinder:
    """Loads spaCy and presidio once (about a second); keep one per process."""

    def __init__(self) -> None:
        self._analyzer: AnalyzerEngine = build_analyzer()

    def find(self, segments: Sequence[Segment]) -> list[Finding]:
        """Every item of personal data, in segment then word order."""
        conversation = Conversation(segments)
        streams = SpeakerStream.build_all(segments)
        cues = card_cue_times(streams)
        findings: list[Finding] = []
        for stream in streams:
            hits = [
                *self._presidio_hits(stream),
                *SpelledFinder(stream, conversation).hits(),
                *birth_date_hits(stream, conversation),
            ]
            # The card net leaves payment data already named as such (a security code stays
            # one); it outranks every other kind where they overlap (pd_merge.PRIORITY).
            paid = {i for h in hits if h.kind in _PAYMENT for i in range(h.first, h.last + 1)}
            hits += card_context_hits(stream, cues, paid)
            named = {i for h in hits if h.kind != "DIGITS" for i in range(h.first, h.last + 1)}
            hits += [*outward_code_hits(stream, named), *digit_stretch_hits(stream, named)]
            findings.extend(merge_hits(stream, hits))
        return sorted(findings, key=lambda f: (f.segment, f.first_word))

    def _presidio_hits(self, stream: SpeakerStream) -> list[Hit]:
        if not stream.text.strip():
            return []
        results = self._analyzer.analyze(text=stream.text, language="en")
        return [hit for result in results if (hit := _as_hit(stream, result)) is not None]


def _as_hit(stream: SpeakerStream, result: RecognizerResult) -> Hit | None:
    if result.score < _MIN_SCORE:
        return None
    positions = stream.positions(result.start, result.end)
    if positions is None:
        return None
    kind = _PRESIDIO_KINDS.get(result.entity_type, result.entity_type)
    metadata = result.recognition_metadata or {}
    detector = str(metadata.get(RecognizerResult.RECOGNIZER_NAME_KEY, "presidio"))
    if not detector.startswith(("presidio:", "uk:")):
        detector = f"presidio:{result.entity_type}"
    return Hit(kind, detector, float(result.score), *positions)
