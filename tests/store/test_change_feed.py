"""A worker learns of every committed change before it admits the next call, on both stores,
without reading the versions on every call where the store can tell it has nothing new
(``store/change_feed.py``)."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator

from sqlalchemy import Engine, event

from saglik.services.bootstrap import ensure_store
from saglik.store import state
from saglik.store.change_feed import ChangeFeed, PostgresFeed, SqliteFeed, change_feed
from saglik.store.engine import make_engine
from tests.pg_support import pg_database


@contextlib.asynccontextmanager
async def running(feed: ChangeFeed) -> AsyncIterator[ChangeFeed]:
    await feed.start()
    try:
        yield feed
    finally:
        await feed.close()


def _bump_credentials(store: Engine) -> None:
    with store.begin() as conn:
        state.bump_credentials_version(conn)


def _bump_locks(store: Engine) -> None:
    with store.begin() as conn:
        state.bump_locks_version(conn)


async def _until(feed: ChangeFeed, wanted: state.Versions, seconds: float = 5) -> state.Versions:
    """The versions once they are ``wanted`` (PostgreSQL's announcement takes a moment)."""
    deadline = asyncio.get_running_loop().time() + seconds
    while (seen := await feed.versions()) != wanted:
        assert asyncio.get_running_loop().time() < deadline, seen
        await asyncio.sleep(0.01)
    return seen


def test_a_change_committed_elsewhere_is_seen(store: Engine) -> None:
    async def scenario() -> None:
        async with running(change_feed(store)) as feed:
            before = await feed.versions()
            await asyncio.to_thread(_bump_credentials, store)
            after = state.Versions(before.credentials + 1, before.locks)
            if store.dialect.name == "sqlite":  # asked on the call itself: at once
                assert await feed.versions() == after
            await _until(feed, after)
            await asyncio.to_thread(_bump_locks, store)
            await _until(feed, state.Versions(after.credentials, after.locks + 1))

    asyncio.run(scenario())


def test_nothing_changed_costs_no_read_of_the_versions(store: Engine) -> None:
    """SQLite: one ``PRAGMA data_version`` a call; PostgreSQL: nothing at all, once it listens."""
    statements: list[str] = []

    def seen(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(statement)

    async def scenario() -> None:
        async with running(change_feed(store)) as feed:
            await feed.versions()
            if isinstance(feed, SqliteFeed):
                feed.driver.set_trace_callback(statements.append)
            event.listen(store, "before_cursor_execute", seen)
            try:
                for _ in range(20):
                    await feed.versions()
            finally:
                event.remove(store, "before_cursor_execute", seen)

    asyncio.run(scenario())
    assert not [s for s in statements if "instance_state" in s], statements
    expected = 20 if store.dialect.name == "sqlite" else 0
    assert len([s for s in statements if "data_version" in s]) == expected


def test_postgresql_reads_for_itself_while_its_listener_is_down() -> None:
    with pg_database(f"saglik_feed_{uuid.uuid4().hex[:8]}") as url:
        engine = make_engine(url)
        try:
            ensure_store(engine)

            async def scenario() -> None:
                feed = PostgresFeed(engine)  # never started: nobody listens
                before = await feed.versions()
                await asyncio.to_thread(_bump_credentials, engine)
                assert (await feed.versions()).credentials == before.credentials + 1

            asyncio.run(scenario())
        finally:
            engine.dispose()
