"""Signing people in through ``SignInService`` against a real home (both legs): passwords,
TOTP, lockout with back-off, enrolment and unlocking. Time is an injected clock, never sleep.

Every refusal is checked three ways: the words the person sees, the audit entry, and that
nothing else happened (no session, no change to the account beyond the failure count).
"""

from __future__ import annotations

import base64
from typing import Any

import orjson
import pytest
from argon2 import PasswordHasher
from sqlalchemy import func, select, update

from access.access_helpers import PEOPLE, entries, run_cli
from callvault.access import totp
from callvault.access.sessions import ANONYMOUS, id_hash, seconds, sessions
from callvault.access.signin import (
    FAILED,
    LOCK_MAX_S,
    SignInService,
    lock_seconds,
    rewrap_totp_secrets,
)
from callvault.access.store import users
from callvault.bootstrap import Services
from callvault.context import RequestContext
from callvault.db import transaction
from callvault.errors import IntegrityFailure, Refused
from callvault.maintenance.service import rotate_keys
from callvault.vault.interfaces import WrappedKey

PASSWORD = "correct horse battery"
START = 1_800_000_000.0  # 2027-01-15, a step boundary
# Where sign-ins come from: a browser nobody knows yet.
WEB = RequestContext(actor=ANONYMOUS, origin="api:198.51.100.7")


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def signin(services: Services, ctx: RequestContext, clock: Clock) -> SignInService:
    for name in ("adam", "cora", "root", "tess"):  # each argon2 hash costs a fifth of a second
        services.access.add_person(ctx, name, PEOPLE[name], PASSWORD)
    return SignInService.for_services(services, clock=clock)


def _code(secret_b32: str, now: float) -> str:
    secret = base64.b32decode(secret_b32 + "=" * (-len(secret_b32) % 8))
    return totp.code_for(secret, totp.time_step(now))


def _user(services: Services, name: str) -> Any:
    with services.engine.connect() as conn:
        return conn.execute(select(users).where(users.c.username == name)).one()


def _session_count(services: Services) -> int:
    with services.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(sessions)).scalar_one())


def _refused(call: Any, *args: Any) -> str:
    with pytest.raises(Refused) as caught:
        call(*args)
    return caught.value.message


# --- TOTP itself --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("moment", "code"),
    [(59, "287082"), (1111111109, "081804"), (1234567890, "005924"), (2000000000, "279037")],
)
def test_totp_matches_the_rfc_6238_sha1_vectors(moment: int, code: str) -> None:
    assert totp.code_for(b"12345678901234567890", totp.time_step(moment)) == code


def test_totp_accepts_one_step_either_side_and_nothing_else() -> None:
    secret = totp.new_secret()
    step = totp.time_step(START)
    for offset in (-1, 0, 1):
        code = totp.code_for(secret, step + offset)
        assert totp.matching_step(secret, code, START) == step + offset
        assert totp.matching_step(secret, f"{code[:3]} {code[3:]}", START) == step + offset
    for offset in (-2, 2):
        assert totp.matching_step(secret, totp.code_for(secret, step + offset), START) is None
    for junk in ("", "12345", "1234567", "abcdef", "١٢٣٤٥٦"):
        assert totp.matching_step(secret, junk, START) is None


def test_provisioning_uri_names_the_issuer_and_parameters() -> None:
    uri = totp.provisioning_uri(b"12345678901234567890", "tess")
    assert uri == (
        "otpauth://totp/callvault:tess?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=callvault"
        "&algorithm=SHA1&digits=6&period=30"
    )


# --- passwords ------------------------------------------------------------------------------


def test_password_sign_in_opens_a_session_stored_as_a_hash(
    services: Services, signin: SignInService, ctx: RequestContext, clock: Clock
) -> None:
    before = services.audit.count()
    new = signin.sign_in(WEB, "Adam ", PASSWORD, None)  # advisor: no second factor needed
    assert (new.username, new.role) == ("adam", "advisor")
    assert len(new.session_id) >= 43 and new.session_id not in repr(new)
    with services.engine.connect() as conn:
        row = conn.execute(select(sessions)).one()
    assert row.id_sha256 == id_hash(new.session_id) and new.session_id not in str(row)
    assert (row.second_factor, row.method) == (False, "password")
    [entry] = entries(services, before)
    assert (entry["action"], entry["actor"], entry["object_id"]) == (
        "signin.succeeded",
        "adam",
        "adam",
    )
    assert entry["details"]["method"] == "password" and PASSWORD not in orjson.dumps(entry).decode()
    assert _user(services, "adam").last_signin_at is not None


@pytest.mark.parametrize(
    ("username", "password", "reason", "audited_as"),
    [
        ("adam", "wrong password!", "bad_password", "adam"),
        ("nobody", PASSWORD, "unknown_user", "nobody"),
        # A password typed into the username box never reaches the permanent log.
        ("P@ss word 99!", PASSWORD, "unknown_user", None),
    ],
)
def test_wrong_password_and_unknown_user_get_the_same_words(
    services: Services,
    signin: SignInService,
    ctx: RequestContext,
    username: str,
    password: str,
    reason: str,
    audited_as: str | None,
) -> None:
    before = services.audit.count()
    assert _refused(signin.sign_in, WEB, username, password, None) == FAILED
    [entry] = entries(services, before)
    assert entry["action"] == "signin.failed" and entry["details"]["reason"] == reason
    assert entry["object_id"] == audited_as and entry["actor"] == "anonymous"
    assert password not in orjson.dumps(entry).decode()
    assert _session_count(services) == 0
    with services.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(users)).scalar_one() == 4
    if reason == "bad_password":
        assert _user(services, "adam").failed_signins == 1


def test_disabled_account_gets_the_same_words(
    services: Services, signin: SignInService, ctx: RequestContext
) -> None:
    services.access.disable(ctx, "adam")
    before = services.audit.count()
    assert _refused(signin.sign_in, WEB, "adam", PASSWORD, None) == FAILED
    [entry] = entries(services, before)
    assert entry["details"]["reason"] == "disabled" and _session_count(services) == 0


def test_outdated_password_hash_is_replaced_at_sign_in(
    services: Services, signin: SignInService, ctx: RequestContext
) -> None:
    weak = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1).hash(PASSWORD)
    with transaction(services.engine) as conn:
        conn.execute(update(users).where(users.c.username == "adam").values(password_hash=weak))
    before = services.audit.count()
    signin.sign_in(WEB, "adam", PASSWORD, None)
    stored = _user(services, "adam").password_hash
    assert stored != weak and not PasswordHasher().check_needs_rehash(stored)
    assert entries(services, before)[0]["details"]["rehashed"] is True


# --- TOTP at sign-in ------------------------------------------------------------------------


def test_listener_without_totp_is_told_to_ask_for_enrolment(
    services: Services, signin: SignInService, ctx: RequestContext
) -> None:
    before = services.audit.count()
    message = _refused(signin.sign_in, WEB, "tess", PASSWORD, None)
    assert "team_leader needs a one-time code" in message
    assert "callvault user totp tess" in message
    [entry] = entries(services, before)
    assert entry["details"]["reason"] == "totp_not_enrolled"
    assert _session_count(services) == 0 and _user(services, "tess").failed_signins == 0
    # Without the right password the hint is not given: it would tell a guesser the role.
    assert _refused(signin.sign_in, WEB, "tess", "wrong password!", None) == FAILED
    # Administrators create accounts, so they need the second factor too.
    assert "administrator needs a one-time code" in _refused(
        signin.sign_in, WEB, "root", PASSWORD, None
    )


def test_totp_code_works_once_and_a_wrong_or_missing_code_fails(
    services: Services, signin: SignInService, ctx: RequestContext, clock: Clock
) -> None:
    enrolment = signin.enrol_totp(ctx, "tess")
    code = _code(enrolment.secret, clock.now)
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    before = services.audit.count()
    assert _refused(signin.sign_in, WEB, "tess", PASSWORD, wrong) == FAILED
    assert _refused(signin.sign_in, WEB, "tess", PASSWORD, None) == FAILED
    reasons = [e["details"]["reason"] for e in entries(services, before)]
    assert reasons == ["bad_totp", "totp_missing"] and _session_count(services) == 0

    new = signin.sign_in(WEB, "tess", PASSWORD, code)
    assert new.role == "team_leader" and _user(services, "tess").failed_signins == 0
    before = services.audit.count()
    # The same code again, within its window: someone who saw it cannot use it.
    assert _refused(signin.sign_in, WEB, "tess", PASSWORD, code) == FAILED
    [entry] = entries(services, before)
    assert entry["details"]["reason"] == "totp_replayed" and _session_count(services) == 1
    # Nor the previous step's code; the next step's is fine.
    clock.advance(totp.STEP_S)
    assert _refused(signin.sign_in, WEB, "tess", PASSWORD, _code(enrolment.secret, START - 30))
    signin.sign_in(WEB, "tess", PASSWORD, _code(enrolment.secret, clock.now))
    with services.engine.connect() as conn:
        assert conn.execute(select(sessions.c.second_factor)).scalars().all() == [True, True]


def test_totp_secret_is_sealed_bound_to_its_user_and_survives_key_rotation(
    services: Services, signin: SignInService, ctx: RequestContext, clock: Clock
) -> None:
    enrolment = signin.enrol_totp(ctx, "tess")
    secret = base64.b32decode(enrolment.secret)
    row = _user(services, "tess")
    assert secret not in row.totp_secret_sealed and secret not in row.totp_key_wrapped
    assert enrolment.secret not in repr(enrolment)
    sealed = totp.SealedSecret(row.totp_kek_id, row.totp_key_wrapped, row.totp_secret_sealed)
    with pytest.raises(IntegrityFailure):
        totp.unseal(services.keys, "cora", sealed)  # copied onto another user's row
    # `callvault keys rotate` re-wraps TOTP secrets with the data keys, then retires the old
    # key-encryption key: sign-in still works.
    old_kek = services.keys.active_key_id()
    rotate_keys(services, ctx)
    assert old_kek not in services.keys.key_ids()
    assert services.audit.show(limit=10_000)[-1]["details"]["totp_secrets"] == 1
    assert _user(services, "tess").totp_kek_id == services.keys.active_key_id()
    with transaction(services.engine) as conn:
        assert rewrap_totp_secrets(conn, services.keys) == 0  # nothing left under old keys
    assert signin.sign_in(WEB, "tess", PASSWORD, _code(enrolment.secret, clock.now))
    assert services.keys.unwrap(
        WrappedKey(_user(services, "tess").totp_kek_id, _user(services, "tess").totp_key_wrapped),
        b"callvault totp v1:tess",
    )


def test_enrolling_again_replaces_the_secret(
    services: Services, signin: SignInService, ctx: RequestContext, clock: Clock
) -> None:
    first = signin.enrol_totp(ctx, "adam")  # optional for an advisor, then required
    before = services.audit.count()
    second = signin.enrol_totp(ctx, "adam")
    assert first.secret != second.secret
    [entry] = entries(services, before)
    assert entry["action"] == "user.totp_enrolled" and entry["details"] == {"replaced": True}
    assert second.secret not in orjson.dumps(entry).decode()
    assert _refused(signin.sign_in, WEB, "adam", PASSWORD, _code(first.secret, clock.now))
    assert _refused(signin.sign_in, WEB, "adam", PASSWORD, None) == FAILED
    signin.sign_in(WEB, "adam", PASSWORD, _code(second.secret, clock.now))


# --- lockout --------------------------------------------------------------------------------


def test_lock_schedule_doubles_and_is_capped() -> None:
    assert [lock_seconds(n) for n in range(1, 13)] == [
        0, 0, 0, 0, 60, 120, 240, 480, 960, 1920, 3600, 3600,
    ]  # fmt: skip
    assert lock_seconds(10_000) == LOCK_MAX_S


def test_lockout_backs_off_refuses_without_checking_and_resets(
    services: Services, signin: SignInService, ctx: RequestContext, clock: Clock
) -> None:
    for _ in range(4):
        assert _refused(signin.sign_in, WEB, "adam", "wrong password!", None) == FAILED
    before = services.audit.count()
    assert _refused(signin.sign_in, WEB, "adam", "wrong password!", None) == FAILED
    failed, locked = entries(services, before)
    assert failed["details"] == {"reason": "bad_password", "failures": 5}
    assert locked["action"] == "user.locked" and locked["details"]["seconds"] == 60

    # Locked: even the right password is refused, unchecked, and the count does not move.
    before = services.audit.count()
    message = _refused(signin.sign_in, WEB, "adam", PASSWORD, None)
    assert "locked after 5 failed sign-ins" in message and "callvault user unlock adam" in message
    [entry] = entries(services, before)
    assert entry["details"]["reason"] == "locked" and _session_count(services) == 0
    assert _user(services, "adam").failed_signins == 5

    # Each failure after a lock ends doubles the next one.
    for expected in (120, 240, 480):
        clock.advance(_user_lock_left(services, "adam", clock) + 1)
        before = services.audit.count()
        _refused(signin.sign_in, WEB, "adam", "wrong password!", None)
        assert entries(services, before)[-1]["details"]["seconds"] == expected
    clock.advance(_user_lock_left(services, "adam", clock) + 1)
    signin.sign_in(WEB, "adam", PASSWORD, None)
    row = _user(services, "adam")
    assert (row.failed_signins, row.locked_until) == (0, None)


def _user_lock_left(services: Services, name: str, clock: Clock) -> float:
    return seconds(_user(services, name).locked_until) - clock.now


def test_unlock_by_cli_and_enrol_by_cli(
    services: Services,
    signin: SignInService,
    ctx: RequestContext,
    clock: Clock,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CALLVAULT_HOME", str(services.settings.home))
    for _ in range(5):
        _refused(signin.sign_in, WEB, "adam", "wrong password!", None)
    code, out, _ = run_cli(["user", "unlock", "adam"], capsys)
    assert code == 0 and out == {"user": "adam", "unlocked": True}
    assert entries(services)[-1]["action"] == "user.unlocked"
    assert entries(services)[-1]["details"]["failures"] == 5
    signin.sign_in(WEB, "adam", PASSWORD, None)

    code, out, _ = run_cli(["user", "totp", "cora", "--as", "root"], capsys)
    assert code == 0 and out["otpauth_uri"].startswith("otpauth://totp/callvault:cora?secret=")
    assert out["secret"] in out["otpauth_uri"]
    last = entries(services)[-1]
    assert (last["action"], last["actor"], last["details"]) == (
        "user.totp_enrolled",
        "root",
        {"replaced": False},
    )
    signin.sign_in(WEB, "cora", PASSWORD, _code(out["secret"], clock.now))
    # Only people who manage users may enrol; nobody may enrol an unknown person.
    code, _, error = run_cli(["user", "totp", "cora", "--as", "tess"], capsys)
    assert code == 3 and "tess may not do users:manage" in error["error"]
    code, _, error = run_cli(["user", "unlock", "nobody"], capsys)
    assert code == 2 and error["field"] == "username"


# --- sessions opened after an external sign-in ----------------------------------------------


def test_open_session_needs_a_second_factor_for_listeners(
    services: Services, signin: SignInService, ctx: RequestContext
) -> None:
    before = services.audit.count()
    assert "needs multi-factor sign-in" in _refused(signin.open_session, WEB, "tess", False)
    assert entries(services, before)[-1]["details"]["reason"] == "second_factor_needed"
    assert _session_count(services) == 0
    assert signin.open_session(WEB, "tess", True).role == "team_leader"
    assert signin.open_session(WEB, "adam", False).role == "advisor"
    services.access.disable(ctx, "adam")
    assert "is disabled" in _refused(signin.open_session, WEB, "adam", True)
