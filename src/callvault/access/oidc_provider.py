"""Talking to the OpenID Provider: discovery, its signing keys (JWKS) and the token endpoint.

Responses are read for what we need and checked; tokens are returned to the caller and never
logged or put in an error message.
"""

from __future__ import annotations

import base64
import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

from callvault.errors import ConfigError, Refused

log = logging.getLogger(__name__)
AUTH_METHODS = ("client_secret_basic", "client_secret_post")
_RESTART = "start the sign-in again"


@dataclass(frozen=True, slots=True)
class ProviderMetadata:
    """The parts of ``/.well-known/openid-configuration`` a relying party uses."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    id_token_algs: tuple[str, ...]
    # RFC 9207: the provider adds ``iss`` to the callback, which defends against mix-ups.
    iss_parameter: bool


def get_json(http: httpx.Client, url: str, what: str) -> dict[str, Any]:
    """GET ``url`` as a JSON object, or ConfigError naming oidc_issuer (the likely cause)."""
    try:
        response = http.get(url, headers={"Accept": "application/json"})
        response.raise_for_status()
        body = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise ConfigError(
            f"could not read the sign-in provider's {what} at {url}: {exc}; check oidc_issuer "
            "and that callvault can reach the provider",
            field="oidc_issuer",
        ) from None
    if not isinstance(body, dict):
        raise ConfigError(f"the {what} at {url} is not a JSON object", field="oidc_issuer")
    return body


def discover(http: httpx.Client, issuer: str) -> ProviderMetadata:
    """Read the provider's metadata; its ``issuer`` must be exactly ours (OIDC Discovery 4.3)."""
    url = issuer.rstrip("/") + "/.well-known/openid-configuration"
    body = get_json(http, url, "discovery document")
    if body.get("issuer") != issuer:
        raise ConfigError(
            f"the discovery document at {url} names the issuer {body.get('issuer')!r}, not "
            f"{issuer!r}; set oidc_issuer to exactly the provider's issuer (Entra ID: "
            "https://login.microsoftonline.com/<tenant id>/v2.0)",
            field="oidc_issuer",
        )
    missing = [k for k in ("authorization_endpoint", "token_endpoint", "jwks_uri") if k not in body]
    if missing:
        raise ConfigError(f"the discovery document at {url} lacks {missing[0]}", "oidc_issuer")
    return ProviderMetadata(
        issuer=issuer,
        authorization_endpoint=str(body["authorization_endpoint"]),
        token_endpoint=str(body["token_endpoint"]),
        jwks_uri=str(body["jwks_uri"]),
        id_token_algs=tuple(body.get("id_token_signing_alg_values_supported") or ("RS256",)),
        iss_parameter=body.get("authorization_response_iss_parameter_supported") is True,
    )


class KeySet:
    """The provider's public signing keys by ``kid``, fetched once and again on an unknown kid.

    Providers rotate keys by publishing the new one before signing with it, so an unknown kid
    means our copy is stale: one refetch per lookup, never a loop.
    """

    def __init__(self, http: httpx.Client, jwks_uri: str) -> None:
        self._http, self._uri = http, jwks_uri
        self._keys: dict[str, dict[str, Any]] | None = None

    def find(self, kid: str | None) -> dict[str, Any]:
        """The JWK for ``kid`` (or the only key when the token names none)."""
        fetched_now = self._keys is None
        key = self._lookup(kid)
        if key is None and not fetched_now:
            log.info("oidc: unknown signing key %r, refetching the provider's JWKS", kid)
            self._keys = None
            key = self._lookup(kid)
        if key is None:
            raise Refused(
                f"the ID token is signed with a key ({kid!r}) the sign-in provider does not "
                f"publish; {_RESTART}",
                field="id_token",
            )
        return key

    def _lookup(self, kid: str | None) -> dict[str, Any] | None:
        if self._keys is None:
            self._keys = self._fetch()
        if kid is None:
            return next(iter(self._keys.values())) if len(self._keys) == 1 else None
        return self._keys.get(kid)

    def _fetch(self) -> dict[str, dict[str, Any]]:
        body = get_json(self._http, self._uri, "signing keys (JWKS)")
        keys = body.get("keys")
        if not isinstance(keys, list):
            raise ConfigError(f"the JWKS at {self._uri} has no keys list", "oidc_issuer")
        # Symmetric keys are never trusted from a published set, and encryption keys sign nothing.
        return {
            str(key.get("kid", "")): key
            for key in keys
            if isinstance(key, dict) and key.get("kty") != "oct" and key.get("use", "sig") == "sig"
        }


@dataclass(frozen=True, slots=True)
class ClientCredentials:
    client_id: str
    client_secret: str
    redirect_uri: str
    auth_method: str = "client_secret_basic"


def redeem_code(
    http: httpx.Client, token_endpoint: str, client: ClientCredentials, code: str, verifier: str
) -> str:
    """Exchange an authorization code (with its PKCE verifier) for the raw ID token."""
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": client.redirect_uri,
        "code_verifier": verifier,
    }
    headers = {"Accept": "application/json"}
    if client.auth_method == "client_secret_post":
        form |= {"client_id": client.client_id, "client_secret": client.client_secret}
    else:
        headers["Authorization"] = _basic(client)
    try:
        response = http.post(token_endpoint, data=form, headers=headers)
    except httpx.HTTPError as exc:
        raise ConfigError(
            f"could not reach the sign-in provider's token endpoint {token_endpoint}: {exc}",
            field="oidc_issuer",
        ) from None
    body = _json_or_empty(response)
    if response.status_code != 200:
        _raise_token_error(response.status_code, body)
    id_token = body.get("id_token")
    if not isinstance(id_token, str) or not id_token:
        raise Refused(f"the sign-in provider returned no ID token; {_RESTART}", field="id_token")
    return id_token


def _basic(client: ClientCredentials) -> str:
    # RFC 6749 2.3.1: the id and secret are form-encoded before Basic's base64 (a secret
    # with ':' or '%' would otherwise be misread).
    pair = f"{quote(client.client_id, safe='')}:{quote(client.client_secret, safe='')}"
    return "Basic " + base64.b64encode(pair.encode()).decode("ascii")


def _json_or_empty(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _raise_token_error(status: int, body: dict[str, Any]) -> None:
    error = str(body.get("error", f"HTTP {status}"))
    detail = str(body.get("error_description", "")).strip()
    said = f"{error} ({detail})" if detail else error
    if error in {"invalid_client", "unauthorized_client"}:
        raise ConfigError(
            f"the sign-in provider rejected callvault's client credentials: {said}; check "
            "oidc_client_id, the secret in oidc_client_secret_file and oidc_token_auth_method",
            field="oidc_client_secret_file",
        )
    raise Refused(f"the sign-in provider refused the sign-in code: {said}; {_RESTART}", "code")
