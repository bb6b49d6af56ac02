"""Planner statistics while a bulk load grows tables from (nearly) empty.

PostgreSQL plans a lookup from the row counts ``ANALYZE`` last saw. A table filled by a bulk load
on a server whose autovacuum is off, or has not caught up, keeps the counts of an empty table:
the planner then scans a batch's ``identity_number IN (…)`` on the ``env`` part of the index alone
and filters every row loaded so far, once per batch, and the load turns quadratic. So bulk writers
analyze the tables they fill themselves: after the first batch and whenever the rows they wrote
have doubled since (a handful of ``ANALYZE`` runs for any size, each sampling a bounded number of
rows), and once more when they finish. SQLite picks the unique index without statistics, so there
it costs nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, Engine, Table, text


def analyze(conn: Connection, tables: Sequence[Table], *, never_analyzed: bool = False) -> None:
    """``ANALYZE`` ``tables`` on PostgreSQL (nothing on SQLite); with ``never_analyzed``, only
    those that have no statistics at all yet (cheap to ask at every start)."""
    if conn.dialect.name != "postgresql" or not tables:
        return
    if never_analyzed:
        unknown = set(
            conn.execute(
                text(
                    "SELECT relname FROM pg_class "
                    "WHERE reltuples < 0 AND oid = ANY(CAST(:names AS regclass[]))"
                ),
                {"names": [table.name for table in tables]},
            ).scalars()
        )
        tables = [table for table in tables if table.name in unknown]
        if not tables:
            return
    quote = conn.dialect.identifier_preparer.format_table
    conn.exec_driver_sql("ANALYZE " + ", ".join(quote(table) for table in tables))


class GrowthAnalyzer:
    """Call :meth:`written` after each committed batch and :meth:`finish` at the end."""

    def __init__(self, engine: Engine, tables: Sequence[Table]) -> None:
        self._engine = engine
        self._tables = tuple(dict.fromkeys(tables))
        self._rows = 0
        self._due = 1
        self._analyzed_at = 0
        self.runs = 0
        """How many times it analyzed (for tests and benchmarks)."""

    def written(self, rows: int) -> None:
        self._rows += rows
        if self._rows >= self._due:
            self._analyze()
            self._due = 2 * self._rows

    def finish(self) -> None:
        if self._rows != self._analyzed_at:
            self._analyze()

    def _analyze(self) -> None:
        self._analyzed_at = self._rows
        if self._engine.dialect.name != "postgresql":
            return
        with self._engine.begin() as conn:
            analyze(conn, self._tables)
        self.runs += 1
