"""Blank databases of their own, for tests that must not touch the shared session ``store``
(migrating down to nothing, a store that fails, fixtures moved to other instants, outbox draining).

Follows the rules of the top-level ``store`` fixture: one run per backend in ``BACKENDS``,
PostgreSQL skipped when unreachable outside CI and required under CI.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import Engine

from saglik.store import migrate
from saglik.store.engine import make_engine
from tests.conftest import IN_CI, PG_ADMIN_URL, _pg_dsn


@contextlib.contextmanager
def blank_engine(backend: str, tmp_dir: Path, *, migrated: bool) -> Iterator[Engine]:
    """An engine on a new, empty database (migrated to head if asked); dropped afterwards."""
    if backend == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_dir / f'blank-{uuid.uuid4().hex[:8]}.db'}")
        try:
            if migrated:
                migrate.upgrade(engine)
            yield engine
        finally:
            engine.dispose()
        return
    name = f"saglik_blank_{uuid.uuid4().hex[:12]}"
    try:
        admin = psycopg.connect(_pg_dsn(PG_ADMIN_URL), autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        if IN_CI:
            pytest.fail(f"PostgreSQL unreachable at {PG_ADMIN_URL} under CI: {exc}")
        pytest.skip(f"PostgreSQL unreachable at {PG_ADMIN_URL} (set CI=true to require it)")
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    engine = make_engine(PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}")
    try:
        if migrated:
            migrate.upgrade(engine)
        yield engine
    finally:
        engine.dispose()
        with psycopg.connect(_pg_dsn(PG_ADMIN_URL), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def backend_of(engine: Engine) -> str:
    return "sqlite" if engine.dialect.name == "sqlite" else "postgresql"
