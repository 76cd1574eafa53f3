"""The packaged Whisper model: pinned weights, complete folders, no network, ever."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from speech_helpers import needs_corpus_tools

from callvault.config import load_settings
from callvault.errors import ConfigError
from callvault.media.decode import decode_to_pcm
from callvault.speech import transcriber as transcriber_module
from callvault.speech.transcriber import SpeechOptions, to_whisper_rate
from callvault.speech.weights import PINNED, bundled, check_pinned, from_folder
from speech_corpus import normalise_words, short_clip


def test_the_packaged_weights_are_the_pinned_ones() -> None:
    model = bundled()
    assert model.files is not None and set(model.files) == set(PINNED)
    assert len(model.files["model.bin"]) == 145_217_532


def test_a_changed_byte_in_the_weights_is_refused() -> None:
    files = dict(bundled().files or {})
    tampered = bytearray(files["model.bin"])
    tampered[len(tampered) // 2] ^= 1
    files["model.bin"] = bytes(tampered)
    with pytest.raises(ConfigError, match=r"model\.bin .*reinstall") as caught:
        check_pinned(files)
    assert caught.value.field == "speech_model_dir"


def test_a_model_folder_must_hold_every_file(tmp_path: Path) -> None:
    (tmp_path / "model.bin").write_bytes(b"x")
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(ConfigError, match=r"tokenizer\.json, vocabulary\.txt") as caught:
        from_folder(tmp_path)
    assert caught.value.field == "speech_model_dir"
    with pytest.raises(ConfigError, match="not a folder"):
        from_folder(tmp_path / "missing")


@pytest.mark.parametrize(
    ("key", "value", "says"),
    [
        ("SPEECH_THREADS", "two", "speech_threads"),
        ("SPEECH_DEVICE", "tpu", "speech_device"),
        ("REDACTION_MODE", "beep", "redaction_mode"),
        ("SPEECH_COMPUTE_TYPE", "int4", "speech_compute_type"),
    ],
)
def test_bad_speech_settings_name_the_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, key: str, value: str, says: str
) -> None:
    monkeypatch.setenv(f"CALLVAULT_{key}", value)
    with pytest.raises(ConfigError) as caught:
        load_settings(tmp_path)
    assert caught.value.field == says


def test_a_model_folder_setting_is_relative_to_the_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CALLVAULT_SPEECH_MODEL_DIR", "models/large")
    assert load_settings(tmp_path).speech_model_dir == tmp_path.resolve() / "models/large"
    monkeypatch.delenv("CALLVAULT_SPEECH_MODEL_DIR")
    assert load_settings(tmp_path).speech_model_dir is None


@needs_corpus_tools
def test_transcribes_with_no_network_at_all(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*_args: Any, **_kwargs: Any) -> None:
        raise AssertionError("the speech model tried to reach the network")

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    clip = short_clip(tmp_path, "NONE")
    pcm, rate = decode_to_pcm(clip.wav_path)
    # A fresh load, not the process's shared model: loading is what could reach out.
    model = transcriber_module._load(SpeechOptions(threads=2), bundled())
    heard = model.transcribe(pcm, rate, ("caller", "agent"))
    caller = normalise_words(" ".join(s.text for s in heard.segments if s.speaker == "caller"))
    assert {"recycling", "centre"} & set(caller) or {"recycling", "center"} & set(caller), caller
    assert all(s.words for s in heard.segments)  # word timestamps, for muting


def test_whisper_gets_16_khz_float_audio() -> None:
    second = (np.sin(2 * np.pi * 440 * np.arange(8000) / 8000) * 16000).astype(np.int16)
    audio = to_whisper_rate(second, 8000)
    assert audio.dtype == np.float32 and abs(len(audio) - 16000) <= 32
    assert 0.3 < float(np.abs(audio).max()) < 0.6
