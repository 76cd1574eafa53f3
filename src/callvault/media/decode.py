"""Read call audio from a PBX: check it against what we accept, then decode it as a stream.

The checks are split so that ingest decodes once: ``open_audio`` reads only the header (format,
codec, rate, channels, declared length) and refuses what we do not take; ``AudioReader.frames``
then decodes and refuses corruption as it finds it (a decode error, or fewer samples than the
header declared). ``probe`` is the header half on its own.
"""

from __future__ import annotations

import io
import itertools
import struct
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

import av
import av.container
import numpy as np
import numpy.typing as npt

from callvault.errors import BadInput
from callvault.media.model import AudioInfo

Source = Path | BinaryIO

ACCEPTED = (
    "WAV (16-bit PCM, µ-law or A-law, 8 or 16 kHz), FLAC (8 or 16 kHz), MP3 or Ogg Opus "
    "(8-48 kHz), mono or two channels"
)
_WAV_CODECS = {"pcm_s16le": "16-bit PCM", "pcm_mulaw": "µ-law", "pcm_alaw": "A-law"}
_WAV_REFUSED = {  # plain names for what PBX and editor exports most often hold instead
    "pcm_u8": "8-bit PCM",
    "pcm_s24le": "24-bit PCM",
    "pcm_s32le": "32-bit PCM",
    "pcm_f32le": "32-bit float",
    "pcm_f64le": "64-bit float",
}
_TELEPHONY_RATES = frozenset({8000, 16000})  # what PBXs write as WAV and FLAC
_STANDARD_RATES = frozenset({8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000})
_RATES = {"wav": _TELEPHONY_RATES, "flac": _TELEPHONY_RATES, "mp3": _STANDARD_RATES}
_CODECS = {"wav": set(_WAV_CODECS), "flac": {"flac"}, "mp3": {"mp3"}, "ogg": {"opus"}}
# Decoded audio may fall this far short of the declared length before we call it truncated:
# MP3 and Opus decoders trim encoder delay and padding, a few tens of milliseconds.
_SHORTFALL_S = 0.1
_HEADER_PEEK = 65536  # bytes read to find a WAV data chunk; PBX headers are a few hundred


def _refuse(problem: str, fix: str) -> BadInput:
    return BadInput(f"{problem}; {fix}", field="audio")


def _wav_declared_frames(head: bytes) -> int | None:
    """Frames the RIFF header claims (data chunk size / block align); None if it does not say.

    FFmpeg clamps the data size to the file size, so a truncated WAV looks whole to it; this
    is the header's own claim to compare the decoded count against.
    """
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        return None
    pos, block_align = 12, 0
    while pos + 8 <= len(head):
        chunk_id, size = head[pos : pos + 4], struct.unpack_from("<I", head, pos + 4)[0]
        if chunk_id == b"fmt " and pos + 22 <= len(head):
            block_align = struct.unpack_from("<H", head, pos + 20)[0]
        if chunk_id == b"data":
            # 0xFFFFFFFF (or 0 with data after it) marks a WAV written while recording: no claim.
            if size == 0xFFFFFFFF or block_align == 0:
                return None
            return int(size) // block_align
        pos += 8 + size + (size & 1)  # chunks are word-aligned
    return None


def _seekable(source: object) -> bool:
    """Whether ``source`` can rewind; a bare reader (a socket, a pipe) may lack seekable()."""
    seekable = getattr(source, "seekable", None)
    return bool(seekable and seekable() and hasattr(source, "seek") and hasattr(source, "tell"))


def _read_head(source: Source) -> tuple[bytes, Path | BinaryIO | _Replay]:
    """The first bytes of the source, and a source that still starts at byte 0."""
    if isinstance(source, Path):
        with source.open("rb") as f:
            return f.read(_HEADER_PEEK), source
    if _seekable(source):
        start = source.tell()
        head = source.read(_HEADER_PEEK)
        source.seek(start)
        return head, source
    head = source.read(_HEADER_PEEK)
    # A pipe cannot rewind: hand FFmpeg the bytes we took, then the rest of the pipe.
    return head, _Replay(head, source)


class _Replay:
    """A non-seekable reader that first returns ``head``, then reads on from ``rest``.

    It has only ``read``, so PyAV treats it as a pipe and never tries to seek.
    """

    def __init__(self, head: bytes, rest: BinaryIO) -> None:
        self._head, self._rest = head, rest

    def read(self, size: int = -1) -> bytes:
        if self._head:
            taken = self._head if size < 0 else self._head[:size]
            self._head = self._head[len(taken) :]
            return taken
        return self._rest.read(size)


def _opus_input_rate(stream: av.AudioStream) -> int:
    """The rate the Opus was made from (OpusHead bytes 12-15); 48 kHz if it does not say."""
    head = stream.codec_context.extradata or b""
    if len(head) >= 16 and head[:8] == b"OpusHead":
        rate = int(struct.unpack_from("<I", head, 12)[0])
        if rate in _STANDARD_RATES:
            return rate
    return 48000


def _open_container(source: Path | BinaryIO | _Replay) -> av.container.InputContainer:
    try:
        if isinstance(source, Path):
            return av.open(str(source), mode="r")
        return av.open(source, mode="r")
    except av.FFmpegError as exc:
        raise _refuse(
            f"the file is not audio we can read ({exc.strerror or 'unknown format'})",
            f"we accept {ACCEPTED}",
        ) from exc


def _check_codec(container: str, codec: str, long_name: str) -> None:
    if container not in _CODECS:
        raise _refuse(f"the file is {long_name}, not a format we take", f"we accept {ACCEPTED}")
    if container == "wav" and codec not in _WAV_CODECS:
        raise _refuse(
            f"the WAV file holds {_WAV_REFUSED.get(codec, codec)} audio",
            "WAV must be 16-bit PCM, µ-law or A-law; re-export it as 16-bit PCM "
            "(for example: ffmpeg -i in.wav -c:a pcm_s16le out.wav)",
        )
    if codec not in _CODECS[container]:
        raise _refuse(
            f"the {container.upper()} file holds {codec} audio",
            f"we accept {ACCEPTED}",
        )


def _check_shape(container: str, rate: int, channels: int) -> None:
    allowed = _RATES.get(container, _STANDARD_RATES)
    if rate not in allowed:
        khz = " or ".join(f"{r / 1000:g}" for r in sorted(allowed))
        if allowed is _STANDARD_RATES:
            khz = "a standard rate from 8 to 48"
        raise _refuse(
            f"the audio is sampled at {rate} Hz",
            f"{container.upper()} audio must be {khz} kHz; re-export it from the PBX at 8 kHz "
            "(for example: ffmpeg -i in.wav -ar 8000 -c:a pcm_s16le out.wav)",
        )
    if channels not in (1, 2):
        raise _refuse(
            f"the audio has {channels} channels",
            "we take mono or two channels (caller and agent); export a mono or stereo recording",
        )


def _declared_duration(
    container: av.container.InputContainer,
    stream: av.AudioStream,
    rate: int,
    head: bytes,
) -> float | None:
    if container.format.name == "wav":
        frames = _wav_declared_frames(head)
        return None if frames is None else frames / rate
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:  # Ogg: from the last page's granule position
        return container.duration / av.time_base
    return None


def _header_info(
    container: av.container.InputContainer, head: bytes
) -> tuple[AudioInfo, av.AudioStream]:
    """Check what the header says against what we accept; nothing is decoded."""
    fmt = container.format.name
    if not container.streams.audio:
        kinds: list[str] = sorted({s.type for s in container.streams}) or ["nothing"]
        raise _refuse(
            f"the file has no audio in it ({container.format.long_name} holding "
            f"{' and '.join(kinds)})",
            f"send the call recording itself: {ACCEPTED}",
        )
    stream = container.streams.audio[0]
    codec = stream.codec_context.codec.name
    codec = {"mp3float": "mp3"}.get(codec, codec)
    _check_codec(fmt, codec, container.format.long_name)
    rate = _opus_input_rate(stream) if codec == "opus" else stream.sample_rate
    _check_shape(fmt, rate, stream.channels)
    duration = _declared_duration(container, stream, stream.sample_rate, head)
    if duration == 0:
        raise _refuse(
            "the audio holds no samples (0 seconds)",
            "send a recording with sound in it; check the PBX finished writing the file",
        )
    return AudioInfo(fmt, codec, rate, stream.channels, duration), stream


class AudioReader:
    """An open, header-checked source; ``frames()`` decodes it once, as a stream.

    Use as a context manager. Constructing it refuses what the header shows we do not take;
    iterating ``frames()`` refuses corruption as it is found, naming the second.
    """

    def __init__(self, source: Source) -> None:
        head, readable = _read_head(source)
        if not head:
            raise _refuse("the audio file is empty (0 bytes)", f"send the recording: {ACCEPTED}")
        self._container = _open_container(readable)
        try:
            self.info, self._stream = _header_info(self._container, head)
        except BaseException:
            self._container.close()
            raise
        self.decoded_s = 0.0

    def __enter__(self) -> AudioReader:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._container.close()

    def frames(self) -> Iterator[av.AudioFrame]:
        """Decoded frames in order; BadInput at the first sign of corruption."""
        samples = 0
        try:
            for packet in self._container.demux(self._stream):
                for frame in packet.decode():
                    samples += frame.samples
                    self.decoded_s = samples / frame.sample_rate
                    yield frame
        except av.FFmpegError as exc:
            raise _refuse(
                f"the audio is corrupt at {self.decoded_s:.2f} s ({exc.strerror})",
                "the file was damaged in transfer or storage; copy it again from the PBX "
                "or re-export it",
            ) from exc
        self._check_complete(samples)

    def _check_complete(self, samples: int) -> None:
        if samples == 0:
            raise _refuse(
                "the audio holds no samples (0 seconds)",
                "send a recording with sound in it; check the PBX finished writing the file",
            )
        declared = self.info.duration_s
        if declared is not None and self.decoded_s < declared - _SHORTFALL_S:
            raise _refuse(
                f"the audio breaks off at {self.decoded_s:.2f} s but the file says it is "
                f"{declared:.2f} s long",
                "the file is truncated or corrupt; copy it again from the PBX or re-export it",
            )


def open_audio(source: Source) -> AudioReader:
    """Open ``source`` and check its header; BadInput(field="audio") if we do not take it."""
    return AudioReader(source)


def probe(source: Source) -> AudioInfo:
    """What the header says, checked against what we accept; nothing is decoded.

    A seekable file object is left where it was; a pipe is consumed.
    """
    start = source.tell() if not isinstance(source, Path) and _seekable(source) else None
    try:
        with AudioReader(source) as reader:
            return reader.info
    finally:
        if start is not None and not isinstance(source, Path):
            source.seek(start)


def decode_to_pcm(
    source: Path | BinaryIO | bytes,
) -> tuple[npt.NDArray[np.int16], int]:
    """The whole audio as int16 (channels, samples) at the source rate, for tests and checks.

    Holds everything in memory: for short clips and playback checks, not for ingest. For Ogg
    Opus the rate is the one recorded in the OpusHead (what callvault encoded from).
    """
    readable: Source = io.BytesIO(source) if isinstance(source, bytes) else source
    with AudioReader(readable) as reader:
        info = reader.info
        layout = "stereo" if info.channels == 2 else "mono"
        resampler = av.AudioResampler(format="s16p", layout=layout, rate=info.sample_rate)
        chunks: list[npt.NDArray[np.int16]] = []
        for frame in itertools.chain(reader.frames(), [None]):  # None flushes the resampler
            chunks.extend(
                np.asarray(out.to_ndarray(), np.int16) for out in resampler.resample(frame)
            )
    if not chunks:
        return np.zeros((info.channels, 0), dtype=np.int16), info.sample_rate
    return np.concatenate(chunks, axis=1).astype(np.int16, copy=False), info.sample_rate
