"""Where the rate-limit counts live: the cost of counting one call, per storage, in one run.

    .venv/bin/python benchmarks/rate_limit_storage.py [--hits 3000]

Compares, on this machine, the storages a shared count could use (README "Many workers, many
machines"): the ``limits`` moving window in memory (one worker only) and in Redis, against the
cheapest database design a shared count could have, a fixed-window counter upserted in its own
transaction per call (``INSERT … ON CONFLICT DO UPDATE … RETURNING``), on SQLite (WAL, as the
service configures it) and on PostgreSQL, run in a thread as the service would have to. Each is
timed sequentially (wall and process CPU per count) and with 64 concurrent callers on one event
loop (counts per second). Needs Redis at 127.0.0.1:6379 and PostgreSQL at 127.0.0.1:5432.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
from sqlalchemy import Column, Integer, MetaData, String, Table
from sqlalchemy.dialects import postgresql, sqlite

from saglik.services.rate_limits import RateLimits
from saglik.store.engine import make_engine

REDIS = "redis://127.0.0.1:6379/14"
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
RULE = "1000000/minute"  # never refused: every call is counted, as a limited user's are

metadata = MetaData()
counts = Table(
    "rate_counts",
    metadata,
    Column("key", String(80), primary_key=True),
    Column("window", Integer, primary_key=True),
    Column("calls", Integer, nullable=False),
)

Count = Callable[[int], Awaitable[object]]


def _db_counter(url: str) -> tuple[Count, Callable[[], None]]:
    engine = make_engine(url)
    metadata.create_all(engine)
    insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert
    pool = ThreadPoolExecutor(8)
    key = uuid.uuid4().hex

    def hit(user: int) -> int:
        window = int(time.time() // 60)
        statement = (
            insert(counts)
            .values(key=f"{key}:{user}", window=window, calls=1)
            .on_conflict_do_update(
                index_elements=[counts.c.key, counts.c.window],
                set_={"calls": counts.c.calls + 1},
            )
            .returning(counts.c.calls)
        )
        with engine.begin() as conn:
            return int(conn.execute(statement).scalar_one())

    async def count(user: int) -> int:
        return await asyncio.get_running_loop().run_in_executor(pool, hit, user)

    def close() -> None:
        pool.shutdown()
        engine.dispose()

    return count, close


def _limits_counter(url: str) -> Count:
    limits = RateLimits(url, uuid.uuid4().hex)

    async def count(user: int) -> object:
        return await limits.retry_after(RULE, user)

    return count


async def _measure(count: Count, hits: int) -> dict[str, float]:
    for user in range(50):  # connections, scripts and first rows in place
        await count(user)
    wall, cpu = time.perf_counter(), time.process_time()
    for n in range(hits):
        await count(n % 50)
    seq_wall = (time.perf_counter() - wall) / hits * 1e6
    seq_cpu = (time.process_time() - cpu) / hits * 1e6
    per_caller = hits // 64
    started = time.perf_counter()

    async def caller(user: int) -> None:
        for _ in range(per_caller):
            await count(user)

    await asyncio.gather(*(caller(u) for u in range(64)))
    rate = per_caller * 64 / (time.perf_counter() - started)
    return {"sequential_us": seq_wall, "cpu_us": seq_cpu, "concurrent_per_s": rate}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hits", type=int, default=3000)
    args = parser.parse_args()
    database = f"saglik_rl_{os.getpid()}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{database}"')
    results: dict[str, dict[str, float]] = {}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            sqlite_count, sqlite_close = _db_counter(f"sqlite:///{Path(tmp) / 'rl.db'}")
            pg_count, pg_close = _db_counter(PG_ADMIN.rsplit("/", 1)[0] + f"/{database}")
            storages: dict[str, Count] = {
                "memory:// (limits, moving window)": _limits_counter("memory://"),
                "redis:// (limits, moving window)": _limits_counter(REDIS),
                "SQLite upsert per call (thread)": sqlite_count,
                "PostgreSQL upsert per call (thread)": pg_count,
            }
            for name, count in storages.items():
                results[name] = asyncio.run(_measure(count, args.hits))
            sqlite_close()
            pg_close()
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    print(f"hits per storage: {args.hits} sequential, then {args.hits // 64 * 64} from 64 callers")
    print("| storage | µs per count, one caller | CPU µs per count | counts/s, 64 callers |")
    print("|---|---:|---:|---:|")
    for name, r in results.items():
        print(
            f"| {name} | {r['sequential_us']:.0f} | {r['cpu_us']:.0f} "
            f"| {r['concurrent_per_s']:,.0f} |"
        )


if __name__ == "__main__":
    main()
