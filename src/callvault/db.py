"""Database engine and migrations: SQLite (WAL) by default, PostgreSQL by URL.

Every table is declared on :data:`metadata` by the ``store.py`` of the package that owns it;
schema changes go through the Alembic migrations in ``callvault/migrations``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, MetaData, create_engine, event, text
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.pool import QueuePool

from callvault.errors import ConfigError

metadata = MetaData()

_WRITE_OPTION = "callvault_write"

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def make_engine(url: str) -> Engine:
    """An engine tuned for concurrent use: WAL, busy timeout and immediate transactions."""
    if url.startswith("sqlite"):
        return _sqlite_engine(url)
    try:
        return create_engine(url, pool_pre_ping=True)
    except Exception as exc:
        raise ConfigError(f"cannot use database URL {url!r}: {exc}", field="db_url") from exc


def _sqlite_engine(url: str) -> Engine:
    # Pooled: opening a connection costs PRAGMAs, and closing the last one to a WAL database
    # makes SQLite checkpoint (2-4 ms each); a playback or search would pay that several times.
    # Threads share the pool (check_same_thread off; SQLAlchemy hands one connection to one
    # thread at a time), forked processes never do (``_same_process``). The pool is sized
    # for the web server's worker threads (anyio's default limit is 40).
    engine = create_engine(
        url,
        poolclass=QueuePool,
        pool_size=8,
        max_overflow=48,
        pool_timeout=60,
        connect_args={"timeout": 30, "check_same_thread": False},
    )

    @event.listens_for(engine, "checkout")
    def _same_process(_dbapi_conn: Any, record: Any, proxy: Any) -> None:
        # A connection opened before a fork belongs to the parent: drop it, open a new one.
        if record.info.get("pid") != os.getpid():
            record.dbapi_connection = proxy.dbapi_connection = None
            raise DisconnectionError("connection opened in another process")

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn: Any, record: Any) -> None:
        record.info["pid"] = os.getpid()
        # Take over transaction control so BEGIN IMMEDIATE can be issued (one writer at a time,
        # no deadlock on lock upgrade).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")  # an audited act survives power loss
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        # Destroyed data keys are overwritten on disk, not left in free pages.
        cur.execute("PRAGMA secure_delete=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        # Writers take the write lock up front (no deadlock on lock upgrade); readers do not
        # queue behind writers (WAL lets them read the last commit).
        write = conn.get_execution_options().get(_WRITE_OPTION, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


@contextmanager
def transaction(engine: Engine) -> Iterator[Connection]:
    """One atomic unit: the act and its audit entry commit together or not at all."""
    with engine.connect() as conn:
        conn.execution_options(**{_WRITE_OPTION: True})
        with conn.begin():
            yield conn


def plain(row: Any) -> dict[str, Any]:
    """A result row (``Row``) as a dict with plain ``str`` keys: SQLAlchemy names columns with
    ``quoted_name``, which orjson (the CLI's and API's JSON) refuses as a key."""
    return {str(key): value for key, value in row._mapping.items()}


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest migration."""
    from alembic import command

    with engine.begin() as conn:
        cfg = _alembic_config(conn)
        command.upgrade(cfg, "head")


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_alembic_config(None)).get_current_head()


def _alembic_config(conn: Connection | None) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["connection"] = conn
    return cfg


def ping(engine: Engine) -> None:
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))


def require_current_schema(engine: Engine) -> None:
    """Fail fast, before serving or working, on a database an upgrade has not migrated."""
    current, head = current_revision(engine), head_revision()
    if current != head:
        raise ConfigError(
            f"the database schema is at revision {current or 'none'} but this callvault needs "
            f"{head}; run `callvault check --repair`, which migrates it",
            field="db_url",
        )
