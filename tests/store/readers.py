"""Hot-path readers (``store/prepared.py``) on a test's engine, closed when the test is done."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine

from saglik.store.prepared import ThreadConnections


@contextmanager
def reading(engine: Engine) -> Iterator[ThreadConnections]:
    readers = ThreadConnections(engine)
    try:
        yield readers
    finally:
        readers.close()
