"""Where a G2G call's blocking reads run: on the event loop for SQLite, on a bounded pool of
threads for PostgreSQL.

A PostgreSQL read waits for a round trip to the server; run on the loop, every other request of
the worker would wait with it (measured: 23–68 ms of event-loop lag with 64 calls in flight). An
SQLite read is a local indexed lookup of a few tens of microseconds, cheaper than handing it to a
thread and back. The pool is bounded, so a slow database makes calls queue in the worker rather
than open connections without limit; each of its threads keeps one connection
(``store/prepared.py`` ``ThreadConnections``).

Measured against the alternative (``benchmarks/README.md``, "§3: async driver or bounded thread
pool"): psycopg's own async connections, awaited on the loop, serve 1.45× the lookups of this
pool for 0.70× the CPU at 64 calls in flight. The services' reads are synchronous functions today;
making them awaitable is the next step for PostgreSQL (issue 12's closing note).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from sqlalchemy import Engine

T = TypeVar("T")


class ReadPool:
    def __init__(self, engine: Engine, threads: int) -> None:
        self._executor = (
            None
            if engine.dialect.name == "sqlite"
            else ThreadPoolExecutor(threads, thread_name_prefix="saglik-read")
        )

    async def run(self, work: Callable[[], T]) -> T:
        if self._executor is None:
            return work()
        return await asyncio.get_running_loop().run_in_executor(self._executor, work)

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True)
