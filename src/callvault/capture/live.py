"""A live call being recorded: PCM in as it arrives, encrypted Opus out, one commit at the end.

The SIPREC server decides a call when its INVITE arrives (``IngestService.start_live``); a
covered call gets a ``LiveRecording``. Audio written to it goes at once, encrypted, into the
call's spool (``spool.py``: local, sealed under a key only this process holds; never
plaintext, never a catalogue entry). ``finish`` encodes the spool to Opus, stores the blob
and commits it exactly as a file ingest does: catalogue row, wrapped key,
``recording.ingested`` audit entry and the verify job, in one transaction. ``abort`` (the
call failed, the server is stopping) leaves nothing behind.
"""

from __future__ import annotations

import dataclasses
import hashlib
import uuid
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from callvault.capture.metadata import CallMeta
from callvault.capture.spool import PcmSpool, SpooledAudio, encode_spooled
from callvault.context import RequestContext
from callvault.errors import BadInput
from callvault.locks import file_lock, live_lock_beside
from callvault.media.model import EncodedAudio
from callvault.policy.model import Decision, Line
from callvault.vault.service import Vault

if TYPE_CHECKING:
    from callvault.capture.ingest import IngestResult, IngestService

# Turns a closed spool into Ogg Opus bytes: ``encode_spooled`` here, or the same function in
# a worker process (``SpoolEncoders``) so the recorder's RTP loop never waits on a codec.
EncodeSpool = Callable[[SpooledAudio], tuple[bytes, EncodedAudio]]


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
        spools: Path,
    ) -> None:
        self.recording_id = uuid.uuid4().hex
        self.blob_name = f"recordings/{self.recording_id[:2]}/{self.recording_id}.opus"
        self.start = start
        self._ingest, self._vault = ingest, vault
        self._rate, self._channels = sample_rate, channels
        self._lock_until = lock_until
        self._data_key = vault.new_data_key()
        self._hash = hashlib.sha256()
        self._size = 0
        self._lock_path = lock_path
        self._stack = ExitStack()
        # Held for the whole call: repair leaves spools alone while it is held.
        self._stack.enter_context(file_lock(live_lock_beside(lock_path), exclusive=False))
        try:
            self._spool = PcmSpool(
                spools,
                self.recording_id,
                sample_rate=sample_rate,
                channels=channels,
            )
        except BaseException:
            self._stack.close()
            raise
        self._open = True

    @property
    def duration_s(self) -> float:
        """Seconds of audio written so far (per channel)."""
        return self._size // (2 * self._channels) / self._rate

    @property
    def sample_rate(self) -> int:
        return self._rate

    def write(self, pcm: npt.NDArray[np.int16]) -> None:
        """Append interleaved int16 PCM (caller and agent channels, in the channel map's order)."""
        if not self._open:
            raise RuntimeError("the recording is finished")
        if pcm.dtype != np.int16 or pcm.ndim != 1 or len(pcm) % self._channels:
            raise BadInput("live PCM must be interleaved int16 frames", "pcm")
        data = pcm.tobytes()
        self._hash.update(data)  # the fingerprint of the audio as received
        self._size += len(data)
        self._spool.write(data)

    def finish(
        self,
        ended_at: datetime,
        paused: Sequence[tuple[float, float]] = (),
        *,
        encode: EncodeSpool = encode_spooled,
    ) -> IngestResult:
        """Encode the call, store and commit the recording; the call's end time is
        ``ended_at``; ``paused`` the spans (seconds from the start) silenced for card
        payments; ``encode`` where the Opus encoding runs."""
        self._open = False
        try:
            opus, encoded = encode(self._spool.close())
            # The ingest lock, as for a file: repair never sees the complete blob uncatalogued.
            with file_lock(self._lock_path, exclusive=False):
                self._vault.write(
                    self.blob_name, self._data_key, opus, retain_until=self._lock_until
                )
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
        finally:
            self._spool.discard()
            self._stack.close()

    def abort(self) -> None:
        """Stop and leave nothing: no blob, no catalogue row, no audit entry."""
        if self._open:
            self._open = False
            self._spool.discard()
            self._stack.close()
