"""The demo population in the store (``saglik demo generate``, ``saglik serve --demo``).

Generation is the pure ``domain.population``; this module feeds it the store's districts and
writes what it yields through the batch upserts of ``store.bulk_repo``, one transaction per batch,
so an interrupted run leaves whole batches and a second run (same seed, same anchor) rewrites the
same rows: nothing is added, no form is "corrected".
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cache
from itertools import islice
from typing import Any

from sqlalchemy import Connection, Engine

from saglik.data.tables import data_text, obs_tables, provinces
from saglik.domain.clock import Clock
from saglik.domain.methods import ENVIRONMENTS
from saglik.domain.obs import FORENSIC_MANNERS, DeathRecord
from saglik.domain.population import (
    EXTERNAL_MANNERS,
    PREGNANCY_RELATED,
    DemoPerson,
    DemoTables,
    anchor_for,
    demo_tables,
    generate_population,
)
from saglik.domain.records import CodeRow, EventRow, PersonRow
from saglik.services.changes import SYSTEM, ChangeLog, store_pseudonymizer
from saglik.services.fixtures import hes_fixtures
from saglik.services.obs import CauseInput
from saglik.services.obs_fixtures import obs_fixtures
from saglik.store import bulk_repo, changes_repo, hes_repo
from saglik.store.statistics import GrowthAnalyzer

log = logging.getLogger("saglik.demo")

BATCH = 5_000
"""Persons per transaction: large enough that commits and per-statement overhead vanish, small
enough that a batch's rows (~40 k with events) stay a few MB."""

SQLITE_PRAGMAS = {"cache_size": -262_144, "wal_autocheckpoint": 16_384}
"""For the run's connection, put back afterwards: 256 MB of page cache (negative: KiB), enough
for a few million persons' index pages; and a WAL checkpoint every 64 MB instead of every 4 MB,
so an index page dirtied by several batches is copied into the database file once."""

Progress = Callable[[int, int], None]
"""``progress(done, total)`` after each batch."""


class DemoError(ValueError):
    """Arguments the generator cannot honour."""


@dataclass(frozen=True, slots=True)
class DemoSummary:
    """What one run generated (and wrote: rows already present were rewritten, not added)."""

    env: str
    seed: int
    years: int
    anchor: datetime
    persons: int
    codes: int
    events: int
    deaths: int
    forensic: int
    """OlumSekli 3 or 4: the forms ``GetAdliFormlarByDate`` returns."""
    external: int
    """OlumSekli 5–10: accidents, suicide, homicide, disasters (V01–Y98 underlying causes)."""
    maternal: int
    """KadinOlumuNedeni 2–4: died pregnant, or within a year of the pregnancy's end."""
    refused: int
    """Rows ``bulk_repo`` would not write (a FormNo another run gave another ReferansNo)."""
    seconds: float

    def line(self) -> str:
        """One line for logs and banners: counts only, nothing about any person."""
        return (
            f"demo population ({self.env}, seed {self.seed}): {self.persons:,} persons, "
            f"{self.codes:,} HES codes, {self.events:,} health events, {self.deaths:,} deaths "
            f"({self.forensic:,} forensic, {self.maternal:,} maternal) in {self.seconds:.1f} s"
        )


def _data(name: str) -> Any:
    return json.loads(data_text(name))


@cache
def tables() -> DemoTables:
    """The shipped tables, parsed once; every ICD-10 code is checked as the registry checks an
    operator's form, so no generated death can be one the registry would refuse."""
    parsed = demo_tables(_data("demo_names.json"), _data("demo_population.json"), provinces())
    wrong = sorted(
        code
        for code in parsed.icd_codes()
        if CauseInput.model_validate({"kind": 1, "icd_code": code}).icd_code != code
    )
    if wrong:
        raise DemoError(f"demo_population.json: not in dotted WHO form: {', '.join(wrong)}")
    places = {place for rules in parsed.pools.values() for place in rules.places.items}
    if unknown := (places - set(obs_tables()["OlumYeri"])) | (
        set(parsed.manner_pool) - set(obs_tables()["OlumSekli"])
    ):
        raise DemoError(f"demo_population.json: unknown OlumYeri/OlumSekli codes {sorted(unknown)}")
    return parsed


def reserved_identity_numbers() -> frozenset[str]:
    """The fixture persons of the test environment, which a demo person must never overwrite."""
    numbers = {fx.identity_number for fx in hes_fixtures()}
    numbers.update(fx.form.identity_number for fx in obs_fixtures() if fx.form.identity_number)
    return frozenset(numbers)


def load_districts(engine: Engine) -> dict[int, list[int]]:
    """Plate → district codes (ascending), from the store's district table."""
    with engine.connect() as conn:
        plates = bulk_repo.district_plates(conn)
    found: dict[int, list[int]] = {}
    for code, plate in sorted(plates.items()):
        found.setdefault(plate, []).append(code)
    return found


def has_persons(engine: Engine, env: str) -> bool:
    with engine.connect() as conn:
        return hes_repo.has_persons(conn, env)


DEMO_ENTITY = "demo"
"""The change log's entity for a demo run: one ``generate`` entry per run, before its first batch,
so the guard of the next run knows the environment's persons may be demo persons."""


def _earlier_demo_run(conn: Connection, env: str) -> bool:
    return changes_repo.latest_change(conn, entity=DEMO_ENTITY, env=env) is not None


def has_demo_run(engine: Engine, env: str) -> bool:
    """Whether a demo run ever wrote into ``env`` (its persons may then be demo persons)."""
    with engine.connect() as conn:
        return _earlier_demo_run(conn, env)


def check_target(engine: Engine, env: str) -> None:
    """``generate``'s refusal of an environment with persons no demo run wrote, on its own: for
    a caller that wants to refuse before it starts showing progress."""
    with engine.connect() as conn:
        _check_not_real(conn, env)


def _check_not_real(conn: Connection, env: str) -> None:
    """Refuse an environment holding persons no demo run wrote: a generated identity number that
    matches a real person's would overwrite their names and consent, and could register a death
    for them. The test environment's fixture persons do not count (they are never overwritten)."""
    if not hes_repo.has_persons(conn, env, excluding=reserved_identity_numbers()):
        return
    if _earlier_demo_run(conn, env):
        return
    raise DemoError(
        f"the {env} environment already holds persons that no demo run wrote: a demo person "
        "could overwrite one of them (use --force to write into it anyway)"
    )


@contextlib.contextmanager
def _writer(engine: Engine) -> Iterator[Connection]:
    """One connection for the whole run, with ``SQLITE_PRAGMAS`` on SQLite (put back after):
    the unique indexes on identity numbers and codes take keys in random order, so with SQLite's
    defaults every batch reads most of their pages again and checkpoints them again."""
    with engine.connect() as conn:
        if conn.dialect.name != "sqlite":
            yield conn
            return
        before = {
            pragma: int(conn.exec_driver_sql(f"PRAGMA {pragma}").scalar() or 0)
            for pragma in SQLITE_PRAGMAS
        }
        for pragma, value in SQLITE_PRAGMAS.items():
            conn.exec_driver_sql(f"PRAGMA {pragma} = {value}")
        conn.commit()
        try:
            yield conn
        finally:
            conn.rollback()
            for pragma, value in before.items():
                conn.exec_driver_sql(f"PRAGMA {pragma} = {value}")
            conn.commit()


def _counts(deaths: Sequence[DeathRecord]) -> Counter[str]:
    return Counter(
        forensic=sum(1 for d in deaths if d.manner in FORENSIC_MANNERS),
        external=sum(1 for d in deaths if d.manner in EXTERNAL_MANNERS),
        maternal=sum(1 for d in deaths if d.maternal_status in PREGNANCY_RELATED),
    )


def _rows(
    chunk: Sequence[DemoPerson],
) -> tuple[list[PersonRow], list[CodeRow], list[EventRow], list[DeathRecord]]:
    """The chunk split by table, as ``bulk_repo`` writes them."""
    events = [e for demo in chunk for e in demo.events]
    deaths = [demo.death for demo in chunk if demo.death is not None]
    return [d.person for d in chunk], [d.code for d in chunk], events, deaths


def generate(
    engine: Engine,
    clock: Clock,
    *,
    persons: int,
    years: int,
    seed: int,
    env: str = "live",
    progress: Progress | None = None,
    anchor: date | None = None,
    batch: int = BATCH,
    force: bool = False,
    changes: ChangeLog | None = None,
) -> DemoSummary:
    """Generate ``persons`` persons and write them into ``env``.

    The anchor is ``anchor`` at 00:00 UTC, by default the clock's current UTC date: the same seed
    on the same day gives the same store; ``anchor`` reproduces another day's.

    An environment that holds persons is refused unless an earlier run wrote into it (the change
    log says so) or ``force``; the run is logged through ``changes`` (by default as ``system``)."""
    if env not in ENVIRONMENTS:
        raise DemoError(f"env must be one of {', '.join(ENVIRONMENTS)}")
    if persons < 0 or not 1 <= years <= 100 or batch < 1:
        raise DemoError("persons must be ≥ 0, years 1–100")
    started = time.perf_counter()
    now = clock.now()
    moment = (
        anchor_for(now)
        if anchor is None
        else datetime(anchor.year, anchor.month, anchor.day, tzinfo=UTC)
    )
    log_to = changes or ChangeLog(SYSTEM, clock, store_pseudonymizer(engine))
    with engine.begin() as conn:
        if not force:
            _check_not_real(conn, env)
        log_to.record(
            conn,
            entity=DEMO_ENTITY,
            action="generate",
            env=env,
            after={"seed": seed, "persons": persons, "years": years, "anchor": moment},
        )
    population = generate_population(
        tables(),
        seed=seed,
        count=persons,
        years=years,
        anchor=moment,
        districts=load_districts(engine),
        exclude_identity_numbers=reserved_identity_numbers(),
    )
    counts: Counter[str] = Counter()
    done = 0
    statistics = GrowthAnalyzer(engine, bulk_repo.ALL_BULK_TABLES)
    if progress is not None:
        progress(0, persons)
    with _writer(engine) as conn:
        while chunk := list(islice(population, batch)):
            person_rows, code_rows, event_rows, deaths = _rows(chunk)
            with conn.begin():
                bulk_repo.commit_without_waiting(conn)
                refused = len(bulk_repo.upsert_persons(conn, env, person_rows, now))
                refused += len(bulk_repo.upsert_codes(conn, env, code_rows))
                refused += len(bulk_repo.upsert_events(conn, env, event_rows))
                refused += len(bulk_repo.upsert_deaths(conn, env, deaths, now))
            done += len(person_rows)
            statistics.written(len(person_rows))
            counts.update(
                codes=len(code_rows), events=len(event_rows), deaths=len(deaths), refused=refused
            )
            counts.update(_counts(deaths))
            if progress is not None:
                progress(done, persons)
    statistics.finish()
    if counts["refused"]:
        log.warning("demo population: %d rows refused by the store", counts["refused"])
    return DemoSummary(
        env=env,
        seed=seed,
        years=years,
        anchor=moment,
        persons=done,
        codes=counts["codes"],
        events=counts["events"],
        deaths=counts["deaths"],
        forensic=counts["forensic"],
        external=counts["external"],
        maternal=counts["maternal"],
        refused=counts["refused"],
        seconds=time.perf_counter() - started,
    )
