import io
from pathlib import Path

import av
import numpy as np
import pytest

from audiofixtures import FORMATS, call_blocks, make_call_audio
from callvault.errors import BadInput
from callvault.media.decode import decode_to_pcm, open_audio, probe
from callvault.media.encode import transcode_to_opus

# name in make_bad_files → what the message must say (the problem or the fix)
BAD = {
    "empty": "empty (0 bytes)",
    "text": "not audio",
    "truncated": "breaks off at 1.20 s",
    "rate_44k": "must be 8 or 16 kHz",
    "rate_4k": "must be 8 or 16 kHz",
    "three_channels": "mono or two channels",
    "pcm24": "16-bit PCM, µ-law or A-law",
    "float32": "16-bit PCM, µ-law or A-law",
    "zero_samples": "no samples",
    "photo": "no audio",
    "video_only": "no audio",
}
# Found from the header alone, so probe refuses them before any decoding.
HEADER_ONLY = set(BAD) - {"truncated"}


class NullSink:
    def write(self, data: bytes) -> int:
        return len(data)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("channels", [1, 2])
def test_probe_accepted_formats(tmp_path: Path, fmt: str, channels: int) -> None:
    path = make_call_audio(tmp_path / f"call.{fmt}", fmt=fmt, channels=channels)
    info = probe(path)
    assert (info.sample_rate, info.channels) == (8000, channels)
    assert info.duration_s == pytest.approx(3.0, abs=0.01)
    assert info.container == {"mp3": "mp3", "flac": "flac", "opus": "ogg"}.get(fmt, "wav")


def test_probe_16k_and_mp3_44k(tmp_path: Path) -> None:
    assert probe(make_call_audio(tmp_path / "a.flac", fmt="flac", rate=16000)).sample_rate == 16000
    info = probe(make_call_audio(tmp_path / "b.mp3", fmt="mp3", rate=44100, seconds=0.5))
    assert (info.codec, info.sample_rate) == ("mp3", 44100)


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_files_are_refused_on_ingest(bad_files: dict[str, Path], name: str) -> None:
    with pytest.raises(BadInput) as caught:
        transcode_to_opus(bad_files[name], NullSink())
    assert caught.value.field == "audio"
    assert BAD[name] in caught.value.message


@pytest.mark.parametrize("name", sorted(HEADER_ONLY))
def test_probe_refuses_from_the_header(bad_files: dict[str, Path], name: str) -> None:
    with pytest.raises(BadInput, match="; ") as caught:
        probe(bad_files[name])
    assert caught.value.field == "audio"


def test_truncated_wav_header_claim_is_reported(bad_files: dict[str, Path]) -> None:
    assert probe(bad_files["truncated"]).duration_s == pytest.approx(3.0)


def test_96k_flac_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "hi.flac"
    with av.open(str(path), "w", format="flac") as out:
        stream = out.add_stream("flac", rate=96000, layout="mono")
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 9600), np.int16), format="s16")
        frame.sample_rate = 96000
        out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    with pytest.raises(BadInput, match="96000 Hz; FLAC audio must be 8 or 16 kHz"):
        probe(path)


def _damage_middle(path: Path) -> Path:
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 2000] = (
        np.random.default_rng(0).integers(0, 256, 2000, np.uint8).tobytes()
    )
    path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize(
    ("fmt", "said"),
    [("mp3", r"corrupt at 1\.\d\d s"), ("flac", "breaks off at"), ("opus", "breaks off at")],
)
def test_corrupt_streams_are_refused_naming_the_second(tmp_path: Path, fmt: str, said: str) -> None:
    path = _damage_middle(make_call_audio(tmp_path / f"call.{fmt}", fmt=fmt))
    with pytest.raises(BadInput, match=said) as caught:
        transcode_to_opus(path, NullSink())
    assert caught.value.field == "audio"


def test_wav_decodes_sample_exact(tmp_path: Path) -> None:
    path = make_call_audio(tmp_path / "call.wav", seconds=2.0)
    pcm, rate = decode_to_pcm(path)
    expected = np.concatenate(list(call_blocks(rate=8000, channels=2, seconds=2.0)), axis=1)
    assert rate == 8000
    assert pcm.dtype == np.int16
    assert np.array_equal(pcm, expected)


def test_sources_as_file_objects(tmp_path: Path) -> None:
    data = make_call_audio(tmp_path / "call.wav").read_bytes()
    seekable = io.BytesIO(data)
    seekable.seek(0)
    assert probe(seekable).channels == 2
    assert seekable.tell() == 0  # probe leaves a seekable source where it was

    class Pipe:  # read() only: a socket or stdin
        def __init__(self) -> None:
            self._inner = io.BytesIO(data)

        def read(self, size: int = -1) -> bytes:
            return self._inner.read(size)

    encoded = transcode_to_opus(Pipe(), NullSink())  # type: ignore[arg-type]
    assert encoded.duration_s == pytest.approx(3.0)
    assert decode_to_pcm(data)[0].shape == (2, 24000)


def test_reader_decodes_once_as_a_stream(tmp_path: Path) -> None:
    path = make_call_audio(tmp_path / "call.wav", seconds=30.0)
    with open_audio(path) as reader:
        sizes = [frame.samples for frame in reader.frames()]
    assert sum(sizes) == 240000
    assert max(sizes) < 8000  # frames, not the whole call
