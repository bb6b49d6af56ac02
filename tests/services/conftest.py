"""Service-level fixtures: a migrated store of this module's own, for tests that move the test
fixtures to other instants or drain the outbox (the shared session ``store`` must not see that)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from tests.store.backends import backend_of, blank_engine


@pytest.fixture(scope="module")
def fresh_store(store: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """A migrated, empty database on the same backend as ``store``, for one test module."""
    with blank_engine(backend_of(store), tmp_path_factory.mktemp("fresh"), migrated=True) as engine:
        yield engine
