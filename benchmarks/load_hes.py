"""Build a SQLite store for the HES load benchmark: N persons (default 1,000,000) in the live
environment, each with one HES code, a share of them with risk periods, vaccinations, infections and
PCR results so the plus queries do real work, and a benchmark service user with every method and no
rate limit.

The schema comes from the project's own migrations; the bulk rows go in with ``sqlite3`` directly
(``executemany`` in large transactions, secondary indexes dropped during the load and rebuilt
after), in the exact storage form SQLAlchemy uses (naive UTC ``YYYY-MM-DD HH:MM:SS.ffffff``,
booleans 0/1).

Writes next to the store (or to ``--meta``) a JSON file for the load scripts: the credential, a
sample of valid codes, and a few expired, cancelled and unknown codes.

    python benchmarks/load_hes.py benchmarks/data/hes_1m.db [--persons 1000000] [--force]
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import string
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine

from saglik.domain.clock import Clock, SystemClock
from saglik.domain.methods import ALL_METHODS
from saglik.domain.tckn import complete_tckn
from saglik.domain.turkish import normalize_name
from saglik.services.accounts import AccountService, IssuedCredential
from saglik.services.changes import Actor, ChangeLog, store_pseudonymizer
from saglik.store import migrate
from saglik.store.engine import make_engine

ENV = "live"
INSTITUTION = "Benchmark Institution"
USERNAME = "bench"
CHUNK = 100_000
SAMPLE_VALID = 20_000
SAMPLE_OTHER = 200

FIRST_NAMES = [
    "Ömer", "Fatma", "Ayşe", "Mehmet", "Mustafa", "Zeynep", "Elif", "Emine", "Hüseyin", "İbrahim",
    "Gökçe", "Şükrü", "Çağla", "Ilgaz", "Ümit", "Yağmur", "Ali", "Veli", "Hatice", "Özlem",
    "İsmail", "Gül", "Işık", "Sevgi", "Burak", "Can", "Deniz", "Ebru", "Fırat", "Gizem",
    "Hakan", "İrem", "Kemal", "Leyla", "Murat", "Nihan", "Oğuz", "Pınar", "Rıza", "Selin",
    "Ahmet Can", "Ayşe Nur", "Mehmet Ali", "Fatma Zehra",
]  # fmt: skip
LAST_NAMES = [
    "Yılmaz", "Kaya", "Demir", "Şahin", "Çelik", "Yıldız", "Yıldırım", "Öztürk", "Aydın", "Özdemir",
    "Arslan", "Doğan", "Kılıç", "Aslan", "Çetin", "Kara", "Koç", "Kurt", "Özkan", "Şimşek",
    "Polat", "Öz", "Güneş", "Erdoğan", "Işıklı", "Ünal", "İnce", "Bulut", "Çakır", "Gündoğdu",
]  # fmt: skip


def sql_time(moment: datetime) -> str:
    """SQLAlchemy's SQLite DATETIME storage form of an aware UTC instant (stored naive UTC)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def identity_number(index: int) -> str:
    """A checksum-valid T.C. Kimlik No, unique per index (a bijection on the first nine digits)."""
    return complete_tckn(str(100_000_000 + (index * 7919) % 900_000_000))


def random_code(rng: random.Random) -> str:
    """The observed shape: letter, digit, letter, seven digits."""
    return (
        rng.choice(string.ascii_uppercase)
        + rng.choice(string.digits)
        + rng.choice(string.ascii_uppercase)
        + f"{rng.randrange(10_000_000):07d}"
    )


def unique_codes(rng: random.Random, count: int) -> list[str]:
    seen: set[str] = set()
    while len(seen) < count:
        seen.add(random_code(rng))
    codes = list(seen)
    rng.shuffle(codes)
    return codes


class Generator:
    """All rows, deterministic for a seed; events are relative to ``now`` (the load time)."""

    def __init__(self, persons: int, seed: int, now: datetime) -> None:
        self.n = persons
        self.rng = random.Random(seed)
        self.now = now
        self.firsts = [normalize_name(n) for n in FIRST_NAMES]
        self.lasts = [normalize_name(n) for n in LAST_NAMES]
        self.codes = unique_codes(self.rng, persons)
        # code status: 98 % valid, 1 % expired, 1 % cancelled
        self.status = ["valid"] * persons
        for i in self.rng.sample(range(persons), persons // 50):
            self.status[i] = "expired" if self.rng.random() < 0.5 else "cancelled"

    def ago(self, low: timedelta, high: timedelta) -> str:
        span = (high - low).total_seconds()
        return sql_time(self.now - low - timedelta(seconds=self.rng.random() * span))

    def persons(self, start: int, stop: int) -> Iterator[tuple[object, ...]]:
        rng = self.rng
        for i in range(start, stop):
            yield (
                i + 1,
                ENV,
                identity_number(i + 1),
                rng.choice(self.firsts),
                rng.choice(self.lasts),
                int(rng.random() < 0.6),
                int(rng.random() < 0.4),
                int(rng.random() < 0.5),
                self.ago(timedelta(days=30), timedelta(days=900)),
            )

    def hes_codes(self, start: int, stop: int) -> Iterator[tuple[object, ...]]:
        for i in range(start, stop):
            created = self.now - timedelta(days=self.rng.randrange(1, 300))
            status = self.status[i]
            expires = created + timedelta(days=365)
            cancelled = None
            if status == "expired":
                expires = self.now - timedelta(days=self.rng.randrange(1, 30))
            elif status == "cancelled":
                cancelled = sql_time(created + timedelta(days=1))
            code = self.codes[i]
            yield (i + 1, ENV, code, i + 1, sql_time(created), sql_time(expires), cancelled)

    def events(self, start: int, stop: int) -> tuple[list[tuple[object, ...]], ...]:
        """Risk periods (3 % open → RISKY, 7 % closed), vaccinations (55 % two or three doses,
        10 % one), infections (15 %, last two years), PCR (25 %, last ten days, 90 % negative)."""
        rng = self.rng
        risks: list[tuple[object, ...]] = []
        vaccines: list[tuple[object, ...]] = []
        infections: list[tuple[object, ...]] = []
        pcrs: list[tuple[object, ...]] = []
        day = timedelta(days=1)
        for i in range(start, stop):
            pid = i + 1
            r = rng.random()
            if r < 0.03:
                kind = "case" if r < 0.01 else "contact"
                risks.append((pid, kind, self.ago(day, 10 * day), None))
            elif r < 0.10:
                risks.append(
                    (pid, "contact", self.ago(200 * day, 400 * day), self.ago(30 * day, 190 * day))
                )
            v = rng.random()
            doses = 3 if v < 0.2 else 2 if v < 0.55 else 1 if v < 0.65 else 0
            for dose in range(1, doses + 1):
                at = self.ago((400 - dose * 100) * day, (450 - dose * 100) * day)
                vaccines.append((pid, dose, "CoronaVac" if dose < 3 else "BioNTech", at))
            if rng.random() < 0.15:
                infections.append((pid, self.ago(day, 730 * day)))
            if rng.random() < 0.25:
                for _ in range(rng.randint(1, 3)):
                    result = "NEGATIVE" if rng.random() < 0.9 else "POSITIVE"
                    pcrs.append((pid, self.ago(timedelta(hours=1), 10 * day), result))
        return risks, vaccines, infections, pcrs


DATA_TABLES = (
    "persons", "hes_codes", "risk_periods", "vaccinations", "infections", "pcr_results",
)  # fmt: skip


def load(db: Path, persons: int, seed: int) -> dict[str, object]:
    engine = make_engine(f"sqlite:///{db}")
    migrate.upgrade(engine)
    clock = SystemClock()
    now = clock.now()
    gen = Generator(persons, seed, now)

    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("PRAGMA cache_size=-400000")
    indexes = [
        (name, sql)
        for name, table, sql in conn.execute(
            "SELECT name, tbl_name, sql FROM sqlite_master WHERE type='index' AND sql IS NOT NULL"
        )
        if table in DATA_TABLES
    ]
    for name, _sql in indexes:
        conn.execute(f'DROP INDEX "{name}"')
    for start in range(0, persons, CHUNK):
        stop = min(persons, start + CHUNK)
        risks, vaccines, infections, pcrs = gen.events(start, stop)
        conn.execute("BEGIN")
        conn.executemany(
            "INSERT INTO persons (id, env, identity_number, first_name, last_name, "
            "consent_vaccination, consent_immunity, consent_test, created_at) "
            "VALUES (?,?,?,?,?,?,?,?,?)",
            gen.persons(start, stop),
        )
        conn.executemany(
            "INSERT INTO hes_codes (id, env, code, person_id, created_at, expires_at, cancelled_at)"
            " VALUES (?,?,?,?,?,?,?)",
            gen.hes_codes(start, stop),
        )
        conn.executemany(
            "INSERT INTO risk_periods (person_id, kind, started_at, ended_at) VALUES (?,?,?,?)",
            risks,
        )
        conn.executemany(
            "INSERT INTO vaccinations (person_id, dose_number, vaccine, administered_at) "
            "VALUES (?,?,?,?)",
            vaccines,
        )
        conn.executemany(
            "INSERT INTO infections (person_id, diagnosed_at) VALUES (?,?)", infections
        )
        conn.executemany(
            "INSERT INTO pcr_results (person_id, sampled_at, result) VALUES (?,?,?)", pcrs
        )
        conn.execute("COMMIT")
        print(f"  {stop:>9,} persons", file=sys.stderr, flush=True)
    counts, credential = finish_store(
        conn, engine, clock, indexes, DATA_TABLES, institution=INSTITUTION, username=USERNAME
    )

    valid = [c for c, s in zip(gen.codes, gen.status, strict=True) if s == "valid"]
    existing = set(gen.codes)
    unknown: list[str] = []
    while len(unknown) < SAMPLE_OTHER:
        code = random_code(gen.rng)
        if code not in existing:
            unknown.append(code)
    return {
        "env": ENV,
        "username": credential.username,
        "password": credential.password,
        "persons": persons,
        "loaded_at": now.isoformat(),
        "seed": seed,
        "counts": counts,
        "codes": gen.rng.sample(valid, min(SAMPLE_VALID, len(valid))),
        "expired": [c for c, s in zip(gen.codes, gen.status, strict=True) if s == "expired"][
            :SAMPLE_OTHER
        ],
        "cancelled": [c for c, s in zip(gen.codes, gen.status, strict=True) if s == "cancelled"][
            :SAMPLE_OTHER
        ],
        "unknown": unknown,
    }


def finish_store(
    conn: sqlite3.Connection,
    engine: Engine,
    clock: Clock,
    indexes: list[tuple[str, str]],
    tables: tuple[str, ...],
    *,
    institution: str,
    username: str,
) -> tuple[dict[str, int], IssuedCredential]:
    """After a bulk load: the indexes built last (cheaper than maintained row by row), statistics,
    row counts, the WAL folded in, and the benchmark's live credential (every method, no rate
    limit)."""
    for _name, sql in indexes:
        conn.execute(sql)
    conn.execute("ANALYZE")
    counts = {
        t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]  # noqa: S608 - fixed names
        for t in tables
    }
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    accounts = AccountService(
        engine, clock, ChangeLog(Actor("cli:benchmark"), clock, store_pseudonymizer(engine))
    )
    accounts.add_institution(institution)
    credential = accounts.add_user(
        username=username, institution=institution, env=ENV, methods=ALL_METHODS, rate_limit=None
    )
    engine.dispose()
    return counts, credential


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("db", type=Path, help="SQLite file to create")
    parser.add_argument("--persons", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=20201)
    parser.add_argument("--meta", type=Path, help="JSON output (default: <db>.json)")
    parser.add_argument("--force", action="store_true", help="replace an existing store")
    args = parser.parse_args()
    db: Path = args.db
    meta: Path = args.meta or db.with_suffix(".json")
    if db.exists():
        if not args.force:
            parser.error(f"{db} exists (use --force to rebuild it)")
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
    db.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    print(f"loading {args.persons:,} persons into {db}", file=sys.stderr)
    info = load(db, args.persons, args.seed)
    info["load_seconds"] = round(time.perf_counter() - started, 1)
    meta.write_text(json.dumps(info, indent=1), "utf-8")
    print(
        f"done in {info['load_seconds']} s: {info['counts']}; credential and samples in {meta}",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
