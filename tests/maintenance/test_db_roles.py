"""On PostgreSQL the application's role can append to the audit trail and nothing more."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from sqlalchemy import create_engine, make_url
from sqlalchemy.exc import DBAPIError

from callvault.bootstrap import Services, build
from callvault.capture.ingest import AudioInput
from callvault.context import RequestContext
from callvault.errors import BadInput
from callvault.maintenance.roles import grant_app_role
from homes import meta_for


@pytest.fixture
def app_role(services: Services) -> Iterator[str]:
    if services.engine.dialect.name != "postgresql":
        pytest.skip("database roles exist on PostgreSQL only")
    role = f"cvapp_{uuid.uuid4().hex[:10]}"
    with services.engine.connect() as conn, conn.begin():
        conn.exec_driver_sql(f"CREATE ROLE {role} LOGIN")
    yield role
    with services.engine.connect() as conn, conn.begin():
        conn.exec_driver_sql(f"DROP OWNED BY {role}")
        conn.exec_driver_sql(f"DROP ROLE {role}")


def test_app_role_ingests_but_cannot_alter_the_audit_trail(
    services: Services,
    ctx: RequestContext,
    app_role: str,
    call_wav: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    result = grant_app_role(services, ctx, app_role)
    assert result["append_only"] == ["audit_log", "audit_checkpoints"]
    app_url = make_url(str(services.engine.url)).set(username=app_role)
    monkeypatch.setenv("CALLVAULT_DB_URL", app_url.render_as_string(hide_password=False))
    as_app = build(services.settings.home)
    ingested = as_app.ingest.ingest(ctx, AudioInput(path=call_wav), orjson.dumps(meta_for()))
    assert ingested.status == "recorded"
    assert as_app.audit.verify().ok
    engine = create_engine(app_url)
    for statement in (
        "UPDATE audit_log SET entry = '{}' WHERE seq = 1",
        "DELETE FROM audit_log WHERE seq = 1",
        "DELETE FROM audit_checkpoints",
        "ALTER TABLE audit_log DISABLE TRIGGER USER",
        "DROP TABLE audit_log",
    ):
        with (
            pytest.raises(DBAPIError, match=r"permission denied|must be owner"),
            engine.connect() as conn,
            conn.begin(),
        ):
            conn.exec_driver_sql(statement)
    engine.dispose()
    assert services.audit.verify().ok


def test_roles_on_sqlite_are_refused(services: Services, ctx: RequestContext) -> None:
    if services.engine.dialect.name != "sqlite":
        pytest.skip("the refusal is for SQLite")
    with pytest.raises(BadInput) as err:
        grant_app_role(services, ctx, "cvapp")
    assert err.value.field == "db_url"
