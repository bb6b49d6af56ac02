"""National-size bulk loads on both stores, in one run: ``saglik import`` of persons, HES codes and
health events, and ``saglik demo generate``, on SQLite and on PostgreSQL.

    python benchmarks/bulk_load.py [--persons 2000000] [--demo-persons 1000000] [--batch-size 5000]
        [--backends sqlite,postgresql] [--work DIR] [--pg postgresql://postgres@127.0.0.1:5432]

For each store it creates an empty one (a SQLite file; a PostgreSQL database
``saglik_bench_bulk``, dropped afterwards) with ``saglik db upgrade``, then imports the three files
and, into a second empty store, generates the demo population. Each step runs in a child process
of its own (``bulk_load.py step …``) through the services the commands call, so that its peak RSS
is its own and its progress can be sampled: rows/s and RSS for every 250,000 rows. Writes
``benchmarks/results/bulk-<UTC time>.md`` and ``.json``.

The files are generated with a fixed seed: checksum-valid distinct T.C. numbers with Turkish
names; one HES code per person; an events file with a first vaccine dose for every person and a
negative PCR for every other one (1.5 events a person). Nothing is left behind unless ``--work``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg

from import_throughput import persons_file
from run_hes import machine_facts
from saglik.domain.clock import SystemClock
from saglik.domain.tckn import complete_tckn
from saglik.services import demo
from saglik.services.changes import SYSTEM, ChangeLog, store_pseudonymizer
from saglik.services.import_files import open_source
from saglik.services.importing import DEFAULT_BATCH, ImportService
from saglik.store.engine import make_engine

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
SAGLIK = str(Path(sys.executable).with_name("saglik"))
STEP = 250_000
PG_DATABASE = "saglik_bench_bulk"


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Samples:
    """Elapsed time and RSS each time the rows done pass another multiple of ``STEP``."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.points: list[dict[str, float]] = []
        self._next = STEP

    def at(self, done: int) -> None:
        while done >= self._next:
            self.points.append(
                {"rows": self._next, "seconds": time.monotonic() - self.started, "rss": rss_mb()}
            )
            self._next += STEP


def step(kind: str, url: str, file: str | None, persons: int, batch: int) -> dict[str, Any]:
    """One measured step, in this (child) process."""
    engine = make_engine(url)
    clock = SystemClock()
    samples = Samples()
    if kind == "demo":
        summary = demo.generate(
            engine,
            clock,
            persons=persons,
            years=5,
            seed=1,
            progress=lambda done, _total: samples.at(done),
        )
        rows = summary.persons
    else:
        service = ImportService(
            engine, clock, ChangeLog(SYSTEM, clock, store_pseudonymizer(engine))
        )
        assert file is not None
        with open_source(Path(file), kind) as source:
            result = service.run(
                source, "live", batch_size=batch, progress=lambda p: samples.at(p.rows_read)
            )
        assert result.rejected == 0, f"{result.rejected} rows rejected"
        rows = result.written
    seconds = time.monotonic() - samples.started
    engine.dispose()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "step": kind,
        "rows": rows,
        "seconds": round(seconds, 2),
        "rows_per_second": round(rows / seconds),
        "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 1),
        "peak_rss_mb": round(usage.ru_maxrss / 1024),
        "per_step": samples.points,
    }


def run_step(kind: str, url: str, file: Path | None, persons: int, batch: int) -> dict[str, Any]:
    args = [sys.executable, __file__, "step", kind, url, str(file or "-"), str(persons), str(batch)]
    done = subprocess.run(args, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"step {kind} on {url.split(':')[0]} failed:\n{done.stderr}")
    result: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    return result


def codes_file(path: Path, count: int) -> None:
    with path.open("w", encoding="utf-8") as f:
        f.write("code,identity_number,expires_at\n")
        for i in range(count):
            f.write(f"B{i % 10}{i:08d},{complete_tckn(str(100_000_000 + 3 * i))},2027-12-31\n")


def events_file(path: Path, count: int, rng: random.Random) -> int:
    """A first dose for every person, a negative PCR for every other: 1.5 events a person."""
    start = datetime(2021, 3, 1, tzinfo=UTC)
    written = 0
    with path.open("w", encoding="utf-8") as f:
        f.write("identity_number,kind,at,dose,result\n")
        for i in range(count):
            number = complete_tckn(str(100_000_000 + 3 * i))
            at = (start + timedelta(minutes=rng.randrange(0, 500_000))).isoformat()
            f.write(f"{number},vaccination,{at},1,\n")
            written += 1
            if i % 2 == 0:
                f.write(f"{number},pcr,{at},,negative\n")
                written += 1
    return written


def fresh_store(backend: str, work: Path, pg: str, name: str) -> str:
    if backend == "sqlite":
        for leftover in work.glob(f"{name}.db*"):
            leftover.unlink()
        url = f"sqlite:///{work / f'{name}.db'}"
    else:
        with psycopg.connect(f"{pg}/postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{PG_DATABASE}" WITH (FORCE)')
            admin.execute(f'CREATE DATABASE "{PG_DATABASE}"')
        url = f"{pg}/{PG_DATABASE}"
        key = work / f"{name}.pg.key"  # the audit key lives outside a PostgreSQL store
        key.unlink(missing_ok=True)
        os.environ["SAGLIK_AUDIT_KEY_FILE"] = str(key)  # the steps' processes inherit it
    upgraded = subprocess.run(
        [SAGLIK, "db", "upgrade"],
        env={**os.environ, "SAGLIK_DATABASE_URL": url},
        capture_output=True,
        text=True,
        check=False,
    )
    if upgraded.returncode != 0:
        raise SystemExit(upgraded.stderr)
    return url


def pg_settings(pg: str) -> dict[str, str]:
    names = ("server_version", "autovacuum", "shared_buffers", "max_wal_size", "synchronous_commit")
    with psycopg.connect(f"{pg}/postgres") as conn:
        return {name: str(conn.execute(f"SHOW {name}").fetchone()[0]) for name in names}  # type: ignore[index]


def rates(result: dict[str, Any]) -> list[int]:
    """Rows/s within each 250,000-row step."""
    out, before_rows, before_seconds = [], 0.0, 0.0
    for point in result["per_step"]:
        out.append(round((point["rows"] - before_rows) / (point["seconds"] - before_seconds)))
        before_rows, before_seconds = point["rows"], point["seconds"]
    return out


def markdown(result: dict[str, Any]) -> str:
    lines = [
        f"# Bulk loads, {result['when']}",
        "",
        f"Machine: {result['machine']['cores']} cores, {result['machine']['cpu']}; Python "
        f"{result['machine']['python']}, SQLite {result['machine']['sqlite']}; commit "
        f"{result['machine']['commit']}. PostgreSQL: "
        + ", ".join(f"{k} {v}" for k, v in result["postgresql"].items())
        + f". Batches of {result['batch_size']} rows. Load average at the start: "
        f"{result['load_average']}.",
        "",
        "| step | store | rows | seconds | rows/s | PostgreSQL ÷ SQLite | peak RSS MB |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    runs = result["runs"]
    for name in ("persons", "codes", "events", "demo"):
        for backend in result["backends"]:
            r = runs[backend][name]
            ratio = ""
            if backend == "postgresql" and "sqlite" in runs:
                ratio = f"{r['seconds'] / runs['sqlite'][name]['seconds']:.2f}×"
            lines.append(
                f"| {name} | {backend} | {r['rows']:,} | {r['seconds']:,.1f} | "
                f"{r['rows_per_second']:,} | {ratio} | {r['peak_rss_mb']} |"
            )
    lines += ["", "Rows/s and RSS (MB) for each 250,000 rows (demo: persons):", ""]
    for backend in result["backends"]:
        for name in ("persons", "codes", "events", "demo"):
            r = runs[backend][name]
            rss = ", ".join(f"{p['rss']:.0f}" for p in r["per_step"])
            lines.append(
                f"- {name}, {backend}: {', '.join(f'{x:,}' for x in rates(r))} (RSS {rss})"
            )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--persons", type=int, default=2_000_000)
    parser.add_argument("--demo-persons", type=int, default=1_000_000)
    parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--work", type=Path)
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432")
    args = parser.parse_args()
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    work = args.work or Path(tempfile.mkdtemp(prefix="saglik-bulk-"))
    work.mkdir(parents=True, exist_ok=True)
    rng = random.Random(20261204)
    files = {"persons": work / "persons.csv", "codes": work / "codes.csv"}
    files["events"] = work / "events.csv"
    started = time.monotonic()
    persons_file(files["persons"], args.persons, rng)
    codes_file(files["codes"], args.persons)
    events = events_file(files["events"], args.persons, rng)
    print(f"files ({args.persons:,} persons, {events:,} events) in "
          f"{time.monotonic() - started:.0f} s", flush=True)  # fmt: skip
    result: dict[str, Any] = {
        "when": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine_facts(),
        "postgresql": pg_settings(args.pg),
        "load_average": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "batch_size": args.batch_size,
        "backends": backends,
        "runs": {},
    }
    try:
        for backend in backends:
            runs: dict[str, Any] = {}
            url = fresh_store(backend, work, args.pg, "import")
            for kind in ("persons", "codes", "events"):
                runs[kind] = run_step(kind, url, files[kind], 0, args.batch_size)
                print(f"{backend} {kind}: {runs[kind]['seconds']} s", flush=True)
            url = fresh_store(backend, work, args.pg, "demo")
            runs["demo"] = run_step("demo", url, None, args.demo_persons, args.batch_size)
            print(f"{backend} demo: {runs['demo']['seconds']} s", flush=True)
            result["runs"][backend] = runs
    finally:
        if "postgresql" in backends:
            with psycopg.connect(f"{args.pg}/postgres", autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{PG_DATABASE}" WITH (FORCE)')
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    RESULTS.mkdir(exist_ok=True)
    stem = RESULTS / f"bulk-{datetime.now(UTC):%Y%m%d-%H%M%S}"
    stem.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    stem.with_suffix(".md").write_text(markdown(result), encoding="utf-8")
    print(markdown(result))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "step":
        _, _, kind, url, file, persons, batch = sys.argv
        print(json.dumps(step(kind, url, None if file == "-" else file, int(persons), int(batch))))
    else:
        main()
