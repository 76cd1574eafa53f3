"""Encode call audio to Ogg Opus as a stream: decode, resample, encode, mux into a sink.

Memory stays flat whatever the call length: one decoded frame, one resampled frame and the
muxer's page buffer are alive at a time, and Ogg pages go straight to the sink.

Two channels are encoded as two independent mono Opus streams (Ogg Opus channel mapping family
255) rather than one coupled stereo stream. Coupled stereo lets libopus code mid/side and narrow
the stereo image at low bitrates; measured with a 440 Hz tone in the left channel only, 16 kHz
input at 12 kbit/s per channel leaked into the right channel at -26 dB. Independent streams
cannot leak (measured -90 dB, the decoder's noise floor), which keeps caller and agent apart for
transcription, redaction and evidence. FFmpeg and libopus decode family 255; a player that only
knows families 0 and 1 will not, so playback goes through callvault, which decodes it.
"""

from __future__ import annotations

import itertools
from fractions import Fraction
from pathlib import Path
from typing import BinaryIO, Protocol

import av

from callvault.errors import BadInput
from callvault.media.decode import AudioReader
from callvault.media.model import AudioInfo, EncodedAudio

# Opus takes 8/12/16/24/48 kHz; telephone audio at 8 kHz stays narrowband, anything else is
# taken to 16 kHz wideband, which holds all of speech that matters for transcription.
_NARROWBAND, _WIDEBAND = 8000, 16000
# Per channel, 16 kbit/s at either rate. Narrowband sounds transparent at 12 kbit/s, but
# transcription heard the difference: on the project's telephone test set (bench_speech,
# 6 calls) Whisper base's word error rate was 0.55 on the source WAV, 0.67 after Opus at
# 12 kbit/s and 0.57 at 16 (24 gave no more), for a third more bytes.
_BITRATE_PER_CHANNEL = {_NARROWBAND: 16000, _WIDEBAND: 16000}
_STEREO_MAPPING_FAMILY = "255"  # independent mono streams; see the module docstring
_FRAME_S = 0.02  # 20 ms: Opus's default frame, so the encoder need not re-chunk


class Sink(Protocol):
    """Where the Ogg bytes go: only ``write`` is used, so a write-only stream is enough."""

    def write(self, data: bytes, /) -> object: ...


class WriteOnly:
    """Show PyAV only ``write``, so it never tries to seek or tell on the caller's sink.

    The Ogg muxer writes pages in order and never seeks back, so it needs nothing more; hiding
    seek/tell keeps a sink that has them (an open file) on exactly the same path as one that
    does not (the encrypting writer).
    """

    def __init__(self, sink: Sink) -> None:
        self._sink = sink
        self.written = 0

    def write(self, data: bytes) -> int:
        self._sink.write(data)
        self.written += len(data)
        return len(data)


def _too_long(seconds: float, limit: float) -> BadInput:
    return BadInput(
        f"the call audio is at least {seconds:.0f} s long; the longest we take is {limit:.0f} s; "
        "split the recording or raise the limit in settings",
        field="audio",
    )


def output_stream(out: av.container.OutputContainer, rate: int, channels: int) -> av.AudioStream:
    layout = "stereo" if channels == 2 else "mono"
    stream = out.add_stream("libopus", rate=rate, layout=layout)
    stream.bit_rate = _BITRATE_PER_CHANNEL[rate] * channels
    options = {"application": "voip"}
    if channels == 2:
        options["mapping_family"] = _STEREO_MAPPING_FAMILY
    stream.codec_context.options = options
    return stream


def _encode_frames(
    reader: AudioReader,
    out: av.container.OutputContainer,
    stream: av.AudioStream,
    max_duration_s: float | None,
) -> int:
    """Decode, resample and encode every frame; return the samples written per channel."""
    rate = stream.codec_context.sample_rate
    resampler = av.AudioResampler(
        format="s16",
        layout=stream.codec_context.layout,
        rate=rate,
        frame_size=round(rate * _FRAME_S),
    )
    samples = 0
    for frame in itertools.chain(reader.frames(), [None]):  # None flushes the resampler
        if max_duration_s is not None and reader.decoded_s > max_duration_s:
            raise _too_long(reader.decoded_s, max_duration_s)
        for resampled in resampler.resample(frame):
            # Count time from zero in samples: input timestamps may start late (MP3 encoder
            # delay) and would shift every Ogg granule, making the file claim extra length.
            resampled.pts, resampled.time_base = samples, Fraction(1, rate)
            samples += resampled.samples
            out.mux(stream.encode(resampled))
    out.mux(stream.encode(None))
    return samples


def output_rate(info: AudioInfo) -> int:
    """The Opus rate for this input: 8 kHz stays 8 kHz, everything else becomes 16 kHz."""
    return _NARROWBAND if info.sample_rate == _NARROWBAND else _WIDEBAND


def transcode_to_opus(
    source: Path | BinaryIO,
    sink: Sink,
    *,
    max_duration_s: float | None = None,
) -> EncodedAudio:
    """Decode ``source`` once, check it, and write it to ``sink`` as Ogg Opus.

    Raises BadInput(field="audio") for anything we do not take, found from the header before a
    byte is written, or found while decoding (corruption, truncation, over ``max_duration_s``)
    after some bytes were written: on BadInput the caller must discard what the sink received.
    """
    with AudioReader(source) as reader:
        info = reader.info
        if max_duration_s is not None and (info.duration_s or 0) > max_duration_s:
            raise _too_long(info.duration_s or 0, max_duration_s)
        rate = output_rate(info)
        adapter = WriteOnly(sink)
        with av.open(adapter, mode="w", format="ogg") as out:
            stream = output_stream(out, rate, info.channels)
            samples = _encode_frames(reader, out, stream, max_duration_s)
    return EncodedAudio(
        codec="opus",
        container="ogg",
        sample_rate=rate,
        channels=info.channels,
        duration_s=samples / rate,
        input_info=info,
        channel_map=("caller", "agent") if info.channels == 2 else ("mixed",),
        bytes_written=adapter.written,
    )
