"""ÖBS load benchmark: the real service on five years of deaths, beside the HES raw floor, on
SQLite and on PostgreSQL, at 1 and 2 workers, in one run.

    .venv/bin/python benchmarks/run_obs.py            # from the repository root
    .venv/bin/python benchmarks/run_obs.py --backend sqlite --workers 1     # the earlier run

Steps (everything bound to 127.0.0.1 and bounded in time; the machinery is ``run_hes.py``'s):
1. builds ``benchmarks/data/obs_5y.db`` (~2.6 M death forms) with ``load_obs.py`` and, for the
   floor, ``benchmarks/data/hes_1m.db`` with ``load_hes.py`` if they are absent; for
   ``--backend postgresql|both`` their copies in the databases ``saglik_bench_obs`` and
   ``saglik_bench`` (``pg_store.py``, once, then reused);
2. starts, each on its own port: the HES raw ASGI floor (``raw_baseline.py``) on each backend's
   HES store, and the real service (``saglik serve --workers N``, audit and access log on: the
   defaults) on each backend's ÖBS store for each N of ``--workers``;
3. checks that sampled lookups are found and that the busy day answers all its forms, warms up,
   then runs ``wrk`` (2 threads, 64 connections, ``--latency``) on ``GetOlumByTcKimlikNoFull``
   (cycling through 20,000 sampled deaths), ``GetTumOlumlerByDate`` (one day, ~1,450 forms) and
   the floor, the runs' order rotating, for ``--rounds`` rounds; the audit tables are emptied
   before each run of a real server; before every measured run it waits for no other ``wrk`` /
   ``run_hes.py`` to be running (the HES benchmark shares the machine);
4. writes ``benchmarks/results/obs-<UTC time>.md`` and ``.json`` and prints the markdown. The
   target of issue 12 is ``GetOlumByTcKimlikNoFull`` ≥ 0.5× the floor's req/s (SQLite, 1 worker).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx

import pg_store
from run_hes import (
    BACKENDS,
    DEFAULT_REDIS,
    HERE,
    HES,
    Server,
    Store,
    WrkResult,
    ensure_wrk,
    machine,
    median_result,
    ratio,
    raw_server,
    real_server,
    record,
    run_rows,
    run_wrk,
)

OBS = "/services/g2g/saglik/OBS"
TARGET_RATIO = 0.5
"""Issue 12, §4: ``GetOlumByTcKimlikNoFull`` over 2.6 M forms ≥ 0.5× the raw floor's req/s."""
METHODS = {"tc_full": "GetOlumByTcKimlikNoFull", "by_date": "GetTumOlumlerByDate"}


def others_running() -> list[str]:
    """Other load on the machine that must not overlap a measured run (the HES benchmark)."""
    found = []
    for args in (["pgrep", "-x", "wrk"], ["pgrep", "-f", "run_hes.py"]):
        done = subprocess.run(args, capture_output=True, text=True, check=False)
        found += [pid for pid in done.stdout.split() if int(pid) != os.getpid()]
    return found


def wait_for_others(limit: float) -> float:
    """Waits (up to ``limit`` s) until no other wrk / run_hes.py runs; returns seconds waited."""
    started = time.monotonic()
    while others_running() and time.monotonic() - started < limit:
        print("  another benchmark (wrk / run_hes.py) is running: waiting", file=sys.stderr)
        time.sleep(5)
    if others_running():
        raise SystemExit("another benchmark is still running after --other-wait: not measuring")
    return round(time.monotonic() - started, 1)


def tc_path(sample: dict[str, str]) -> str:
    query = {
        "TcKimlikNo": sample["tckn"],
        "Adi": sample["adi"],
        "Soyadi": sample["soyadi"],
        "DogumTarihi": sample["dogum_tarihi"],
    }
    return f"{OBS}/GetOlumByTcKimlikNoFull?{urlencode(query)}"


def sanity(base: str, auth: tuple[str, str], meta: dict[str, Any]) -> dict[str, Any]:
    """A sample of lookups must be found (State 1) and the busy day must list all its forms."""
    with httpx.Client(base_url=base, auth=auth, timeout=30) as client:
        found = 0
        checked = meta["sample"][:50]
        for sample in checked:
            found += client.get(tc_path(sample)).json()["State"] == 1
        day = client.get(f"{OBS}/GetTumOlumlerByDate", params={"Tarih": meta["busy_day"]})
    listed = len(day.json()["Result"] or [])
    if found != len(checked) or listed != meta["busy_day_forms"]:
        raise RuntimeError(
            f"sanity check failed at {base}: {found}/{len(checked)} lookups found, "
            f"{listed}/{meta['busy_day_forms']} forms listed for {meta['busy_day']}"
        )
    return {
        "lookups_found": f"{found}/{len(checked)}",
        "day_forms": listed,
        "day_kb": len(day.content) / 1024,
    }


@dataclass
class Run:
    """One measured load: a method on a real server, or the floor."""

    key: str
    server: Server
    store: Store
    path: str
    script: Path
    env: dict[str, str]
    real: bool
    rounds: list[WrkResult] = field(default_factory=list)


def markdown(result: dict[str, Any]) -> str:
    m = result["machine"]
    pg = result.get("postgresql")
    lines = [
        f"### ÖBS benchmark, {result['finished_at']}",
        "",
        f"{m['cores']} cores ({m['cpu']}), Python {m['python']}, SQLite {m['sqlite']}, "
        f"{m['wrk']}; commit {m['commit']}."
        + (
            f" PostgreSQL {pg['server_version']} on the same machine (autovacuum "
            f"{pg['autovacuum']}, shared_buffers {pg['shared_buffers']}), databases "
            f"`{result['pg_database']}` (ÖBS) and `{result['pg_hes_database']}` (the floor's), "
            "copies of the SQLite stores."
            if pg
            else ""
        ),
        "",
        f"ÖBS store: {result['forms']:,} death forms over {result['years']} years "
        f"({result['db_mb']:,} MB in SQLite); `GetTumOlumlerByDate` asks {result['busy_day']} "
        f"({result['busy_day_forms']:,} forms, {result['day_response_kb']:.0f} kB answer); "
        f"`GetOlumByTcKimlikNoFull` cycles through {result['sampled']:,} sampled deaths. Floor: "
        f"the HES raw ASGI app on the HES store ({result['hes_persons']:,} persons) of the same "
        f"backend. wrk: {result['threads']} threads, {result['connections']} connections, "
        f"{result['seconds']} s per run after a {result['warmup']} s warm-up, {result['rounds']} "
        "rounds, the order rotating; audit tables emptied before every run of a real server. "
        "Median = the round with the median req/s. CPU: the server's process tree, and the "
        "PostgreSQL backends serving it (DB).",
        "",
        "| run | req/s | p50 ms | p90 ms | p99 ms | server CPU ms/req | DB CPU ms/req "
        "| non-2xx | audit rows | other load (cores) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]

    lines += run_rows(result["medians"], result["rounds_by_run"])
    lines += ["", "| ratio of the medians | req/s | CPU per request |", "|---|---:|---:|"]
    for label, pair in result["ratios"].items():
        lines.append(f"| {label} | {pair['rps']:.2f} | {pair['cpu']:.2f} |")
    lines += ["", "| target (issue 12) | measured | target | |", "|---|---:|---|---|"]
    for what, value, target, met in result["targets"]:
        lines.append(f"| {what} | {value:g} | {target} | {'met' if met else '**missed**'} |")
    lines += [
        "",
        f"Waited {result['waited_for_others_s']:.0f} s in total for other benchmarks to finish.",
    ]
    return "\n".join(lines) + "\n"


def ensure_store(loader: str, db: Path, extra: list[str]) -> dict[str, Any]:
    meta_path = db.with_suffix(".json")
    if not db.exists() or not meta_path.exists():
        subprocess.run(
            [sys.executable, str(HERE / loader), str(db), "--force", *extra],
            check=True,
            timeout=3600,
        )
    meta: dict[str, Any] = json.loads(meta_path.read_text("utf-8"))
    return meta


def run_key(method: str, backend: str, workers: int) -> str:
    return f"{method}-{backend}-{workers}w"


def ratios_and_targets(
    medians: dict[str, dict[str, Any]], backends: list[str], workers: list[int], methods: list[str]
) -> tuple[dict[str, dict[str, float]], list[tuple[str, float, str, bool]]]:
    def cpu(key: str) -> float:
        m = medians[key]
        return float(m["server_cpu_ms_per_request"] + m["db_cpu_ms_per_request"])

    def pair(a: str, b: str) -> dict[str, float]:
        return {"rps": ratio(medians[a]["rps"], medians[b]["rps"]), "cpu": ratio(cpu(a), cpu(b))}

    out: dict[str, dict[str, float]] = {}
    goals: list[tuple[str, float, str, bool]] = []
    one = min(workers)
    for backend in backends:
        floor = f"raw-{backend}"
        for n in workers:
            key = run_key("tc_full", backend, n)
            out[f"{key} ÷ {floor}"] = pair(key, floor)
            if backend != "sqlite" and "sqlite" in backends:
                out[f"{key} ÷ raw-sqlite"] = pair(key, "raw-sqlite")
        for method in methods:
            for n in workers:
                if n != one:
                    a, b = run_key(method, backend, n), run_key(method, backend, one)
                    out[f"{a} ÷ {b}"] = pair(a, b)
        if one == 1:
            value = out[f"{run_key('tc_full', backend, 1)} ÷ {floor}"]["rps"]
            goals.append(
                (
                    f"{backend}: GetOlumByTcKimlikNoFull, 1 worker ÷ raw floor, req/s",
                    value,
                    f"≥ {TARGET_RATIO}",
                    value >= TARGET_RATIO,
                )
            )
    if set(BACKENDS) <= set(backends):
        out["raw-postgresql ÷ raw-sqlite"] = pair("raw-postgresql", "raw-sqlite")
        for method in methods:
            for n in workers:
                a, b = run_key(method, "postgresql", n), run_key(method, "sqlite", n)
                out[f"{a} ÷ {b}"] = pair(a, b)
    return out, goals


def main() -> None:
    parser = argparse.ArgumentParser(description="ÖBS load benchmark")
    parser.add_argument("--db", type=Path, default=HERE / "data" / "obs_5y.db")
    parser.add_argument("--hes-db", type=Path, default=HERE / "data" / "hes_1m.db")
    parser.add_argument("--backend", choices=(*BACKENDS, "both"), default="both")
    parser.add_argument("--workers", default="1,2", help="worker counts of the real service")
    parser.add_argument(
        "--methods", default="tc_full,by_date", help="tc_full (GetOlumByTcKimlikNoFull), by_date"
    )
    parser.add_argument("--pg", default=pg_store.PG_SERVER, help="PostgreSQL server URL")
    parser.add_argument("--pg-database", default=pg_store.OBS_DATABASE)
    parser.add_argument("--pg-hes-database", default=pg_store.HES_DATABASE)
    parser.add_argument("--raw-pg-access", default="conns-4", help="conns-P or inline")
    parser.add_argument(
        "--rate-limit-storage",
        default=DEFAULT_REDIS,
        help="SAGLIK_RATE_LIMIT_STORAGE of a real service with more than one worker",
    )
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--first-port", type=int, default=18090)
    parser.add_argument(
        "--other-wait", type=float, default=900, help="max seconds to wait for other benchmarks"
    )
    parser.add_argument(
        "--quiet-wait", type=float, default=20, help="seconds to wait for an idle machine per run"
    )
    parser.add_argument(
        "--real-src", type=Path, help="run the real service from this source tree (before/after)"
    )
    parser.add_argument("--out", type=Path, default=HERE / "results")
    args = parser.parse_args()
    backends = list(BACKENDS) if args.backend == "both" else [args.backend]
    workers = sorted({int(w) for w in args.workers.split(",")})
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    if "tc_full" not in methods or not set(methods) <= set(METHODS):
        parser.error(f"--methods: tc_full and any of {sorted(METHODS)}")

    wrk = ensure_wrk()
    db, hes_db = args.db.resolve(), args.hes_db.resolve()
    meta = ensure_store("load_obs.py", db, [])
    hes_meta = ensure_store("load_hes.py", hes_db, [])
    stores = {"sqlite": (Store.sqlite(db), Store.sqlite(hes_db))}
    if "postgresql" in backends:
        obs_url = pg_store.ensure(db, args.pg, args.pg_database)
        hes_url = pg_store.ensure(hes_db, args.pg, args.pg_hes_database)
        stores["postgresql"] = (
            Store.postgresql(obs_url, Path(f"{db}.key")),
            Store.postgresql(hes_url, Path(f"{hes_db}.key")),
        )
    auth = (meta["username"], meta["password"])
    hes_token = base64.b64encode(f"{hes_meta['username']}:{hes_meta['password']}".encode())
    token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
    waited = 0.0

    with tempfile.TemporaryDirectory(prefix="obs-bench-") as tmp_name, contextlib.ExitStack() as up:
        tmp = Path(tmp_name)
        queries = tmp / "queries.txt"
        queries.write_text("\n".join(tc_path(s) for s in meta["sample"]) + "\n", "utf-8")
        codes = tmp / "codes.txt"
        mix = hes_meta["codes"] + hes_meta["unknown"][:100]
        random.Random(1).shuffle(mix)
        codes.write_text("\n".join(mix) + "\n")
        base_env = {k: v for k, v in os.environ.items() if not k.startswith("SAGLIK_")}
        obs_env = {
            **base_env,
            "OBS_BENCH_AUTH": token,
            "OBS_BENCH_QUERIES": str(queries),
            "OBS_BENCH_DAYS": meta["busy_day"],
        }
        hes_env = {**base_env, "HES_BENCH_AUTH": hes_token.decode(), "HES_BENCH_CODES": str(codes)}
        scripts = {"tc_full": HERE / "obs_tc_full.lua", "by_date": HERE / "obs_by_date.lua"}
        runs: list[Run] = []
        reals: list[Server] = []
        port = args.first_port
        for backend in backends:
            obs_store, hes_store = stores[backend]
            key = f"raw-{backend}"
            raw = raw_server(hes_store, port, tmp, base_env, pg_access=args.raw_pg_access, name=key)
            port += 1
            runs.append(Run(key, raw, hes_store, f"{HES}/check-employee-hes-code",
                            HERE / "hes_single.lua", hes_env, real=False))  # fmt: skip
            for n in workers:
                real = real_server(
                    obs_store,
                    port,
                    tmp,
                    base_env,
                    args.real_src,
                    workers=n,
                    rate_limit_storage=args.rate_limit_storage if n > 1 else None,
                    name=f"real-{backend}-{n}w",
                )
                port += 1
                reals.append(real)
                for method in methods:
                    runs.append(Run(run_key(method, backend, n), real, obs_store, "",
                                    scripts[method], obs_env, real=True))  # fmt: skip
        servers = {id(r.server): r.server for r in runs}
        checks: dict[str, Any] = {}
        for server in servers.values():
            up.enter_context(server.running())
        for real in reals:
            checks[real.name] = sanity(real.base, auth, meta)
        load = {"connections": args.connections, "threads": args.threads}
        waited += wait_for_others(args.other_wait)
        for run in runs:
            run_wrk(wrk, f"{run.key} warm-up", run.server, run.path, run.script, run.env,
                    seconds=args.warmup, store=run.store, **load)  # fmt: skip
        for i in range(args.rounds):
            order = runs[i % len(runs) :] + runs[: i % len(runs)]
            for run in order:
                waited += wait_for_others(args.other_wait)
                if run.real:
                    run.store.reset_audit()
                measured = run_wrk(
                    wrk,
                    f"{run.key} #{i + 1}",
                    run.server,
                    run.path,
                    run.script,
                    run.env,
                    seconds=args.seconds,
                    quiet_wait=args.quiet_wait,
                    store=run.store,
                    **load,
                )
                if run.real:
                    measured.audit_rows = run.store.audit_rows()
                run.rounds.append(measured)

    medians = {run.key: asdict(median_result(run.rounds)) for run in runs}
    ratios, goals = ratios_and_targets(medians, backends, workers, methods)
    first_check = next(iter(checks.values()))
    result: dict[str, Any] = {
        "finished_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "postgresql": pg_store.server_facts(args.pg) if "postgresql" in backends else None,
        "pg_database": args.pg_database,
        "pg_hes_database": args.pg_hes_database,
        "raw_pg_access": args.raw_pg_access,
        "rate_limit_storage": args.rate_limit_storage if max(workers) > 1 else None,
        "backends": backends,
        "workers": workers,
        "forms": meta["forms"],
        "years": meta["years"],
        "db_mb": round(db.stat().st_size / 1e6),
        "busy_day": meta["busy_day"],
        "busy_day_forms": meta["busy_day_forms"],
        "day_response_kb": round(first_check["day_kb"], 1),
        "sampled": len(meta["sample"]),
        "hes_persons": hes_meta["persons"],
        "seconds": args.seconds,
        "warmup": args.warmup,
        "connections": args.connections,
        "threads": args.threads,
        "rounds": args.rounds,
        "real_src": str(args.real_src) if args.real_src else "working tree",
        "sanity": checks,
        "medians": medians,
        "rounds_by_run": {run.key: [asdict(r) for r in run.rounds] for run in runs},
        "ratios": ratios,
        "targets": goals,
        "waited_for_others_s": waited,
    }
    record(args.out, "obs", result, markdown(result))


if __name__ == "__main__":
    main()
