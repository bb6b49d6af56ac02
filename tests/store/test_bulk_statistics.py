"""Bulk loads keep PostgreSQL's plans on the index while tables grow from empty (store/
statistics.py): a batch's lookup by key must never filter every row loaded so far, whatever
autovacuum does (this machine's server runs with it off)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, Select, Table, func, select

from saglik.config import Settings
from saglik.domain.clock import ManualClock
from saglik.domain.records import PersonRow
from saglik.domain.tckn import complete_tckn
from saglik.services import bootstrap, demo
from saglik.services.import_files import open_source
from saglik.services.importing import ImportService
from saglik.services.root import build
from saglik.store import bulk_repo
from saglik.store.schema import hes_codes, persons
from saglik.store.statistics import GrowthAnalyzer, analyze
from tests.change_support import change_log
from tests.store.backends import blank_engine

NOW = datetime(2026, 6, 15, 9, 0, tzinfo=UTC)
ENV = "live"
PERSONS = 100_000
"""Big enough that, with statistics, a lookup of 500 keys belongs on the index (on a table of a
few thousand rows a sequential scan is the cheaper plan, and a fair one)."""
BATCH = 5_000
KEYS = 500
"""Keys in one lookup. With true row counts the planner weighs index probes against one scan:
for 1,000 keys a scan of 100,000 rows is the cheaper plan (it takes the index from about
160,000 rows on), for 500 the index is, as it is for any batch against millions of rows."""


@pytest.fixture
def pg(tmp_path: Path) -> Iterator[Engine]:
    with blank_engine("postgresql", tmp_path, migrated=True) as engine:
        yield engine


def _numbers(count: int, offset: int = 0) -> list[str]:
    return [complete_tckn(str(200_000_000 + 7 * (offset + i))) for i in range(count)]


def _nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)


def _plan(conn: Connection, statement: Select[Any]) -> list[dict[str, Any]]:
    """The plan PostgreSQL makes for ``statement`` with its parameters' values, as for a batch."""
    compiled = statement.compile(dialect=conn.dialect)
    explained = conn.exec_driver_sql(
        f"EXPLAIN (FORMAT JSON) {compiled}", compiled.params
    ).scalar_one()
    document = explained if isinstance(explained, list) else json.loads(explained)
    return list(_nodes(document[0]["Plan"]))


def filters_on(conn: Connection, statement: Select[Any], column: str) -> bool:
    """Whether the plan reads rows by something else and filters them on ``column`` (what the
    planner does when it believes the table is empty: it reads every row of the environment
    loaded so far), instead of finding them by ``column`` on the index."""
    nodes = _plan(conn, statement)
    filtered = any(column in node.get("Filter", "") for node in nodes)
    on_index = any(column in node.get("Index Cond", "") for node in nodes)
    return filtered or not on_index


def estimate_is_off(conn: Connection, table: Table) -> bool:
    """Whether the planner's row count of ``table`` is off by more than half: the root of every
    bad plan here, checkable at any size."""
    actual = conn.execute(select(func.count()).select_from(table)).scalar_one()
    estimated = _plan(conn, select(table))[0]["Plan Rows"]
    return not actual / 2 <= estimated <= actual * 2


def _persons_file(path: Path, numbers: list[str]) -> Path:
    lines = ["identity_number,first_name,last_name"]
    lines += [f"{number},Ayşe,Yılmaz" for number in numbers]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_without_statistics_the_lookup_filters_the_whole_table(pg: Engine) -> None:
    """The failure this module prevents, reproduced: so the checks below can fail."""
    numbers = _numbers(PERSONS)
    for start in range(0, PERSONS, BATCH):
        rows = [PersonRow(n, "AYŞE", "YILMAZ") for n in numbers[start : start + BATCH]]
        with pg.begin() as conn:
            assert bulk_repo.upsert_persons(conn, ENV, rows, NOW) == {}
    with pg.connect() as conn:
        assert filters_on(
            conn, bulk_repo.lookup("postgresql", "persons", ENV, numbers[:KEYS]), "identity_number"
        )
        assert estimate_is_off(conn, persons)


def test_an_import_keeps_every_batch_lookup_on_the_index(pg: Engine, tmp_path: Path) -> None:
    clock = ManualClock(NOW)
    service = ImportService(pg, clock, change_log(pg, clock))
    numbers = _numbers(PERSONS)
    people = _persons_file(tmp_path / "persons.csv", numbers)
    with open_source(people, "persons") as source:
        assert service.run(source, ENV, batch_size=BATCH).written == PERSONS
    codes = tmp_path / "codes.csv"
    codes.write_text(
        "code,identity_number\n"
        + "".join(f"Q{i:09d},{number}\n" for i, number in enumerate(numbers)),
        encoding="utf-8",
    )
    with open_source(codes, "codes") as source:
        assert service.run(source, ENV, batch_size=BATCH).written == PERSONS
    with pg.connect() as conn:
        lookup = bulk_repo.lookup("postgresql", "persons", ENV, numbers[:KEYS])
        assert not filters_on(conn, lookup, "identity_number")
        wanted = [f"Q{i:09d}" for i in range(KEYS)]
        assert not filters_on(conn, bulk_repo.lookup("postgresql", "codes", ENV, wanted), "code")
        assert not estimate_is_off(conn, persons)
        assert not estimate_is_off(conn, hes_codes)


def test_demo_generation_leaves_the_planner_the_true_row_counts(pg: Engine) -> None:
    clock = ManualClock(NOW)
    summary = demo.generate(
        pg, clock, persons=6_000, years=5, seed=11, batch=500, changes=change_log(pg, clock)
    )
    assert summary.persons == 6_000
    assert summary.deaths > 0, "five years of 6,000 persons: some deaths"
    with pg.connect() as conn:
        for table in bulk_repo.ALL_BULK_TABLES:
            assert not estimate_is_off(conn, table), table.name


def test_analyzing_is_logarithmic_in_the_rows_written(pg: Engine) -> None:
    analyzer = GrowthAnalyzer(pg, [persons])
    for _ in range(1_000):
        analyzer.written(BATCH)
    analyzer.finish()
    assert analyzer.runs == 11  # after 1, 2, 4, … 512 batches, and at the end


def test_sqlite_is_never_analyzed(tmp_path: Path) -> None:
    with blank_engine("sqlite", tmp_path, migrated=True) as engine:
        analyzer = GrowthAnalyzer(engine, [persons])
        analyzer.written(10)
        analyzer.finish()
        assert analyzer.runs == 0


def _reltuples(conn: Connection, table: Table) -> float:
    return float(
        conn.exec_driver_sql(
            "SELECT reltuples FROM pg_class WHERE oid = CAST(%(t)s AS regclass)", {"t": table.name}
        ).scalar_one()
    )


def test_a_first_start_analyzes_the_tables_its_fixtures_filled(pg: Engine) -> None:
    with pg.connect() as conn:
        assert _reltuples(conn, persons) < 0, "never analyzed"
    bootstrap.prepare(build(Settings(database_url="unused"), clock=ManualClock(NOW), engine=pg))
    with pg.connect() as conn:
        for table in bulk_repo.ALL_BULK_TABLES:
            assert _reltuples(conn, table) >= 0, table.name
        assert not estimate_is_off(conn, persons)


def test_only_a_table_never_analyzed_is_analyzed_at_a_start(pg: Engine) -> None:
    with pg.begin() as conn:
        analyze(conn, [persons])  # persons: known, 0 rows
        rows = [PersonRow(n, "AYŞE", "YILMAZ") for n in _numbers(300)]
        bulk_repo.upsert_persons(conn, ENV, rows, NOW)
    with pg.begin() as conn:
        analyze(conn, [persons, hes_codes], never_analyzed=True)
    with pg.connect() as conn:
        assert _reltuples(conn, persons) == 0, "known already: left as it was"
        assert _reltuples(conn, hes_codes) == 0, "never analyzed: analyzed now"
