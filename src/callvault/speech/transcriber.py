"""Transcription with faster-whisper, one channel at a time, offline.

Each channel of a two-channel recording is one party (the channel map says which), so each is
transcribed on its own and the transcript says who spoke without any diarisation guesswork.
Word timestamps are what lets redaction mute the audio under a name or a card number; voice
activity detection skips the silence of the party who is listening, where Whisper would
otherwise invent words.

The model is loaded once per process and shared by every job that process runs.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
import numpy.typing as npt

from callvault.errors import BadInput
from callvault.speech.model import Segment, Transcript, Word
from callvault.speech.weights import ModelFiles, model_files

WHISPER_RATE = 16000
# faster-whisper's default speech padding (400 ms) joins words across short pauses and
# moves word edges; 30 ms keeps word times tight enough to mute by (measured: NOTES-SPEECH).
_VAD = {"speech_pad_ms": 30, "min_silence_duration_ms": 300}


@dataclass(frozen=True, slots=True)
class SpeechOptions:
    """How to run the model (settings ``speech_*``)."""

    model_dir: Path | None = None  # None: the packaged Whisper base weights
    device: str = "cpu"  # "cpu", "cuda" or "auto"
    compute_type: str = "int8"  # int8 on CPU; "float16" or "int8_float16" on a GPU
    threads: int = 0  # CPU threads per transcription; 0: one per core
    beam_size: int = 5


class Transcriber:
    """A loaded Whisper model; ``transcribe`` is safe to call from several threads."""

    def __init__(self, model: object, name: str, *, beam_size: int = 5) -> None:
        self._model = model
        self.name = name
        self._beam_size = beam_size

    def transcribe(
        self, pcm: npt.NDArray[np.int16], sample_rate: int, speakers: Sequence[str]
    ) -> Transcript:
        """Transcribe every channel of ``pcm`` (channels, samples); ``speakers[c]`` names
        channel ``c``. Segments come back in time order across channels."""
        if pcm.ndim != 2 or pcm.shape[0] != len(speakers):
            raise BadInput(
                f"audio has shape {pcm.shape} but {len(speakers)} speakers were named",
                "channels",
            )
        segments: list[Segment] = []
        for channel, speaker in enumerate(speakers):
            audio = to_whisper_rate(pcm[channel], sample_rate)
            segments.extend(self._channel(audio, speaker))
        segments.sort(key=lambda s: (s.start_s, s.speaker))
        return Transcript(model=self.name, language="en", segments=tuple(segments))

    def _channel(self, audio: npt.NDArray[np.float32], speaker: str) -> list[Segment]:
        if not len(audio):
            return []
        found, _info = self._model.transcribe(  # type: ignore[attr-defined]
            audio,
            language="en",
            beam_size=self._beam_size,
            word_timestamps=True,
            vad_filter=True,
            vad_parameters=_VAD,
            # Each segment stands alone: carrying text forward makes Whisper repeat itself
            # on the long silences of a call.
            condition_on_previous_text=False,
        )
        segments = []
        for seg in found:
            words = tuple(
                Word(float(w.start), float(w.end), w.word.strip(), float(w.probability))
                for w in seg.words or ()
                if w.word.strip()
            )
            text = seg.text.strip()
            if text:
                segments.append(Segment(speaker, float(seg.start), float(seg.end), text, words))
        return segments


def to_whisper_rate(samples: npt.NDArray[np.int16], sample_rate: int) -> npt.NDArray[np.float32]:
    """One channel of int16 PCM as float32 at 16 kHz, what Whisper takes."""
    mono = np.ascontiguousarray(samples, dtype=np.int16)
    if sample_rate == WHISPER_RATE:
        return mono.astype(np.float32) / 32768.0
    frame = av.AudioFrame.from_ndarray(mono[np.newaxis, :], format="s16", layout="mono")
    frame.sample_rate = sample_rate
    resampler = av.AudioResampler(format="flt", layout="mono", rate=WHISPER_RATE)
    pieces = [out.to_ndarray()[0] for out in resampler.resample(frame)]
    pieces += [out.to_ndarray()[0] for out in resampler.resample(None)]
    if not pieces:
        return np.zeros(0, dtype=np.float32)
    return np.concatenate(pieces).astype(np.float32, copy=False)


_loaded: dict[SpeechOptions, Transcriber] = {}
_loading = threading.Lock()


def load(options: SpeechOptions) -> Transcriber:
    """The model ``options`` name, loaded once per process."""
    with _loading:
        if options not in _loaded:
            _loaded[options] = _load(options, model_files(options.model_dir))
        return _loaded[options]


def _load(options: SpeechOptions, files: ModelFiles) -> Transcriber:
    # Belt and braces: even a bug that reached for the hub must fail, not fetch.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from faster_whisper import WhisperModel  # type: ignore[import-untyped]

    threads = options.threads or (os.cpu_count() or 1)
    if files.folder is not None:
        model = WhisperModel(
            str(files.folder), device=options.device, compute_type=options.compute_type,
            cpu_threads=threads, local_files_only=True,
        )  # fmt: skip
    else:
        model = WhisperModel(
            # A name that is no folder: with ``files`` given, faster-whisper reads only them.
            "callvault-bundled-whisper",
            device=options.device, compute_type=options.compute_type, cpu_threads=threads,
            files=dict(files.files or {}),
        )  # fmt: skip
    return Transcriber(model, files.name, beam_size=options.beam_size)
