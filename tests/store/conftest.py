"""Store-level fixtures: databases of their own beside the shared session ``store``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from tests.store.backends import backend_of, blank_engine


@pytest.fixture
def blank_db(store: Engine, tmp_path: Path) -> Iterator[Engine]:
    """A new, empty, unmigrated database on the same backend as ``store``."""
    with blank_engine(backend_of(store), tmp_path, migrated=False) as engine:
        yield engine
