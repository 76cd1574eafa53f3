"""Time-based one-time passwords (RFC 6238): HMAC-SHA-1, 6 digits, 30-second steps, +-1 step.

These are the parameters every authenticator app supports. RFC 4226's truncation is a few
lines of ``hmac``, so no dependency is added for it. The caller keeps the last step a code was
accepted for and refuses that step and older ones, so a code seen over a shoulder or in a
proxy log cannot be used again.

At rest a secret is sealed with AES-256-GCM under its own data key, and the data key is
wrapped by the key ring (``vault.keys``, or a KMS) bound to the username, exactly as a
recording's key is: a copy of the database without the key file cannot mint codes, and a
sealed secret copied onto another user's row does not open.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from urllib.parse import quote, urlencode

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from callvault.errors import IntegrityFailure
from callvault.vault.interfaces import KeyWrapper, WrappedKey

STEP_S = 30
DIGITS = 6
# One step either side forgives a phone clock up to 30 seconds out and a slow typist.
WINDOW_STEPS = 1
# RFC 4226 recommends 160 bits; 20 bytes are exactly 32 base32 characters, with no padding
# for apps to trip over.
SECRET_BYTES = 20
ISSUER = "callvault"
_DATA_KEY_BYTES = 32
_NONCE_BYTES = 12
_AAD_PREFIX = b"callvault totp v1:"


def new_secret() -> bytes:
    return secrets.token_bytes(SECRET_BYTES)


def time_step(now: float) -> int:
    return int(now // STEP_S)


def code_for(secret: bytes, step: int) -> str:
    """The code for one time step (RFC 4226 HOTP with the step as the counter)."""
    mac = hmac.new(secret, step.to_bytes(8, "big"), hashlib.sha1).digest()
    offset = mac[-1] & 0x0F
    value = int.from_bytes(mac[offset : offset + 4], "big") & 0x7FFFFFFF
    return str(value % 10**DIGITS).zfill(DIGITS)


def matching_step(secret: bytes, code: str, now: float) -> int | None:
    """The step near ``now`` whose code is ``code`` (the latest, if two match), or None.

    Every candidate is compared, in constant time, so timing says nothing about which one
    was close.
    """
    typed = code.replace(" ", "")
    if len(typed) != DIGITS or not (typed.isascii() and typed.isdigit()):
        return None
    current = time_step(now)
    found: int | None = None
    for step in range(current - WINDOW_STEPS, current + WINDOW_STEPS + 1):
        if hmac.compare_digest(code_for(secret, step), typed):
            found = step
    return found


def base32_secret(secret: bytes) -> str:
    return base64.b32encode(secret).decode("ascii").rstrip("=")


def provisioning_uri(secret: bytes, username: str) -> str:
    """The ``otpauth://`` URI an authenticator app reads (usually from a QR code)."""
    label = quote(f"{ISSUER}:{username}", safe=":@")
    params = {
        "secret": base32_secret(secret),
        "issuer": ISSUER,
        "algorithm": "SHA1",
        "digits": DIGITS,
        "period": STEP_S,
    }
    return f"otpauth://totp/{label}?{urlencode(params)}"


@dataclass(frozen=True, slots=True)
class SealedSecret:
    """A TOTP secret as stored: the wrapped data key and the secret sealed under it."""

    kek_id: str
    key_wrapped: bytes
    secret_sealed: bytes  # nonce | ciphertext | tag


def seal(keys: KeyWrapper, username: str, secret: bytes) -> SealedSecret:
    data_key = secrets.token_bytes(_DATA_KEY_BYTES)
    aad = _aad(username)
    wrapped = keys.wrap(data_key, aad)
    nonce = secrets.token_bytes(_NONCE_BYTES)
    sealed = AESGCM(data_key).encrypt(nonce, secret, aad)
    return SealedSecret(wrapped.kek_id, wrapped.blob, nonce + sealed)


def unseal(keys: KeyWrapper, username: str, sealed: SealedSecret) -> bytes:
    """The secret; IntegrityFailure if it was altered or belongs to another user."""
    aad = _aad(username)
    data_key = keys.unwrap(WrappedKey(sealed.kek_id, sealed.key_wrapped), aad)
    nonce, body = sealed.secret_sealed[:_NONCE_BYTES], sealed.secret_sealed[_NONCE_BYTES:]
    try:
        return AESGCM(data_key).decrypt(nonce, body, aad)
    except InvalidTag:
        raise IntegrityFailure(
            f"the TOTP secret of {username!r} failed authentication (altered, or copied from "
            "another user); enrol the user again with `callvault user totp`"
        ) from None


def rewrap(keys: KeyWrapper, username: str, sealed: SealedSecret) -> SealedSecret:
    """``sealed`` with its data key re-wrapped under the active KEK (for key rotation)."""
    aad = _aad(username)
    data_key = keys.unwrap(WrappedKey(sealed.kek_id, sealed.key_wrapped), aad)
    fresh = keys.wrap(data_key, aad)
    return SealedSecret(fresh.kek_id, fresh.blob, sealed.secret_sealed)


def _aad(username: str) -> bytes:
    return _AAD_PREFIX + username.encode()
