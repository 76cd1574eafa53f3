"""The users pages and the access review page, over real HTTP on both legs.

Forms are posted as a browser posts them: urlencoded, with the csrf_token field read from the
page, never the API's X-CSRF-Token header. What a page says was done is checked where it
counts: the account store, the audit trail, and signing in with what the page handed over.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from callvault.access.signin import LOCK_AFTER
from callvault.bootstrap import Services
from callvault.context import RequestContext, system_context
from callvault.db import transaction
from callvault.web.app import create_app
from web_pages import (
    BASE_URL,
    ROLES,
    add_people,
    browser_for,
    checked_page,
    csrf_of,
    embedded_leg,  # noqa: F401  (the embedded leg only)
    form_token,
    sent_back_to,
)
from web_people import PASSWORD, current_code


@pytest.fixture
def people(services: Services) -> Services:
    """The administrator and one advisor to manage; tests add others they need."""
    add_people(services, "adm", "adv")
    return services


@pytest.fixture
def admin(people: Services) -> Iterator[TestClient]:
    with browser_for(people, "adm") as browser:
        yield browser


def account_names(services: Services) -> set[str]:
    return {row["user"] for row in services.access.list_users()}


def newest(services: Services) -> dict[str, Any]:
    return services.audit.show(newest_first=True, limit=1)[0]


def api_sign_in(services: Services, username: str, password: str, code: str | None = None) -> int:
    """The status of a sign-in through the session API, on a fresh client."""
    with TestClient(create_app(services), base_url=BASE_URL) as fresh:
        body = {"username": username, "password": password} | ({"totp": code} if code else {})
        return int(fresh.post("/api/v1/session", json=body).status_code)


def row_of(html: str, username: str) -> str:
    found = re.search(rf'<tr>\s*<th scope="row">{re.escape(username)}</th>(.*?)</tr>', html, re.S)
    assert found is not None, username
    return found.group(1)


# -- who may see the pages --------------------------------------------------------------------
def test_only_administrators_manage_users(people: Services) -> None:
    for name in ROLES:
        browser = browser_for(people, name)
        before = people.audit.count()
        answer = browser.get("/users")
        if name == "adm":
            assert answer.status_code == 200
            continue
        assert answer.status_code == 403 and "<h1>Not allowed</h1>" in answer.text
        assert people.audit.show(after=before)[0]["object_id"] == "users:manage"
        # A post is refused too, with the right token and all.
        posted = browser.post(
            "/users",
            data={"csrf_token": csrf_of(answer.text), "username": f"by-{name}", "role": "advisor"},
        )
        assert posted.status_code == 403
    assert not {f"by-{name}" for name in ROLES} & account_names(people)


@pytest.mark.parametrize("path", ["/users", "/users/adv/disable", "/access-review?from=2026-01-01"])
def test_anonymous_visitors_are_sent_to_sign_in(people: Services, path: str) -> None:
    answer = browser_for(people, None).get(path)
    assert answer.status_code == 303
    assert sent_back_to(answer.headers["location"]) == path
    anonymous_post = browser_for(people, None).post("/users/adv/disable", data={})
    assert anonymous_post.status_code == 303
    assert people.access.person("adv")  # still enabled


# -- the list -------------------------------------------------------------------------------------
def test_the_list_shows_each_accounts_state(people: Services, admin: TestClient) -> None:
    add_people(people, "am", "so")
    people.access.add_service(system_context("test"), "pbx")
    people.access.disable(system_context("test"), "so")
    answer = admin.get("/users")
    assert answer.headers["cache-control"] == "no-store"
    shape = checked_page(answer.text)
    assert "Set up second factor for adv" in shape.buttons
    assert "Replace second factor for adm" in shape.buttons  # enrolled to sign in
    adm, adv, pbx, so = (row_of(answer.text, name) for name in ("adm", "adv", "pbx", "so"))
    assert '<span class="tag ok">Set up</span>' in adm and "Never" not in adm
    assert "Not set up" in adv and "Never" in adv and "Active" in adv
    # An authorised manager cannot sign in without one: said as a problem.
    assert "Needed, not set up" in row_of(answer.text, "am")
    assert "Service" in pbx and "API token" in pbx and "second factor" not in pbx
    assert '<span class="tag bad">Disabled</span>' in so and 'disable"' not in so
    # Your own account offers no Disable; the others do, each naming its account.
    assert "/users/adm/disable" not in answer.text
    assert (
        '<a href="/users/adv/disable">Disable<span class="visually-hidden"> adv</span></a>' in adv
    )
    # The add forms offer the policy's roles and the service roles.
    roles = re.findall(r'<option value="([a-z_]+)"', answer.text)
    assert roles == [*ROLES.values(), "ingest", "payments"]


# -- adding people and service accounts -----------------------------------------------------------
def test_add_a_person_shows_the_first_password_once(people: Services, admin: TestClient) -> None:
    token = form_token(admin, "/users")
    answer = admin.post(
        "/users", data={"csrf_token": token, "username": "newbie", "role": "team_leader"}
    )
    assert answer.status_code == 201, answer.text
    assert answer.headers["cache-control"] == "no-store"
    assert "set-cookie" not in answer.headers  # the password is in the page alone
    shape = checked_page(answer.text)
    password = re.search(r'<code class="once" id="secret">([^<]+)</code>', answer.text)
    assert password is not None and len(password.group(1)) >= 12
    # A team leader needs a second factor: the page offers it for this person.
    assert "Set up second factor for newbie" in shape.buttons
    entry = newest(people)
    assert (entry["action"], entry["actor"], entry["object_id"]) == ("user.added", "adm", "newbie")
    assert entry["details"] == {"role": "team_leader", "kind": "person"}
    assert password.group(1) not in str(entry)
    assert people.access.person("newbie").role == "team_leader"
    # The password is the one stored: it passes, and only the missing code is asked for.
    assert api_sign_in(people, "newbie", "wrong password!") == 403
    refused = newest(people)
    assert refused["details"]["reason"] == "bad_password"
    assert api_sign_in(people, "newbie", password.group(1)) == 403
    assert newest(people)["details"]["reason"] == "totp_not_enrolled"
    # Never shown again.
    assert password.group(1) not in admin.get("/users").text


def test_an_advisor_added_signs_in_with_the_password_shown(
    people: Services, admin: TestClient
) -> None:
    answer = admin.post(
        "/users",
        data={"csrf_token": form_token(admin, "/users"), "username": "adv2", "role": "advisor"},
    )
    password = re.search(r'id="secret">([^<]+)<', answer.text)
    assert password is not None
    assert "Set up second factor" not in answer.text
    assert api_sign_in(people, "adv2", password.group(1)) == 200


@pytest.mark.parametrize(
    ("username", "role", "status", "field", "says"),
    [
        ("adv", "advisor", 409, "person-username", "user &#39;adv&#39; already exists"),
        ("newbie", "overlord", 422, "person-role", "unknown role &#39;overlord&#39;"),
        ("n" * 65, "advisor", 422, "person-username", "username is longer than 64 characters"),
        ("", "advisor", 422, "person-username", "fill in username"),
        ("newbie", "", 422, "person-role", "fill in role"),
        ("New Bie", "advisor", 422, "person-username", "must start with a letter"),
        # Service roles are not people's roles.
        ("newbie", "ingest", 422, "person-role", "unknown role &#39;ingest&#39;"),
    ],
)
def test_bad_input_names_the_field_and_adds_nobody(
    people: Services,
    admin: TestClient,
    username: str,
    role: str,
    status: int,
    field: str,
    says: str,
) -> None:
    token = form_token(admin, "/users")
    before, count = account_names(people), people.audit.count()
    answer = admin.post("/users", data={"csrf_token": token, "username": username, "role": role})
    assert answer.status_code == status
    checked_page(answer.text)
    error = re.search(rf'<p class="field-error" id="{field}-error">([^<]*)</p>', answer.text)
    assert error is not None and says in error.group(1)
    assert re.search(rf'id="{field}"[^>]*aria-invalid="true"', answer.text)
    assert f'<a href="#{field}">' in answer.text  # the summary links to the field
    assert account_names(people) == before
    assert people.audit.count() == count
    # What was typed comes back, so only the mistake needs correcting.
    if role in ROLES.values():
        assert f'<option value="{role}" selected>' in answer.text


def test_add_a_service_account_shows_its_token_once(people: Services, admin: TestClient) -> None:
    answer = admin.post(
        "/users/service-accounts",
        data={"csrf_token": form_token(admin, "/users"), "username": "pbx-east", "role": "ingest"},
    )
    assert answer.status_code == 201, answer.text
    checked_page(answer.text)
    token = re.search(r'id="secret">(cvt_[^<]+)<', answer.text)
    assert token is not None
    entry = newest(people)
    assert (entry["action"], entry["actor"], entry["details"]) == (
        "user.added",
        "adm",
        {"role": "ingest", "kind": "service"},
    )
    with TestClient(create_app(people), base_url=BASE_URL) as script:
        who = script.get("/api/v1/session", headers={"Authorization": f"Bearer {token.group(1)}"})
    assert who.status_code == 200, who.text
    again = admin.post(
        "/users/service-accounts",
        data={"csrf_token": form_token(admin, "/users"), "username": "pbx-east", "role": "ingest"},
    )
    assert again.status_code == 409
    assert 'id="service-username-error"' in again.text and "already exists" in again.text
    wrong = admin.post(
        "/users/service-accounts",
        data={"csrf_token": form_token(admin, "/users"), "username": "pbx-west", "role": "advisor"},
    )
    assert wrong.status_code == 422 and 'id="service-role-error"' in wrong.text
    assert "pbx-west" not in account_names(people)


# -- disabling ------------------------------------------------------------------------------------
def test_disable_after_confirming(people: Services, admin: TestClient) -> None:
    victim = browser_for(people, "adv")
    assert victim.get("/api/v1/session").status_code == 200
    confirm = admin.get("/users/adv/disable")
    assert confirm.status_code == 200
    shape = checked_page(confirm.text)
    assert "Disable adv" in shape.buttons
    assert people.access.person("adv")  # looking changes nothing
    done = admin.post("/users/adv/disable", data={"csrf_token": csrf_of(confirm.text)})
    assert done.status_code == 303 and done.headers["location"] == "/users"
    listed = admin.get("/users")
    assert "adv is disabled: they can no longer sign in" in listed.text
    assert '<span class="tag bad">Disabled</span>' in row_of(listed.text, "adv")
    entry = people.audit.show(action="user.disabled")[-1]
    assert (entry["actor"], entry["object_id"]) == ("adm", "adv")
    assert victim.get("/api/v1/session").status_code in (401, 403)  # their session ends too
    assert "is already disabled" in admin.get("/users/adv/disable").text


def test_disable_refuses_yourself_and_unknown_accounts(people: Services, admin: TestClient) -> None:
    token = form_token(admin, "/users")
    assert admin.get("/users/adm/disable").status_code == 409
    mine = admin.post("/users/adm/disable", data={"csrf_token": token})
    assert mine.status_code == 409 and "your own account" in mine.text
    assert people.access.person("adm")
    assert admin.get("/users/nobody/disable").status_code == 404
    assert admin.post("/users/nobody/disable", data={"csrf_token": token}).status_code == 404
    assert admin.get(f"/users/{'x' * 65}/disable").status_code == 422


# -- second factor and unlocking -----------------------------------------------------------------
def test_set_up_a_second_factor_shows_it_once_and_it_works(
    people: Services, admin: TestClient
) -> None:
    token = form_token(admin, "/users")
    answer = admin.post("/users/adv/totp", data={"csrf_token": token})
    assert answer.status_code == 200, answer.text
    assert answer.headers["cache-control"] == "no-store" and "set-cookie" not in answer.headers
    checked_page(answer.text)
    secret = re.search(r'<code class="secret" id="totp-secret">([A-Z2-7]+)</code>', answer.text)
    uri = re.search(r'<code class="once" id="totp-uri">(otpauth://totp/[^<]+)</code>', answer.text)
    assert secret is not None and uri is not None
    assert f"secret={secret.group(1)}" in uri.group(1)
    entry = newest(people)
    assert (entry["action"], entry["actor"], entry["object_id"], entry["details"]) == (
        "user.totp_enrolled",
        "adm",
        "adv",
        {"replaced": False},
    )
    # Enrolled, the advisor must now use it: without a code refused, with one let in.
    assert api_sign_in(people, "adv", PASSWORD) == 403
    assert api_sign_in(people, "adv", PASSWORD, current_code(secret.group(1))) == 200
    listed = admin.get("/users")
    assert secret.group(1) not in listed.text
    assert "Replace second factor for adv" in checked_page(listed.text).buttons
    # Single sign-on accounts get theirs from the provider: no button, and refused.
    assert admin.post("/users/nobody/totp", data={"csrf_token": token}).status_code == 404


def test_unlock_a_locked_account(people: Services, admin: TestClient) -> None:
    for _ in range(LOCK_AFTER):
        assert api_sign_in(people, "adv", "not the password") == 403
    assert api_sign_in(people, "adv", PASSWORD) == 403  # locked, right password or not
    listed = admin.get("/users")
    adv = row_of(listed.text, "adv")
    assert '<span class="tag warn">Locked</span>' in adv
    assert f"after {LOCK_AFTER} failed sign-ins" in adv
    assert "Unlock adv" in checked_page(listed.text).buttons
    assert "Unlock" not in row_of(listed.text, "adm")
    done = admin.post("/users/adv/unlock", data={"csrf_token": csrf_of(listed.text)})
    assert done.status_code == 303 and done.headers["location"] == "/users"
    entry = newest(people)
    assert (entry["action"], entry["actor"], entry["object_id"]) == ("user.unlocked", "adm", "adv")
    assert entry["details"]["failures"] == LOCK_AFTER  # a refusal while locked is not counted
    assert "adv is unlocked" in admin.get("/users").text
    assert api_sign_in(people, "adv", PASSWORD) == 200


# -- CSRF -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("sent", [None, "not-the-token"])
@pytest.mark.parametrize(
    ("path", "data"),
    [
        ("/users", {"username": "sneaky", "role": "administrator"}),
        ("/users/service-accounts", {"username": "sneaky", "role": "ingest"}),
        ("/users/adv/disable", {}),
        ("/users/adv/totp", {}),
        ("/users/adv/unlock", {}),
    ],
)
def test_a_post_without_the_right_token_changes_nothing(
    people: Services, admin: TestClient, path: str, data: dict[str, str], sent: str | None
) -> None:
    before = people.audit.count()
    body = data | ({"csrf_token": sent} if sent else {})
    answer = admin.post(path, data=body)
    assert answer.status_code == 403
    assert "<h1>Not allowed</h1>" in answer.text and "secret" not in answer.text
    (refusal,) = people.audit.show(after=before)  # audited once, error page and all
    assert (refusal["action"], refusal["actor"]) == ("session.csrf_refused", "adm")
    assert refusal["details"]["reason"] == ("wrong" if sent else "missing")
    assert "sneaky" not in account_names(people)
    assert people.access.person("adv")
    with people.engine.connect() as conn:
        enrolled = conn.exec_driver_sql(
            "SELECT totp_enrolled_at FROM users WHERE username = 'adv'"
        ).scalar_one()
    assert enrolled is None


# -- the access review ----------------------------------------------------------------------------
def played_today(services: Services, who: str, recordings: int) -> None:
    """``who`` listened to ``recordings`` distinct recordings just now."""
    ctx = RequestContext(actor=services.access.person(who), origin="test")
    with transaction(services.engine) as conn:
        for n in range(recordings):
            services.audit.append(
                conn, ctx, "recording.played", object_type="recording", object_id=f"rec{n}"
            )


def test_who_may_see_the_access_review_and_its_alerts(people: Services) -> None:
    for name in ROLES:
        browser = browser_for(people, name)
        before = people.audit.count()
        answer = browser.get("/access-review")
        if name not in ("adm", "dpo", "aud"):
            assert answer.status_code == 403, name
            assert people.audit.show(after=before)[0]["object_id"] == "users:review"
            continue
        assert answer.status_code == 200, (name, answer.text)
        checked_page(answer.text)
        read = [entry["action"] for entry in people.audit.show(after=before)]
        if name == "dpo":
            assert read == ["report.access_review", "alerts.read"]
            assert "<h2>Bulk-access alerts</h2>" in answer.text
        else:
            assert read == ["report.access_review"]
            assert "Bulk-access" not in answer.text


def test_the_review_lists_roles_use_and_unused_listeners(people: Services) -> None:
    add_people(people, *ROLES)
    played_today(people, "co", 25)  # a day far above a usual of nothing: an alert
    browser = browser_for(people, "dpo")
    # The window ends 200 days on, so a listening role not used since today is stale.
    today = datetime.now(UTC).date()
    window = {
        "from": (today - timedelta(days=1)).isoformat(),
        "to": (today + timedelta(days=200)).isoformat(),
        "unused_days": "90",
    }
    answer = browser.get("/access-review", params=window)
    assert answer.status_code == 200, answer.text
    checked_page(answer.text)
    entry = people.audit.show(action="report.access_review", newest_first=True, limit=1)[0]
    assert entry["actor"] == "dpo" and entry["details"]["accounts"] == len(ROLES)
    co = row_of(answer.text, "co")
    assert re.search(r'<td class="num">25</td>', co)  # listens in the window
    assert "Listening role unused" in co
    assert "Never" in row_of(answer.text, "adv")
    unused = re.search(r"<caption>Unused listening roles</caption>(.*?)</table>", answer.text, re.S)
    assert unused is not None
    named = set(re.findall(r'<th scope="row">([a-z]+)</th>', unused.group(1)))
    assert named == {"tl", "am", "co", "so", "dpo"}
    alerts = re.search(r"<caption>Bulk-access alerts</caption>(.*?)</table>", answer.text, re.S)
    assert alerts is not None
    assert re.search(
        r'<th scope="row">co</th>\s*<td>Complaints officer</td>\s*'
        r'<td class="num">25</td>',
        alerts.group(1),
    )
    # A window that ends before today holds none of it.
    earlier = browser.get("/access-review", params={"from": "2026-01-01", "to": "2026-01-31"})
    assert earlier.status_code == 200
    assert "Listening role unused" not in row_of(earlier.text, "co")
    assert "No alerts on these days." in earlier.text
    read = people.audit.show(action="report.access_review", newest_first=True, limit=1)[0]
    assert read["details"]["from"].startswith("2026-01-01T00:00:00")  # winter: UK is UTC
    assert read["details"]["to"].startswith("2026-02-01T00:00:00")


def test_a_window_wholly_ahead_checks_no_alert_days(people: Services) -> None:
    today = datetime.now(UTC).date()
    ahead = {
        "from": (today + timedelta(days=10)).isoformat(),
        "to": (today + timedelta(days=20)).isoformat(),
    }
    before = people.audit.count()
    answer = browser_for(people, "dpo").get("/access-review", params=ahead)
    assert answer.status_code == 200
    assert "The window has no days up to today to check for alerts." in answer.text
    read = [entry["action"] for entry in people.audit.show(after=before)]
    assert read[-1] == "report.access_review" and "alerts.read" not in read


@pytest.mark.parametrize(
    ("query", "field", "says"),
    [
        ({"from": "yesterday"}, "review-from", "from must be a real date, like 2026-11-28"),
        ({"to": "9999-12-31"}, "review-to", "to must be a real date"),
        ({"from": "2026-02-01", "to": "2026-01-01"}, "review-from", "from must not be after to"),
        ({"unused_days": "0"}, "review-unused-days", "unused days must be a whole number"),
        ({"unused_days": "lots"}, "review-unused-days", "unused days must be a whole number"),
    ],
)
def test_a_bad_window_names_the_field_and_reads_nothing(
    people: Services, query: dict[str, str], field: str, says: str
) -> None:
    browser = browser_for(people, "aud")
    before = people.audit.count()
    answer = browser.get("/access-review", params=query)
    assert answer.status_code == 422
    checked_page(answer.text)
    error = re.search(rf'<p class="field-error" id="{field}-error">([^<]*)</p>', answer.text)
    assert error is not None and says in error.group(1)
    assert "<table" not in answer.text
    assert people.audit.count() == before
