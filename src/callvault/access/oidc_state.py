"""What a sign-in must remember between the redirect out and the callback, sealed for a cookie.

The state, nonce and PKCE verifier are kept by the browser, not by us: the web layer puts the
sealed value in a short-lived HttpOnly cookie (``KEPT_MAX_AGE_S``). This needs no table (and so
no migration), survives a restart and works across several web processes. The value is
encrypted with AES-256-GCM, not only signed, because the PKCE verifier and nonce are secrets:
whoever sees the cookie (a proxy log, a browser extension) must not learn them. The key is
derived with HKDF from a secret the caller passes, with a purpose label, so the same secret can
safely serve other uses. A sealed value older than ``KEPT_MAX_AGE_S`` is refused.
"""

from __future__ import annotations

import base64
import binascii
import os
import time
from dataclasses import asdict, dataclass

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from callvault.errors import ConfigError, Refused

KEPT_MAX_AGE_S = 600  # long enough to type a password and approve an MFA prompt
_LABEL = b"callvault oidc sign-in state v1"
_NONCE_BYTES = 12
_MIN_SECRET_BYTES = 16
_CLOCK_SLACK_S = 60
_RESTART = "start the sign-in again"


@dataclass(frozen=True, slots=True)
class KeptValues:
    """The per-sign-in secrets and where to go afterwards."""

    state: str
    nonce: str
    verifier: str
    return_to: str
    created_at: float


class StateSealer:
    """Seals ``KeptValues`` into an opaque cookie value and opens it again."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) < _MIN_SECRET_BYTES:
            raise ConfigError(
                f"the sign-in state secret must be at least {_MIN_SECRET_BYTES} bytes",
                field="oidc_client_secret_file",
            )
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_LABEL).derive(secret)
        self._aead = AESGCM(key)

    def seal(self, kept: KeptValues) -> str:
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, orjson.dumps(asdict(kept)), _LABEL)
        return base64.urlsafe_b64encode(nonce + sealed).decode("ascii").rstrip("=")

    def open(self, value: str, now: float | None = None) -> KeptValues:
        """The kept values, or Refused if the value was altered, is foreign or is too old."""
        try:
            raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
            plain = self._aead.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], _LABEL)
            kept = KeptValues(**orjson.loads(plain))
        except (InvalidTag, ValueError, TypeError, binascii.Error, orjson.JSONDecodeError):
            raise Refused(
                f"the sign-in cookie is not valid (altered, or from another server); {_RESTART}",
                field="kept",
            ) from None
        age = (time.time() if now is None else now) - kept.created_at
        # A little negative age is clock skew between web servers sharing the secret.
        if not -_CLOCK_SLACK_S <= age <= KEPT_MAX_AGE_S:
            raise Refused(
                f"the sign-in took longer than {KEPT_MAX_AGE_S // 60} minutes; {_RESTART}",
                field="kept",
            )
        return kept
