"""What media tells the rest of callvault about a recording's audio."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AudioInfo:
    """The audio as its file declares it, read from the header without decoding.

    ``duration_s`` is what the header claims (WAV data chunk, FLAC STREAMINFO, MP3 Xing tag, Ogg
    last granule); None where the format does not say. ``sample_rate`` is the source rate; for
    Ogg Opus that is the input rate recorded in the OpusHead (the codec itself always runs at
    48 kHz).
    """

    container: str
    codec: str
    sample_rate: int
    channels: int
    duration_s: float | None


@dataclass(frozen=True)
class EncodedAudio:
    """The Ogg Opus that transcode_to_opus wrote, and the input it came from.

    ``channel_map`` names what each channel holds: ``("caller", "agent")`` for two-channel input
    (channel 0 is the caller, as PBXs that record stereo deliver it), ``("mixed",)`` for mono.
    """

    codec: str
    container: str
    sample_rate: int
    channels: int
    duration_s: float
    input_info: AudioInfo
    channel_map: tuple[str, ...]
    bytes_written: int
