"""SRTP with SDES keys (RFC 4568 ``a=crypto``): which offered key to use, and decryption.

An ``RTP/SAVP`` offer carries the sender's master key in its SDP. The recorder picks the first
``a=crypto`` line it can honour in full, decrypts every packet of that stream with it (libsrtp
through ``pylibsrtp``) before the packet reaches the timeline, and answers with a key of its
own, which RFC 4568 requires although the recorder never sends. A stream with no usable line is
declined: a ``SAVP`` stream is never taken in the clear.

Keys live only in memory, for the dialog: the dataclasses here hide them from ``repr`` so a log
line or a traceback cannot carry them, and nothing here audits or stores them.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import pylibsrtp

from callvault.capture.siprec.grammar import parse_digits

# RFC 4568 §6.2 and RFC 7714 §14.2: no suite allows more than 2^48 SRTP packets under a key.
MAX_LIFETIME = 2**48
# libsrtp's replay window bounds (srtp_create refuses others); RFC 4568 §6.3.7 says >= 64.
_WINDOW = range(64, 0x8000)
# After a rekey, how long packets still sent under the old key are taken: the client switches
# once our answer reaches it, and a few packets are in flight by then.
REKEY_GRACE_S = 2.0


@dataclass(frozen=True, slots=True)
class SdesSuite:
    """A crypto suite libsrtp can decrypt, by its SDES name."""

    name: str
    profile: int  # pylibsrtp's SRTP_PROFILE_* constant
    key_length: int  # master key then master salt, in bytes


# AES_256_CM_HMAC_SHA1_80 (RFC 6188) is not here: libsrtp has no profile for it that pylibsrtp
# exposes, and SBCs offer it alongside an AES_CM_128 line anyway.
SUITES: dict[str, SdesSuite] = {
    suite.name: suite
    for suite in (
        SdesSuite("AES_CM_128_HMAC_SHA1_80", pylibsrtp.Policy.SRTP_PROFILE_AES128_CM_SHA1_80, 30),
        SdesSuite("AES_CM_128_HMAC_SHA1_32", pylibsrtp.Policy.SRTP_PROFILE_AES128_CM_SHA1_32, 30),
        SdesSuite("AEAD_AES_128_GCM", pylibsrtp.Policy.SRTP_PROFILE_AEAD_AES_128_GCM, 28),
        SdesSuite("AEAD_AES_256_GCM", pylibsrtp.Policy.SRTP_PROFILE_AEAD_AES_256_GCM, 44),
    )
}


@dataclass(frozen=True, slots=True)
class SdesCrypto:
    """An ``a=crypto`` line (RFC 4568): ``tag suite inline:key||salt[|lifetime][|MKI:len]``."""

    tag: int
    suite: str  # upper-cased ("AES_CM_128_HMAC_SHA1_80")
    key_params: str = field(repr=False)  # as written: it holds the key
    session_params: tuple[str, ...] = field(default=(), repr=False)  # FEC_KEY holds a key
    master_key: bytes | None = field(default=None, repr=False)  # key then salt; None: unreadable
    lifetime: str | None = None  # as written ("2^31")
    mki: str | None = None  # "value:length"
    key_count: int = 1  # RFC 4568 allows several keys on one line (with an MKI)

    def line(self) -> str:
        """The attribute value, as it goes after ``a=crypto:``."""
        return " ".join((str(self.tag), self.suite, self.key_params, *self.session_params))


def parse_crypto(value: str) -> SdesCrypto | None:
    """One ``a=crypto`` value, or ``None`` when it is too malformed to consider."""
    parts = value.split()
    if len(parts) < 3:
        return None
    tag = parse_digits(parts[0], max_digits=9)
    if tag is None:
        return None
    suite, key_params, session_params = parts[1].upper(), parts[2], tuple(parts[3:])
    keys = key_params.split(";")
    method, _, info = keys[0].partition(":")
    if method.lower() != "inline":
        return SdesCrypto(tag, suite, key_params, session_params, key_count=len(keys))
    key_text, *extras = info.split("|")
    try:
        master_key: bytes | None = base64.b64decode(key_text, validate=True)
    except (binascii.Error, ValueError):
        master_key = None
    return SdesCrypto(
        tag,
        suite,
        key_params,
        session_params,
        master_key=master_key,
        lifetime=next((e for e in extras if ":" not in e), None),
        mki=next((e for e in extras if ":" in e), None),
        key_count=len(keys),
    )


def lifetime_packets(lifetime: str | None) -> int | None:
    """Packets allowed under a key, from ``2^31`` or ``1048576``; ``None`` if unreadable."""
    if lifetime is None:
        return MAX_LIFETIME
    if lifetime.startswith("2^"):
        exponent = parse_digits(lifetime[2:], max_digits=2)
        return None if exponent is None else 2**exponent
    return parse_digits(lifetime, max_digits=15)


def window_hint(crypto: SdesCrypto) -> int | None:
    """The replay window asked for with ``WSH=n``: ``None`` without one (libsrtp's default,
    128), ``0`` when unreadable."""
    for param in crypto.session_params:
        name, _, value = param.partition("=")
        if name.upper() == "WSH":
            return parse_digits(value, max_digits=5) or 0
    return None


# Session parameters the recorder honours: a window size hint is applied, and SRTCP is never
# read, so whether it would be encrypted does not matter. KDR, UNENCRYPTED_SRTP,
# UNAUTHENTICATED_SRTP and FEC are not supported by libsrtp's profiles: such a line is passed over.
_HONOURED_PARAMS = frozenset({"WSH", "UNENCRYPTED_SRTCP"})


def unusable_because(crypto: SdesCrypto) -> str | None:
    """Why the recorder cannot honour this line, naming no key material; ``None`` if it can."""
    suite = SUITES.get(crypto.suite)
    if suite is None:
        return f"suite {crypto.suite[:40]} is not supported"
    return _key_problem(crypto, suite) or _parameter_problem(crypto)


def _key_problem(crypto: SdesCrypto, suite: SdesSuite) -> str | None:
    if not crypto.key_params.lower().startswith("inline:"):
        return "the key is not given inline"
    if crypto.master_key is None:
        return "the key is not base64"
    if len(crypto.master_key) != suite.key_length:
        return f"the key and salt are {len(crypto.master_key)} bytes, not {suite.key_length}"
    if crypto.key_count != 1 or crypto.mki is not None:
        return "keys with an MKI are not supported"
    return None


def _parameter_problem(crypto: SdesCrypto) -> str | None:
    allowed = lifetime_packets(crypto.lifetime)
    if allowed is None or not 0 < allowed <= MAX_LIFETIME:
        return f"lifetime {(crypto.lifetime or '')[:20]} cannot be honoured"
    names = [param.partition("=")[0].upper() for param in crypto.session_params]
    unsupported = [name for name in names if name not in _HONOURED_PARAMS]
    if unsupported:
        return f"session parameter {unsupported[0][:30]} is not supported"
    hint = window_hint(crypto)
    if hint is not None and hint not in _WINDOW:
        return "the window size hint (WSH) is not 64-32767"
    return None


def pick_crypto(offered: Sequence[SdesCrypto]) -> tuple[SdesCrypto | None, str]:
    """The first line the recorder can honour, in the offer's order (RFC 4568 §7.1.2);
    without one, why each was passed over (for the decline's reason)."""
    reasons: list[str] = []
    for crypto in offered:
        why = unusable_because(crypto)
        if why is None:
            return crypto, ""
        reasons.append(f"tag {crypto.tag}: {why}")
    if not reasons:
        return None, "no a=crypto line offered"
    return None, "no usable a=crypto line (" + "; ".join(reasons) + ")"


def new_master_key(suite: str) -> bytes:
    """A random master key and salt of the length ``suite`` needs (KeyError if unsupported)."""
    return os.urandom(SUITES[suite.upper()].key_length)


def answer_crypto(offered: SdesCrypto, master_key: bytes) -> SdesCrypto:
    """The answer's line: the offered tag and suite with the recorder's own key (§7.1.3)."""
    length = SUITES[offered.suite].key_length
    if len(master_key) != length:
        raise ValueError(f"SRTP key source gave {len(master_key)} bytes for {offered.suite}")
    inline = "inline:" + base64.b64encode(master_key).decode()
    return SdesCrypto(offered.tag, offered.suite, inline, master_key=master_key)


class _Context:
    """One key's libsrtp session: decrypts every SSRC the client sends (re-anchoring SBCs)."""

    def __init__(self, crypto: SdesCrypto) -> None:
        assert crypto.master_key is not None  # checked by unusable_because
        policy = pylibsrtp.Policy(
            key=crypto.master_key,
            ssrc_type=pylibsrtp.Policy.SSRC_ANY_INBOUND,
            srtp_profile=SUITES[crypto.suite].profile,
        )
        window = window_hint(crypto)
        if window is not None:
            policy.window_size = window
        self.session = pylibsrtp.Session(policy)
        self.identity = (crypto.suite, crypto.master_key, crypto.lifetime, window)
        self.packets_left = lifetime_packets(crypto.lifetime) or 0


# RFC 5761 §4: a second byte of 192-223 is RTCP (multiplexed on the RTP port), which the
# recorder does not read, encrypted or not.
_RTCP_TYPES = range(192, 224)
_REASONS = ("authentication", "replay")


class SrtpStream:
    """What one received stream lets through: plain RTP, SRTP under the offered key, or nothing.

    ``open`` returns the RTP packet to place on the timeline, or ``None`` for a packet dropped
    and counted in ``dropped`` by reason: ``authentication``, ``replay``, ``key-expired``
    (past the offer's lifetime), ``rtcp``, ``malformed``, ``declined``.
    """

    def __init__(self) -> None:
        self._context: _Context | None = None
        self._previous: _Context | None = None  # the key before a rekey, for packets in flight
        self._previous_until = 0.0
        self._declined = False
        self.dropped: Counter[str] = Counter()

    @property
    def encrypted(self) -> bool:
        return self._context is not None

    def use(self, crypto: SdesCrypto | None, now: float) -> None:
        """Take what the latest answer agreed: the offered key (``None``: plain RTP/AVP).

        The same key keeps its libsrtp session (and its replay window); a new key starts a new
        one, and the old is still tried for ``REKEY_GRACE_S`` for packets already on the way.
        """
        self._declined = False
        if crypto is None:
            self._context = self._previous = None
            return
        current = self._context
        if current is not None and current.identity == _identity(crypto):
            return
        self._previous, self._previous_until = current, now + REKEY_GRACE_S
        self._context = _Context(crypto)

    def decline(self) -> None:
        """An ``RTP/SAVP`` stream the answer declined: nothing from it is taken, in the clear
        or under an earlier key."""
        self._declined = True
        self._context = self._previous = None

    def open(self, datagram: bytes, arrival: float) -> bytes | None:
        if self._declined:
            self.dropped["declined"] += 1
            return None
        context = self._context
        if context is None:
            return datagram
        if len(datagram) > 1 and datagram[1] in _RTCP_TYPES:
            self.dropped["rtcp"] += 1
            return None
        previous = self._previous
        if previous is not None and arrival > self._previous_until:
            previous = self._previous = None
        packet, why = _unprotect(context, datagram)
        if packet is None and previous is not None:
            packet, _ = _unprotect(previous, datagram)
        if packet is None:
            self.dropped[why] += 1
        return packet

    def close(self) -> None:
        """Forget the keys (the libsrtp sessions hold the only copies) and take nothing more:
        a stream that was SRTP must not turn into plain RTP."""
        self.decline()


def _identity(crypto: SdesCrypto) -> tuple[str, bytes | None, str | None, int | None]:
    return (crypto.suite, crypto.master_key, crypto.lifetime, window_hint(crypto))


def _unprotect(context: _Context, datagram: bytes) -> tuple[bytes | None, str]:
    if context.packets_left <= 0:
        return None, "key-expired"
    try:
        packet = context.session.unprotect(datagram)
    except pylibsrtp.Error as error:
        # pylibsrtp says which check failed only in the message ("authentication failure",
        # "replay check failed (bad index)"); anything else is a packet libsrtp cannot read.
        text = str(error)
        return None, next((reason for reason in _REASONS if reason in text), "malformed")
    except ValueError:  # longer than libsrtp's 1500-byte buffer: no RTP audio packet is
        return None, "malformed"
    context.packets_left -= 1
    return packet, ""
