"""Encode PCM to Ogg Opus a chunk at a time: the live recorder's half of ``encode.py``.

A live call has no file to decode: its settled PCM (interleaved 16-bit, one or two channels)
is read back from the call's sealed spool when the call ends (``capture/spool.py``) and fed
here in chunks; Ogg pages go to the sink as they fill. The output is the same as for a
file: independent mono Opus streams for two channels (mapping family 255), the same
bitrates, 20 ms frames.
"""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np
import numpy.typing as npt

from callvault.errors import BadInput
from callvault.media.encode import Sink, WriteOnly, output_stream
from callvault.media.model import AudioInfo, EncodedAudio

_RATES = (8000, 16000)
_FRAME_S = 0.02


class LiveOpusEncoder:
    """Feed ``write`` interleaved int16 PCM; ``close`` flushes and says what was written."""

    def __init__(self, sink: Sink, *, sample_rate: int, channels: int) -> None:
        if sample_rate not in _RATES:
            raise BadInput(f"live audio must be 8 or 16 kHz, not {sample_rate} Hz", "sample_rate")
        if channels not in (1, 2):
            raise BadInput(f"live audio has 1 or 2 channels, not {channels}", "channels")
        self._rate, self._channels = sample_rate, channels
        self._frame = round(sample_rate * _FRAME_S)
        self._adapter = WriteOnly(sink)
        self._out = av.open(self._adapter, mode="w", format="ogg")
        self._stream = output_stream(self._out, sample_rate, channels)
        self._pending = np.zeros(0, dtype=np.int16)
        self._samples = 0
        self._closed = False

    @property
    def sample_rate(self) -> int:
        return self._rate

    @property
    def duration_s(self) -> float:
        """Seconds of audio encoded so far (per channel)."""
        return self._samples / self._rate

    def write(self, pcm: npt.NDArray[np.int16]) -> None:
        """Append interleaved samples (length a multiple of the channel count)."""
        if self._closed:
            raise RuntimeError("the encoder is closed")
        if pcm.dtype != np.int16 or pcm.ndim != 1 or len(pcm) % self._channels:
            raise BadInput("live PCM must be interleaved int16 frames", "pcm")
        self._pending = np.concatenate((self._pending, pcm)) if len(self._pending) else pcm
        step = self._frame * self._channels
        whole = len(self._pending) - len(self._pending) % step
        for start in range(0, whole, step):
            self._encode(self._pending[start : start + step])
        self._pending = self._pending[whole:].copy()

    def close(self) -> EncodedAudio:
        """Encode what is left (padded to a whole frame with silence), flush, end the file."""
        if not self._closed:
            self._closed = True
            if len(self._pending):
                step = self._frame * self._channels
                padded = np.zeros(step, dtype=np.int16)
                padded[: len(self._pending)] = self._pending
                self._encode(padded, samples=len(self._pending) // self._channels)
            self._out.mux(self._stream.encode(None))
            self._out.close()
        info = AudioInfo(
            container="rtp",
            codec="pcm_s16le",
            sample_rate=self._rate,
            channels=self._channels,
            duration_s=self.duration_s,
        )
        return EncodedAudio(
            codec="opus",
            container="ogg",
            sample_rate=self._rate,
            channels=self._channels,
            duration_s=self.duration_s,
            input_info=info,
            channel_map=("caller", "agent") if self._channels == 2 else ("mixed",),
            bytes_written=self._adapter.written,
        )

    def abandon(self) -> None:
        """Stop without finishing the file (the caller discards what the sink received)."""
        if not self._closed:
            self._closed = True
            self._out.close()

    def _encode(self, interleaved: npt.NDArray[np.int16], samples: int | None = None) -> None:
        layout = "stereo" if self._channels == 2 else "mono"
        frame = av.AudioFrame.from_ndarray(interleaved.reshape(1, -1), format="s16", layout=layout)
        frame.sample_rate = self._rate
        frame.pts, frame.time_base = self._samples, Fraction(1, self._rate)
        self._samples += self._frame if samples is None else samples
        self._out.mux(self._stream.encode(frame))
