"""HES load benchmark: the real service against a raw ASGI baseline on the same store, in one run.

    /work/venv/bin/python benchmarks/run_hes.py            # from the repository root

Steps (everything bound to 127.0.0.1 and bounded in time; nothing is installed but ``wrk``, and only
when it is missing):
1. builds ``benchmarks/data/hes_1m.db`` (1,000,000 persons) with ``load_hes.py`` if it is absent;
2. starts the real service (``saglik serve --workers 1``, audit and access log on: the defaults),
   checks one found and one unknown code, warms up, then runs ``wrk`` on
   ``check-employee-hes-code`` (64 connections, 2 threads, ``--latency``); then, for information,
   ``check-hes-code-plus`` and bulk ``check-hes-codes`` throughput with ``wrk``, and the latency of
   sequential bulk requests of 500 codes with httpx; stops it;
3. starts the raw baseline (uvicorn, uvloop + httptools, 1 worker) and runs the same ``wrk`` load;
4. writes ``benchmarks/results/hes-<UTC time>.md`` and ``.json`` and prints the markdown.
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
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BIN = Path(sys.executable).parent
HES = "/services/g2g/saglik/hes"
TARGET_RATIO = 0.5
TARGET_P99_MS = 15.0
TARGET_BULK_MS = 50.0


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
    """CPU time (user + system, all threads) the server spent per request: robust to noise."""
    idle_before: float = 0.0
    """Share of the machine's CPU idle in the second before the run (other load disturbs it)."""
    other_cores: float = 0.0
    """Cores' worth of CPU used during the run by anything but this server and wrk: the noise."""


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


class Server:
    """One server process in its own session; stopped by its own pid, gracefully first."""

    def __init__(self, name: str, cmd: list[str], env: dict[str, str], port: int, logs: Path):
        self.name = name
        self.cmd = cmd
        self.env = env
        self.base = f"http://127.0.0.1:{port}"
        self.log_path = logs / f"{name}.log"
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
                    return
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"{self.name} not ready in {timeout} s")

    def stop(self, timeout: float = 30) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)

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
    """Pids of other load generators sharing the machine (a wrk, the ÖBS benchmark)."""
    found: list[str] = []
    for args in (["pgrep", "-x", "wrk"], ["pgrep", "-f", "run_obs.py"]):
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
) -> WrkResult:
    url = f"{server.base}{path}"
    idle = wait_for_quiet(quiet_wait) if quiet_wait else idle_share()
    assert server.proc is not None
    cpu_before = process_cpu_seconds(server.proc.pid)
    children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    machine_before, wall_before = cpu_sample(), time.monotonic()
    cmd = [
        wrk,
        f"-t{threads}",
        f"-c{connections}",
        f"-d{seconds}s",
        "--timeout",
        "5s",
        "--latency",
        "-s",
        str(script),
        url,
    ]
    done = subprocess.run(
        cmd, env=env, capture_output=True, text=True, timeout=seconds + 60, check=True
    )
    cpu = process_cpu_seconds(server.proc.pid) - cpu_before
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    wrk_cpu = (children.ru_utime + children.ru_stime) - (
        children_before.ru_utime + children_before.ru_stime
    )
    machine_after, wall = cpu_sample(), time.monotonic() - wall_before
    busy = (machine_after[1] - machine_after[0]) - (machine_before[1] - machine_before[0])
    busy_seconds = busy / os.sysconf("SC_CLK_TCK")
    result = parse_wrk(label, done.stdout)
    result.other_cores = round(max(0.0, busy_seconds - cpu - wrk_cpu) / wall, 2)
    result.server_cpu_ms_per_request = round(cpu * 1000 / max(1, result.requests), 3)
    result.idle_before = round(idle, 2)
    print(
        f"  {label}: {result.rps:,.0f} req/s, p50 {result.p50_ms:.2f} ms, "
        f"p99 {result.p99_ms:.2f} ms, non-2xx {result.non_2xx}/{result.requests}, "
        f"server CPU {result.server_cpu_ms_per_request:.3f} ms/req, idle before {idle:.0%}, "
        f"other load {result.other_cores:.2f} cores",
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
    db: Path,
    port: int,
    tmp: Path,
    base_env: dict[str, str],
    real_src: Path | None,
    extra_env: dict[str, str] | None = None,
) -> Server:
    """``saglik serve --workers 1`` on ``db`` (from ``real_src`` if given), the store first
    brought to that code's schema (it may predate a newer migration)."""
    env = {**base_env, "SAGLIK_DATABASE_URL": f"sqlite:///{db}", **(extra_env or {})}
    if real_src:
        env["PYTHONPATH"] = str((real_src / "src").resolve())
    subprocess.run([str(BIN / "saglik"), "db", "upgrade"], env=env, check=True, timeout=600)
    command = [str(BIN / "saglik"), "serve", "--port", str(port), "--workers", "1"]
    return Server("real", command, env, port, tmp)


def raw_server(hes_db: Path, port: int, tmp: Path, base_env: dict[str, str]) -> Server:
    """The raw ASGI baseline (``raw_baseline.py``) on the HES store."""
    return Server(
        "raw",
        [
            *(str(BIN / "uvicorn"), "raw_baseline:app", "--app-dir", str(HERE)),
            *("--host", "127.0.0.1", "--port", str(port), "--workers", "1"),
            *("--loop", "uvloop", "--http", "httptools", "--no-access-log"),
            *("--log-level", "warning"),
        ],
        {**base_env, "HES_BENCH_DB": str(hes_db)},
        port,
        tmp,
    )


def reset_audit(db: Path) -> None:
    """Empties the benchmark store's audit tables, so every run starts from the same state."""
    with contextlib.closing(sqlite3.connect(db, isolation_level=None)) as conn:
        for table in ("audit_subjects", "moi_outbox", "audit_events"):
            conn.execute(f"DELETE FROM {table}")  # noqa: S608 - fixed names
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def last_audit_id(db: Path) -> int:
    with contextlib.closing(sqlite3.connect(db)) as conn:
        return int(conn.execute("SELECT coalesce(max(id), 0) FROM audit_events").fetchone()[0])


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


def markdown(result: dict[str, Any]) -> str:
    real, raw = result["real"], result["raw"]
    bulk = result["bulk_latency"]
    m = result["machine"]
    ok = result["targets"]
    lines = [
        f"### HES benchmark, {result['finished_at']}",
        "",
        f"{m['cores']} cores ({m['cpu']}), Python {m['python']}, SQLite {m['sqlite']}, "
        f"{m['wrk']}; commit {m['commit']}. Store: {result['persons']:,} persons, one live code "
        f"each. wrk: {result['threads']} threads, {result['connections']} connections, "
        f"{result['seconds']} s per run after a {result['warmup']} s warm-up, "
        f"{result['rounds']} rounds alternating real and raw; {result['unknown_share']:.1%} of the "
        "codes asked are unknown (400). Median = the round with the median req/s.",
        "",
    ]
    if result.get("real_src") != "working tree" or result.get("real_env"):
        lines += [
            f"Real service variant: source {result.get('real_src')}, "
            f"extra environment {result.get('real_env') or 'none'}.",
            "",
        ]
    lines += [
        "| check-employee-hes-code, 1 worker | req/s | p50 ms | p90 ms | p99 ms "
        "| server CPU ms/req | non-2xx | other load (cores) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]

    def row(label: str, r: dict[str, Any]) -> str:
        return (
            f"| {label} | {r['rps']:,.0f} | {r['p50_ms']:.2f} | {r['p90_ms']:.2f} | "
            f"{r['p99_ms']:.2f} | {r['server_cpu_ms_per_request']:.3f} | "
            f"{r['non_2xx']}/{r['requests']} | {r['other_cores']:.2f} |"
        )

    lines.append(row("**real service (audit on), median**", real))
    lines.append(row("**raw ASGI baseline, median**", raw))
    for name in ("real", "raw"):
        for i, r in enumerate(result[f"{name}_rounds"], 1):
            lines.append(row(f"{name} round {i}", r))
    lines += [
        "",
        f"- throughput ratio real/raw: **{result['ratio']:.2f}** (target ≥ {TARGET_RATIO}: "
        f"{'met' if ok['ratio'] else 'missed'})",
        f"- real p99: **{real['p99_ms']:.2f} ms** (target < {TARGET_P99_MS:g} ms: "
        f"{'met' if ok['p99'] else 'missed'})",
        f"- bulk check-hes-codes, {bulk['codes_per_request']} codes, {bulk['requests']} sequential "
        f"requests: p50 **{bulk['p50_ms']:.1f} ms**, p99 **{bulk['p99_ms']:.1f} ms** "
        f"(mean {bulk['mean_ms']:.1f}, max {bulk['max_ms']:.1f}; target < {TARGET_BULK_MS:g} ms: "
        f"{'met' if ok['bulk'] else 'missed'})",
        f"- audit rows written by the real service during the run: {result['audit_rows']:,}",
    ]
    for key, title in (("real_plus", "check-hes-code-plus"), ("real_bulk", "check-hes-codes")):
        extra = result.get(key)
        if extra:
            lines.append(
                f"- real {title} ({extra['connections']} conn.): {extra['rps']:,.0f} req/s, "
                f"p50 {extra['p50_ms']:.2f} ms, p99 {extra['p99_ms']:.2f} ms, "
                f"server CPU {extra['server_cpu_ms_per_request']:.3f} ms/req"
            )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description="HES load benchmark: real service vs raw ASGI")
    parser.add_argument("--db", type=Path, default=HERE / "data" / "hes_1m.db")
    parser.add_argument("--persons", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--real-port", type=int, default=18080)
    parser.add_argument("--raw-port", type=int, default=18081)
    parser.add_argument("--bulk-requests", type=int, default=200)
    parser.add_argument("--extra-seconds", type=int, default=10, help="plus / bulk wrk; 0 = skip")
    parser.add_argument("--rounds", type=int, default=3, help="real/raw runs, alternated")
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
    parser.add_argument(
        "--keep-audit",
        action="store_true",
        help="keep the audit rows of earlier runs (by default the benchmark store's audit "
        "tables are emptied first)",
    )
    parser.add_argument("--out", type=Path, default=HERE / "results")
    args = parser.parse_args()

    # a SIGTERM (e.g. from ``timeout``) unwinds like Ctrl-C, so the servers are stopped
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    wrk = ensure_wrk()
    db: Path = args.db.resolve()
    meta_path = db.with_suffix(".json")
    if not db.exists() or not meta_path.exists():
        loader = [sys.executable, str(HERE / "load_hes.py"), str(db), "--force"]
        subprocess.run(
            [*loader, "--persons", str(args.persons)],
            check=True,
            timeout=3600,
        )
    meta = json.loads(meta_path.read_text("utf-8"))
    auth = (meta["username"], meta["password"])
    codes: list[str] = meta["codes"]
    unknown: list[str] = meta["unknown"]

    with tempfile.TemporaryDirectory(prefix="hes-bench-") as tmp_name:
        tmp = Path(tmp_name)
        mix = codes + unknown[:100]
        random.Random(1).shuffle(mix)
        codes_file = tmp / "codes.txt"
        codes_file.write_text("\n".join(mix) + "\n")
        bulk_file = tmp / "bulk-codes.txt"
        bulk_file.write_text("\n".join(codes) + "\n")
        token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        base_env = {k: v for k, v in os.environ.items() if not k.startswith("SAGLIK_")}
        wrk_env = {**base_env, "HES_BENCH_AUTH": token, "HES_BENCH_CODES": str(codes_file)}
        bulk_env = {**wrk_env, "HES_BENCH_CODES": str(bulk_file)}
        load = {"connections": args.connections, "threads": args.threads}
        single = HERE / "hes_single.lua"

        extra_env = dict(item.split("=", 1) for item in args.real_env)
        real = real_server(db, args.real_port, tmp, base_env, args.real_src, extra_env)
        if not args.keep_audit:
            reset_audit(db)
        raw = raw_server(db, args.raw_port, tmp, base_env)
        path = f"{HES}/check-employee-hes-code"
        extra: dict[str, Any] = {}
        rounds: dict[str, list[WrkResult]] = {"real": [], "raw": []}
        audit_before = last_audit_id(db)
        with real.running(), raw.running():
            for server in (real, raw):
                sanity(server.base, auth, codes[0], unknown[0])
                wait_for_others(args.other_wait)
                run_wrk(
                    wrk,
                    f"{server.name} warm-up",
                    server,
                    path,
                    single,
                    wrk_env,
                    seconds=args.warmup,
                    **load,
                )
            for i in range(args.rounds):
                for server in (real, raw) if i % 2 == 0 else (raw, real):
                    wait_for_others(args.other_wait)
                    rounds[server.name].append(
                        run_wrk(
                            wrk,
                            f"{server.name} #{i + 1}",
                            server,
                            path,
                            single,
                            wrk_env,
                            seconds=args.seconds,
                            quiet_wait=args.quiet_wait,
                            **load,
                        )
                    )
            if args.extra_seconds:
                wait_for_others(args.other_wait)
                plus = run_wrk(
                    wrk,
                    "real plus",
                    real,
                    f"{HES}/check-hes-code-plus",
                    single,
                    wrk_env,
                    seconds=args.extra_seconds,
                    **load,
                )
                extra["real_plus"] = {**asdict(plus), "connections": args.connections}
                wait_for_others(args.other_wait)
                bulk_wrk = run_wrk(
                    wrk,
                    "real bulk",
                    real,
                    f"{HES}/check-hes-codes",
                    HERE / "hes_bulk.lua",
                    bulk_env,
                    seconds=args.extra_seconds,
                    connections=4,
                    threads=args.threads,
                )
                extra["real_bulk"] = {**asdict(bulk_wrk), "connections": 4}
            wait_for_others(args.other_wait)
            wait_for_quiet(args.quiet_wait)
            bulk = bulk_latency(real.base, auth, codes, requests=args.bulk_requests, size=500)
            print(f"  bulk of 500: {bulk}", file=sys.stderr)
        audit_rows = last_audit_id(db) - audit_before

    real_result, raw_result = median_result(rounds["real"]), median_result(rounds["raw"])
    ratio = real_result.rps / raw_result.rps
    result: dict[str, Any] = {
        "finished_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "persons": meta["persons"],
        "seconds": args.seconds,
        "warmup": args.warmup,
        "connections": args.connections,
        "threads": args.threads,
        "unknown_share": 100 / len(mix),
        "rounds": args.rounds,
        "real_src": str(args.real_src) if args.real_src else "working tree",
        "real_env": args.real_env,
        "real": asdict(real_result),
        "raw": asdict(raw_result),
        "real_rounds": [asdict(r) for r in rounds["real"]],
        "raw_rounds": [asdict(r) for r in rounds["raw"]],
        "ratio": round(ratio, 3),
        "bulk_latency": bulk,
        "audit_rows": audit_rows,
        **extra,
        "targets": {
            "ratio": ratio >= TARGET_RATIO,
            "p99": real_result.p99_ms < TARGET_P99_MS,
            "bulk": bulk["p99_ms"] < TARGET_BULK_MS,
        },
    }
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    (args.out / f"hes-{stamp}.json").write_text(json.dumps(result, indent=1) + "\n", "utf-8")
    text = markdown(result)
    (args.out / f"hes-{stamp}.md").write_text(text, "utf-8")
    print(text)


if __name__ == "__main__":
    main()
