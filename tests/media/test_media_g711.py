import io

import av
import numpy as np
import pytest

from callvault.media import g711

ALL_CODES = np.arange(256, dtype=np.uint8)
ALL_SAMPLES = np.arange(-32768, 32768).astype(np.int16)


def test_known_values() -> None:
    assert g711.ULAW_DECODE[0xFF] == 0
    assert g711.ULAW_DECODE[0x00] == -32124
    assert g711.ULAW_DECODE[0x80] == 32124
    assert g711.ALAW_DECODE[0xD5] == 8
    assert g711.ALAW_DECODE[0x55] == -8
    assert g711.ALAW_DECODE[0xAA] == 32256
    assert g711.ulaw_encode(np.array([0], np.int16))[0] == 0xFF
    assert g711.alaw_encode(np.array([0], np.int16))[0] == 0xD5


def _ffmpeg_decode(codec: str) -> np.ndarray:
    """FFmpeg's reading of all 256 codes, as a reference for our tables."""
    buf = io.BytesIO()
    with av.open(buf, "w", format="wav") as out:
        stream = out.add_stream(codec, rate=8000, layout="mono")
        assert isinstance(stream, av.AudioStream)  # codec is a str: the stub cannot tell
        frame = av.AudioFrame.from_ndarray(
            (g711.ULAW_DECODE if codec == "pcm_mulaw" else g711.ALAW_DECODE)[ALL_CODES][None],
            format="s16",
            layout="mono",
        )
        frame.sample_rate = 8000
        out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    # Rewrite the data chunk with every code, then let FFmpeg decode it.
    data = bytearray(buf.getvalue())
    data[-256:] = ALL_CODES.tobytes()
    with av.open(io.BytesIO(bytes(data)), "r") as src:
        return np.concatenate([f.to_ndarray()[0] for f in src.decode(audio=0)])


@pytest.mark.parametrize(("codec", "table"), [("pcm_mulaw", "ULAW"), ("pcm_alaw", "ALAW")])
def test_decode_tables_match_ffmpeg(codec: str, table: str) -> None:
    ours = getattr(g711, f"{table}_DECODE")
    assert np.array_equal(_ffmpeg_decode(codec), ours)


def test_codes_survive_decode_encode() -> None:
    ulaw = g711.ulaw_encode(g711.ulaw_decode(ALL_CODES))
    alaw = g711.alaw_encode(g711.alaw_decode(ALL_CODES))
    # 0x7F is µ-law's "negative zero": it decodes to 0, which encodes as 0xFF.
    assert np.array_equal(ulaw[ALL_CODES != 0x7F], ALL_CODES[ALL_CODES != 0x7F])
    assert np.array_equal(alaw, ALL_CODES)


@pytest.mark.parametrize("law", ["ulaw", "alaw"])
def test_round_trip_error_is_within_half_a_step(law: str) -> None:
    encode, decode = getattr(g711, f"{law}_encode"), getattr(g711, f"{law}_decode")
    back = decode(encode(ALL_SAMPLES)).astype(np.int32)
    x = ALL_SAMPLES.astype(np.int32)
    error = np.abs(back - x)
    # Companding keeps about 5% relative error above the smallest segment and a small absolute
    # error below it; only the clipped extremes (beyond ±32124 / ±32256) exceed that.
    unclipped = np.abs(x) < 32000
    assert np.all(error[unclipped] <= np.maximum(np.abs(x[unclipped]) * 0.05, 16))
    assert error.max() <= 644
    assert np.all(np.sign(back[np.abs(x) > 16]) == np.sign(x[np.abs(x) > 16]))


def test_shapes_and_inputs() -> None:
    block = np.zeros((2, 160), np.int16)
    assert g711.ulaw_encode(block).shape == (2, 160)
    assert g711.alaw_decode(b"\xd5" * 160).dtype == np.int16
    assert g711.ulaw_decode(bytearray(b"\xff\x00")).tolist() == [0, -32124]
    with pytest.raises(ValueError, match="read-only"):
        g711.ULAW_DECODE[0] = 1


def test_random_stream_is_stored_unchanged() -> None:
    # A µ-law stream decoded by our table and re-encoded is byte-identical: the SIPREC receiver
    # can keep what it decoded without changing a code.
    codes = np.random.default_rng(0).integers(0, 256, 8000, dtype=np.uint8)
    codes[codes == 0x7F] = 0xFF
    assert np.array_equal(g711.ulaw_encode(g711.ulaw_decode(codes)), codes)
