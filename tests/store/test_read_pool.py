"""Where G2G reads run (``store/read_pool.py``): never on the event loop for PostgreSQL, whose
round trips would stall every other call of the worker; inline for SQLite's local lookups."""

from __future__ import annotations

import asyncio
import threading
import time

from sqlalchemy import Engine, text

from saglik.store.read_pool import ReadPool


def test_a_postgresql_read_leaves_the_loop_free_and_an_sqlite_read_runs_on_it(
    store: Engine,
) -> None:
    pool = ReadPool(store, threads=2)

    def slow_read() -> int:
        with store.connect() as conn:
            if store.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_sleep(0.3)"))
            else:
                time.sleep(0.3)  # stands for a long SQLite read
        return threading.get_ident()

    async def scenario() -> tuple[int, int, int]:
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        ticking = asyncio.create_task(ticker())
        await asyncio.sleep(0)
        reader = await pool.run(slow_read)
        ticking.cancel()
        return reader, threading.get_ident(), ticks

    try:
        reader, loop_thread, ticks = asyncio.run(scenario())
    finally:
        pool.close()
    if store.dialect.name == "postgresql":
        assert reader != loop_thread
        assert ticks >= 10  # the loop ran on while the read waited
    else:
        assert reader == loop_thread
        assert ticks == 0


def test_the_pool_is_bounded(store: Engine) -> None:
    """More concurrent reads than threads queue for them, never open more connections."""
    pool = ReadPool(store, threads=2)
    running = 0
    most = 0
    lock = threading.Lock()

    def read() -> None:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.02)
        with lock:
            running -= 1

    async def scenario() -> None:
        await asyncio.gather(*(pool.run(read) for _ in range(12)))

    try:
        asyncio.run(scenario())
    finally:
        pool.close()
    assert most == (2 if store.dialect.name == "postgresql" else 1)
