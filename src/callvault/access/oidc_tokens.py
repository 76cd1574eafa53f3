"""ID token validation (OpenID Connect Core 3.1.3.7), with a message for each way it can fail.

PyJWT checks the signature against the provider's published key; the claims are checked here
so that each failure names what was wrong, and so that the clock is the caller's (tests move
it instead of waiting for a token to expire).
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import jwt

from callvault.access.oidc_provider import KeySet
from callvault.errors import Refused

# Public-key algorithms only: "none" and HS* (a shared secret; with a public key as the secret,
# anyone could sign) are never accepted, whatever the token or the provider says.
ASYMMETRIC_ALGS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
_KEY_TYPE = {"RS": "RSA", "PS": "RSA", "ES": "EC", "Ed": "OKP"}
_RESTART = "start the sign-in again"


@dataclass(frozen=True, slots=True)
class TokenRules:
    issuer: str
    client_id: str
    allowed_algs: frozenset[str]
    leeway_s: int = 60  # clock difference tolerated between us and the provider


def check_id_token(
    id_token: str, nonce: str, rules: TokenRules, keys: KeySet, clock: Callable[[], float]
) -> dict[str, Any]:
    """The ID token's claims once signature, issuer, audience, times and nonce all hold."""
    alg, kid = _header(id_token, rules)
    claims = _verified_claims(id_token, alg, keys.find(kid))
    _check_issuer_and_audience(claims, rules)
    _check_times(claims, clock(), rules.leeway_s)
    sent = claims.get("nonce")
    if not isinstance(sent, str) or not hmac.compare_digest(sent.encode(), nonce.encode()):
        raise _refused(f"its nonce does not match this sign-in's (a replayed token?); {_RESTART}")
    if not isinstance(claims.get("sub"), str) or not claims["sub"]:
        raise _refused("it has no subject (sub)")
    return claims


def _refused(why: str) -> Refused:
    return Refused(f"the ID token was rejected: {why}", field="id_token")


def _header(id_token: str, rules: TokenRules) -> tuple[str, str | None]:
    try:
        header = jwt.get_unverified_header(id_token)
    except jwt.PyJWTError:
        raise _refused("it is not a well-formed JWT") from None
    alg = header.get("alg")
    if alg not in ASYMMETRIC_ALGS:
        raise _refused(f"it is signed with alg {alg!r}; only public-key signatures are accepted")
    if alg not in rules.allowed_algs:
        raise _refused(f"alg {alg} is not one the provider declares for ID tokens")
    kid = header.get("kid")
    return str(alg), (str(kid) if kid is not None else None)


def _verified_claims(id_token: str, alg: str, jwk: Mapping[str, Any]) -> dict[str, Any]:
    key_type = _KEY_TYPE[alg[:2]]
    if jwk.get("kty") != key_type or jwk.get("alg", alg) != alg:
        raise _refused(f"its alg {alg} does not fit the provider's key {jwk.get('kid')!r}")
    try:
        key = jwt.PyJWK(dict(jwk), algorithm=alg)
        claims: dict[str, Any] = jwt.decode(
            id_token,
            key=key,
            algorithms=[alg],
            # Claims are checked below with our clock and our messages; the signature here.
            options={
                "verify_signature": True,
                "verify_exp": False,
                "verify_nbf": False,
                "verify_iat": False,
                "verify_aud": False,
                "verify_iss": False,
            },
        )
    except jwt.InvalidSignatureError:
        raise _refused(f"its signature does not verify (altered in transit?); {_RESTART}") from None
    except jwt.PyJWTError as exc:
        raise _refused(f"it could not be verified ({type(exc).__name__})") from None
    return claims


def _check_issuer_and_audience(claims: Mapping[str, Any], rules: TokenRules) -> None:
    if claims.get("iss") != rules.issuer:
        raise _refused(f"it was issued by {claims.get('iss')!r}, not {rules.issuer!r}")
    aud = claims.get("aud")
    audiences = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
    if rules.client_id not in audiences:
        raise _refused(
            f"it was issued for another application (aud {aud!r}), not {rules.client_id!r}"
        )
    azp = claims.get("azp")
    # Core 3.1.3.7 items 4-5: with several audiences, the party it was issued to must be us.
    if (azp is not None or len(audiences) > 1) and azp != rules.client_id:
        raise _refused(f"it was issued to another party (azp {azp!r}), not {rules.client_id!r}")


def _check_times(claims: Mapping[str, Any], now: float, leeway: int) -> None:
    exp, iat, nbf = _time(claims, "exp"), _time(claims, "iat"), _time(claims, "nbf", 0)
    if now > exp + leeway:
        raise _refused(f"it expired {int(now - exp)} seconds ago; {_RESTART}")
    if iat > now + leeway or nbf > now + leeway:
        raise _refused(
            "it was issued in the future: the clocks of callvault and the sign-in provider "
            "differ; fix the server clock (NTP)"
        )


def _time(claims: Mapping[str, Any], name: str, default: int | None = None) -> float:
    value = claims.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _refused(f"its {name} is missing or not a number")
    return float(value)
