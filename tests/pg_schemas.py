"""A PostgreSQL schema of its own per test, for the scale-out leg.

Its own module, not conftest: a test module that needs it imports it by name, and a
``conftest`` module name is ambiguous once another folder has a conftest of its own.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import create_engine
from sqlalchemy.exc import OperationalError

PG_URL = os.environ.get("CALLVAULT_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1/test")


@contextmanager
def pg_schema() -> Iterator[str]:
    """A PostgreSQL schema of its own (dropped afterwards); yields a URL that uses it."""
    schema = f"cvtest_{uuid.uuid4().hex[:16]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    except OperationalError as exc:
        pytest.fail(f"PostgreSQL at {PG_URL} is needed for the postgresql leg: {exc}")
    try:
        yield f"{PG_URL}?options=-csearch_path%3D{schema}"
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        admin.dispose()
