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

from sqlalchemy import Engine

from saglik.store import migrate
from saglik.store.engine import make_engine
from tests.pg_support import pg_database


@contextlib.contextmanager
def blank_engine(backend: str, tmp_dir: Path, *, migrated: bool) -> Iterator[Engine]:
    """An engine on a new, empty database (migrated to head if asked); dropped afterwards."""
    with contextlib.ExitStack() as stack:
        if backend == "sqlite":
            url = f"sqlite:///{tmp_dir / f'blank-{uuid.uuid4().hex[:8]}.db'}"
        else:
            url = stack.enter_context(pg_database(f"saglik_blank_{uuid.uuid4().hex[:12]}"))
        engine = make_engine(url)
        stack.callback(engine.dispose)
        if migrated:
            migrate.upgrade(engine)
        yield engine


def backend_of(engine: Engine) -> str:
    return "sqlite" if engine.dialect.name == "sqlite" else "postgresql"
