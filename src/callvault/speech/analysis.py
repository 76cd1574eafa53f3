"""What the speech pipeline decides about one recording, from its audio alone (no I/O).

Transcribe each channel, find personal data in the words and key tones in the audio, find
abusive or threatening language, and decide what to mute where:

- **In the stored original and the original transcript**: payment card data (card numbers,
  security codes, key tones) on every line, because PCI DSS forbids keeping it after
  authorisation (3.3.1.2) and requires the number unreadable wherever stored (3.5.1). On a
  line that takes payments, any unnamed run of digits too: it may be a card number the
  recogniser garbled, so it is muted and the recording flagged for a person to check.
- **In the redacted rendition**: everything found.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from callvault.media.tones import find_dtmf
from callvault.speech.conduct import ConductFlag, find_conduct
from callvault.speech.model import PAYMENT_KINDS, Finding, Transcript
from callvault.speech.personal_data import PersonalDataFinder, redact_segments
from callvault.speech.transcriber import Transcriber


@dataclass(frozen=True, slots=True)
class ReviewFlag:
    kind: str  # "conduct" | "digits"
    rule: str
    speaker: str
    start_s: float
    end_s: float


@dataclass(frozen=True, slots=True)
class Analysis:
    transcript: Transcript
    findings: tuple[Finding, ...]  # everything found: muted in the redacted rendition
    in_original: tuple[Finding, ...]  # payment card data: muted in the stored original too
    flags: tuple[ReviewFlag, ...]

    @property
    def original_transcript(self) -> Transcript:
        """The transcript kept as the original: card data replaced, nothing else."""
        return _redacted(self.transcript, self.in_original)

    @property
    def redacted_transcript(self) -> Transcript:
        return _redacted(self.transcript, self.findings)

    def counts(self) -> dict[str, int]:
        """Findings per kind, for the audit entry (no content)."""
        out: dict[str, int] = {}
        for finding in self.findings:
            out[finding.kind] = out.get(finding.kind, 0) + 1
        return dict(sorted(out.items()))


class SpeechAnalyser:
    """The loaded models (Whisper, spaCy + Presidio), shared by every job of a process."""

    def __init__(self, transcriber: Transcriber, finder: PersonalDataFinder) -> None:
        self.transcriber, self._finder = transcriber, finder

    def analyse(
        self,
        pcm: npt.NDArray[np.int16],
        sample_rate: int,
        speakers: Sequence[str],
        *,
        takes_payments: bool,
    ) -> Analysis:
        transcript = self.transcriber.transcribe(pcm, sample_rate, speakers)
        findings = list(self._finder.find(transcript.segments))
        findings += key_tones(pcm, sample_rate, speakers)
        findings.sort(key=lambda f: (f.start_s, f.speaker))
        in_original = tuple(f for f in findings if _card_data(f, takes_payments))
        flags = [_conduct_flag(c) for c in find_conduct(transcript.segments)]
        if takes_payments:
            flags += [
                ReviewFlag("digits", "digits:unnamed-run-on-payment-line", f.speaker,
                           f.start_s, f.end_s)
                for f in findings if f.kind == "DIGITS"
            ]  # fmt: skip
        return Analysis(transcript, tuple(findings), in_original, tuple(flags))


def key_tones(
    pcm: npt.NDArray[np.int16], sample_rate: int, speakers: Sequence[str]
) -> list[Finding]:
    """Every DTMF key press in the audio, as a finding on the channel it was heard on."""
    return [
        Finding("DTMF", speaker, tone.start_s, tone.end_s, "goertzel", 1.0)
        for channel, speaker in enumerate(speakers)
        for tone in find_dtmf(pcm[channel], sample_rate)
    ]


def _card_data(finding: Finding, takes_payments: bool) -> bool:
    return finding.kind in PAYMENT_KINDS or (takes_payments and finding.kind == "DIGITS")


def _conduct_flag(flag: ConductFlag) -> ReviewFlag:
    return ReviewFlag("conduct", flag.rule, flag.speaker, flag.start_s, flag.end_s)


def _redacted(transcript: Transcript, findings: Sequence[Finding]) -> Transcript:
    # Findings without words (key tones) change no text: redact_segments passes them by.
    return Transcript(
        transcript.model, transcript.language, redact_segments(transcript.segments, findings)
    )
