"""Hot-path reads: the same rows as SQLAlchemy's own execution, on a connection kept per thread
that never holds a transaction open and survives the database dropping it."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, bindparam, select, text

from saglik.store import state
from saglik.store.prepared import PreparedSelect, ThreadConnections
from saglik.store.schema import instance_state
from tests.store.backends import blank_engine

BY_KEY = select(instance_state.c.key, instance_state.c.value).where(
    instance_state.c.key == bindparam("key")
)
BY_KEYS = (
    select(instance_state.c.key, instance_state.c.value)
    .where(instance_state.c.key.in_(bindparam("keys", expanding=True)))
    .order_by(instance_state.c.key)
)


@pytest.fixture
def readers(store: Engine) -> Iterator[ThreadConnections]:
    connections = ThreadConnections(store)
    yield connections
    connections.close()


@pytest.fixture
def pg_store(tmp_path: Path) -> Iterator[Engine]:
    """For what only a database server does (drop a connection, keep a transaction idle)."""
    with blank_engine("postgresql", tmp_path, migrated=True) as engine:
        yield engine


def _put(store: Engine, key: str, value: str) -> None:
    with store.begin() as conn:
        state.put(conn, key, value)


def test_rows_match_what_sqlalchemy_returns(store: Engine, readers: ThreadConnections) -> None:
    _put(store, "prepared-a", "1")
    _put(store, "prepared-b", "2")
    query = PreparedSelect(BY_KEYS, store.dialect)
    keys = ["prepared-a", "prepared-b", "prepared-missing"]
    with store.connect() as conn:
        expected = [tuple(r) for r in conn.execute(BY_KEYS, {"keys": keys})]
    assert [tuple(r) for r in readers.rows(query, {"keys": keys})] == expected
    assert expected == [("prepared-a", "1"), ("prepared-b", "2")]


def test_a_write_after_the_first_read_is_seen_by_the_next(
    store: Engine, readers: ThreadConnections
) -> None:
    query = PreparedSelect(BY_KEY, store.dialect)
    assert readers.rows(query, {"key": "prepared-late"}) == []
    _put(store, "prepared-late", "here")
    assert [tuple(r) for r in readers.rows(query, {"key": "prepared-late"})] == [
        ("prepared-late", "here")
    ]


def test_each_thread_reads_on_a_connection_of_its_own(
    store: Engine, readers: ThreadConnections
) -> None:
    query = PreparedSelect(BY_KEY, store.dialect)
    readers.rows(query, {"key": "x"})
    seen: list[object] = []

    def other() -> None:
        readers.rows(query, {"key": "x"})
        seen.append(readers._local.connection)

    thread = threading.Thread(target=other)
    thread.start()
    thread.join()
    assert seen
    assert seen[0] is not readers._local.connection


def test_no_transaction_is_left_open_between_reads(pg_store: Engine) -> None:
    readers = ThreadConnections(pg_store)
    readers.rows(PreparedSelect(BY_KEY, pg_store.dialect), {"key": "x"})
    with pg_store.connect() as conn:
        idle = conn.execute(
            text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND state = 'idle in transaction'"
            )
        ).scalar()
    readers.close()
    assert idle == 0


def test_a_connection_the_server_dropped_is_replaced_and_the_read_retried(
    pg_store: Engine,
) -> None:
    _put(pg_store, "prepared-kept", "yes")
    readers = ThreadConnections(pg_store)
    query = PreparedSelect(BY_KEY, pg_store.dialect)
    readers.rows(query, {"key": "prepared-kept"})
    pid = readers._local.connection.dbapi_connection.info.backend_pid
    with pg_store.connect() as conn:
        conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    rows = [tuple(r) for r in readers.rows(query, {"key": "prepared-kept"})]
    readers.close()
    assert rows == [("prepared-kept", "yes")]
