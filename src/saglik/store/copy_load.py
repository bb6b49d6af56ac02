"""Batches into PostgreSQL with ``COPY``: straight into a table, or into a temporary staging
table that one ``INSERT … SELECT … ON CONFLICT`` then merges.

``COPY`` sends a batch as one stream instead of one bound row after another, so the server parses
no statement per row; a bulk load then runs at the speed of the indexes it maintains. Values are
bound exactly as SQLAlchemy binds them for the same columns (``UtcDateTime`` becomes naive UTC),
so a row written either way reads back the same.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from sqlalchemy import Column, Connection, MetaData, Table, delete
from sqlalchemy.schema import CreateTable

_stages = MetaData()


def _bound(
    conn: Connection, table: Table, names: Sequence[str], rows: Sequence[Mapping[str, Any]]
) -> Iterator[list[Any]]:
    processors = [
        (i, process)
        for i, name in enumerate(names)
        if (process := table.c[name].type.bind_processor(conn.dialect)) is not None
    ]
    for row in rows:
        values = [row[name] for name in names]
        for i, process in processors:
            values[i] = process(values[i])
        yield values


def copy_rows(conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """``rows`` (dicts with the same keys) into ``table`` with one ``COPY``, in the caller's
    transaction."""
    if not rows:
        return
    names = list(rows[0])
    columns = ", ".join(conn.dialect.identifier_preparer.quote(name) for name in names)
    target = conn.dialect.identifier_preparer.format_table(table)
    driver: Any = conn.connection.driver_connection  # psycopg's Connection
    with driver.cursor() as cursor, cursor.copy(f"COPY {target} ({columns}) FROM STDIN") as copy:
        for values in _bound(conn, table, names, rows):
            copy.write_row(values)


def _stage_of(table: Table, names: Sequence[str]) -> Table:
    """A temporary table with ``table``'s columns ``names`` (types only: no key, no default),
    emptied by every commit."""
    name = f"stage_{table.name}_{zlib.crc32(','.join(names).encode()):08x}"
    if name in _stages.tables:
        return _stages.tables[name]
    return Table(
        name,
        _stages,
        *(Column(column, table.c[column].type) for column in names),
        prefixes=["TEMPORARY"],
        postgresql_on_commit="DELETE ROWS",
    )


def stage(conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> Table:
    """A staging table holding ``rows`` for a merge into ``table``, in the caller's
    transaction: created once per database session (``IF NOT EXISTS``: a creation rolled back
    with its batch is simply made again), emptied by every commit, and before a second use in
    the same transaction."""
    names = list(rows[0])
    staged = _stage_of(table, names)
    conn.execute(CreateTable(staged, if_not_exists=True))
    used: dict[str, object] = conn.connection.info.setdefault("saglik_stages", {})
    transaction = conn.get_transaction()
    if used.get(staged.name) is transaction:
        conn.execute(delete(staged))
    used[staged.name] = transaction
    copy_rows(conn, staged, rows)
    return staged


def insert_rows(conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Plain inserts of a batch (no conflict possible): ``COPY`` on PostgreSQL, one
    executemany on SQLite."""
    if not rows:
        return
    if conn.dialect.name == "postgresql":
        copy_rows(conn, table, rows)
    else:
        conn.execute(table.insert(), list(rows))
