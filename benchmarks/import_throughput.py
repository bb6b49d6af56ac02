"""Bulk import throughput: ``saglik import`` of persons (CSV) and death forms (JSON Lines) into a
fresh SQLite store, then the same files again.

    /work/venv/bin/python benchmarks/import_throughput.py [--persons 200000] [--deaths 50000]
        [--batch-size 1000] [--keep DIR] [--quiet-wait 120]

Steps (under a minute on the benchmark machine, plus the wait for an idle machine; nothing is
left behind unless ``--keep``):
1. generates the files with a fixed seed: checksum-valid distinct T.C. numbers with Turkish names;
   death forms like ``load_obs.py``'s (citizens and ~1 % passport holders, districts from
   the shipped district table, 1-4 WHO ICD-10 causes, deaths over the last two years);
2. creates a fresh store with ``saglik db upgrade`` (which loads the shipped districts), then
   waits up to ``--quiet-wait`` s for the 1-minute load average to fall under 0.7;
3. runs the real command, ``saglik import persons|deaths FILE``, as a child process, twice per
   file. The figures are the command's own (the change-log entry each run writes: rows read,
   written, rejected, seconds of import, rows/s); beside them the child's wall time (start-up
   and migration check included) and peak RSS (``wait4``), which must not grow with the file;
4. checks that each first run wrote every row and that the rerun changed nothing: a SHA-256
   over every row of the written tables (persons; death forms, causes, history) is the same
   before and after it;
5. writes ``benchmarks/results/import-<UTC time>.md`` and ``.json`` and prints the markdown.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import random
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from run_hes import machine_facts
from saglik.domain.tckn import complete_tckn
from saglik.services.refdata import read_districts

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
SAGLIK = str(Path(sys.executable).with_name("saglik"))

FIRST = ["Ömer", "Ayşe", "Mehmet Ali", "Fatma Zehra", "İbrahim", "Gökçe", "Işıl", "Şükrü",
         "Çağla", "Ümit", "Zeynep", "Hüseyin", "Elif", "Oğuz", "Yağmur", "Rıza"]  # fmt: skip
LAST = ["Yılmaz", "Kaya", "Demir", "Şahin", "Çelik", "Yıldız", "Öztürk", "Aydın", "Özdemir",
        "Arslan", "Doğan", "Kılıç", "Işıklı", "Ünal", "İnce", "Ağaoğlu"]  # fmt: skip
ICD = ["I21.9", "I64", "I50.9", "J44.9", "C34.9", "E11.9", "J18.9", "N18.9", "I10", "A41.9",
       "U07.1", "I25.1", "J96.0", "C50.9", "I48"]  # fmt: skip
INTERVALS = [None, "1 saat", "6 saat", "2 gün", "3 ay", "10 yıl"]
MANNERS = [1] * 30 + [2, 3, 4, 5, 7, 99]


def persons_file(path: Path, count: int, rng: random.Random) -> None:
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(
            ["identity_number", "first_name", "last_name", "consent_vaccination", "consent_test"]
        )
        for i in range(count):
            writer.writerow(
                [
                    complete_tckn(str(100_000_000 + 3 * i)),
                    rng.choice(FIRST),
                    rng.choice(LAST),
                    rng.choice(("evet", "hayır", "")),
                    rng.choice(("true", "false")),
                ]
            )


def districts() -> list[tuple[int, int]]:
    return [(code, plate) for code, plate, _name in read_districts()]


def deaths_file(path: Path, count: int, rng: random.Random) -> None:
    places = districts()
    now = datetime.now(UTC)
    with path.open("w", encoding="utf-8") as f:
        for i in range(count):
            died = now - timedelta(minutes=rng.randrange(60, 2 * 365 * 24 * 60))
            death_district, death_plate = rng.choice(places)
            home_district, home_plate = (
                (death_district, death_plate) if rng.random() < 0.85 else rng.choice(places)
            )
            sex = rng.choice((1, 2))
            form: dict[str, Any] = {
                "form_no": str(6_000_000_000 + i),
                "referans_no": f"BN{i:08d}",
                "first_name": rng.choice(FIRST),
                "last_name": rng.choice(LAST),
                "father_name": rng.choice(FIRST),
                "birth_date": (died - timedelta(days=rng.randrange(365, 36_500)))
                .date()
                .isoformat(),
                "sex": sex,
                "died_at": died.isoformat(timespec="seconds"),
                "registered_at": min(
                    died + timedelta(minutes=rng.randrange(10, 600)), now
                ).isoformat(timespec="seconds"),
                "place_of_death_type": rng.choice((1, 2, 3)),
                "death_province": death_plate,
                "death_district": death_district,
                "residence_province": home_plate,
                "residence_district": home_district,
                "manner": rng.choice(MANNERS),
                "causes": [
                    {"kind": kind, "icd_code": rng.choice(ICD), "interval": rng.choice(INTERVALS)}
                    for kind in (1, 2, 3, 4)[: rng.randint(1, 4)]
                ],
            }
            if rng.random() < 0.01:
                form.update(passport_no=f"P{i:08d}", nationality="SY")
            else:
                form["identity_number"] = complete_tckn(str(500_000_000 + 7 * i))
            f.write(json.dumps(form, ensure_ascii=False) + "\n")


def saglik(args: list[str], url: str) -> tuple[int, float, int, float, str]:
    """Runs the real command; (exit status, wall seconds, peak RSS in MB, CPU seconds, stderr).
    CPU time (user + system of the child) is the figure that other load on the machine
    disturbs least."""
    started = time.monotonic()
    proc = subprocess.Popen(
        [SAGLIK, *args],
        env={**os.environ, "SAGLIK_DATABASE_URL": url},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    assert proc.stderr is not None
    stderr = proc.stderr.read().decode("utf-8", "replace")
    _pid, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    cpu = usage.ru_utime + usage.ru_stime
    return proc.returncode, time.monotonic() - started, usage.ru_maxrss // 1024, cpu, stderr


def fingerprint(db: Path, tables: tuple[str, ...]) -> str:
    digest = hashlib.sha256()
    with sqlite3.connect(db) as conn:
        for table in tables:
            for row in conn.execute(f"SELECT * FROM {table} ORDER BY 1, 2"):  # noqa: S608
                digest.update(repr(row).encode())
    return digest.hexdigest()


def last_import(db: Path) -> dict[str, Any]:
    with sqlite3.connect(db) as conn:
        row = conn.execute(
            "SELECT after FROM operator_changes WHERE entity = 'import' ORDER BY id DESC LIMIT 1"
        ).fetchone()
    return dict(json.loads(row[0]))


def measure(
    kind: str, path: Path, rows: int, db: Path, url: str, batch: int, tables: tuple[str, ...]
) -> list[dict[str, Any]]:
    runs = []
    for attempt in ("first run", "rerun"):
        before = fingerprint(db, tables)
        code, wall, rss, cpu, stderr = saglik(
            ["import", kind, str(path), "--batch-size", str(batch)], url
        )
        if code != 0:
            raise SystemExit(f"saglik import {kind} exited {code}: {stderr}")
        logged = last_import(db)
        after = fingerprint(db, tables)
        if logged["written"] != rows or logged["rejected"]:
            raise SystemExit(f"{kind}: {logged} (expected {rows} written, none rejected)")
        if attempt == "rerun" and after != before:
            raise SystemExit(f"{kind}: the rerun changed the store")
        runs.append(
            {
                "kind": kind,
                "run": attempt,
                "rows": logged["rows_read"],
                "file_mb": round(path.stat().st_size / 1e6, 1),
                "import_seconds": logged["seconds"],
                "rows_per_second": logged["rows_per_second"],
                "wall_seconds": round(wall, 2),
                "cpu_seconds": round(cpu, 2),
                "cpu_us_per_row": round(cpu / rows * 1e6, 1),
                "peak_rss_mb": rss,
                "store_changed": after != before,
            }
        )
        print(f"  {kind} {attempt}: {logged['rows_per_second']:,.0f} rows/s", flush=True)
    return runs


def wait_for_quiet(limit: float) -> float:
    """Waits up to ``limit`` s for the 1-minute load average to fall under 0.7 (other engineers'
    test suites share the 2 cores); returns the seconds waited."""
    started = time.monotonic()
    while os.getloadavg()[0] >= 0.7 and time.monotonic() - started < limit:
        time.sleep(5)
    return time.monotonic() - started


def machine() -> dict[str, Any]:
    return {**machine_facts(), "load_before": os.getloadavg()[0]}


def markdown(result: dict[str, Any]) -> str:
    m = result["machine"]
    lines = [
        f"### Import throughput, {result['finished_at']}",
        "",
        f"{m['cores']} cores ({m['cpu']}), Python {m['python']}, SQLite {m['sqlite']}; commit "
        f"{m['commit']}; 1-min load average before the run {m['load_before']:.2f} (after "
        f"waiting {result['waited_seconds']} s for a quieter machine). Fresh SQLite "
        f"store (WAL, synchronous=NORMAL), `--batch-size {result['batch_size']}`, the real "
        "`saglik import` as a child process. Rows/s and import seconds are the command's own "
        "(from its change-log entry); wall time adds process start-up; CPU µs/row is the child's "
        "user + system time (start-up included) per row.",
        "",
        "| kind | run | rows | file MB | import s | rows/s | wall s | CPU µs/row | peak RSS MB "
        "| changed |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in result["runs"]:
        lines.append(
            f"| {r['kind']} | {r['run']} | {r['rows']:,} | {r['file_mb']} | "
            f"{r['import_seconds']:.1f} | **{r['rows_per_second']:,.0f}** | "
            f"{r['wall_seconds']:.1f} | {r['cpu_us_per_row']:.0f} | {r['peak_rss_mb']} | "
            f"{'yes' if r['store_changed'] else 'no'} |"
        )
    lines += [
        "",
        '"changed": whether the run changed the store. Each rerun was checked to leave every '
        "row of the written tables identical (SHA-256 over persons; death_forms, death_causes, "
        "death_form_history).",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--persons", type=int, default=200_000)
    parser.add_argument("--deaths", type=int, default=50_000)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--keep", type=Path, help="generate the files and store here, keep them")
    parser.add_argument(
        "--quiet-wait", type=float, default=120, help="s to wait for an idle machine (load < 0.7)"
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="saglik-import-") as scratch:
        work = args.keep or Path(scratch)
        work.mkdir(parents=True, exist_ok=True)
        db = work / "import.db"
        for leftover in work.glob("import.db*"):
            leftover.unlink()
        url = f"sqlite:///{db}"
        rng = random.Random(20261123)
        persons, deaths = work / "persons.csv", work / "deaths.jsonl"
        started = time.monotonic()
        persons_file(persons, args.persons, rng)
        deaths_file(deaths, args.deaths, rng)
        print(f"generated the files in {time.monotonic() - started:.1f} s", flush=True)
        for step in (["db", "upgrade"],):  # a new store has the shipped districts
            code, _wall, _rss, _cpu, stderr = saglik(step, url)
            if code != 0:
                raise SystemExit(f"saglik {' '.join(step)} exited {code}: {stderr}")
        waited = wait_for_quiet(args.quiet_wait)
        result: dict[str, Any] = {
            "machine": machine(),
            "batch_size": args.batch_size,
            "waited_seconds": round(waited),
            "runs": [],
        }
        result["runs"] += measure(
            "persons", persons, args.persons, db, url, args.batch_size, ("persons",)
        )
        result["runs"] += measure(
            "deaths",
            deaths,
            args.deaths,
            db,
            url,
            args.batch_size,
            ("death_forms", "death_causes", "death_form_history"),
        )
    finished = datetime.now(UTC)
    result["finished_at"] = finished.strftime("%Y-%m-%d %H:%M UTC")
    RESULTS.mkdir(exist_ok=True)
    stem = RESULTS / f"import-{finished:%Y%m%d-%H%M%S}"
    stem.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    text = markdown(result)
    stem.with_suffix(".md").write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
