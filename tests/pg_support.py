"""A throwaway PostgreSQL database for a test store: created on the server at ``SAGLIK_TEST_PG``
and dropped afterwards. Shared by the session ``store`` fixture (tests/conftest.py) and the blank
databases of tests/store/backends.py, so both follow one rule: PostgreSQL is skipped with the
reason when unreachable, and required (the test fails) when CI=true."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import psycopg
import pytest

PG_ADMIN_URL = os.environ.get("SAGLIK_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
IN_CI = os.environ.get("CI", "").lower() == "true"


def pg_dsn(url: str) -> str:
    """A SQLAlchemy URL as a libpq connection string psycopg accepts."""
    return url.replace("postgresql+psycopg://", "postgresql://")


@contextlib.contextmanager
def pg_database(name: str) -> Iterator[str]:
    """Creates the empty database ``name`` and yields its URL; drops it (forcing out any
    connection left) on the way out. Skips, or under CI fails, when the server is unreachable."""
    try:
        admin = psycopg.connect(pg_dsn(PG_ADMIN_URL), autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        if IN_CI:
            pytest.fail(f"PostgreSQL unreachable at {PG_ADMIN_URL} under CI: {exc}")
        pytest.skip(f"PostgreSQL unreachable at {PG_ADMIN_URL} (set CI=true to require it)")
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(pg_dsn(PG_ADMIN_URL), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
