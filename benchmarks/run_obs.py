"""ÖBS load benchmark: the real service on five years of deaths, beside the HES raw baseline.

    /work/venv/bin/python benchmarks/run_obs.py            # from the repository root

Steps (everything bound to 127.0.0.1 and bounded in time; the machinery is ``run_hes.py``'s):
1. builds ``benchmarks/data/obs_5y.db`` (~2.6 M death forms) with ``load_obs.py`` and, for the
   baseline, ``benchmarks/data/hes_1m.db`` with ``load_hes.py`` if they are absent;
2. starts the real service (``saglik serve --workers 1``, audit and access log on: the defaults)
   on the ÖBS store and the HES raw ASGI baseline (``raw_baseline.py``) on the HES store;
3. checks that sampled lookups are found and that the busy day answers all its forms, warms up,
   then runs ``wrk`` (2 threads, 64 connections, ``--latency``) on ``GetOlumByTcKimlikNoFull``
   (cycling through 20,000 sampled deaths), ``GetTumOlumlerByDate`` (one day, ~1,450 forms) and
   the raw baseline, alternating, for ``--rounds`` rounds; before every measured run it waits for
   no other ``wrk`` / ``run_hes.py`` to be running (the HES benchmark shares the machine);
4. writes ``benchmarks/results/obs-<UTC time>.md`` and ``.json`` and prints the markdown.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx

from run_hes import (
    HERE,
    Server,
    WrkResult,
    ensure_wrk,
    last_audit_id,
    machine,
    median_result,
    raw_server,
    real_server,
    reset_audit,
    run_wrk,
)

OBS = "/services/g2g/saglik/OBS"
TARGET_P99_MS = 20.0
METHODS = ("GetOlumByTcKimlikNoFull", "GetTumOlumlerByDate")


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
        day = client.get(f"{OBS}/GetTumOlumlerByDate", params={"Tarih": meta["busy_day"]}).json()
    listed = len(day["Result"] or [])
    if found != len(checked) or listed != meta["busy_day_forms"]:
        raise RuntimeError(
            f"sanity check failed: {found}/{len(checked)} lookups found, "
            f"{listed}/{meta['busy_day_forms']} forms listed for {meta['busy_day']}"
        )
    return {"lookups_found": f"{found}/{len(checked)}", "day_forms": listed}


def markdown(result: dict[str, Any]) -> str:
    m = result["machine"]
    lines = [
        f"### ÖBS benchmark, {result['finished_at']}",
        "",
        f"{m['cores']} cores ({m['cpu']}), Python {m['python']}, SQLite {m['sqlite']}, "
        f"{m['wrk']}; commit {m['commit']}. ÖBS store: {result['forms']:,} death forms over "
        f"{result['years']} years ({result['db_mb']:,} MB); `GetTumOlumlerByDate` asks "
        f"{result['busy_day']} ({result['busy_day_forms']:,} forms, "
        f"{result['day_response_kb']:.0f} kB answer); `GetOlumByTcKimlikNoFull` cycles through "
        f"{result['sampled']:,} sampled deaths. Raw baseline: the HES raw ASGI app on the HES "
        f"store ({result['hes_persons']:,} persons). wrk: {result['threads']} threads, "
        f"{result['connections']} connections, {result['seconds']} s per run after a "
        f"{result['warmup']} s warm-up, {result['rounds']} rounds alternating. "
        "Median = the round with the median req/s.",
        "",
        "| 1 worker | req/s | p50 ms | p90 ms | p99 ms | server CPU ms/req | non-2xx "
        "| other load (cores) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]

    def row(label: str, r: dict[str, Any]) -> str:
        return (
            f"| {label} | {r['rps']:,.0f} | {r['p50_ms']:.2f} | {r['p90_ms']:.2f} | "
            f"{r['p99_ms']:.2f} | {r['server_cpu_ms_per_request']:.3f} | "
            f"{r['non_2xx']}/{r['requests']} | {r['other_cores']:.2f} |"
        )

    names = {
        "tc_full": "**GetOlumByTcKimlikNoFull (real, audit on)**",
        "by_date": "**GetTumOlumlerByDate, one day (real, audit on)**",
        "raw": "**HES raw ASGI baseline**",
    }
    for key, label in names.items():
        lines.append(row(f"{label}, median", result[key]))
    for key in names:
        for i, r in enumerate(result[f"{key}_rounds"], 1):
            lines.append(row(f"{key} round {i}", r))
    ok = result["targets"]
    lines += [
        "",
        f"- GetOlumByTcKimlikNoFull p99: **{result['tc_full']['p99_ms']:.2f} ms** "
        f"(target < {TARGET_P99_MS:g} ms: {'met' if ok['tc_full'] else 'missed'})",
        f"- GetTumOlumlerByDate p99: **{result['by_date']['p99_ms']:.2f} ms** "
        f"(target < {TARGET_P99_MS:g} ms: {'met' if ok['by_date'] else 'missed'})",
        f"- audit rows written by the real service during the run: {result['audit_rows']:,}",
        f"- waited {result['waited_for_others_s']:.0f} s in total for other benchmarks to finish",
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
    return json.loads(meta_path.read_text("utf-8"))


def main() -> None:
    parser = argparse.ArgumentParser(description="ÖBS load benchmark")
    parser.add_argument("--db", type=Path, default=HERE / "data" / "obs_5y.db")
    parser.add_argument("--hes-db", type=Path, default=HERE / "data" / "hes_1m.db")
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--real-port", type=int, default=18090)
    parser.add_argument("--raw-port", type=int, default=18091)
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

    wrk = ensure_wrk()
    db, hes_db = args.db.resolve(), args.hes_db.resolve()
    meta = ensure_store("load_obs.py", db, [])
    hes_meta = ensure_store("load_hes.py", hes_db, [])
    auth = (meta["username"], meta["password"])
    hes_token = base64.b64encode(f"{hes_meta['username']}:{hes_meta['password']}".encode())
    token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
    waited = 0.0

    with tempfile.TemporaryDirectory(prefix="obs-bench-") as tmp_name:
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
        real = real_server(db, args.real_port, tmp, base_env, args.real_src)
        reset_audit(db)
        raw = raw_server(hes_db, args.raw_port, tmp, base_env)
        # key: (server, path, script, env)
        runs: dict[str, tuple[Server, str, Path, dict[str, str]]] = {
            "tc_full": (real, "", HERE / "obs_tc_full.lua", obs_env),
            "by_date": (real, "", HERE / "obs_by_date.lua", obs_env),
            "raw": (raw, "/services/g2g/saglik/hes/check-employee-hes-code",
                    HERE / "hes_single.lua", hes_env),
        }  # fmt: skip
        load = {"connections": args.connections, "threads": args.threads}
        rounds: dict[str, list[WrkResult]] = {key: [] for key in runs}
        audit_before = last_audit_id(db)
        with real.running(), raw.running():
            checks = sanity(real.base, auth, meta)
            day_kb = (
                len(
                    httpx.get(
                        f"{real.base}{OBS}/GetTumOlumlerByDate",
                        params={"Tarih": meta["busy_day"]},
                        auth=auth,
                        timeout=30,
                    ).content
                )
                / 1024
            )
            waited += wait_for_others(args.other_wait)
            for key, (server, path, script, env) in runs.items():
                run_wrk(wrk, f"{key} warm-up", server, path, script, env,
                        seconds=args.warmup, **load)  # fmt: skip
            order = list(runs)
            for i in range(args.rounds):
                for key in order if i % 2 == 0 else reversed(order):
                    server, path, script, env = runs[key]
                    waited += wait_for_others(args.other_wait)
                    rounds[key].append(
                        run_wrk(
                            wrk,
                            f"{key} #{i + 1}",
                            server,
                            path,
                            script,
                            env,
                            seconds=args.seconds,
                            quiet_wait=args.quiet_wait,
                            **load,
                        )
                    )
        audit_rows = last_audit_id(db) - audit_before

    medians = {key: median_result(results) for key, results in rounds.items()}
    result: dict[str, Any] = {
        "finished_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "forms": meta["forms"],
        "years": meta["years"],
        "db_mb": round(db.stat().st_size / 1e6),
        "busy_day": meta["busy_day"],
        "busy_day_forms": meta["busy_day_forms"],
        "day_response_kb": round(day_kb, 1),
        "sampled": len(meta["sample"]),
        "hes_persons": hes_meta["persons"],
        "seconds": args.seconds,
        "warmup": args.warmup,
        "connections": args.connections,
        "threads": args.threads,
        "rounds": args.rounds,
        "real_src": str(args.real_src) if args.real_src else "working tree",
        "sanity": checks,
        **{key: asdict(r) for key, r in medians.items()},
        **{f"{key}_rounds": [asdict(r) for r in results] for key, results in rounds.items()},
        "audit_rows": audit_rows,
        "waited_for_others_s": waited,
        "targets": {
            "tc_full": medians["tc_full"].p99_ms < TARGET_P99_MS,
            "by_date": medians["by_date"].p99_ms < TARGET_P99_MS,
        },
    }
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    (args.out / f"obs-{stamp}.json").write_text(
        json.dumps(result, ensure_ascii=False, indent=1) + "\n", "utf-8"
    )
    text = markdown(result)
    (args.out / f"obs-{stamp}.md").write_text(text, "utf-8")
    print(text)


if __name__ == "__main__":
    main()
