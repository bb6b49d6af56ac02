"""Reads on the G2G hot path, without a pool checkout and SQLAlchemy's execution layer per call.

Measured on the HES single lookup (benchmarks/README.md), checking a connection out of the pool
and back in cost about as much CPU as the indexed lookup itself, and SQLAlchemy's per-execution
machinery (cache key, execution context, result object) twice that. Here a Core ``select`` is
compiled once for the engine's dialect, and run on a DB-API connection that each reading thread
keeps for the life of the service, in autocommit (one statement is one consistent snapshot, and no
transaction is ever left open). The statement, its bind and result processing are SQLAlchemy's
own, so both databases see exactly what ``Connection.execute`` would have sent.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Engine, Select
from sqlalchemy.engine import Dialect
from sqlalchemy.pool import PoolProxiedConnection
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ClauseElement


class PreparedStatement:
    """A Core statement compiled once for a dialect; ``bound`` gives the SQL text and driver
    parameters for one set of values, bind-processed exactly as Core would."""

    def __init__(
        self,
        statement: ClauseElement,
        dialect: Dialect,
        column_keys: Sequence[str] | None = None,
    ) -> None:
        """``column_keys``: for an INSERT, the columns it sets (bound by column name)."""
        compiled = statement.compile(
            dialect=dialect, column_keys=list(column_keys) if column_keys else None
        )
        assert isinstance(compiled, SQLCompiler)
        self._compiled = compiled
        self._positional = dialect.positional
        self._binds: dict[str, Callable[[Any], Any]] = {}
        for name, bind in self._compiled.binds.items():
            process = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if process is not None:
                self._binds[name] = process
        self._expanding = any(bind.expanding for bind in self._compiled.binds.values())
        self._defaults = {
            name: bind.effective_value
            for name, bind in self._compiled.binds.items()
            if not bind.required
        }
        """Literal values in the statement (``result = 'NEGATIVE'``)."""

    @property
    def sql(self) -> str:
        """The text of a statement without ``IN`` lists (for ``executemany``)."""
        assert not self._expanding
        return self._compiled.string

    def bound(self, params: dict[str, Any]) -> tuple[str, Any]:
        """The SQL text and driver parameters. A statement with an ``IN`` list is expanded per
        call; any other was rendered once at compile time and only takes its values."""
        values = {**self._defaults, **params}
        for name, process in self._binds.items():
            if name in values:
                values[name] = process(values[name])
        if self._expanding:
            state = self._compiled.construct_expanded_state(values)
            if self._positional:
                return state.statement, state.positional_parameters
            return state.statement, state.parameters
        if self._positional:
            assert self._compiled.positiontup is not None
            return self._compiled.string, tuple(values[n] for n in self._compiled.positiontup)
        return self._compiled.string, values


class PreparedSelect(PreparedStatement):
    """A select: ``rows`` runs it and decodes the columns like Core's result would."""

    def __init__(self, statement: Select[Any], dialect: Dialect) -> None:
        super().__init__(statement, dialect)
        self._decoders: list[tuple[int, Callable[[Any], Any]]] = []
        for index, column in enumerate(statement.selected_columns):
            decode = column.type.dialect_impl(dialect).result_processor(dialect, None)
            if decode is not None:
                self._decoders.append((index, decode))

    def rows(self, cursor: Any, params: dict[str, Any]) -> list[Sequence[Any]]:
        cursor.execute(*self.bound(params))
        fetched = cursor.fetchall()
        if not self._decoders:
            return fetched  # type: ignore[no-any-return]
        decoded: list[Sequence[Any]] = []
        for row in fetched:
            values = list(row)
            for index, decode in self._decoders:
                values[index] = decode(values[index])
            decoded.append(values)
        return decoded


class ThreadConnections:
    """One autocommit DB-API connection per reading thread, detached from the engine's pool (so
    the pool never hands out a connection left in autocommit), closed by ``close``."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._local = threading.local()
        self._lock = threading.Lock()
        self._open: list[PoolProxiedConnection] = []
        dbapi = engine.dialect.loaded_dbapi
        self._lost: tuple[type[Exception], ...] = (dbapi.OperationalError, dbapi.InterfaceError)

    @property
    def dialect(self) -> Dialect:
        return self._engine.dialect

    def _connection(self) -> PoolProxiedConnection:
        connection: PoolProxiedConnection | None = getattr(self._local, "connection", None)
        if connection is None:
            connection = self._engine.raw_connection()
            driver = connection.driver_connection
            connection.detach()
            if self._engine.dialect.name == "sqlite":
                driver.isolation_level = None  # type: ignore[union-attr]
            else:
                driver.autocommit = True  # type: ignore[union-attr]
            with self._lock:
                self._open.append(connection)
            self._local.connection = connection
        return connection

    def _drop(self, connection: PoolProxiedConnection) -> None:
        self._local.connection = None
        with self._lock:
            if connection in self._open:
                self._open.remove(connection)
        with contextlib.suppress(Exception):  # thrown away because it failed already
            connection.close()

    def rows(self, query: PreparedSelect, params: dict[str, Any]) -> list[Sequence[Any]]:
        """Runs ``query``; a connection lost since its last use (database restarted) is replaced
        and the read retried once, as a pool with ``pre_ping`` would have done."""
        try:
            return self._read(query, params)
        except self._lost:
            return self._read(query, params)

    def _read(self, query: PreparedSelect, params: dict[str, Any]) -> list[Sequence[Any]]:
        connection = self._connection()
        try:
            cursor = connection.cursor()
            try:
                return query.rows(cursor, params)
            finally:
                cursor.close()
        except self._lost:
            self._drop(connection)
            raise

    def close(self) -> None:
        with self._lock:
            connections, self._open = self._open, []
        for connection in connections:
            connection.close()
