"""HES load benchmark: the real service against the raw ASGI floor, on SQLite and on PostgreSQL,
at 1 and 2 workers, closed loop (wrk) and open loop (a constant offered rate), in one run.

    .venv/bin/python benchmarks/run_hes.py                  # from the repository root
    .venv/bin/python benchmarks/run_hes.py --backend sqlite --workers 1   # the earlier run

Why one invocation: the machine is shared, so req/s moves between runs; the ratios issue 12 sets
targets on (real ÷ floor, 2 workers ÷ 1, PostgreSQL ÷ SQLite) are only worth anything when both
sides were measured in the same run, rounds alternating.

Steps (everything bound to 127.0.0.1 and bounded in time; nothing is installed but ``wrk``, and
only when it is missing):
1. builds ``benchmarks/data/hes_1m.db`` (1,000,000 persons) with ``load_hes.py`` if it is absent
   and, for ``--backend postgresql|both``, its copy in the PostgreSQL database ``saglik_bench``
   with ``pg_store.py`` (once: reused while the SQLite store is the same build);
2. starts, each on its own port: the raw ASGI floor (``raw_baseline.py`` under uvicorn, uvloop +
   httptools, 1 worker) on each backend, and the real service (``saglik serve --workers N``, audit
   and access log on: the defaults) for each backend and each N of ``--workers``; more than one
   worker counts rate limits in Redis (``--rate-limit-storage``);
3. checks one found and one unknown code on each, warms each up, then runs ``wrk`` on
   ``check-employee-hes-code`` (64 connections, 2 threads, ``--latency``) for ``--rounds`` rounds,
   the servers' order rotating each round; the audit tables are emptied before every run of a
   real server, so each starts from the same store;
4. on each backend's one-worker service, for information: ``check-hes-code-plus`` and bulk
   ``check-hes-codes`` throughput with ``wrk``, and the latency of sequential bulk requests of
   500 codes with httpx;
5. the open loop (``open_loop.py``): a constant offered rate of half the raw SQLite floor's
   median req/s of step 3 (``--open-rate`` to fix it), latency counted from each request's
   intended send time, on every server of ``--open-configs``;
6. writes ``benchmarks/results/hes-<UTC time>.md`` and ``.json`` and prints the markdown.

CPU per request is the server's whole process tree (granian serves from worker processes) and,
on PostgreSQL, the database backends serving it (``DB CPU``), so that the two stores are compared
on everything they cost the machine.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import platform
import random
import re
import resource
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

import pg_store

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BIN = Path(sys.executable).parent
HES = "/services/g2g/saglik/hes"
BACKENDS = ("sqlite", "postgresql")
DEFAULT_REDIS = "redis://127.0.0.1:6379/14"
TARGET_RATIO = 0.5
"""Issue 12, §4: SQLite, 1 worker, ``check-employee-hes-code`` ≥ 0.5× the raw floor's req/s."""
TARGET_SCALING = 1.7
"""2 workers ≥ 1.7× one worker, on both backends."""
TARGET_OPEN_P99_MS = 10.0
"""p99 at a constant offered rate of half the floor's maximum (SQLite, 1 worker)."""
TARGET_BULK_P50_MS = 25.0
"""Bulk of 500 codes: p50."""


@dataclass
class WrkResult:
    label: str
    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p75_ms: float
    p90_ms: float
    p99_ms: float
    non_2xx: int
    socket_errors: str
    server_cpu_ms_per_request: float = 0.0
    """CPU time (user + system, every thread of every process of the server) per request."""
    idle_before: float = 0.0
    """Share of the machine's CPU idle in the second before the run (other load disturbs it)."""
    other_cores: float = 0.0
    """Cores' worth of CPU used during the run by anything but this server, its database backends
    and the load generator: the noise."""
    db_cpu_ms_per_request: float = 0.0
    """The PostgreSQL backends' CPU per request (0 on SQLite, which runs in the server)."""
    audit_rows: int = 0
    """Audit rows the run left (the tables are emptied before each run of a real server)."""


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if match is None:
        raise ValueError(f"unexpected wrk time {text!r}")
    return float(match[1]) * _UNITS[match[2]]


def parse_wrk(label: str, output: str) -> WrkResult:
    def find(pattern: str) -> re.Match[str]:
        match = re.search(pattern, output, re.MULTILINE)
        if match is None:
            raise ValueError(f"wrk output lacks {pattern!r}:\n{output}")
        return match

    total = find(r"^\s*(\d+) requests in ([\d.]+)(\w+),")
    percentiles = {p: _ms(find(rf"^\s+{p}%\s+(\S+)")[1]) for p in (50, 75, 90, 99)}
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors = re.search(r"Socket errors: (.*)$", output, re.MULTILINE)
    return WrkResult(
        label=label,
        requests=int(total[1]),
        seconds=_ms(total[2] + total[3]) / 1000,
        rps=float(find(r"Requests/sec:\s+([\d.]+)")[1]),
        p50_ms=percentiles[50],
        p75_ms=percentiles[75],
        p90_ms=percentiles[90],
        p99_ms=percentiles[99],
        non_2xx=int(non_2xx[1]) if non_2xx else 0,
        socket_errors=errors[1].strip() if errors else "none",
    )


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    print("wrk missing: installing it from Debian (apt-get install -y wrk)", file=sys.stderr)
    subprocess.run(["apt-get", "install", "-y", "wrk"], check=True, timeout=300)
    found = shutil.which("wrk")
    if not found:
        raise SystemExit("wrk is still missing after apt-get install")
    return found


# --- stores ------------------------------------------------------------------------------------


def reset_audit(db: Path) -> None:
    """Empties an SQLite benchmark store's audit tables, so every run starts from the same
    state."""
    with contextlib.closing(sqlite3.connect(db, isolation_level=None)) as conn:
        conn.execute("PRAGMA busy_timeout=30000")
        for table in pg_store.AUDIT_TABLES:
            conn.execute(f"DELETE FROM {table}")  # noqa: S608 - fixed names
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def last_audit_id(db: Path) -> int:
    with contextlib.closing(sqlite3.connect(db)) as conn:
        return int(conn.execute("SELECT coalesce(max(id), 0) FROM audit_events").fetchone()[0])


@dataclass(frozen=True)
class Store:
    """One benchmark store as a server is given it: the database URL and the audit key ring's
    file (an SQLite store's lies beside it; its PostgreSQL copy shares it, ``pg_store.py``)."""

    backend: str
    url: str
    key_file: Path
    sqlite_path: Path | None = None

    @classmethod
    def sqlite(cls, path: Path) -> Store:
        return cls("sqlite", f"sqlite:///{path}", Path(f"{path}.key"), path)

    @classmethod
    def postgresql(cls, url: str, key_file: Path) -> Store:
        return cls("postgresql", url, key_file)

    def env(self) -> dict[str, str]:
        return {"SAGLIK_DATABASE_URL": self.url, "SAGLIK_AUDIT_KEY_FILE": str(self.key_file)}

    def reset_audit(self) -> None:
        if self.sqlite_path is not None:
            reset_audit(self.sqlite_path)
        else:
            pg_store.reset_audit(self.url)

    def audit_rows(self) -> int:
        if self.sqlite_path is not None:
            with contextlib.closing(sqlite3.connect(self.sqlite_path)) as conn:
                return int(conn.execute("SELECT count(*) FROM audit_events").fetchone()[0])
        return pg_store.audit_rows(self.url)

    def db_cpu(self) -> dict[int, float]:
        """CPU seconds per database backend serving this store now (none for SQLite)."""
        if self.sqlite_path is not None:
            return {}
        return pg_store.backend_cpu(self.url)


def db_cpu_delta(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU the backends used between two samples (one that started meanwhile counts whole)."""
    return sum(max(0.0, cpu - before.get(pid, 0.0)) for pid, cpu in after.items())


# --- servers -----------------------------------------------------------------------------------


class Server:
    """One server process in its own session; stopped by its own pid, gracefully first."""

    def __init__(
        self,
        name: str,
        cmd: list[str],
        env: dict[str, str],
        port: int,
        logs: Path,
        workers: int = 1,
    ) -> None:
        self.name = name
        self.cmd = cmd
        self.env = env
        self.base = f"http://127.0.0.1:{port}"
        self.log_path = logs / f"{name}.log"
        self.workers = workers
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 120) -> None:
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                self.cmd,
                env=self.env,
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited: {self.log_path.read_text()[-2000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.base}/healthz", timeout=1).status_code == 200:
                    self._wait_for_workers(deadline)
                    return
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"{self.name} not ready in {timeout} s")

    def _wait_for_workers(self, deadline: float) -> None:
        """The first worker up answers ``/healthz``; wait for granian to report the others
        started too (best effort: the warm-up reaches them anyway)."""
        if self.workers <= 1:
            return
        while time.monotonic() < deadline:
            if self.log_path.read_text(errors="replace").count("Started worker-") >= self.workers:
                return
            time.sleep(0.2)
        print(f"  {self.name}: not every worker reported its start", file=sys.stderr)

    def stop(self, timeout: float = 30) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)

    def cpu_seconds(self) -> float:
        assert self.proc is not None
        return tree_cpu_seconds(self.proc.pid)

    @contextlib.contextmanager
    def running(self) -> Iterator[Server]:
        self.start()
        try:
            yield self
        finally:
            self.stop()


def cpu_sample() -> tuple[int, int]:
    """(idle, total) jiffies of the whole machine since boot, from /proc/stat."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    return fields[3] + fields[4], sum(fields)


def idle_share(seconds: float = 1.0) -> float:
    """The machine's idle CPU share over ``seconds`` (from /proc/stat; 1.0 where unknown)."""
    try:
        idle0, total0 = cpu_sample()
        time.sleep(seconds)
        idle1, total1 = cpu_sample()
    except OSError:
        return 1.0
    return (idle1 - idle0) / max(1, total1 - total0)


def other_benchmarks() -> list[str]:
    """Pids of other load generators sharing the machine (a wrk, the ÖBS benchmark, the
    PostgreSQL access micro-benchmark)."""
    found: list[str] = []
    patterns = (["pgrep", "-x", "wrk"], ["pgrep", "-f", "run_obs.py"], ["pgrep", "-f", "pg_access"])
    for args in patterns:
        done = subprocess.run(args, capture_output=True, text=True, check=False)
        found += [pid for pid in done.stdout.split() if int(pid) not in (os.getpid(), os.getppid())]
    return found


def wait_for_others(limit: float) -> None:
    """Waits (up to ``limit`` s) while another benchmark runs: two load tests must not overlap."""
    deadline = time.monotonic() + limit
    while other_benchmarks() and time.monotonic() < deadline:
        print("  another benchmark (wrk / run_obs.py) is running: waiting", file=sys.stderr)
        time.sleep(5)


def wait_for_quiet(limit: float) -> float:
    """Waits up to ``limit`` seconds for the machine to be ≥ 90 % idle; returns the last share."""
    deadline = time.monotonic() + limit
    idle = idle_share()
    while idle < 0.9 and time.monotonic() < deadline:
        print(f"  machine only {idle:.0%} idle, waiting", file=sys.stderr)
        idle = idle_share(2.0)
    return idle


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU of a process, all its threads included (Linux /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU of ``pid`` and its descendants: ``saglik serve`` is granian's main
    process, and the workers that do the work are its children."""
    total, pending = 0.0, [pid]
    while pending:
        current = pending.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        pending.extend(int(child) for child in children)
    return total


class Meter:
    """CPU around one measured run: the server's tree, its database backends, this process's
    children (the load generator) and the whole machine (the rest is other load)."""

    def __init__(self, server: Server, store: Store | None) -> None:
        self.server, self.store = server, store
        self.cpu = server.cpu_seconds()
        self.db = store.db_cpu() if store else {}
        self.children = resource.getrusage(resource.RUSAGE_CHILDREN)
        self.machine = cpu_sample()
        self.wall = time.monotonic()

    def stop(self) -> tuple[float, float, float, float]:
        """(server CPU s, database CPU s, other load in cores, wall s)."""
        cpu = self.server.cpu_seconds() - self.cpu
        db = db_cpu_delta(self.db, self.store.db_cpu()) if self.store else 0.0
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        generator = (children.ru_utime + children.ru_stime) - (
            self.children.ru_utime + self.children.ru_stime
        )
        machine, wall = cpu_sample(), time.monotonic() - self.wall
        busy = (machine[1] - machine[0]) - (self.machine[1] - self.machine[0])
        busy_seconds = busy / os.sysconf("SC_CLK_TCK")
        other = max(0.0, busy_seconds - cpu - db - generator) / wall
        return cpu, db, round(other, 2), wall


def run_wrk(
    wrk: str,
    label: str,
    server: Server,
    path: str,
    script: Path,
    env: dict[str, str],
    *,
    seconds: int,
    connections: int,
    threads: int,
    quiet_wait: float = 0,
    store: Store | None = None,
) -> WrkResult:
    url = f"{server.base}{path}"
    idle = wait_for_quiet(quiet_wait) if quiet_wait else idle_share()
    meter = Meter(server, store)
    cmd = [wrk, f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "5s"]
    cmd += ["--latency", "-s", str(script), url]
    done = subprocess.run(
        cmd, env=env, capture_output=True, text=True, timeout=seconds + 60, check=True
    )
    cpu, db, other, _wall = meter.stop()
    result = parse_wrk(label, done.stdout)
    result.other_cores = other
    result.server_cpu_ms_per_request = round(cpu * 1000 / max(1, result.requests), 3)
    result.db_cpu_ms_per_request = round(db * 1000 / max(1, result.requests), 3)
    result.idle_before = round(idle, 2)
    db_text = (
        f" + DB {result.db_cpu_ms_per_request:.3f}" if store and store.backend != "sqlite" else ""
    )
    print(
        f"  {label}: {result.rps:,.0f} req/s, p50 {result.p50_ms:.2f} ms, "
        f"p99 {result.p99_ms:.2f} ms, non-2xx {result.non_2xx}/{result.requests}, "
        f"server CPU {result.server_cpu_ms_per_request:.3f}{db_text} ms/req, idle before "
        f"{idle:.0%}, other load {result.other_cores:.2f} cores",
        file=sys.stderr,
    )
    return result


def median_result(results: list[WrkResult]) -> WrkResult:
    """The round with the median throughput (the lower middle one for an even count)."""
    ordered = sorted(results, key=lambda r: r.rps)
    return ordered[(len(ordered) - 1) // 2]


def sanity(base: str, auth: tuple[str, str], found: str, unknown: str) -> None:
    url = f"{base}{HES}/check-employee-hes-code"
    ok = httpx.post(url, json={"hes_code": found}, auth=auth, timeout=10)
    missing = httpx.post(url, json={"hes_code": unknown}, auth=auth, timeout=10)
    if ok.status_code != 200 or missing.status_code != 400:
        raise RuntimeError(
            f"sanity check failed at {base}: {ok.status_code} {ok.text[:200]} / "
            f"{missing.status_code} {missing.text[:200]}"
        )


def bulk_latency(
    base: str, auth: tuple[str, str], codes: list[str], *, requests: int, size: int
) -> dict[str, Any]:
    """Sequential bulk requests on one keep-alive connection; client-side wall time each."""
    url = f"{base}{HES}/check-hes-codes"
    rng = random.Random(7)
    timings: list[float] = []
    found = 0
    with httpx.Client(auth=auth, timeout=30) as client:
        for i in range(requests + 10):
            batch = rng.sample(codes, size)
            body = json.dumps([{"hes_code": c} for c in batch])
            started = time.perf_counter()
            response = client.post(url, content=body, headers={"Content-Type": "application/json"})
            elapsed = (time.perf_counter() - started) * 1000
            if response.status_code != 200:
                raise RuntimeError(f"bulk answered {response.status_code}: {response.text[:200]}")
            if i >= 10:  # the first ten warm up
                timings.append(elapsed)
                found += len(response.json()["success_map"])
    timings.sort()
    return {
        "requests": requests,
        "codes_per_request": size,
        "found_per_request": round(found / requests, 1),
        "p50_ms": round(statistics.median(timings), 2),
        "p99_ms": round(timings[min(len(timings) - 1, int(len(timings) * 0.99))], 2),
        "mean_ms": round(statistics.fmean(timings), 2),
        "max_ms": round(timings[-1], 2),
    }


def real_server(
    store: Store | Path,
    port: int,
    tmp: Path,
    base_env: dict[str, str],
    real_src: Path | None = None,
    extra_env: dict[str, str] | None = None,
    *,
    workers: int = 1,
    rate_limit_storage: str | None = None,
    name: str = "real",
) -> Server:
    """``saglik serve --workers N`` on ``store`` (from ``real_src`` if given), the store first
    brought to that code's schema (it may predate a newer migration)."""
    if isinstance(store, Path):
        store = Store.sqlite(store)
    env = {**base_env, **store.env(), **(extra_env or {})}
    if rate_limit_storage:
        env["SAGLIK_RATE_LIMIT_STORAGE"] = rate_limit_storage
    if real_src:
        env["PYTHONPATH"] = str((real_src / "src").resolve())
    subprocess.run([str(BIN / "saglik"), "db", "upgrade"], env=env, check=True, timeout=600)
    command = [str(BIN / "saglik"), "serve", "--port", str(port), "--workers", str(workers)]
    return Server(name, command, env, port, tmp, workers)


def raw_server(
    store: Store | Path,
    port: int,
    tmp: Path,
    base_env: dict[str, str],
    *,
    pg_access: str = "inline",
    name: str = "raw",
) -> Server:
    """The raw ASGI floor (``raw_baseline.py``) on the HES store, under uvicorn."""
    if isinstance(store, Path):
        store = Store.sqlite(store)
    if store.sqlite_path is not None:
        env = {**base_env, "HES_BENCH_DB": str(store.sqlite_path)}
    else:
        env = {**base_env, "HES_BENCH_DATABASE_URL": store.url, "HES_BENCH_PG_ACCESS": pg_access}
    return Server(
        name,
        [
            *(str(BIN / "uvicorn"), "raw_baseline:app", "--app-dir", str(HERE)),
            *("--host", "127.0.0.1", "--port", str(port), "--workers", "1"),
            *("--loop", "uvloop", "--http", "httptools", "--no-access-log"),
            *("--log-level", "warning"),
        ],
        env,
        port,
        tmp,
    )


def machine_facts() -> dict[str, Any]:
    """What every recorded result states about where it ran."""
    cpu = platform.processor()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "src"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "commit": commit + (" + uncommitted src changes" if dirty else ""),
    }


def machine() -> dict[str, Any]:
    wrk_version = subprocess.run(["wrk", "-v"], capture_output=True, text=True, check=False)
    wrk = (wrk_version.stdout or wrk_version.stderr).splitlines()[0].split(" Copyright")[0]
    return {**machine_facts(), "wrk": wrk}


# --- the run -----------------------------------------------------------------------------------


@dataclass
class Config:
    """One server of the run: the real service or the raw floor, on one backend."""

    key: str
    kind: str
    backend: str
    workers: int
    server: Server
    store: Store
    rounds: list[WrkResult] = field(default_factory=list)

    @property
    def real(self) -> bool:
        return self.kind == "real"


def config_key(kind: str, backend: str, workers: int) -> str:
    return f"raw-{backend}" if kind == "raw" else f"real-{backend}-{workers}w"


def open_loop(
    config: Config,
    bodies: Path,
    env: dict[str, str],
    *,
    rate: float,
    seconds: float,
    warmup: float,
    connections: int,
) -> dict[str, Any]:
    """One ``open_loop.py`` run (a child process: its CPU is its own) on ``config``'s server,
    with the server's and its database's CPU per request sent."""
    url = f"{config.server.base}{HES}/check-employee-hes-code"
    command = [sys.executable, str(HERE / "open_loop.py"), "--url", url, "--bodies", str(bodies)]
    command += ["--rate", f"{rate:.0f}", "--seconds", f"{seconds:g}", "--warmup", f"{warmup:g}"]
    command += ["--connections", str(connections)]
    meter = Meter(config.server, config.store)
    done = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=warmup + seconds + 120
    )
    cpu, db, other, _wall = meter.stop()
    if done.returncode != 0:
        raise RuntimeError(f"open_loop.py failed on {config.key}:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    sent = max(1, result["total_sent"])
    result["server_cpu_ms_per_request"] = round(cpu * 1000 / sent, 3)
    result["db_cpu_ms_per_request"] = round(db * 1000 / sent, 3)
    result["other_cores"] = other
    print(f"  open loop {config.key}: {done.stderr.strip().splitlines()[-1]}", file=sys.stderr)
    return result


def ratio(a: float, b: float) -> float:
    return round(a / b, 3) if b else 0.0


def ratios(
    medians: dict[str, dict[str, Any]], backends: list[str], workers: list[int]
) -> dict[str, dict[str, float]]:
    """The ratios issue 12 asks for, from the median rounds: real ÷ floor, PostgreSQL ÷ SQLite,
    more workers ÷ one."""
    out: dict[str, dict[str, float]] = {}

    def cpu(key: str) -> float:
        m = medians[key]
        return float(m["server_cpu_ms_per_request"] + m["db_cpu_ms_per_request"])

    one = min(workers)
    floor = "raw-sqlite" if "sqlite" in backends else f"raw-{backends[0]}"
    for backend in backends:
        raw = f"raw-{backend}"
        for n in workers:
            key = config_key("real", backend, n)
            out[f"{key} ÷ {raw}"] = {
                "rps": ratio(medians[key]["rps"], medians[raw]["rps"]),
                "cpu": ratio(cpu(key), cpu(raw)),
            }
            if raw != floor:
                out[f"{key} ÷ {floor}"] = {
                    "rps": ratio(medians[key]["rps"], medians[floor]["rps"]),
                    "cpu": ratio(cpu(key), cpu(floor)),
                }
        for n in workers:
            if n != one:
                a, b = config_key("real", backend, n), config_key("real", backend, one)
                out[f"{a} ÷ {b}"] = {
                    "rps": ratio(medians[a]["rps"], medians[b]["rps"]),
                    "cpu": ratio(cpu(a), cpu(b)),
                }
    if set(BACKENDS) <= set(backends):
        pairs = [("raw-postgresql", "raw-sqlite")]
        pairs += [
            (config_key("real", "postgresql", n), config_key("real", "sqlite", n)) for n in workers
        ]
        for a, b in pairs:
            out[f"{a} ÷ {b}"] = {
                "rps": ratio(medians[a]["rps"], medians[b]["rps"]),
                "cpu": ratio(cpu(a), cpu(b)),
            }
    return out


def targets(result: dict[str, Any]) -> list[tuple[str, float, str, bool]]:
    """(what, measured, target, met) for each issue-12 target this run measured."""
    medians = result["medians"]
    rows: list[tuple[str, float, str, bool]] = []
    workers, backends = result["workers"], result["backends"]
    one = min(workers)
    if "sqlite" in backends and one == 1:
        value = ratio(medians["real-sqlite-1w"]["rps"], medians["raw-sqlite"]["rps"])
        rows.append(
            (
                "SQLite, 1 worker ÷ raw floor, req/s",
                value,
                f"≥ {TARGET_RATIO}",
                value >= TARGET_RATIO,
            )
        )
    if 2 in workers and one == 1:
        for backend in backends:
            a, b = config_key("real", backend, 2), config_key("real", backend, 1)
            value = ratio(medians[a]["rps"], medians[b]["rps"])
            rows.append(
                (
                    f"{backend}: 2 workers ÷ 1, req/s",
                    value,
                    f"≥ {TARGET_SCALING}",
                    value >= TARGET_SCALING,
                )
            )
    open_runs = result.get("open_loop", {}).get("runs", {})
    if "real-sqlite-1w" in open_runs:
        p99 = statistics.median(r["p99_ms"] for r in open_runs["real-sqlite-1w"])
        rows.append(
            (
                f"SQLite, 1 worker, open loop at {result['open_loop']['rate']:,.0f} req/s: p99 ms",
                p99,
                f"≤ {TARGET_OPEN_P99_MS:g}",
                p99 <= TARGET_OPEN_P99_MS,
            )
        )
    for backend, bulk in result.get("bulk_latency", {}).items():
        rows.append(
            (
                f"{backend}: bulk of 500, p50 ms",
                bulk["p50_ms"],
                f"≤ {TARGET_BULK_P50_MS:g}",
                bulk["p50_ms"] <= TARGET_BULK_P50_MS,
            )
        )
    return rows


def run_rows(medians: dict[str, Any], rounds_by_key: dict[str, list[Any]]) -> list[str]:
    """The table rows of every server's (or run's) median, then of each of its rounds."""

    def row(label: str, r: dict[str, Any]) -> str:
        return (
            f"| {label} | {r['rps']:,.0f} | {r['p50_ms']:.2f} | {r['p90_ms']:.2f} | "
            f"{r['p99_ms']:.2f} | {r['server_cpu_ms_per_request']:.3f} | "
            f"{r['db_cpu_ms_per_request']:.3f} | {r['non_2xx']}/{r['requests']} | "
            f"{r['audit_rows']:,} | {r['other_cores']:.2f} |"
        )

    lines = [row(f"**{key}**, median", r) for key, r in medians.items()]
    for key, rounds in rounds_by_key.items():
        lines += [row(f"{key} round {i}", r) for i, r in enumerate(rounds, 1)]
    return lines


def benchmark_store(db: Path, persons: int) -> dict[str, Any]:
    """The SQLite benchmark store's metadata (credential, sampled codes), the store built by
    ``load_hes.py`` first if it or its metadata is missing."""
    meta_path = db.with_suffix(".json")
    if not db.exists() or not meta_path.exists():
        loader = [sys.executable, str(HERE / "load_hes.py"), str(db), "--force"]
        subprocess.run([*loader, "--persons", str(persons)], check=True, timeout=3600)
    meta: dict[str, Any] = json.loads(meta_path.read_text("utf-8"))
    return meta


def record(out: Path, kind: str, result: dict[str, Any], text: str) -> None:
    """Writes ``results/<kind>-<UTC time>.json`` and ``.md``, and prints the markdown."""
    out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    dumped = json.dumps(result, ensure_ascii=False, indent=1)
    (out / f"{kind}-{stamp}.json").write_text(dumped + "\n", "utf-8")
    (out / f"{kind}-{stamp}.md").write_text(text, "utf-8")
    print(text)


def markdown(result: dict[str, Any]) -> str:
    m = result["machine"]
    pg = result.get("postgresql")
    lines = [
        f"### HES benchmark, {result['finished_at']}",
        "",
        f"{m['cores']} cores ({m['cpu']}), Python {m['python']}, SQLite {m['sqlite']}, "
        f"{m['wrk']}; commit {m['commit']}."
        + (
            f" PostgreSQL {pg['server_version']} on the same machine (autovacuum "
            f"{pg['autovacuum']}, shared_buffers {pg['shared_buffers']}, synchronous_commit "
            f"{pg['synchronous_commit']}), database `{result['pg_database']}`, a copy of the "
            "SQLite store; raw floor's access there: "
            f"`{result['raw_pg_access']}`."
            if pg
            else ""
        ),
        "",
        f"Store: {result['persons']:,} persons, one live code each. wrk: {result['threads']} "
        f"threads, {result['connections']} connections, {result['seconds']} s per run after a "
        f"{result['warmup']} s warm-up, {result['rounds']} rounds, the servers' order rotating; "
        f"{result['unknown_share']:.1%} of the codes asked are unknown (400). Audit tables emptied "
        "before every run of a real server. Median = the round with the median req/s. CPU: the "
        "server's process tree, and the PostgreSQL backends serving it (DB). Rate limits with "
        f"more than one worker: {result['rate_limit_storage']}.",
        "",
    ]
    if result.get("real_src") != "working tree" or result.get("real_env"):
        lines += [
            f"Real service variant: source {result.get('real_src')}, "
            f"extra environment {result.get('real_env') or 'none'}.",
            "",
        ]
    lines += [
        "| check-employee-hes-code | req/s | p50 ms | p90 ms | p99 ms | server CPU ms/req "
        "| DB CPU ms/req | non-2xx | audit rows | other load (cores) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]

    lines += run_rows(result["medians"], result["rounds_by_config"])
    lines += [
        "",
        "Ratios of the median rounds (CPU: server + DB per request):",
        "",
        "| ratio | req/s | CPU per request |",
        "|---|---:|---:|",
    ]
    for label, pair in result["ratios"].items():
        lines.append(f"| {label} | {pair['rps']:.2f} | {pair['cpu']:.2f} |")
    open_loop = result.get("open_loop")
    if open_loop:
        lines += [
            "",
            f"Open loop (`open_loop.py`): {open_loop['rate']:,.0f} req/s offered "
            f"({open_loop['rate_source']}), uniform arrivals, {open_loop['connections']} "
            f"keep-alive connections, {open_loop['seconds']:g} s measured after "
            f"{open_loop['warmup']:g} s at the same rate; latency from each request's intended "
            "send time. Generator: its own CPU (it shares the cores).",
            "",
            "| server | offered | achieved | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms "
            "| dispatch lag p99 ms | server CPU ms/req | DB CPU ms/req | generator cores "
            "| other load |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for key, runs in open_loop["runs"].items():
            for i, r in enumerate(runs, 1):
                label = key if len(runs) == 1 else f"{key} #{i}"
                lines.append(
                    f"| {label} | {r['offered_rate']:,.0f} | {r['achieved_rate']:,.0f} | "
                    f"{r['p50_ms']:.2f} | {r['p90_ms']:.2f} | {r['p99_ms']:.2f} | "
                    f"{r['p999_ms']:.2f} | {r['max_ms']:.2f} | {r['dispatch_lag_p99_ms']:.2f} | "
                    f"{r['server_cpu_ms_per_request']:.3f} | {r['db_cpu_ms_per_request']:.3f} | "
                    f"{r['generator_cores']:.2f} | {r['other_cores']:.2f} |"
                )
    lines += [""]
    for backend, bulk in result.get("bulk_latency", {}).items():
        lines.append(
            f"- {backend}, bulk check-hes-codes, {bulk['codes_per_request']} codes, "
            f"{bulk['requests']} sequential requests: p50 **{bulk['p50_ms']:.1f} ms**, p99 "
            f"{bulk['p99_ms']:.1f} ms (mean {bulk['mean_ms']:.1f}, max {bulk['max_ms']:.1f})"
        )
    for key, extra in result.get("extras", {}).items():
        lines.append(
            f"- {key} ({extra['connections']} conn.): {extra['rps']:,.0f} req/s, p50 "
            f"{extra['p50_ms']:.2f} ms, p99 {extra['p99_ms']:.2f} ms, server CPU "
            f"{extra['server_cpu_ms_per_request']:.3f} + DB {extra['db_cpu_ms_per_request']:.3f} "
            "ms/req"
        )
    lines += ["", "| target (issue 12) | measured | target | |", "|---|---:|---|---|"]
    for what, value, target, met in result["targets"]:
        verdict = "met" if met else "**missed**"
        lines.append(f"| {what} | {value:g} | {target} | {verdict} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description="HES load benchmark: real service vs raw ASGI")
    parser.add_argument("--db", type=Path, default=HERE / "data" / "hes_1m.db")
    parser.add_argument("--persons", type=int, default=1_000_000)
    parser.add_argument("--backend", choices=(*BACKENDS, "both"), default="both")
    parser.add_argument("--workers", default="1,2", help="worker counts of the real service")
    parser.add_argument("--pg", default=pg_store.PG_SERVER, help="PostgreSQL server URL")
    parser.add_argument("--pg-database", default=pg_store.HES_DATABASE)
    parser.add_argument(
        "--raw-pg-access",
        default="conns-4",
        help="how the raw floor reaches PostgreSQL: conns-P (P async connections, the fastest "
        "in pg_access.py) or inline (one sync connection on the event loop)",
    )
    parser.add_argument(
        "--rate-limit-storage",
        default=DEFAULT_REDIS,
        help="SAGLIK_RATE_LIMIT_STORAGE of a real service with more than one worker (one "
        "worker keeps the default, memory://)",
    )
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--first-port", type=int, default=18080)
    parser.add_argument("--bulk-requests", type=int, default=200)
    parser.add_argument("--extra-seconds", type=int, default=10, help="plus / bulk wrk; 0 = skip")
    parser.add_argument("--rounds", type=int, default=3, help="closed-loop runs per server")
    parser.add_argument(
        "--open-seconds", type=float, default=30, help="open loop: measured s; 0 = skip it"
    )
    parser.add_argument("--open-warmup", type=float, default=5)
    parser.add_argument("--open-connections", type=int, default=64)
    parser.add_argument("--open-rounds", type=int, default=1)
    parser.add_argument(
        "--open-rate", type=float, help="offered req/s (default: half the raw floor's median)"
    )
    parser.add_argument(
        "--open-configs",
        default="all",
        help="servers for the open loop, comma-separated keys (real-sqlite-1w, raw-postgresql, "
        "...) or all",
    )
    parser.add_argument(
        "--quiet-wait", type=float, default=60, help="seconds to wait for an idle machine per run"
    )
    parser.add_argument(
        "--real-src",
        type=Path,
        help="run the real service from this source tree (its src/ first on PYTHONPATH), "
        "e.g. an export of an older commit, for before/after comparisons",
    )
    parser.add_argument(
        "--real-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra environment for the real service (repeatable), e.g. SAGLIK_LOG_LEVEL=WARNING",
    )
    parser.add_argument(
        "--other-wait",
        type=float,
        default=900,
        help="seconds to wait per run for another benchmark (wrk, run_obs.py) to finish",
    )
    parser.add_argument("--out", type=Path, default=HERE / "results")
    args = parser.parse_args()
    backends = list(BACKENDS) if args.backend == "both" else [args.backend]
    workers = sorted({int(w) for w in args.workers.split(",")})

    # a SIGTERM (e.g. from ``timeout``) unwinds like Ctrl-C, so the servers are stopped
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    wrk = ensure_wrk()
    db: Path = args.db.resolve()
    meta = benchmark_store(db, args.persons)
    auth = (meta["username"], meta["password"])
    codes: list[str] = meta["codes"]
    unknown: list[str] = meta["unknown"]
    stores = {"sqlite": Store.sqlite(db)}
    if "postgresql" in backends:
        url = pg_store.ensure(db, args.pg, args.pg_database)
        stores["postgresql"] = Store.postgresql(url, Path(f"{db}.key"))

    with tempfile.TemporaryDirectory(prefix="hes-bench-") as tmp_name, contextlib.ExitStack() as up:
        tmp = Path(tmp_name)
        mix = codes + unknown[:100]
        random.Random(1).shuffle(mix)
        codes_file = tmp / "codes.txt"
        codes_file.write_text("\n".join(mix) + "\n")
        bodies_file = tmp / "bodies.jsonl"
        bodies_file.write_text("".join(json.dumps({"hes_code": c}) + "\n" for c in mix))
        bulk_file = tmp / "bulk-codes.txt"
        bulk_file.write_text("\n".join(codes) + "\n")
        token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        base_env = {k: v for k, v in os.environ.items() if not k.startswith("SAGLIK_")}
        wrk_env = {**base_env, "HES_BENCH_AUTH": token, "HES_BENCH_CODES": str(codes_file)}
        bulk_env = {**wrk_env, "HES_BENCH_CODES": str(bulk_file)}
        load = {"connections": args.connections, "threads": args.threads}
        single = HERE / "hes_single.lua"
        path = f"{HES}/check-employee-hes-code"
        extra_env = dict(item.split("=", 1) for item in args.real_env)

        configs: list[Config] = []
        port = args.first_port
        for backend in backends:
            store = stores[backend]
            key = config_key("raw", backend, 1)
            server = raw_server(store, port, tmp, base_env, pg_access=args.raw_pg_access, name=key)
            configs.append(Config(key, "raw", backend, 1, server, store))
            port += 1
            for n in workers:
                key = config_key("real", backend, n)
                server = real_server(
                    store,
                    port,
                    tmp,
                    base_env,
                    args.real_src,
                    extra_env,
                    workers=n,
                    rate_limit_storage=args.rate_limit_storage if n > 1 else None,
                    name=key,
                )
                configs.append(Config(key, "real", backend, n, server, store))
                port += 1
        by_key = {c.key: c for c in configs}

        for config in configs:
            up.enter_context(config.server.running())
            sanity(config.server.base, auth, codes[0], unknown[0])
        for config in configs:
            wait_for_others(args.other_wait)
            run_wrk(wrk, f"{config.key} warm-up", config.server, path, single, wrk_env,
                    seconds=args.warmup, store=config.store, **load)  # fmt: skip

        for i in range(args.rounds):
            order = configs[i % len(configs) :] + configs[: i % len(configs)]
            for config in order:
                wait_for_others(args.other_wait)
                if config.real:
                    config.store.reset_audit()
                measured = run_wrk(
                    wrk,
                    f"{config.key} #{i + 1}",
                    config.server,
                    path,
                    single,
                    wrk_env,
                    seconds=args.seconds,
                    quiet_wait=args.quiet_wait,
                    store=config.store,
                    **load,
                )
                if config.real:
                    measured.audit_rows = config.store.audit_rows()
                config.rounds.append(measured)

        extras: dict[str, Any] = {}
        bulk: dict[str, Any] = {}
        for backend in backends:
            config = by_key[config_key("real", backend, min(workers))]
            if args.extra_seconds:
                for name, endpoint, script, env, connections in (
                    ("plus", "check-hes-code-plus", single, wrk_env, args.connections),
                    ("bulk", "check-hes-codes", HERE / "hes_bulk.lua", bulk_env, 4),
                ):
                    wait_for_others(args.other_wait)
                    config.store.reset_audit()
                    extra = run_wrk(
                        wrk,
                        f"{config.key} {name}",
                        config.server,
                        f"{HES}/{endpoint}",
                        script,
                        env,
                        seconds=args.extra_seconds,
                        connections=connections,
                        threads=args.threads,
                        store=config.store,
                    )
                    extras[f"{config.key} {endpoint}"] = {
                        **asdict(extra),
                        "connections": connections,
                    }
            wait_for_others(args.other_wait)
            wait_for_quiet(args.quiet_wait)
            config.store.reset_audit()
            bulk[backend] = bulk_latency(
                config.server.base, auth, codes, requests=args.bulk_requests, size=500
            )
            print(f"  {config.key} bulk of 500: {bulk[backend]}", file=sys.stderr)

        medians = {c.key: asdict(median_result(c.rounds)) for c in configs}
        open_result: dict[str, Any] = {}
        if args.open_seconds > 0:
            floor_key = "raw-sqlite" if "sqlite" in backends else f"raw-{backends[0]}"
            if args.open_rate:
                rate, source = args.open_rate, "--open-rate"
            else:
                rate = medians[floor_key]["rps"] / 2
                source = f"half the median req/s of {floor_key} above"
            chosen = (
                [c.key for c in configs]
                if args.open_configs == "all"
                else [k.strip() for k in args.open_configs.split(",") if k.strip()]
            )
            unknown_keys = [k for k in chosen if k not in by_key]
            if unknown_keys:
                raise SystemExit(f"--open-configs: no such server {unknown_keys}")
            # the target's configuration first, the floor last
            chosen.sort(key=lambda k: (k != "real-sqlite-1w", k.startswith("raw"), k))
            runs: dict[str, list[dict[str, Any]]] = {k: [] for k in chosen}
            for i in range(args.open_rounds):
                for key in chosen if i % 2 == 0 else chosen[::-1]:
                    config = by_key[key]
                    wait_for_others(args.other_wait)
                    wait_for_quiet(args.quiet_wait)
                    if config.real:
                        config.store.reset_audit()
                    runs[key].append(
                        open_loop(
                            config,
                            bodies_file,
                            wrk_env,
                            rate=rate,
                            seconds=args.open_seconds,
                            warmup=args.open_warmup,
                            connections=args.open_connections,
                        )
                    )
            open_result = {
                "rate": round(rate),
                "rate_source": source,
                "seconds": args.open_seconds,
                "warmup": args.open_warmup,
                "connections": args.open_connections,
                "runs": runs,
            }

    result: dict[str, Any] = {
        "finished_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "postgresql": pg_store.server_facts(args.pg) if "postgresql" in backends else None,
        "pg_database": args.pg_database,
        "raw_pg_access": args.raw_pg_access,
        "rate_limit_storage": args.rate_limit_storage
        if max(workers) > 1
        else "none (one worker: memory://)",
        "backends": backends,
        "workers": workers,
        "persons": meta["persons"],
        "seconds": args.seconds,
        "warmup": args.warmup,
        "connections": args.connections,
        "threads": args.threads,
        "unknown_share": 100 / len(mix),
        "rounds": args.rounds,
        "real_src": str(args.real_src) if args.real_src else "working tree",
        "real_env": args.real_env,
        "medians": medians,
        "rounds_by_config": {c.key: [asdict(r) for r in c.rounds] for c in configs},
        "ratios": ratios(medians, backends, workers),
        "bulk_latency": bulk,
        "extras": extras,
        "open_loop": open_result,
    }
    result["targets"] = targets(result)
    record(args.out, "hes", result, markdown(result))


if __name__ == "__main__":
    main()
