"""The speech models, loaded once per process on first use and shared by every job.

Loading costs seconds (Whisper weights joined and hash-checked, spaCy and Presidio built), so
a process that never runs a speech job (the web server without a worker, the CLI) never pays.
"""

from __future__ import annotations

import threading

from callvault.config import Settings
from callvault.speech.analysis import SpeechAnalyser
from callvault.speech.personal_data import PersonalDataFinder
from callvault.speech.transcriber import SpeechOptions, load

_analysers: dict[SpeechOptions, SpeechAnalyser] = {}
_finder: list[PersonalDataFinder] = []
_lock = threading.Lock()


def speech_options(settings: Settings) -> SpeechOptions:
    return SpeechOptions(
        model_dir=settings.speech_model_dir,
        device=settings.speech_device,
        compute_type=settings.speech_compute_type,
        threads=settings.speech_threads,
    )


def shared_finder() -> PersonalDataFinder:
    with _lock:
        if not _finder:
            _finder.append(PersonalDataFinder())
        return _finder[0]


def shared_analyser(options: SpeechOptions) -> SpeechAnalyser:
    """The analyser for ``options``, built on first use in this process."""
    transcriber = load(options)
    finder = shared_finder()
    with _lock:
        if options not in _analysers:
            _analysers[options] = SpeechAnalyser(transcriber, finder)
        return _analysers[options]
