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
    """The analyser for ``options`` over this process's loaded models (``load`` keeps one
    Whisper model per options; the analyser itself only holds the two)."""
    return SpeechAnalyser(load(options), shared_finder())
