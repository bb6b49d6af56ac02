"""The shared counts of wrong passwords (``auth_failures``), one row per key."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime

from sqlalchemy import Connection, delete, select, update

from saglik.store import state
from saglik.store.schema import auth_failures
from saglik.store.upsert import dialect_insert

Counter = Callable[[int, datetime | None], tuple[int, datetime | None]]
"""(failures so far, last failure) → (new count, lock until); the rule is the caller's."""


def locked_until(conn: Connection, keys: Iterable[str], now: datetime) -> datetime | None:
    """The latest lock still running on any of ``keys``."""
    found = conn.execute(
        select(auth_failures.c.locked_until).where(
            auth_failures.c.key.in_(list(keys)), auth_failures.c.locked_until > now
        )
    ).scalars()
    return max(found, default=None)


def current_locks(conn: Connection, now: datetime) -> dict[str, datetime]:
    """Every lock still running: few rows, read by each worker on its poll."""
    rows = conn.execute(
        select(auth_failures.c.key, auth_failures.c.locked_until).where(
            auth_failures.c.locked_until > now
        )
    )
    return {key: until for key, until in rows}


def count_failure(conn: Connection, key: str, now: datetime, counter: Counter) -> datetime | None:
    """One more failure on ``key``; returns its lock, if any.

    The row is created (a write) before it is read, so on SQLite the transaction holds the write
    lock from its first statement and on PostgreSQL the row is locked for update: two workers
    counting at once never both read the same count."""
    conn.execute(
        dialect_insert(conn)(auth_failures)
        .values(key=key, failures=0, last_failure_at=now, locked_until=None)
        .on_conflict_do_nothing()
    )
    query = select(auth_failures.c.failures, auth_failures.c.last_failure_at).where(
        auth_failures.c.key == key
    )
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    failures, last = conn.execute(query).one()
    count, until = counter(failures, last if failures else None)
    conn.execute(
        update(auth_failures)
        .where(auth_failures.c.key == key)
        .values(failures=count, last_failure_at=now, locked_until=until)
    )
    if until is not None:
        state.bump_locks_version(conn)
    return until


def clear(conn: Connection, keys: Iterable[str]) -> int:
    """Forgets the keys' counts; a lock among them is lifted in every worker."""
    cleared = conn.execute(
        delete(auth_failures).where(auth_failures.c.key.in_(list(keys)))
    ).rowcount
    if cleared:
        state.bump_locks_version(conn)
    return cleared
