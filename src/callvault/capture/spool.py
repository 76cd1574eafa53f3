"""A live call's audio on local disk while the call lasts, sealed under a key only memory holds.

Recording a call and compressing it are separate steps, as in every recorder that keeps up
with hundreds of calls on a core: Opus costs about three times the CPU of taking the
packets in. During the call the settled PCM is appended here in 64 KiB AES-GCM chunks (the
vault's blob format) under a random key held only in memory (the recorder's, and an encoder
worker's while it encodes); when the call ends the spool is read back, encoded to Opus
(``encode_spooled``, in a worker process where the recorder has one) and stored in the vault
like any ingest, and the spool is deleted.

No plaintext touches the disk, and a crash needs no clean-up of secrets: the key dies with
the process, so what is left is unreadable and ``check --repair`` deletes it.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np
import numpy.typing as npt

from callvault.media.live_encode import LiveOpusEncoder
from callvault.media.model import EncodedAudio
from callvault.vault.crypto import EncryptingWriter, decrypt_stream, new_data_key

SPOOL_SUFFIX = ".pcm.sealed"


def spool_folder(home: Path) -> Path:
    """Where a home's calls in progress are spooled."""
    return home / "spool"


@dataclass(frozen=True, slots=True)
class SpooledAudio:
    """A closed spool: interleaved int16 PCM at ``sample_rate`` with ``channels`` channels.
    Picklable, so a worker process can encode it; ``key`` is never printed."""

    path: str
    key: bytes = field(repr=False)
    sample_rate: int
    channels: int


class PcmSpool:
    """Append-only, encrypted PCM of one call in progress."""

    def __init__(self, folder: Path, name: str, *, sample_rate: int, channels: int) -> None:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._path = folder / f"{name}{SPOOL_SUFFIX}"
        self._key = new_data_key()
        self._aad = name.encode()
        self._rate, self._channels = sample_rate, channels
        self._file: BinaryIO = self._path.open("xb")  # closed by close() or discard()
        try:
            self._writer = EncryptingWriter(self._file, self._key, self._aad)
        except BaseException:
            self.discard()
            raise

    def write(self, pcm: bytes) -> None:
        self._writer.write(pcm)

    def close(self) -> SpooledAudio:
        """Seal the last chunk; the spool can be read back (``read_spooled``)."""
        self._writer.close()
        self._file.close()
        return SpooledAudio(str(self._path), self._key, self._rate, self._channels)

    def discard(self) -> None:
        """Delete the spool (the call is committed, abandoned or failed)."""
        self._file.close()
        with contextlib.suppress(FileNotFoundError):
            self._path.unlink()


def read_spooled(spooled: SpooledAudio) -> Iterator[npt.NDArray[np.int16]]:
    """The spooled PCM back, interleaved int16, a verified chunk at a time."""
    aad = Path(spooled.path).name.removesuffix(SPOOL_SUFFIX).encode()
    frame = 2 * spooled.channels
    carry = b""
    with Path(spooled.path).open("rb") as source:
        for chunk in decrypt_stream(source, spooled.key, aad):
            data = carry + chunk
            whole = len(data) - len(data) % frame
            carry = data[whole:]
            if whole:
                yield np.frombuffer(data[:whole], dtype=np.int16)


def encode_spooled(spooled: SpooledAudio) -> tuple[bytes, EncodedAudio]:
    """Encode a closed spool to Ogg Opus in memory: the file ingest's output for live audio.

    A module-level function of picklable values, so it runs the same in a worker process."""
    out = io.BytesIO()
    encoder = LiveOpusEncoder(out, sample_rate=spooled.sample_rate, channels=spooled.channels)
    try:
        for pcm in read_spooled(spooled):
            encoder.write(pcm)
        encoded = encoder.close()
    except BaseException:
        encoder.abandon()
        raise
    return out.getvalue(), encoded


def remove_stale_spools(folder: Path) -> int:
    """Delete every spool in ``folder``; the caller knows no call is being recorded."""
    removed = 0
    for path in folder.glob(f"*{SPOOL_SUFFIX}") if folder.is_dir() else ():
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
            removed += 1
    return removed
