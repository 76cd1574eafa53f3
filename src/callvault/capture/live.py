"""A live call being recorded: PCM in as it arrives, encrypted Opus out, one commit at the end.

The SIPREC server decides a call when its INVITE arrives (``IngestService.start_live``); a
covered call gets a ``LiveRecording``. Audio written to it is encoded and encrypted at once
into the blob store (a write in progress is a temp blob, never plaintext, never a catalogue
entry), and ``finish`` ends the blob and commits it exactly as a file ingest does: catalogue
row, wrapped key, ``recording.ingested`` audit entry and the verify job, in one transaction.
``abort`` (the call failed, the server is stopping) leaves nothing behind.
"""

from __future__ import annotations

import dataclasses
import hashlib
import uuid
from collections.abc import Sequence
from contextlib import ExitStack
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from callvault.capture.metadata import CallMeta
from callvault.context import RequestContext
from callvault.locks import file_lock, live_lock_beside
from callvault.media.live_encode import LiveOpusEncoder
from callvault.policy.model import Decision, Line
from callvault.vault.service import Vault

if TYPE_CHECKING:
    from callvault.capture.ingest import IngestResult, IngestService


class _Aborted(Exception):
    """Passed to the blob writer so it drops the temp blob instead of publishing it."""


@dataclasses.dataclass(frozen=True, slots=True)
class LiveStart:
    """What a live recording was opened with: the call, its decision and its line."""

    ctx: RequestContext
    meta: CallMeta
    decision: Decision
    line: Line


class LiveRecording:
    """One covered call's audio on its way into the vault."""

    def __init__(
        self,
        ingest: IngestService,
        vault: Vault,
        start: LiveStart,
        *,
        sample_rate: int,
        channels: int,
        lock_until: datetime | None,
        lock_path: Path,
    ) -> None:
        self.recording_id = uuid.uuid4().hex
        self.blob_name = f"recordings/{self.recording_id[:2]}/{self.recording_id}.opus"
        self.start = start
        self._ingest = ingest
        self._data_key = vault.new_data_key()
        self._hash = hashlib.sha256()
        self._size = 0
        self._lock_path = lock_path
        self._stack = ExitStack()
        # Held for the whole call: repair leaves an unfinished write alone while it is held.
        self._stack.enter_context(file_lock(live_lock_beside(lock_path), exclusive=False))
        sink = self._stack.enter_context(
            vault.writer(self.blob_name, self._data_key, retain_until=lock_until)
        )
        self._encoder = LiveOpusEncoder(sink, sample_rate=sample_rate, channels=channels)
        self._open = True

    @property
    def duration_s(self) -> float:
        return self._encoder.duration_s

    @property
    def sample_rate(self) -> int:
        return self._encoder.sample_rate

    def write(self, pcm: npt.NDArray[np.int16]) -> None:
        """Append interleaved int16 PCM (caller and agent channels, in the channel map's order)."""
        data = pcm.tobytes()
        self._hash.update(data)  # the fingerprint of the audio as received
        self._size += len(data)
        self._encoder.write(pcm)

    def finish(
        self, ended_at: datetime, paused: Sequence[tuple[float, float]] = ()
    ) -> IngestResult:
        """End the blob and commit the recording; the call's end time is ``ended_at``;
        ``paused`` the spans (seconds from the start) silenced for card payments."""
        self._open = False
        # The ingest lock, as for a file: repair never sees the complete blob uncatalogued.
        with file_lock(self._lock_path, exclusive=False):
            try:
                encoded = self._encoder.close()
            except BaseException:
                self._drop()
                raise
            self._stack.close()  # the blob appears, complete, under its name
            meta = dataclasses.replace(self.start.meta, ended_at=ended_at)
            return self._ingest.commit_live(
                dataclasses.replace(self.start, meta=meta),
                recording_id=self.recording_id,
                blob_name=self.blob_name,
                data_key=self._data_key,
                sha256=self._hash.hexdigest(),
                size=self._size,
                encoded=encoded,
                paused=paused,
            )

    def abort(self) -> None:
        """Stop and leave nothing: no blob, no catalogue row, no audit entry."""
        if self._open:
            self._open = False
            self._encoder.abandon()
            self._drop()

    def _drop(self) -> None:
        self._stack.__exit__(_Aborted, _Aborted(), None)
