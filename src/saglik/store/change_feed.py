"""How a worker learns that the store's users or locks changed, before it admits a call.

A change (a password reset, a right withdrawn, an allow-list narrowed, a throttle lock) must hold
for every request that starts after it committed, in every worker of every machine. Each
database offers a cheap way to know:

- SQLite: ``PRAGMA data_version`` on a connection of the worker's own moves whenever another
  connection, in any process, committed to the file. Asked on every request (a few microseconds,
  no I/O beyond the shared memory of the WAL index); only when it moved are the two versions
  (``store/state.py``) read again.
- PostgreSQL: every bump is announced with ``NOTIFY`` at its commit; each worker keeps one
  connection ``LISTEN``-ing and reads the versions again (off the event loop, one read shared
  by the requests waiting for it) after each announcement. While that connection is down, every
  request reads the versions itself, so a lost listener costs time, never a stale answer.
  An announcement still takes a moment to arrive: a call may begin after a change committed and
  before its worker heard of it. So every G2G call on PostgreSQL also reads the versions
  (``confirm``) in its read thread, after its own reads and before it is answered; a call decided
  with older ones is decided again (``web/pipeline.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any, Protocol

import psycopg
from sqlalchemy import Engine

from saglik.store import state
from saglik.store.prepared import PreparedSelect, ThreadConnections
from saglik.store.state import Versions

log = logging.getLogger("saglik.changes")

RECONNECT_SECONDS = 1.0


class ChangeFeed(Protocol):
    exact: bool
    """Whether ``versions`` always holds every change committed before it was called."""

    async def start(self) -> None: ...

    async def versions(self) -> Versions:
        """The versions as this worker knows them (with ``exact``: as committed)."""
        ...

    def confirm(self) -> Versions:
        """The versions as committed now (blocking: a read thread's)."""
        ...

    async def close(self) -> None: ...


class SqliteFeed:
    exact = True

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._query = PreparedSelect(state.VERSIONS_QUERY, engine.dialect)
        self._connection: Any = None
        self.driver: Any = None
        """The sqlite3 connection, once opened (tests trace what it runs)."""
        self._data_version: int | None = None
        self._versions = Versions()

    async def start(self) -> None:
        pass  # the connection is opened by the first call, on the thread that will use it

    def _cursor(self) -> Any:
        if self._connection is None:
            connection = self._engine.raw_connection()
            self.driver = connection.driver_connection
            connection.detach()  # held for the worker's life, never returned to the pool
            self.driver.isolation_level = None
            self._connection = connection
        return self._connection.cursor()

    def confirm(self) -> Versions:
        cursor = self._cursor()
        try:
            cursor.execute("PRAGMA data_version")
            (data_version,) = cursor.fetchone()
            if data_version != self._data_version:
                self._versions = state.versions_of(self._query.rows(cursor, {}))
                self._data_version = data_version
        finally:
            cursor.close()
        return self._versions

    async def versions(self) -> Versions:
        return self.confirm()  # microseconds: on the event loop

    async def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


class PostgresFeed:
    exact = False

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._query = PreparedSelect(state.VERSIONS_QUERY, engine.dialect)
        self._threads = ThreadConnections(engine)
        self._dsn = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        self._listening = False
        self._generation = 0
        """Moves on every announcement (and on every loss of the listener)."""
        self._known: Versions | None = None
        """The versions read at ``_known_generation``; current while that is ``_generation``."""
        self._known_generation = -1
        self._reads: dict[int, asyncio.Future[Versions]] = {}
        self._listener: asyncio.Task[None] | None = None

    async def start(self) -> None:
        ready = asyncio.get_running_loop().create_future()
        self._listener = asyncio.create_task(self._listen(ready))
        # the first requests are served either way (they read for themselves until it listens)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(ready), timeout=5)

    async def _listen(self, ready: asyncio.Future[None]) -> None:
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    self._dsn, autocommit=True
                ) as conn:
                    await conn.execute(f"LISTEN {state.CHANGES_CHANNEL}")
                    self._changed()  # what committed before LISTEN was never announced
                    self._listening = True
                    if not ready.done():
                        ready.set_result(None)
                    async for _ in conn.notifies():
                        self._changed()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the server restarted, the network failed: keep trying
                log.warning("change listener lost: %s", type(exc).__name__)
            finally:
                self._listening = False
                self._changed()
                if not ready.done():
                    ready.set_result(None)
            await asyncio.sleep(RECONNECT_SECONDS)

    def _changed(self) -> None:
        self._generation += 1

    def confirm(self) -> Versions:
        return state.versions_of(self._threads.rows(self._query, {}))

    async def versions(self) -> Versions:
        generation = self._generation
        if self._listening and self._known_generation == generation and self._known is not None:
            return self._known
        # a read that began after the latest announcement is as good as one of our own
        read = self._reads.get(generation)
        if read is None:
            read = asyncio.ensure_future(asyncio.to_thread(self.confirm))
            self._reads[generation] = read
            read.add_done_callback(lambda _done: self._reads.pop(generation, None))
        versions = await asyncio.shield(read)
        if generation >= self._known_generation:
            self._known, self._known_generation = versions, generation
        return versions

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            await asyncio.gather(self._listener, return_exceptions=True)
            self._listener = None
        self._threads.close()


def change_feed(engine: Engine) -> ChangeFeed:
    if engine.dialect.name == "sqlite":
        return SqliteFeed(engine)
    return PostgresFeed(engine)
