"""Which ASGI server ``saglik serve`` runs: granian against uvicorn, side by side in one run.

    .venv/bin/python benchmarks/server_choice.py            # from the repository root

On the HES benchmark store (``benchmarks/data/hes_1m.db``, 1,000,000 persons, built by
``load_hes.py`` on first use), one worker each, ``check-employee-hes-code`` under ``wrk`` (64
connections, 2 threads), rounds alternated between the servers:

- ``granian``: ``saglik serve`` exactly as shipped (granian with its limits: 10 s header deadline,
  64 KiB header buffer, connection cap, HTTP/1 only; uvloop's event loop);
- ``uvicorn``: the same app under the configuration ``saglik serve`` had before (uvicorn, uvloop
  + httptools, no access log, no server header, no proxy headers);
- ``granian-asyncio``: the app under granian with the same limits but the standard asyncio loop,
  to see whether uvloop earns its place as a dependency of the server;
- ``raw-granian`` / ``raw-uvicorn``: the raw ASGI baseline (``raw_baseline.py``, the floor: no
  framework, no audit) under each server, to separate the servers' own cost from the app's.

Every round of a real server starts with the store's audit tables emptied (their size changes
the figures, ``benchmarks/README.md``). Reported per server: the median round's req/s and
latency, and the server's CPU per request (its whole process tree: granian's main process and
worker), which is far steadier than req/s on a shared machine; then the ratios granian/uvicorn.
Writes ``benchmarks/results/server-<UTC time>.md`` and ``.json``. About 4 minutes.
"""

from __future__ import annotations

import argparse
import base64
import os
import random
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from run_hes import (
    BIN,
    HERE,
    HES,
    Server,
    WrkResult,
    benchmark_store,
    cpu_sample,
    ensure_wrk,
    machine,
    median_result,
    parse_wrk,
    raw_server,
    real_server,
    record,
    reset_audit,
    sanity,
    tree_cpu_seconds,
    wait_for_others,
    wait_for_quiet,
)
from saglik.cli.serve import HEADER_DEADLINE_SECONDS
from saglik.web.request_limits import MAX_HEADER_BYTES

GRANIAN_LIMITS = [
    *("--interface", "asgi", "--http", "1", "--no-ws", "--no-access-log"),
    *("--http1-header-read-timeout", str(HEADER_DEADLINE_SECONDS * 1000)),
    *("--http1-buffer-size", str(MAX_HEADER_BYTES)),
    *("--backpressure", "4096", "--log-level", "warning"),
]
"""``saglik serve``'s granian settings, for the servers started from granian's command line."""


def measure(
    wrk: str, label: str, server: Server, env: dict[str, str], seconds: int, quiet_wait: float
) -> WrkResult:
    """One ``wrk`` run of ``hes_single.lua`` on ``check-employee-hes-code``; the server's CPU
    per request and the other load on the machine during the run are added to the result."""
    assert server.proc is not None
    wait_for_quiet(quiet_wait)
    cpu_before = tree_cpu_seconds(server.proc.pid)
    wrk_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    machine_before, wall_before = cpu_sample(), time.monotonic()
    done = subprocess.run(
        [
            *(wrk, "-t2", "-c64", f"-d{seconds}s", "--timeout", "5s", "--latency"),
            *("-s", str(HERE / "hes_single.lua"), f"{server.base}{HES}/check-employee-hes-code"),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=seconds + 60,
        check=True,
    )
    cpu = tree_cpu_seconds(server.proc.pid) - cpu_before
    wrk_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    wrk_cpu = sum(getattr(wrk_after, f) - getattr(wrk_before, f) for f in ("ru_utime", "ru_stime"))
    machine_after, wall = cpu_sample(), time.monotonic() - wall_before
    busy = (machine_after[1] - machine_after[0]) - (machine_before[1] - machine_before[0])
    result = parse_wrk(label, done.stdout)
    other = busy / os.sysconf("SC_CLK_TCK") - cpu - wrk_cpu
    result.other_cores = round(max(0.0, other) / wall, 2)
    result.server_cpu_ms_per_request = round(cpu * 1000 / max(1, result.requests), 3)
    print(
        f"  {label}: {result.rps:,.0f} req/s, p50 {result.p50_ms:.2f} ms, p99 "
        f"{result.p99_ms:.2f} ms, server CPU {result.server_cpu_ms_per_request:.3f} ms/req, "
        f"non-2xx {result.non_2xx}/{result.requests}",
        file=sys.stderr,
    )
    return result


def servers(db: Path, tmp: Path, base_env: dict[str, str], first_port: int) -> list[Server]:
    app_env = {**base_env, "SAGLIK_DATABASE_URL": f"sqlite:///{db}"}
    raw_env = {**base_env, "HES_BENCH_DB": str(db)}
    granian = str(BIN / "granian")
    return [
        rename(real_server(db, first_port, tmp, base_env, None), "granian"),
        Server(
            "uvicorn",
            [
                *(str(BIN / "uvicorn"), "saglik.web.app:serve_app", "--factory"),
                *("--host", "127.0.0.1", "--port", str(first_port + 1), "--workers", "1"),
                *("--loop", "uvloop", "--http", "httptools", "--no-access-log"),
                *("--no-server-header", "--no-proxy-headers", "--log-level", "warning"),
            ],
            app_env,
            first_port + 1,
            tmp,
        ),
        Server(
            "granian-asyncio",
            [
                *(granian, *GRANIAN_LIMITS, "--loop", "asyncio", "--factory"),
                *("--port", str(first_port + 2), "saglik.web.app:serve_app"),
            ],
            app_env,
            first_port + 2,
            tmp,
        ),
        Server(
            "raw-granian",
            [
                *(granian, *GRANIAN_LIMITS, "--loop", "uvloop", "--working-dir", str(HERE)),
                *("--port", str(first_port + 3), "raw_baseline:app"),
            ],
            raw_env,
            first_port + 3,
            tmp,
        ),
        rename(raw_server(db, first_port + 4, tmp, base_env), "raw-uvicorn"),
    ]


def rename(server: Server, name: str) -> Server:
    """``run_hes`` builds its servers as "real" and "raw"."""
    server.name = name
    return server


QUIET_CORES = 0.2
"""A round with at most this much other load on the machine counts as quiet."""


def ratios(rounds: dict[str, list[WrkResult]], quiet: bool) -> dict[str, dict[str, float]]:
    """Per pair, the ratio of the median req/s and of the median CPU per request over the rounds
    (each median taken on its own), over every round or over the quiet ones only: on a shared
    machine a round under other load moves req/s a lot and CPU per request somewhat."""

    def median(name: str, key: str) -> float:
        chosen = [r for r in rounds[name] if not quiet or r.other_cores <= QUIET_CORES]
        return statistics.median(getattr(r, key) for r in chosen or rounds[name])

    return {
        label: {
            "rps": round(median(a, "rps") / median(b, "rps"), 3),
            "cpu_per_request": round(
                median(a, "server_cpu_ms_per_request") / median(b, "server_cpu_ms_per_request"), 3
            ),
        }
        for label, (a, b) in RATIO_PAIRS.items()
    }


def markdown(result: dict[str, Any]) -> str:
    m = result["machine"]
    medians = result["medians"]
    lines = [
        f"### ASGI server choice, {result['finished_at']}",
        "",
        f"{m['cores']} cores ({m['cpu']}), Python {m['python']}, SQLite {m['sqlite']}, "
        f"{m['wrk']}; granian {result['versions']['granian']}, uvicorn "
        f"{result['versions']['uvicorn']}; commit {m['commit']}. Store: {result['persons']:,} "
        f"persons. `check-employee-hes-code`, 1 worker, wrk 2 threads / 64 connections, "
        f"{result['seconds']} s per round after a {result['warmup']} s warm-up, {result['rounds']} "
        "rounds alternating the servers, audit tables emptied before each round of a real "
        "server. Median = the round with the median req/s; CPU = the server's process tree.",
        "",
        "| server | req/s | p50 ms | p99 ms | server CPU ms/req | non-2xx | other load (cores) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]

    def row(label: str, r: dict[str, Any]) -> str:
        return (
            f"| {label} | {r['rps']:,.0f} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | "
            f"{r['server_cpu_ms_per_request']:.3f} | {r['non_2xx']}/{r['requests']} | "
            f"{r['other_cores']:.2f} |"
        )

    for name, r in medians.items():
        lines.append(row(f"**{name}**, median", r))
    for name, rounds in result["rounds_by_server"].items():
        for i, r in enumerate(rounds, 1):
            lines.append(row(f"{name} round {i}", r))
    quiet = {
        name: sum(r["other_cores"] <= QUIET_CORES for r in rounds)
        for name, rounds in result["rounds_by_server"].items()
    }
    lines += [
        "",
        "Ratios of the medians over the rounds: all rounds, and only the quiet ones (other load "
        f"≤ {QUIET_CORES} cores; per server: "
        + ", ".join(f"{name} {count}" for name, count in quiet.items())
        + "; a server with none counts all its rounds).",
        "",
        "| ratio | req/s | server CPU per request | req/s, quiet rounds | CPU, quiet rounds |",
        "|---|---:|---:|---:|---:|",
    ]
    for label, pair in result["ratios"].items():
        still = result["quiet_ratios"][label]
        lines.append(
            f"| {label} | {pair['rps']:.2f} | {pair['cpu_per_request']:.2f} | "
            f"{still['rps']:.2f} | {still['cpu_per_request']:.2f} |"
        )
    return "\n".join(lines) + "\n"


RATIO_PAIRS = {
    "real app: granian / uvicorn": ("granian", "uvicorn"),
    "raw baseline: granian / uvicorn": ("raw-granian", "raw-uvicorn"),
    "real app on granian: asyncio / uvloop": ("granian-asyncio", "granian"),
    "granian: real app / raw baseline": ("granian", "raw-granian"),
    "uvicorn: real app / raw baseline": ("uvicorn", "raw-uvicorn"),
}


def main() -> None:
    parser = argparse.ArgumentParser(description="granian vs uvicorn on the HES benchmark store")
    parser.add_argument("--db", type=Path, default=HERE / "data" / "hes_1m.db")
    parser.add_argument("--persons", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--first-port", type=int, default=18090)
    parser.add_argument("--quiet-wait", type=float, default=20, help="s to wait for idle CPUs")
    parser.add_argument("--other-wait", type=float, default=600, help="s to wait for others")
    parser.add_argument("--out", type=Path, default=HERE / "results")
    args = parser.parse_args()

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # unwinds: the servers are stopped
    wrk = ensure_wrk()
    db: Path = args.db.resolve()
    meta = benchmark_store(db, args.persons)
    auth = (meta["username"], meta["password"])

    with tempfile.TemporaryDirectory(prefix="server-choice-") as tmp_name:
        tmp = Path(tmp_name)
        mix = meta["codes"] + meta["unknown"][:100]
        random.Random(1).shuffle(mix)
        codes_file = tmp / "codes.txt"
        codes_file.write_text("\n".join(mix) + "\n")
        token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        base_env = {k: v for k, v in os.environ.items() if not k.startswith("SAGLIK_")}
        wrk_env = {**base_env, "HES_BENCH_AUTH": token, "HES_BENCH_CODES": str(codes_file)}
        every = servers(db, tmp, base_env, args.first_port)
        rounds: dict[str, list[WrkResult]] = {server.name: [] for server in every}
        started: list[Server] = []
        try:
            for server in every:
                server.start()
                started.append(server)
                sanity(server.base, auth, meta["codes"][0], meta["unknown"][0])
                measure(wrk, f"{server.name} warm-up", server, wrk_env, args.warmup, 0)
            for i in range(args.rounds):
                order = every[i % len(every) :] + every[: i % len(every)]
                for server in order:
                    wait_for_others(args.other_wait)
                    if not server.name.startswith("raw"):
                        reset_audit(db)
                    label = f"{server.name} #{i + 1}"
                    result = measure(wrk, label, server, wrk_env, args.seconds, args.quiet_wait)
                    rounds[server.name].append(result)
        finally:
            for server in started:
                server.stop()

    versions = {}
    for package in ("granian", "uvicorn"):
        done = subprocess.run(
            [sys.executable, "-c", f"import {package}; print({package}.__version__)"],
            capture_output=True,
            text=True,
            check=True,
        )
        versions[package] = done.stdout.strip()
    medians = {name: asdict(median_result(results)) for name, results in rounds.items()}
    result: dict[str, Any] = {
        "finished_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "versions": versions,
        "persons": meta["persons"],
        "seconds": args.seconds,
        "warmup": args.warmup,
        "rounds": args.rounds,
        "medians": medians,
        "rounds_by_server": {n: [asdict(r) for r in results] for n, results in rounds.items()},
        "ratio_pairs": RATIO_PAIRS,
        "ratios": ratios(rounds, quiet=False),
        "quiet_ratios": ratios(rounds, quiet=True),
    }
    record(args.out, "server", result, markdown(result))


if __name__ == "__main__":
    main()
