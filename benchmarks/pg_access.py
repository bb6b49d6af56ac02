"""How the HES hot path should reach PostgreSQL without blocking the event loop (issue 12, §3):
psycopg 3's async connections, or sync connections in a bounded thread pool — measured.

    .venv/bin/python benchmarks/pg_access.py [--url postgresql://postgres@127.0.0.1:5432/saglik_bench]
        [--meta benchmarks/data/hes_1m.json] [--seconds 3] [--rounds 3] [--tasks 1,16,64]
        [--work-us 0,250]

The lookup is ``check-employee-hes-code``'s: the statement ``store/hes_repo.py`` ``find_facts``
runs for one code (compiled from the project's own query; a copy of its text if that cannot be
imported), one indexed row of ``hes_codes`` joined to its person with the open-risk ``EXISTS``,
on the PostgreSQL benchmark store (``pg_store.py``), cycling through the sampled codes.

N asyncio tasks (``--tasks``) on one uvloop event loop — the shape of one server worker with N
requests in flight — each repeat: burn ``--work-us`` µs of CPU on the loop (0: the access alone;
250: about what the real service spends per request besides the lookup, so that the GIL and the
loop are contended as in a server), then one lookup. Access modes:

- ``pool-P``: ``psycopg_pool.AsyncConnectionPool`` of P connections (``async with
  pool.connection()``, then ``await conn.execute``);
- ``conns-P``: P ``psycopg.AsyncConnection``s lent in arrival order by a dozen lines of code
  (``HandOff``): what the pool costs over the driver alone; needs no extra dependency;
- ``threads-k``: ``loop.run_in_executor`` on a ``ThreadPoolExecutor`` of k threads, each with its
  own sync ``psycopg.Connection`` (what ``store/prepared.py``'s ``ThreadConnections`` would do
  off the loop);
- ``inline``: the sync call on the loop itself (what the service does today): the reference,
  and what "blocking the event loop" costs.

Per cell (mode × N × work), over ``--seconds`` after a short warm-up: lookups/s; this process's
CPU (user + system, every thread) per lookup; the database server's CPU per lookup (its backends
for this database, from /proc); the lookup's latency as the awaiting task sees it (p50 / p99);
and the event loop's lag — how late a 1 ms timer fires (p99 / max) — which is what every other
request on the worker waits. Cells are run in rounds, modes alternating; the medians are
reported, each figure its median over the rounds. Writes
``benchmarks/results/pg-access-<UTC time>.md`` and ``.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import json
import os
import resource
import statistics
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import uvloop

from pg_store import HES_DATABASE, PG_SERVER, backend_cpu_seconds, database_url, server_facts
from run_hes import cpu_sample, machine_facts, wait_for_quiet

HERE = Path(__file__).resolve().parent
ENV = "live"
TIMER_S = 0.001

FALLBACK_SQL = (
    "SELECT hes_codes.code, hes_codes.expires_at, hes_codes.cancelled_at, "
    "persons.identity_number, persons.first_name, persons.last_name, EXISTS (SELECT * "
    "FROM risk_periods WHERE risk_periods.person_id = persons.id "
    "AND risk_periods.started_at <= %(now)s::TIMESTAMP WITHOUT TIME ZONE "
    "AND (risk_periods.ended_at IS NULL OR risk_periods.ended_at > "
    "%(now)s::TIMESTAMP WITHOUT TIME ZONE)) AS at_risk, persons.consent_vaccination, "
    "persons.consent_immunity, persons.consent_test "
    "FROM hes_codes JOIN persons ON persons.id = hes_codes.person_id "
    "WHERE hes_codes.env = %(env)s::VARCHAR AND hes_codes.code = %(code)s::VARCHAR"
)
"""``find_facts``'s single-code statement as SQLAlchemy compiles it for psycopg (2026-12)."""


def lookup_sql() -> tuple[str, str]:
    """The statement and where it came from: compiled from ``hes_repo`` when it imports."""
    try:
        from saglik.store.engine import make_engine
        from saglik.store.hes_repo import _facts_query

        dialect = make_engine("postgresql://localhost/unused").dialect
        text = str(_facts_query(plus=False, many=False).compile(dialect=dialect))
        return text, "compiled from saglik.store.hes_repo._facts_query(plus=False, many=False)"
    except Exception as exc:  # the module moved or changed shape: the recorded copy
        return FALLBACK_SQL, f"recorded copy (hes_repo not usable: {type(exc).__name__})"


SQL, SQL_SOURCE = lookup_sql()


@dataclass
class Cell:
    mode: str
    tasks: int
    work_us: int
    lookups: int
    seconds: float
    rate: float
    client_cpu_us: float
    """This process's CPU (every thread) per lookup, the burned work included."""
    db_cpu_us: float
    """The PostgreSQL backends' CPU per lookup."""
    p50_ms: float
    p99_ms: float
    lag_p99_ms: float
    lag_max_ms: float
    cores: float
    """This process's CPU over the wall time: how much of the machine it took."""
    other_cores: float = 0.0
    """Cores' worth of CPU used meanwhile by anything but this process and the database
    backends it uses: the noise of the shared machine."""


def burn(microseconds: int) -> None:
    """CPU on the loop (holding the GIL), standing for a request's own work."""
    if microseconds:
        until = time.perf_counter() + microseconds / 1e6
        while time.perf_counter() < until:
            pass


def params(code: str) -> dict[str, Any]:
    return {"now": datetime.now(UTC).replace(tzinfo=None), "env": ENV, "code": code}


Lookup = Callable[[str], Awaitable[list[tuple[Any, ...]]]]


class Access:
    """One way of reaching the database: ``open``, then ``lookup`` from any task, ``close``."""

    name: str

    async def open(self) -> None:
        raise NotImplementedError

    async def lookup(self, code: str) -> list[tuple[Any, ...]]:
        raise NotImplementedError

    async def close(self) -> None:
        raise NotImplementedError


class Inline(Access):
    def __init__(self, url: str) -> None:
        self.name = "inline"
        self.url = url
        self.conn: psycopg.Connection[tuple[Any, ...]] | None = None

    async def open(self) -> None:
        self.conn = psycopg.connect(self.url, autocommit=True)

    async def lookup(self, code: str) -> list[tuple[Any, ...]]:
        assert self.conn is not None
        return self.conn.execute(SQL, params(code)).fetchall()

    async def close(self) -> None:
        if self.conn is not None:
            self.conn.close()


class Threads(Access):
    def __init__(self, url: str, threads: int) -> None:
        self.name = f"threads-{threads}"
        self.url = url
        self.threads = threads
        self.local = threading.local()
        self.opened: list[psycopg.Connection[tuple[Any, ...]]] = []
        self.lock = threading.Lock()
        self.executor: ThreadPoolExecutor | None = None

    def _connect(self) -> None:
        conn = psycopg.connect(self.url, autocommit=True)
        self.local.conn = conn
        with self.lock:
            self.opened.append(conn)

    def _lookup(self, code: str) -> list[tuple[Any, ...]]:
        conn: psycopg.Connection[tuple[Any, ...]] = self.local.conn
        return conn.execute(SQL, params(code)).fetchall()

    async def open(self) -> None:
        self.executor = ThreadPoolExecutor(self.threads, initializer=self._connect)
        loop = asyncio.get_running_loop()
        # start every thread (and its connection) now, not during the measurement
        barrier = threading.Barrier(self.threads)
        await asyncio.gather(
            *(loop.run_in_executor(self.executor, barrier.wait, 30) for _ in range(self.threads))
        )

    async def lookup(self, code: str) -> list[tuple[Any, ...]]:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, self._lookup, code)

    async def close(self) -> None:
        if self.executor is not None:
            self.executor.shutdown(wait=True)
        for conn in self.opened:
            conn.close()


class Pool(Access):
    def __init__(self, url: str, size: int) -> None:
        self.name = f"pool-{size}"
        self.url = url
        self.size = size
        self.pool: Any = None

    async def open(self) -> None:
        from psycopg_pool import AsyncConnectionPool

        self.pool = AsyncConnectionPool(
            self.url,
            min_size=self.size,
            max_size=self.size,
            kwargs={"autocommit": True},
            open=False,
        )
        await self.pool.open(wait=True, timeout=30)

    async def lookup(self, code: str) -> list[tuple[Any, ...]]:
        async with self.pool.connection() as conn:
            cursor = await conn.execute(SQL, params(code))
            rows: list[tuple[Any, ...]] = await cursor.fetchall()
            return rows

    async def close(self) -> None:
        if self.pool is not None:
            await self.pool.close()


AsyncConn = psycopg.AsyncConnection[tuple[Any, ...]]


class HandOff:
    """P connections lent in arrival order: a released connection goes straight to the longest
    waiter. (An ``asyncio.Queue`` is not fair: a task that asks between the release and the woken
    waiter's turn takes the connection, the waiter queues again at the back, and the tail grows:
    measured, p99 2.5× psycopg_pool's at 64 tasks.)"""

    def __init__(self) -> None:
        self.free: list[AsyncConn] = []
        self.waiters: collections.deque[asyncio.Future[AsyncConn]] = collections.deque()

    async def take(self) -> AsyncConn:
        if self.free and not self.waiters:
            return self.free.pop()
        waiter: asyncio.Future[AsyncConn] = asyncio.get_running_loop().create_future()
        self.waiters.append(waiter)
        return await waiter

    def give(self, conn: AsyncConn) -> None:
        while self.waiters:
            waiter = self.waiters.popleft()
            if not waiter.done():  # one whose task was cancelled is skipped
                waiter.set_result(conn)
                return
        self.free.append(conn)


class Conns(Access):
    """A pool reduced to its core: P async connections, lent in arrival order."""

    def __init__(self, url: str, size: int) -> None:
        self.name = f"conns-{size}"
        self.url = url
        self.size = size
        self.lender = HandOff()
        self.all: list[AsyncConn] = []

    async def open(self) -> None:
        for _ in range(self.size):
            conn = await psycopg.AsyncConnection.connect(self.url, autocommit=True)
            self.all.append(conn)
            self.lender.give(conn)

    async def lookup(self, code: str) -> list[tuple[Any, ...]]:
        conn = await self.lender.take()
        try:
            cursor = await conn.execute(SQL, params(code))
            return await cursor.fetchall()
        finally:
            self.lender.give(conn)

    async def close(self) -> None:
        for conn in self.all:
            await conn.close()


def make_access(mode: str, url: str) -> Access:
    kind, _, size = mode.partition("-")
    if kind == "inline":
        return Inline(url)
    if kind == "threads":
        return Threads(url, int(size))
    if kind == "pool":
        return Pool(url, int(size))
    if kind == "conns":
        return Conns(url, int(size))
    raise SystemExit(f"unknown mode {mode!r}")


def quantile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


async def measure(
    mode: str, url: str, codes: list[str], tasks: int, work_us: int, seconds: float
) -> Cell:
    access = make_access(mode, url)
    await access.open()
    try:
        return await _measure(access, url, codes, tasks, work_us, seconds)
    finally:
        await access.close()


async def _measure(
    access: Access, url: str, codes: list[str], tasks: int, work_us: int, seconds: float
) -> Cell:
    latencies: list[float] = []
    lags: list[float] = []
    counting = False
    stop = False

    async def worker(offset: int) -> int:
        done = 0
        i = offset * 7919
        while not stop:
            burn(work_us)
            code = codes[i % len(codes)]
            i += 1
            started = time.perf_counter()
            rows = await access.lookup(code)
            if counting:
                latencies.append(time.perf_counter() - started)
                done += 1
            if not rows:
                raise RuntimeError(f"code {code} not found: is this the store of the codes?")
            await asyncio.sleep(0)  # a request that ends lets the next one run
        return done

    async def ticker() -> None:
        while not stop:
            started = time.perf_counter()
            await asyncio.sleep(TIMER_S)
            if counting:
                lags.append(time.perf_counter() - started - TIMER_S)

    running = [asyncio.create_task(worker(n)) for n in range(tasks)]
    timer = asyncio.create_task(ticker())
    await asyncio.sleep(min(1.0, seconds / 3))  # warm-up: statements prepared, caches hot
    usage0 = resource.getrusage(resource.RUSAGE_SELF)
    db0 = backend_cpu_seconds(url)
    machine0 = cpu_sample()
    wall0 = time.perf_counter()
    counting = True
    await asyncio.sleep(seconds)
    counting = False
    wall = time.perf_counter() - wall0
    usage1 = resource.getrusage(resource.RUSAGE_SELF)
    db1 = backend_cpu_seconds(url)
    machine1 = cpu_sample()
    stop = True
    lookups = sum(await asyncio.gather(*running))
    await timer
    cpu = (usage1.ru_utime - usage0.ru_utime) + (usage1.ru_stime - usage0.ru_stime)
    busy = (machine1[1] - machine1[0] - machine0[1] + machine0[0]) / os.sysconf("SC_CLK_TCK")
    other = max(0.0, busy - cpu - (db1 - db0)) / wall
    n = max(1, lookups)
    return Cell(
        mode=access.name,
        tasks=tasks,
        work_us=work_us,
        lookups=lookups,
        seconds=round(wall, 2),
        rate=round(lookups / wall),
        client_cpu_us=round(cpu * 1e6 / n, 1),
        db_cpu_us=round((db1 - db0) * 1e6 / n, 1),
        p50_ms=round(quantile(latencies, 0.5) * 1000, 3),
        p99_ms=round(quantile(latencies, 0.99) * 1000, 3),
        lag_p99_ms=round(quantile(lags, 0.99) * 1000, 2),
        lag_max_ms=round(max(lags, default=0.0) * 1000, 2),
        cores=round(cpu / wall, 2),
        other_cores=round(other, 2),
    )


def median_cell(cells: list[Cell]) -> Cell:
    """Each figure's median over the rounds, taken on its own: on a shared machine a round
    disturbed by other load moves lookups/s a lot and CPU per lookup less, and the median of
    each keeps one bad round out of both."""
    first = cells[0]
    figures: dict[str, Any] = {}
    for name, value in asdict(first).items():
        if isinstance(value, int | float) and name not in ("tasks", "work_us"):
            middle = statistics.median(getattr(c, name) for c in cells)
            figures[name] = type(value)(round(middle, 3))
        else:
            figures[name] = value
    return Cell(**figures)


def markdown(result: dict[str, Any]) -> str:
    m = result["machine"]
    lines = [
        f"### PostgreSQL access from one event loop, {result['finished_at']}",
        "",
        f"{m['cores']} cores ({m['cpu']}), Python {m['python']}, psycopg {result['psycopg']}, "
        f"psycopg_pool {result['psycopg_pool']}, PostgreSQL "
        f"{result['postgresql']['server_version']} on the same machine; commit {m['commit']}. "
        f"Store: {result['database']} "
        f"({result['persons']:,} persons), cycling through {result['codes']:,} sampled codes. "
        f"{result['seconds']} s per cell, {result['rounds']} round(s), modes alternating; each "
        "figure is its median over the rounds. Statement: "
        f"{result['sql_source']}. Load average before: {result['load_average']}.",
        "",
        "| work µs | tasks | mode | lookups/s | client CPU µs/lookup | DB CPU µs/lookup "
        "| total CPU µs/lookup | p50 ms | p99 ms | loop lag p99 / max ms | client cores "
        "| other load |",
        "|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for c in result["cells"]:
        total = c["client_cpu_us"] + c["db_cpu_us"]
        lines.append(
            f"| {c['work_us']} | {c['tasks']} | {c['mode']} | {c['rate']:,} | "
            f"{c['client_cpu_us']:.0f} | {c['db_cpu_us']:.0f} | {total:.0f} | "
            f"{c['p50_ms']:.2f} | {c['p99_ms']:.2f} | {c['lag_p99_ms']:.2f} / "
            f"{c['lag_max_ms']:.1f} | {c['cores']:.2f} | {c['other_cores']:.2f} |"
        )
    lines += [
        "",
        "Pairs with the same number of connections (ratios of the medians above; total CPU = "
        "client + DB):",
        "",
        "| work µs | tasks | pair | lookups/s | client CPU/lookup | total CPU/lookup "
        "| loop lag p99 |",
        "|---:|---:|---|---:|---:|---:|---:|",
    ]
    for row in result["summary"]:
        lines.append(
            f"| {row['work_us']} | {row['tasks']} | {row['pair']} | {row['rate']:.2f} | "
            f"{row['client_cpu']:.2f} | {row['total_cpu']:.2f} | {row['lag_p99']:.2f} |"
        )
    return "\n".join(lines) + "\n"


PAIRS = (
    ("conns-4", "threads-4"),
    ("pool-4", "threads-4"),
    ("pool-4", "conns-4"),
    ("conns-4", "inline"),
    ("threads-4", "inline"),
)
"""What the choice turns on: async connections against a thread pool with the same number of
connections; psycopg_pool against the bare driver; each against the blocking call it replaces."""


def summarize(cells: list[Cell]) -> list[dict[str, Any]]:
    """Per (work, tasks), the ratios of each pair of ``PAIRS`` that was measured."""
    found = {(c.work_us, c.tasks, c.mode): c for c in cells}
    out: list[dict[str, Any]] = []
    for work, tasks in sorted({(c.work_us, c.tasks) for c in cells}):
        for a, b in PAIRS:
            x, y = found.get((work, tasks, a)), found.get((work, tasks, b))
            if x is None or y is None:
                continue
            out.append(
                {
                    "work_us": work,
                    "tasks": tasks,
                    "pair": f"{a} ÷ {b}",
                    "rate": round(x.rate / max(1, y.rate), 2),
                    "client_cpu": round(x.client_cpu_us / max(0.1, y.client_cpu_us), 2),
                    "total_cpu": round(
                        (x.client_cpu_us + x.db_cpu_us) / max(0.1, y.client_cpu_us + y.db_cpu_us),
                        2,
                    ),
                    "lag_p99": round(x.lag_p99_ms / max(0.01, y.lag_p99_ms), 2),
                }
            )
    return out


async def run(args: argparse.Namespace, codes: list[str]) -> tuple[list[Cell], list[Cell]]:
    """The cells' medians over the rounds, and every round's cells."""
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    if any(m.startswith("pool") for m in modes):
        try:
            import psycopg_pool  # noqa: F401
        except ImportError:
            print("psycopg_pool is not installed: the pool-P modes are skipped", file=sys.stderr)
            modes = [m for m in modes if not m.startswith("pool")]
    tasks = [int(t) for t in args.tasks.split(",")]
    works = [int(w) for w in args.work_us.split(",")]
    by_cell: dict[tuple[int, int, str], list[Cell]] = {}
    for r in range(args.rounds):
        order = modes if r % 2 == 0 else modes[::-1]
        for work in works:
            for n in tasks:
                for mode in order:
                    if args.quiet_wait:
                        wait_for_quiet(args.quiet_wait)
                    cell = await measure(mode, args.url, codes, n, work, args.seconds)
                    by_cell.setdefault((work, n, mode), []).append(cell)
                    print(
                        f"  round {r + 1} work {work:>3} µs, {n:>2} tasks, {mode:<10} "
                        f"{cell.rate:>7,}/s, client {cell.client_cpu_us:6.0f} µs, db "
                        f"{cell.db_cpu_us:5.0f} µs, p99 {cell.p99_ms:7.2f} ms, lag p99 "
                        f"{cell.lag_p99_ms:7.2f} ms, other load {cell.other_cores:.2f}",
                        file=sys.stderr,
                        flush=True,
                    )
    medians = [
        median_cell(by_cell[(work, n, mode)]) for work in works for n in tasks for mode in modes
    ]
    return medians, [cell for cells in by_cell.values() for cell in cells]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default=database_url(PG_SERVER, HES_DATABASE))
    parser.add_argument("--meta", type=Path, default=HERE / "data" / "hes_1m.json")
    parser.add_argument("--seconds", type=float, default=3.0, help="measured seconds per cell")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--quiet-wait", type=float, default=10, help="s to wait for an idle machine per cell"
    )
    parser.add_argument("--tasks", default="1,16,64", help="concurrent tasks on the loop")
    parser.add_argument("--work-us", default="0,250", help="CPU burned per lookup on the loop")
    parser.add_argument(
        "--modes",
        default="inline,threads-2,threads-4,threads-8,pool-2,pool-4,pool-8,conns-4",
    )
    parser.add_argument("--out", type=Path, default=HERE / "results")
    args = parser.parse_args()
    meta = json.loads(args.meta.read_text("utf-8"))
    codes: list[str] = meta["codes"]
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"statement: {SQL_SOURCE}", file=sys.stderr)
    cells, every = uvloop.run(run(args, codes))
    pool_version = "not installed"
    with contextlib.suppress(ImportError):
        import psycopg_pool

        pool_version = psycopg_pool.__version__
    result: dict[str, Any] = {
        "finished_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine_facts(),
        "postgresql": server_facts(args.url.rsplit("/", 1)[0]),
        "psycopg": psycopg.__version__,
        "psycopg_pool": pool_version,
        "database": args.url.rsplit("/", 1)[1],
        "persons": meta["persons"],
        "codes": len(codes),
        "seconds": args.seconds,
        "rounds": args.rounds,
        "load_average": load,
        "sql_source": SQL_SOURCE,
        "sql": SQL,
        "cells": [asdict(c) for c in cells],
        "every_round": [asdict(c) for c in every],
        "summary": summarize(cells),
    }
    text = markdown(result)
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    (args.out / f"pg-access-{stamp}.json").write_text(json.dumps(result, indent=1) + "\n", "utf-8")
    (args.out / f"pg-access-{stamp}.md").write_text(text, "utf-8")
    print(text)


if __name__ == "__main__":
    main()
