"""OIDC single sign-on against a real OpenID Provider (npm's oidc-provider), never a mock.

One provider per test session (per xdist worker); each test signs in through it with the
account its ``login_hint`` names (see tests/oidc/provider.mjs) and checks what callvault makes
of the result. Tokens are attacked by editing real ones the provider issued.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from callvault.access.oidc import (
    OidcClient,
    OidcLogin,
    oidc_callback,
    oidc_client,
)
from callvault.access.oidc_config import OidcConfig
from callvault.access.oidc_identity import IdentityRules
from callvault.access.oidc_provider import ClientCredentials, redeem_code
from callvault.access.oidc_state import KEPT_MAX_AGE_S, StateSealer
from callvault.config import load_settings
from callvault.errors import BadInput, ConfigError, Refused
from callvault.policy.model import Policy
from oidc.oidc_op import RunningProvider, complete_login, start_provider

REDIRECT = "http://127.0.0.1:9/auth/oidc/callback"  # never contacted: the test stops there
STATE_SECRET = b"test state secret, 32 bytes long!"
SECRET = "s3cret-for-callvault-tests-0123456789abcdefghij"
# Group object ids as Entra ID sends them.
G_TEAM = "6f1c2f5e-2c1a-4c8e-9a41-1d2f3a4b5c61"
G_TEAM_2 = "0b6e4e0c-9c1e-4d6b-8f0a-2a7d9c1b3e52"
G_ADVISOR = "b2a1c3d4-0e5f-4a6b-9c7d-8e9f0a1b2c33"
G_DPO = "c9d8e7f6-5a4b-4c3d-8e2f-1a0b9c8d7e64"
G_OTHER = "11111111-2222-4333-8444-555555555555"
GROUP_ROLES = {G_TEAM: "team_leader", G_TEAM_2: "team_leader", G_ADVISOR: "advisor", G_DPO: "dpo"}
MFA = ["pwd", "mfa"]

CLIENTS = [
    {  # callvault as usually registered: HTTP Basic at the token endpoint, RS256 ID tokens
        "client_id": "callvault",
        "client_secret": SECRET,
        "redirect_uris": [REDIRECT],
        "token_endpoint_auth_method": "client_secret_basic",
    },
    {  # the other method and algorithm callvault supports
        "client_id": "callvault-es",
        "client_secret": SECRET,
        "redirect_uris": [REDIRECT],
        "token_endpoint_auth_method": "client_secret_post",
        "id_token_signed_response_alg": "ES256",
    },
    {  # another application at the same provider (its tokens are not for callvault)
        "client_id": "other-app",
        "client_secret": SECRET,
        "redirect_uris": [REDIRECT],
    },
]


def _account(name: str, groups: list[str], amr: list[str] = MFA, **claims: Any) -> dict[str, Any]:
    claims.setdefault("preferred_username", f"{name}@council.example")
    return {"amr": amr, "claims": {"groups": groups, **claims}}


ACCOUNTS = {
    "alice": _account("alice", [G_TEAM, G_OTHER], preferred_username="Alice@Council.Example"),
    "adam": _account("adam", [G_ADVISOR], amr=["pwd"]),
    "lena": _account("lena", [G_TEAM], amr=["pwd"]),
    "tess": _account("tess", [G_TEAM, G_TEAM_2]),
    "nora": _account("nora", [G_OTHER]),
    "dual": _account("dual", [G_TEAM, G_DPO]),
    "bad": _account("bad", [G_TEAM], preferred_username="9lives@council.example"),
    "mallory": _account("mallory", [G_TEAM], preferred_username="mallory@elsewhere.example"),
    "overage": {
        "amr": MFA,
        "claims": {
            "preferred_username": "olga@council.example",
            "_claim_names": {"groups": "src1"},
            "_claim_sources": {"src1": {"endpoint": "https://graph.example/getMemberObjects"}},
        },
    },
}


@pytest.fixture(scope="session")
def provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningProvider]:
    running = start_provider(tmp_path_factory.mktemp("oidc"), CLIENTS, ACCOUNTS)
    yield running
    running.stop()


def _config(
    issuer: str, policy: Policy, client_id: str = "callvault", method: str = "client_secret_basic"
) -> OidcConfig:
    identity = IdentityRules(
        group_roles=GROUP_ROLES,
        audio_roles=frozenset(role.id for role in policy.roles if role.can_hear_audio),
        username_domain="council.example",
    )
    credentials = ClientCredentials(client_id, SECRET, REDIRECT, method)
    return OidcConfig(issuer=issuer, client=credentials, identity=identity)


@pytest.fixture
def client(provider: RunningProvider, example: Policy) -> OidcClient:
    return OidcClient(_config(provider.issuer, example), STATE_SECRET)


def _sign_in(client: OidcClient, who: str, return_to: str = "/") -> OidcLogin:
    start = client.begin(return_to, login_hint=who)
    return oidc_callback(client, complete_login(start.url, REDIRECT), start.kept)


def _id_token(client: OidcClient, who: str) -> tuple[str, str]:
    """A real ID token the provider issued to ``client`` for ``who``, and its nonce."""
    start = client.begin(login_hint=who)
    params = complete_login(start.url, REDIRECT)
    kept = StateSealer(STATE_SECRET).open(start.kept)
    meta = client.metadata()
    with httpx.Client() as http:
        token = redeem_code(
            http, meta.token_endpoint, client.config.client, params["code"], kept.verifier
        )
    return token, kept.nonce


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _parts(token: str) -> tuple[dict[str, Any], dict[str, Any], str]:
    header, payload, signature = token.split(".")
    return json.loads(_unb64(header)), json.loads(_unb64(payload)), signature


def _join(header: dict[str, Any], payload: dict[str, Any], signature: str) -> str:
    return f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(payload).encode())}.{signature}"


# --- whole sign-ins ---------------------------------------------------------------------


def test_full_sign_in_gives_username_role_and_audit_without_tokens(client: OidcClient) -> None:
    login = _sign_in(client, "alice", return_to="/recordings?page=2")
    assert (login.username, login.role, login.return_to) == (
        "alice",
        "team_leader",
        "/recordings?page=2",
    )
    assert login.audit["issuer"] == client.config.issuer
    assert login.audit["subject"] == "alice"
    assert login.audit["group"] == G_TEAM
    assert "mfa" in login.audit["amr"]
    assert "eyJ" not in json.dumps(login.audit)  # no JWT (header, token) anywhere


def test_es256_id_tokens_and_client_secret_post(provider: RunningProvider, example: Policy) -> None:
    config = _config(provider.issuer, example, "callvault-es", "client_secret_post")
    login = _sign_in(OidcClient(config, STATE_SECRET), "adam")
    assert (login.username, login.role) == ("adam", "advisor")  # no audio, so no MFA needed


def test_two_groups_for_the_same_role_are_not_ambiguous(client: OidcClient) -> None:
    login = _sign_in(client, "tess")
    assert (login.role, login.audit["group"]) == ("team_leader", min(G_TEAM, G_TEAM_2))


# --- the callback's own checks --------------------------------------------------------


def test_state_mismatch_is_refused(client: OidcClient) -> None:
    start = client.begin(login_hint="alice")
    params = complete_login(start.url, REDIRECT)
    with pytest.raises(Refused, match="state mismatch") as caught:
        oidc_callback(client, {**params, "state": "forged"}, start.kept)
    assert caught.value.field == "state"


def test_code_redeemed_with_another_sign_ins_cookie_fails_pkce(client: OidcClient) -> None:
    first, second = client.begin(login_hint="alice"), client.begin(login_hint="alice")
    code = complete_login(first.url, REDIRECT)["code"]
    state = complete_login(second.url, REDIRECT)["state"]
    with pytest.raises(Refused, match="invalid_grant"):
        client.finish(code, state, second.kept)


def test_a_code_works_once(client: OidcClient) -> None:
    start = client.begin(login_hint="alice")
    params = complete_login(start.url, REDIRECT)
    oidc_callback(client, params, start.kept)
    with pytest.raises(Refused, match="invalid_grant"):
        oidc_callback(client, params, start.kept)


def test_missing_altered_or_stale_cookie_is_refused(client: OidcClient) -> None:
    start = client.begin(login_hint="alice")
    params = complete_login(start.url, REDIRECT)
    with pytest.raises(Refused, match="no sign-in is in progress"):
        oidc_callback(client, params, None)
    altered = start.kept[:-2] + ("AA" if start.kept[-2:] != "AA" else "BB")
    with pytest.raises(Refused, match="altered"):
        oidc_callback(client, params, altered)
    late = OidcClient(client.config, STATE_SECRET, clock=lambda: time.time() + KEPT_MAX_AGE_S + 5)
    with pytest.raises(Refused, match="longer than 10 minutes"):
        oidc_callback(late, params, start.kept)


def test_provider_error_and_foreign_issuer_are_refused(client: OidcClient) -> None:
    start = client.begin(login_hint="nobody")
    params = complete_login(start.url, REDIRECT)
    with pytest.raises(Refused, match=r"access_denied \(no such test account\)"):
        oidc_callback(client, params, start.kept)
    with pytest.raises(Refused, match=r"came from 'https://evil\.example'"):
        oidc_callback(client, {"code": "c", "state": "s", "iss": "https://evil.example"}, "k")


def test_return_to_must_stay_on_this_site(client: OidcClient) -> None:
    for target in ("//evil.example/", "https://evil.example/", "/\\evil.example", "/a\r\nb"):
        with pytest.raises(BadInput):
            client.begin(target)


# --- the ID token -----------------------------------------------------------------------


def test_replayed_id_token_fails_the_nonce_check(client: OidcClient) -> None:
    token, nonce = _id_token(client, "alice")
    assert client.check_id_token(token, nonce)["sub"] == "alice"
    _, other_nonce = _id_token(client, "alice")
    with pytest.raises(Refused, match="nonce does not match"):
        client.check_id_token(token, other_nonce)


def test_altered_id_token_fails_the_signature(client: OidcClient) -> None:
    token, nonce = _id_token(client, "adam")
    header, payload, signature = _parts(token)
    payload["groups"] = [G_DPO]  # promote oneself
    with pytest.raises(Refused, match="signature does not verify"):
        client.check_id_token(_join(header, payload, signature), nonce)


def test_alg_none_and_hs256_with_the_public_key_are_refused(client: OidcClient) -> None:
    token, nonce = _id_token(client, "alice")
    header, payload, _ = _parts(token)
    with pytest.raises(Refused, match="alg 'none'"):
        client.check_id_token(_join({**header, "alg": "none"}, payload, ""), nonce)
    jwks = httpx.get(f"{client.config.issuer}/jwks").json()["keys"]
    public = jwt.PyJWK(next(k for k in jwks if k["kid"] == header["kid"])).key
    pem = public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    unsigned = _join({**header, "alg": "HS256"}, payload, "").rstrip(".")
    forged = unsigned + "." + _b64(hmac.new(pem, unsigned.encode(), hashlib.sha256).digest())
    with pytest.raises(Refused, match="alg 'HS256'"):
        client.check_id_token(forged, nonce)


def test_unknown_key_is_refetched_once_then_refused(
    provider: RunningProvider, example: Policy
) -> None:
    fetches: list[str] = []
    http = httpx.Client(event_hooks={"request": [lambda r: fetches.append(r.url.path)]})
    client = OidcClient(_config(provider.issuer, example), STATE_SECRET, http=http)
    token, nonce = _id_token(client, "alice")
    client.check_id_token(token, nonce)
    assert fetches.count("/jwks") == 1  # cached after the first use
    _, payload, _ = _parts(token)
    rogue = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = jwt.encode(payload, rogue, algorithm="RS256", headers={"kid": "rogue"})
    with pytest.raises(Refused, match="does not publish"):
        client.check_id_token(forged, nonce)
    assert fetches.count("/jwks") == 2


def test_token_for_another_application_is_refused(
    provider: RunningProvider, example: Policy, client: OidcClient
) -> None:
    other = OidcClient(_config(provider.issuer, example, "other-app"), STATE_SECRET)
    token, nonce = _id_token(other, "alice")
    with pytest.raises(Refused, match=r"issued for another application \(aud 'other-app'\)"):
        client.check_id_token(token, nonce)


def test_expired_and_future_tokens_are_refused(client: OidcClient) -> None:
    token, nonce = _id_token(client, "alice")
    later = OidcClient(client.config, STATE_SECRET, clock=lambda: time.time() + 7200)
    with pytest.raises(Refused, match="expired"):
        later.check_id_token(token, nonce)
    earlier = OidcClient(client.config, STATE_SECRET, clock=lambda: time.time() - 3600)
    with pytest.raises(Refused, match="issued in the future"):
        earlier.check_id_token(token, nonce)


def test_discovery_must_name_the_configured_issuer(
    provider: RunningProvider, example: Policy
) -> None:
    moved = provider.issuer.replace("127.0.0.1", "localhost")
    client = OidcClient(_config(moved, example), STATE_SECRET)
    with pytest.raises(ConfigError, match="names the issuer") as caught:
        client.begin()
    assert caught.value.field == "oidc_issuer"


# --- from claims to a callvault user ----------------------------------------------------


@pytest.mark.parametrize(
    ("who", "message"),
    [
        ("nora", "none of your 1 groups is mapped to a callvault role"),
        ("dual", f"more than one callvault role .{G_TEAM} -> team_leader, {G_DPO} -> dpo"),
        ("lena", r"team_leader can hear recordings.*\[pwd\].*Conditional Access"),
        ("bad", "'9lives@council.example' is not a valid callvault username"),
        ("mallory", "not an address at council.example"),
        ("overage", "too many groups"),
    ],
)
def test_sign_in_refused_with_the_reason(client: OidcClient, who: str, message: str) -> None:
    with pytest.raises(Refused, match=message):
        _sign_in(client, who)


# --- settings ---------------------------------------------------------------------------


def test_settings_from_toml_and_environment(
    tmp_path: Path, example: Policy, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = tmp_path / "keys" / "oidc-client-secret"
    secret.parent.mkdir()
    secret.write_text(SECRET + "\n")
    secret.chmod(0o600)
    (tmp_path / "callvault.toml").write_text(
        'oidc_issuer = "https://login.microsoftonline.com/tenant-id/v2.0"\n'
        'oidc_client_id = "app-id"\n'
        'oidc_redirect_uri = "https://callvault.council.example/auth/oidc/callback"\n'
        'oidc_mfa_amr = ["mfa", "hwk"]\n'
        f'[oidc_group_roles]\n"{G_TEAM}" = "team_leader"\n'
    )
    settings = load_settings(tmp_path)
    assert settings.oidc_group_roles == {G_TEAM: "team_leader"}
    assert settings.oidc_mfa_amr == ("mfa", "hwk")
    client = oidc_client(settings, example)
    assert client is not None and client.config.client.client_secret == SECRET
    assert SECRET not in repr(client.config)
    monkeypatch.setenv("CALLVAULT_OIDC_GROUP_ROLES", json.dumps({G_DPO: "no_such_role"}))
    with pytest.raises(ConfigError, match="not a role in the policy"):
        oidc_client(load_settings(tmp_path), example)
    monkeypatch.setenv("CALLVAULT_OIDC_GROUP_ROLES", "[1, 2]")
    with pytest.raises(ConfigError, match="must map group ids to role ids"):
        load_settings(tmp_path)


def test_sso_is_off_without_issuer_and_refuses_loose_secret_or_plain_http(
    tmp_path: Path, example: Policy, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert oidc_client(load_settings(tmp_path), example) is None
    secret = tmp_path / "keys" / "oidc-client-secret"
    secret.parent.mkdir()
    secret.write_text(SECRET)
    secret.chmod(0o644)
    monkeypatch.setenv("CALLVAULT_OIDC_ISSUER", "https://idp.council.example")
    monkeypatch.setenv("CALLVAULT_OIDC_CLIENT_ID", "app-id")
    monkeypatch.setenv("CALLVAULT_OIDC_REDIRECT_URI", "https://cv.council.example/cb")
    monkeypatch.setenv("CALLVAULT_OIDC_GROUP_ROLES", json.dumps({G_TEAM: "team_leader"}))
    with pytest.raises(ConfigError, match="chmod 600"):
        oidc_client(load_settings(tmp_path), example)
    monkeypatch.setenv("CALLVAULT_OIDC_ISSUER", "http://idp.council.example")
    with pytest.raises(ConfigError, match="must be an https:// URL") as caught:
        oidc_client(load_settings(tmp_path), example)
    assert caught.value.field == "oidc_issuer"
