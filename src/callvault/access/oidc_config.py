"""The ``oidc_*`` settings checked against each other and the policy, into one ``OidcConfig``.

Checked once at start-up so that a wrong mapping or a loose secret file fails fast with the
setting named, not at someone's first sign-in.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import urlsplit

from callvault.access.oidc_identity import IdentityRules
from callvault.access.oidc_provider import AUTH_METHODS, ClientCredentials
from callvault.config import Settings
from callvault.errors import ConfigError
from callvault.policy.model import Policy
from callvault.secretfile import read_private


@dataclass(frozen=True, slots=True)
class OidcConfig:
    """Everything the relying party needs, secrets included (never printed or logged)."""

    issuer: str
    client: ClientCredentials
    identity: IdentityRules
    # profile: Entra ID sends preferred_username only with it.
    scopes: str = "openid profile"
    leeway_s: int = 60

    def __repr__(self) -> str:  # keeps the client secret out of tracebacks and logs
        return f"OidcConfig(issuer={self.issuer!r}, client_id={self.client.client_id!r})"


def config_from_settings(settings: Settings, policy: Policy) -> OidcConfig | None:
    """The SSO configuration, or None when ``oidc_issuer`` is empty (SSO off)."""
    if not settings.oidc_issuer:
        return None
    check_url(settings.oidc_issuer, "oidc_issuer")
    check_url(settings.oidc_redirect_uri, "oidc_redirect_uri")
    if not settings.oidc_client_id:
        raise ConfigError(
            "oidc_client_id is empty; set it to the application (client) id", "oidc_client_id"
        )
    if settings.oidc_token_auth_method not in AUTH_METHODS:
        raise ConfigError(
            f"oidc_token_auth_method must be one of {', '.join(AUTH_METHODS)}",
            field="oidc_token_auth_method",
        )
    client = ClientCredentials(
        client_id=settings.oidc_client_id,
        client_secret=read_client_secret(settings),
        redirect_uri=settings.oidc_redirect_uri,
        auth_method=settings.oidc_token_auth_method,
    )
    return OidcConfig(issuer=settings.oidc_issuer, client=client, identity=rules(settings, policy))


def rules(settings: Settings, policy: Policy) -> IdentityRules:
    known = {role.id for role in policy.roles}
    for group, role in settings.oidc_group_roles.items():
        if role not in known:
            raise ConfigError(
                f"oidc_group_roles maps group {group!r} to {role!r}, which is not a role in "
                f"the policy (roles: {', '.join(sorted(known))})",
                field="oidc_group_roles",
            )
    if not settings.oidc_group_roles:
        raise ConfigError(
            "oidc_group_roles is empty, so nobody could sign in; map each group id to a role",
            field="oidc_group_roles",
        )
    if not settings.oidc_mfa_amr:
        raise ConfigError('oidc_mfa_amr is empty; the usual value is ["mfa"]', "oidc_mfa_amr")
    return IdentityRules(
        group_roles=dict(settings.oidc_group_roles),
        audio_roles=frozenset(role.id for role in policy.roles if role.can_hear_audio),
        username_claim=settings.oidc_username_claim,
        username_domain=settings.oidc_username_domain,
        groups_claim=settings.oidc_groups_claim,
        mfa_amr=frozenset(settings.oidc_mfa_amr),
    )


def read_client_secret(settings: Settings) -> str:
    """The client secret from its 0600 file (a secret never sits in callvault.toml)."""
    path = settings.oidc_client_secret_file
    data, _ = read_private(path, "oidc_client_secret_file")
    try:
        secret = data.decode("utf-8").strip()
    except UnicodeDecodeError:
        secret = ""
    if not secret:
        raise ConfigError(
            f"{path} is empty or not text; put the client secret in it", "oidc_client_secret_file"
        )
    return secret


def check_url(url: str, setting: str) -> None:
    """https only, except plain http to this machine (a provider run for tests or a demo)."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return
    if parts.scheme == "http" and parts.hostname and _is_loopback(parts.hostname):
        return
    raise ConfigError(
        f"{setting} must be an https:// URL (plain http only to localhost), got {url!r}",
        field=setting,
    )


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
