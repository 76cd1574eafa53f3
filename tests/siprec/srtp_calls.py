"""SRTP for the recorder tests: SDES offers, a sender that encrypts with libsrtp as a recording
client would, the stored audio."""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import pylibsrtp
from rtp_packets import rtp
from sip_offers import SDP_TWO_STREAMS
from siprec_calls import FRAME, PACKET_S
from sqlalchemy import select

from callvault.bootstrap import Services
from callvault.capture.siprec.sdp import parse_sdp
from callvault.capture.siprec.sipmsg import SipResponse
from callvault.capture.siprec.srtp import SUITES
from callvault.catalog.store import recordings
from callvault.media.decode import open_audio
from callvault.media.g711 import ulaw_encode

FloatArray = npt.NDArray[np.float64]
CALLER_KEY = bytes(range(1, 31))  # 30 bytes: AES_CM_128 key then salt
CALLEE_KEY = bytes(range(101, 131))


def inline(key: bytes) -> str:
    return base64.b64encode(key).decode()


def crypto(tag: int, suite: str, key: bytes, extra: str = "") -> str:
    """An ``a=crypto`` attribute line; ``extra`` follows the key (``|2^31``, ``|1:4`` ...)."""
    return f"a=crypto:{tag} {suite} inline:{inline(key)}{extra}"


def savp_sdp(caller: Sequence[str], callee: Sequence[str], *, profile: str = "RTP/SAVP") -> str:
    """The two-stream offer of the other tests as SRTP, with these ``a=crypto`` lines."""
    sdp = SDP_TWO_STREAMS.replace("RTP/AVP", profile)
    for label, lines in (("caller", caller), ("callee", callee)):
        sdp = sdp.replace(
            f"a=label:{label}\n", f"a=label:{label}\n" + "".join(f"{x}\n" for x in lines)
        )
    return sdp


class SrtpSender:
    """One RTP source encrypting 20 ms PCMU packets under an offered key."""

    def __init__(self, key: bytes, ssrc: int, *, suite: str = "AES_CM_128_HMAC_SHA1_80") -> None:
        policy = pylibsrtp.Policy(
            key=key,
            ssrc_type=pylibsrtp.Policy.SSRC_ANY_OUTBOUND,
            srtp_profile=SUITES[suite].profile,
        )
        self._session = pylibsrtp.Session(policy)
        self.ssrc, self.sequence = ssrc, 0

    def packet(self, payload: bytes) -> bytes:
        plain = rtp(self.sequence, self.sequence * FRAME, self.ssrc, payload)
        self.sequence += 1
        return self._session.protect(plain)


def tone_payloads(freq: float, seconds: float) -> list[bytes]:
    """PCMU payloads of 20 ms of a tone, in order."""
    count = round(seconds / PACKET_S)
    t = np.arange(count * FRAME) / 8000
    pcm = (np.sin(2 * np.pi * freq * t) * 8000).astype(np.int16)
    encoded = ulaw_encode(pcm).tobytes()
    return [encoded[i * FRAME : (i + 1) * FRAME] for i in range(count)]


def tampered(datagram: bytes) -> bytes:
    """The same packet with one payload bit flipped: SRTP authentication must refuse it."""
    flipped = bytearray(datagram)
    flipped[20] ^= 0x01
    return bytes(flipped)


def answered(ok: SipResponse) -> list[tuple[int, str, list[str]]]:
    """Each answered stream: port, profile, its ``a=crypto`` values."""
    return [(m.port, m.proto, [c.line() for c in m.crypto]) for m in parse_sdp(ok.body).media]


def stored_audio(services: Services) -> tuple[FloatArray, int]:
    """The one stored recording, decoded: (channels, samples) floats in [-1, 1], and its rate."""
    with services.engine.connect() as conn:
        (row,) = conn.execute(select(recordings)).all()
    key = services.vault.unwrap_key(services.catalog.wrapped_key(row.id), row.id)
    with open_audio(io.BytesIO(services.vault.read_all(row.blob_name, key))) as reader:
        frames = list(reader.frames())
    pcm = np.concatenate([f.to_ndarray() for f in frames], axis=1).astype(np.float64)
    return pcm, frames[0].sample_rate


def tone_level(channel: FloatArray, rate: int, freq: float) -> float:
    """How much of ``channel``'s energy lies within 20 Hz of ``freq`` (0-1)."""
    spectrum = np.abs(np.fft.rfft(channel)) ** 2
    hz = np.fft.rfftfreq(len(channel), 1 / rate)
    total = float(spectrum.sum())
    return float(spectrum[np.abs(hz - freq) < 20].sum()) / total if total else 0.0
