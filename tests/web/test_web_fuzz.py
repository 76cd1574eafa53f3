"""Fuzz the published OpenAPI with schemathesis: no 5xx, and no data without sign-in.

Every operation gets generated requests twice: as nobody (then only the public operations may
answer 2xx) and as a person whose role the operation is for (then nothing may fail with a
server error, whatever the parameters and bodies). Runs on the embedded leg: what is fuzzed is
the HTTP layer's validation, which is the same on both.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis.core.result import Ok
from schemathesis.schemas import APIOperation

from access.access_helpers import record
from callvault.access.actions import ACTIONS, PUBLIC
from callvault.bootstrap import Services
from callvault.context import RequestContext, system_context
from callvault.web.app import create_app
from callvault.web.security import ACTION_KEY
from web_people import PASSWORD, sign_in

# Who exercises each action: a role it is for, so generated requests get past the door.
PERSON_FOR = {"recordings": "am", "grants": "am", "disclosures:record": "am", "users": "adm",
              "audit": "dpo", "policy": "dpo", "alerts": "dpo", "disclosures:read": "dpo",
              "session": "am", "holds": "dpo", "scope": "dpo", "ropa": "dpo",
              "transcripts": "am", "flags": "dpo", "rights": "dpo",
              "training": "am", "demand": "am", "incidents": "am", "quality": "am"}  # fmt: skip
PEOPLE = {"am": "authorised_manager", "adm": "administrator", "dpo": "dpo"}
EXAMPLES = 25
Operation = APIOperation[Any, Any, Any, Any]


@pytest.fixture
def fuzzed(services: Services, ctx: RequestContext, call_wav: Path) -> Iterator[dict[str, Any]]:
    if services.settings.db_url.startswith("postgresql"):
        pytest.skip("the HTTP layer is fuzzed on the embedded leg")
    admin = system_context("fuzz")
    for name, role in PEOPLE.items():
        services.access.add_person(admin, name, role, PASSWORD)
    token = services.access.add_service(admin, "pbx")
    payments = services.access.add_service(admin, "till", "payments")
    rec_id = record(services, ctx, call_wav, "fuzz-1")
    services.grants.request(
        RequestContext(actor=services.access.person("am"), origin="test"),
        [rec_id], "complaint", "CMP-2026-0001",
    )  # fmt: skip
    app = create_app(services)
    yield {"app": app, "services": services, "token": token, "payments": payments}


def _operations(app: Any) -> list[Operation]:
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), f"the published OpenAPI is invalid: {result}"
        operations.append(result.ok())
    return operations


def _action(operation: Operation) -> str:
    action = operation.definition.raw.get(ACTION_KEY)
    assert action in ACTIONS, f"{operation.label} declares no action"
    return str(action)


def _headers_for(action: str, fuzzed: dict[str, Any]) -> dict[str, str]:
    """Credentials of someone the action is for (a fresh session per operation)."""
    if action == "recordings:ingest":
        return {"Authorization": f"Bearer {fuzzed['token']}"}
    if action == "calls:pause":  # the payment system's service account
        return {"Authorization": f"Bearer {fuzzed['payments']}"}
    key = action if action in PERSON_FOR else action.split(":", maxsplit=1)[0]
    person = PERSON_FOR[key]
    client = TestClient(fuzzed["app"], base_url="https://testserver")
    csrf = sign_in(client, fuzzed["services"], person)
    cookie = "; ".join(f"{k}={v}" for k, v in client.cookies.items())
    return {"Cookie": cookie, "X-CSRF-Token": csrf}


def _fuzz(operation: Operation, headers: dict[str, str], anonymous: bool) -> None:
    public = PUBLIC in ACTIONS[_action(operation)]

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy())
    def run(case: Any) -> None:
        response = case.call(headers={**(case.headers or {}), **headers})
        assert response.status_code < 500, f"{case.method} {case.formatted_path}: {response.text}"
        if anonymous and not public:
            assert response.status_code in (401, 403, 422), (
                f"{case.method} {case.formatted_path} answered {response.status_code} to nobody"
            )

    run()


def test_anonymous_fuzz_gets_no_data_and_no_server_error(fuzzed: dict[str, Any]) -> None:
    operations = _operations(fuzzed["app"])
    assert len(operations) >= 25
    for operation in operations:
        if operation.path == "/auth/oidc/callback" or operation.method.upper() == "DELETE":
            continue  # SSO is off here (404); signing out needs a session
        _fuzz(operation, {}, anonymous=True)
    assert fuzzed["services"].audit.verify().ok


def test_signed_in_fuzz_never_breaks_the_server(fuzzed: dict[str, Any]) -> None:
    for operation in _operations(fuzzed["app"]):
        action = _action(operation)
        if PUBLIC in ACTIONS[action] or operation.method.upper() == "DELETE":
            continue  # covered anonymously; signing out would end the fuzzing session
        _fuzz(operation, _headers_for(action, fuzzed), anonymous=False)
    assert fuzzed["services"].audit.verify().ok
