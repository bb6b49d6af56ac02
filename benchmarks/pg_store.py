"""The benchmark stores on PostgreSQL: an exact copy of an SQLite benchmark store (built by
``load_hes.py`` or ``load_obs.py``) in a database of its own, built once and reused.

    python benchmarks/pg_store.py benchmarks/data/hes_1m.db saglik_bench [--force]
    python benchmarks/pg_store.py benchmarks/data/obs_5y.db saglik_bench_obs [--force]

Why a copy rather than a second load: the SQLite and PostgreSQL figures of one run are compared
(issue 12, §3), so both stores must hold the same rows — the same persons, codes, events and death
forms, the same benchmark credential (its Argon2 hash is copied, so the ``<store>.json`` beside the
SQLite file serves both) and the same audit key fingerprint (the server is pointed at the SQLite
store's key file). The schema comes from the project's migrations on both sides (the SQLite store
is brought to the code's schema first), so the two have the same tables and columns.

How: a fresh database, ``migrate.upgrade``, the rows of every table but the audit trail and
``alembic_version`` streamed with ``COPY`` (foreign-key triggers off for the session:
``session_replication_role = replica``; the plain indexes dropped during the copy and rebuilt
after, which is several times faster than keeping them up to date row by row), sequences moved
past the copied ids, then ``VACUUM ANALYZE`` — this machine's server runs with autovacuum off, and
a table never analyzed is planned as an empty one. The database's comment records which SQLite
store it copies (its ``loaded_at`` and size), so the next run reuses it unless that store was
rebuilt. 1,000,000 persons took 95 s here, 2.6 M death forms about six minutes (under other
load).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sqlite3
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
from psycopg import sql

from saglik.store import migrate, state
from saglik.store.engine import make_engine

PG_SERVER = "postgresql://postgres@127.0.0.1:5432"
HES_DATABASE = "saglik_bench"
OBS_DATABASE = "saglik_bench_obs"
AUDIT_TABLES = ("audit_subjects", "moi_outbox", "audit_events")
"""Emptied before every measured run, on both stores (their size changes the figures)."""
NOT_COPIED = frozenset({"alembic_version", "auth_failures", *AUDIT_TABLES})
FETCH = 20_000
INSTANCE_ID: str = getattr(state, "INSTANCE_ID", "instance_id")


def database_url(server: str, name: str) -> str:
    return f"{server.rstrip('/')}/{name}"


def _source_stamp(sqlite_db: Path) -> str:
    """What identifies one build of an SQLite benchmark store: its loader's ``loaded_at``, seed
    and row counts (from ``<store>.json``; not the file's size, which the audit rows of every
    run change)."""
    meta = json.loads(sqlite_db.with_suffix(".json").read_text("utf-8"))
    return json.dumps(
        {
            "source": sqlite_db.name,
            "loaded_at": meta["loaded_at"],
            "seed": meta["seed"],
            "counts": meta.get("counts"),
        },
        sort_keys=True,
    )


def _admin(server: str) -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(database_url(server, "postgres"), autocommit=True)


def current_stamp(server: str, name: str) -> str | None:
    """The comment of database ``name`` (which SQLite store it copies); None if it is missing."""
    with _admin(server) as admin:
        row = admin.execute(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
            (name,),
        ).fetchone()
    if row is None:
        return None
    return str(row[0] or "")


def _sqlite_tables(conn: sqlite3.Connection) -> dict[str, list[str]]:
    tables = [
        name
        for (name,) in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )
    ]
    return {t: [row[1] for row in conn.execute(f'PRAGMA table_info("{t}")')] for t in tables}


def _pg_columns(pg: psycopg.Connection[tuple[object, ...]], table: str) -> list[str]:
    rows = pg.execute(
        "SELECT column_name FROM information_schema.columns "
        "WHERE table_schema = 'public' AND table_name = %s ORDER BY ordinal_position",
        (table,),
    ).fetchall()
    return [str(r[0]) for r in rows]


def _plain_indexes(
    pg: psycopg.Connection[tuple[object, ...]], tables: list[str]
) -> list[tuple[str, str]]:
    """(name, definition) of the indexes on ``tables`` that back no constraint (those can be
    dropped and rebuilt freely)."""
    rows = pg.execute(
        "SELECT i.indexname, i.indexdef FROM pg_indexes i "
        "WHERE i.schemaname = 'public' AND i.tablename = ANY(%s) AND NOT EXISTS "
        "(SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)",
        (tables,),
    ).fetchall()
    return [(str(name), str(definition)) for name, definition in rows]


def _rows(conn: sqlite3.Connection, table: str, columns: list[str]) -> Iterator[tuple[object, ...]]:
    names = ", ".join(f'"{c}"' for c in columns)
    cursor = conn.execute(f'SELECT {names} FROM "{table}"')  # noqa: S608 - names from the schema
    while batch := cursor.fetchmany(FETCH):
        yield from batch


def build(sqlite_db: Path, server: str, name: str) -> dict[str, int]:
    """(Re)creates database ``name`` as a copy of ``sqlite_db``; returns the rows per table."""
    # both sides at the code's schema, so their tables and columns are the same
    migrate.upgrade(make_engine(f"sqlite:///{sqlite_db}"))
    with _admin(server) as admin:
        admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = database_url(server, name)
    engine = make_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    counts: dict[str, int] = {}
    source = sqlite3.connect(f"file:{sqlite_db}?mode=ro", uri=True)
    with contextlib.closing(source), psycopg.connect(url) as pg:
        pg.execute("SET session_replication_role = replica")  # no FK triggers while copying
        pg.execute("SET synchronous_commit = off")
        pg.execute("SET maintenance_work_mem = '512MB'")
        tables = {
            table: columns
            for table, columns in _sqlite_tables(source).items()
            if table not in NOT_COPIED and _pg_columns(pg, table)
        }
        for table, columns in tables.items():
            missing = set(_pg_columns(pg, table)) ^ set(columns)
            if missing:
                raise SystemExit(f"{table}: columns differ between the stores: {sorted(missing)}")
        indexes = _plain_indexes(pg, list(tables))
        for index, _definition in indexes:
            pg.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(index)))
        # rows a migration may have seeded are replaced by the source's
        pg.execute(sql.SQL("TRUNCATE {}").format(sql.SQL(", ").join(map(sql.Identifier, tables))))
        for table, columns in tables.items():
            started = time.monotonic()
            target = sql.SQL("COPY {} ({}) FROM STDIN").format(
                sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, columns))
            )
            count = 0
            with pg.cursor() as cursor, cursor.copy(target) as copy:
                for row in _rows(source, table, columns):
                    copy.write_row(row)
                    count += 1
            counts[table] = count
            if count >= 100_000:
                print(
                    f"  {table}: {count:,} rows in {time.monotonic() - started:.1f} s",
                    file=sys.stderr,
                    flush=True,
                )
        started = time.monotonic()
        for _index, definition in indexes:
            pg.execute(definition)  # the server's own text for it
        print(
            f"  {len(indexes)} indexes rebuilt in {time.monotonic() - started:.1f} s",
            file=sys.stderr,
        )
        _move_sequences(pg, list(tables))
        # the copy names itself: two stores sharing a rate-limit storage (Redis) must not share
        # counts (``state.instance_id``)
        pg.execute("DELETE FROM instance_state WHERE key = %s", (INSTANCE_ID,))
        pg.commit()
    with psycopg.connect(url, autocommit=True) as pg:
        for table in tables:
            pg.execute(sql.SQL("VACUUM (ANALYZE) {}").format(sql.Identifier(table)))
        for table in AUDIT_TABLES:
            pg.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(table)))
    with _admin(server) as admin:
        admin.execute(
            sql.SQL("COMMENT ON DATABASE {} IS {}").format(
                sql.Identifier(name), sql.Literal(_source_stamp(sqlite_db))
            )
        )
    return counts


def _move_sequences(pg: psycopg.Connection[tuple[object, ...]], tables: list[str]) -> None:
    """Every serial / identity column's sequence past the largest copied value, so rows the
    service inserts later (the test environment's fixtures, audit) get new ids."""
    rows = pg.execute(
        "SELECT table_name, column_name FROM information_schema.columns "
        "WHERE table_schema = 'public' AND table_name = ANY(%s) "
        "AND (column_default LIKE 'nextval%%' OR is_identity = 'YES')",
        (tables,),
    ).fetchall()
    for table, column in rows:
        pg.execute(
            sql.SQL(
                "SELECT setval(pg_get_serial_sequence({t}, {c}), "
                "(SELECT coalesce(max({col}), 0) + 1 FROM {tab}), false)"
            ).format(
                t=sql.Literal(table),
                c=sql.Literal(column),
                col=sql.Identifier(str(column)),
                tab=sql.Identifier(str(table)),
            )
        )


def ensure(sqlite_db: Path, server: str, name: str, *, force: bool = False) -> str:
    """The URL of database ``name``, copied from ``sqlite_db`` unless it already holds that very
    build of it."""
    wanted = _source_stamp(sqlite_db)
    if force or current_stamp(server, name) != wanted:
        started = time.monotonic()
        print(f"copying {sqlite_db.name} into PostgreSQL database {name}", file=sys.stderr)
        counts = build(sqlite_db, server, name)
        print(
            f"  done in {time.monotonic() - started:.0f} s: {counts}", file=sys.stderr, flush=True
        )
    return database_url(server, name)


# --- what a benchmark run needs of a PostgreSQL store ------------------------------------------


def reset_audit(url: str) -> None:
    """Empties the audit tables (``TRUNCATE``, which leaves no dead rows behind: this server does
    not autovacuum). A server may be running: its next audit write simply waits for the lock."""
    with psycopg.connect(url, autocommit=True) as pg:
        pg.execute("SET lock_timeout = '30s'")
        pg.execute(
            sql.SQL("TRUNCATE {}").format(sql.SQL(", ").join(map(sql.Identifier, AUDIT_TABLES)))
        )


def audit_rows(url: str) -> int:
    with psycopg.connect(url, autocommit=True) as pg:
        row = pg.execute("SELECT count(*) FROM audit_events").fetchone()
    return int(row[0]) if row else 0


def backend_cpu(url: str) -> dict[int, float]:
    """User + system CPU seconds of each server process serving database ``url`` now (one per
    client connection; read from /proc, so the server must run on this machine): the database's
    share of a request's cost, which the application's own CPU leaves out. Per process, so that
    a caller can tell the CPU of a backend that ended from a drop (``run_hes.db_cpu_delta``)."""
    with psycopg.connect(url, autocommit=True) as pg:
        pids = [
            int(r[0])
            for r in pg.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid()"
            ).fetchall()
        ]
    cpu: dict[int, float] = {}
    for pid in pids:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            cpu[pid] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return cpu


def backend_cpu_seconds(url: str) -> float:
    """The sum of ``backend_cpu``."""
    return sum(backend_cpu(url).values())


def server_facts(server: str) -> dict[str, str]:
    names = ("server_version", "autovacuum", "shared_buffers", "synchronous_commit", "fsync")
    facts: dict[str, str] = {}
    with _admin(server) as admin:
        for name in names:
            row = admin.execute(sql.SQL("SHOW {}").format(sql.Identifier(name))).fetchone()
            facts[name] = str(row[0]) if row else "?"
    return facts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sqlite_db", type=Path, help="the SQLite benchmark store to copy")
    parser.add_argument("database", help="PostgreSQL database to (re)create")
    parser.add_argument("--pg", default=PG_SERVER, help="server URL, without a database")
    parser.add_argument("--force", action="store_true", help="copy even if it is up to date")
    args = parser.parse_args()
    print(ensure(args.sqlite_db.resolve(), args.pg, args.database, force=args.force))


if __name__ == "__main__":
    main()
