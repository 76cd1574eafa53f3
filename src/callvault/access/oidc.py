"""OpenID Connect single sign-on (Microsoft Entra ID and any certified provider): the RP side.

Authorization-code flow with PKCE (S256), ``state`` and ``nonce``. The web layer needs two
calls and one cookie:

    start = client.begin(return_to="/recordings")          # GET /auth/oidc/login
    set cookie KEPT_COOKIE = start.kept (HttpOnly, Secure, SameSite=Lax,
        Max-Age=KEPT_MAX_AGE_S, Path=/auth/oidc); redirect to start.url
    login = oidc_callback(client, request.query_params, request.cookies.get(KEPT_COOKIE))
        # GET /auth/oidc/callback; delete the cookie; open a session for login.username with
        # login.role; write login.audit into the audit entry; redirect to login.return_to

Why a cookie and not a table: see ``oidc_state``. SameSite=Lax is what lets the provider's
top-level redirect back carry the cookie while other sites' sub-requests cannot.
Tokens are used once here and dropped: never logged, stored or returned.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx

from callvault.access.oidc_config import OidcConfig, config_from_settings
from callvault.access.oidc_identity import map_identity
from callvault.access.oidc_provider import KeySet, ProviderMetadata, discover, redeem_code
from callvault.access.oidc_state import KEPT_MAX_AGE_S, KeptValues, StateSealer
from callvault.access.oidc_tokens import ASYMMETRIC_ALGS, TokenRules, check_id_token
from callvault.config import Settings
from callvault.errors import BadInput, Refused
from callvault.policy.model import Policy

__all__ = ["KEPT_COOKIE", "KEPT_MAX_AGE_S", "LoginStart", "OidcClient", "OidcLogin"]

KEPT_COOKIE = "callvault_oidc"
HTTP_TIMEOUT_S = 10.0
_RESTART = "start the sign-in again"


@dataclass(frozen=True, slots=True)
class LoginStart:
    url: str  # where to redirect the browser
    kept: str  # the sealed state, nonce and PKCE verifier: the KEPT_COOKIE cookie's value


@dataclass(frozen=True, slots=True)
class OidcLogin:
    username: str
    role: str
    return_to: str
    # For the audit entry: issuer, subject, the group that gave the role, amr; never tokens.
    audit: dict[str, Any]


class OidcClient:
    """One configured provider; safe to share between requests (discovery and keys cached)."""

    def __init__(
        self,
        config: OidcConfig,
        state_secret: bytes,
        *,
        http: httpx.Client | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self._sealer = StateSealer(state_secret)
        self._http = http or httpx.Client(timeout=HTTP_TIMEOUT_S, follow_redirects=False)
        self._clock = clock
        self._provider: tuple[ProviderMetadata, KeySet] | None = None

    def metadata(self) -> ProviderMetadata:
        """The provider's discovery document, read on first use (not at start-up, so a
        provider outage does not stop callvault serving local sign-ins)."""
        return self._discovered()[0]

    def _discovered(self) -> tuple[ProviderMetadata, KeySet]:
        if self._provider is None:
            meta = discover(self._http, self.config.issuer)
            self._provider = (meta, KeySet(self._http, meta.jwks_uri))
        return self._provider

    def begin(self, return_to: str = "/", *, login_hint: str | None = None) -> LoginStart:
        """The provider's sign-in URL and the sealed values the callback will need."""
        kept = KeptValues(
            state=secrets.token_urlsafe(32),
            nonce=secrets.token_urlsafe(32),
            verifier=secrets.token_urlsafe(64),  # 86 characters; RFC 7636 allows 43-128
            return_to=safe_return_to(return_to),
            created_at=self._clock(),
        )
        params = {
            "response_type": "code",
            "client_id": self.config.client.client_id,
            "redirect_uri": self.config.client.redirect_uri,
            "scope": self.config.scopes,
            "state": kept.state,
            "nonce": kept.nonce,
            "code_challenge": _s256(kept.verifier),
            "code_challenge_method": "S256",
        }
        if login_hint:
            params["login_hint"] = login_hint
        endpoint = self.metadata().authorization_endpoint
        joiner = "&" if "?" in endpoint else "?"
        return LoginStart(
            url=f"{endpoint}{joiner}{urlencode(params)}", kept=self._sealer.seal(kept)
        )

    def finish(self, code: str, state: str, kept: str) -> OidcLogin:
        """Redeem the code, validate the ID token and map it to a callvault user."""
        values = self._sealer.open(kept, now=self._clock())
        if not hmac.compare_digest(state.encode(), values.state.encode()):
            raise Refused(
                f"the sign-in response does not belong to this browser's sign-in (state "
                f"mismatch); {_RESTART}",
                field="state",
            )
        id_token = redeem_code(
            self._http, self.metadata().token_endpoint, self.config.client, code, values.verifier
        )
        claims = self.check_id_token(id_token, values.nonce)
        identity = map_identity(claims, self.config.identity)
        return OidcLogin(
            username=identity.username,
            role=identity.role,
            return_to=values.return_to,
            audit=audit_summary(claims, identity.group),
        )

    def check_id_token(self, id_token: str, nonce: str) -> dict[str, Any]:
        """The claims of an ID token from this provider, for this client and this nonce."""
        meta, keys = self._discovered()
        rules = TokenRules(
            issuer=self.config.issuer,
            client_id=self.config.client.client_id,
            allowed_algs=ASYMMETRIC_ALGS.intersection(meta.id_token_algs),
            leeway_s=self.config.leeway_s,
        )
        return check_id_token(id_token, nonce, rules, keys, self._clock)

    def check_callback_issuer(self, query: Mapping[str, str]) -> None:
        """RFC 9207: a provider that says it sends ``iss`` must send ours (mix-up defence)."""
        iss = query.get("iss")
        if iss is None and not self.metadata().iss_parameter:
            return
        if iss != self.config.issuer:
            raise Refused(
                f"the sign-in response came from {iss!r}, not {self.config.issuer!r}; {_RESTART}",
                field="iss",
            )


def oidc_callback(client: OidcClient, query: Mapping[str, str], kept: str | None) -> OidcLogin:
    """The whole callback for the web layer: the provider's query and the kept cookie in,
    the user out; any other outcome is Refused/BadInput with the reason and the fix."""
    if not kept:
        raise Refused(
            "no sign-in is in progress in this browser (its sign-in cookie expired or cookies "
            f"are blocked); {_RESTART}",
            field="kept",
        )
    if "error" in query:
        # The description is the provider's text: shortened, and shown only as text.
        said = str(query.get("error_description", "")).strip()[:200]
        raise Refused(
            f"the sign-in provider ended the sign-in: {query['error'][:64]}"
            + (f" ({said})" if said else ""),
            field="error",
        )
    client.check_callback_issuer(query)
    code, state = query.get("code"), query.get("state")
    if not code or not state:
        raise BadInput("the sign-in response lacks its code or state; " + _RESTART, "code")
    return client.finish(code, state, kept)


def oidc_client(
    settings: Settings,
    policy: Policy,
    *,
    state_secret: bytes | None = None,
    http: httpx.Client | None = None,
) -> OidcClient | None:
    """The configured client, or None when SSO is off (``oidc_issuer`` empty).

    ``state_secret`` keys the sign-in cookie; by default it is derived from the client secret
    (a long random value only callvault and the provider know), so no extra secret is needed.
    """
    config = config_from_settings(settings, policy)
    if config is None:
        return None
    secret = state_secret or config.client.client_secret.encode()
    return OidcClient(config, secret, http=http)


def safe_return_to(path: str) -> str:
    """A local path only: sending the browser anywhere else would make us an open redirect."""
    if (
        not path.startswith("/")
        or path.startswith("//")
        or "\\" in path
        or any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in path)
    ):
        raise BadInput(f"return_to must be a path on this site, got {path!r}", "return_to")
    return path


def audit_summary(claims: Mapping[str, Any], group: str) -> dict[str, Any]:
    """What the audit entry keeps of a sign-in: who vouched, for whom, how; no tokens."""
    amr = claims.get("amr")
    summary: dict[str, Any] = {
        "method": "oidc",
        "issuer": claims.get("iss"),
        "subject": claims.get("sub"),
        "group": group,
        "amr": [m for m in amr if isinstance(m, str)] if isinstance(amr, list) else [],
    }
    for optional in ("acr", "auth_time", "sid"):
        if optional in claims:
            summary[optional] = claims[optional]
    return summary


def _s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")
