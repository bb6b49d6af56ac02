"""Named instance values kept in ``instance_state``."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Integer, String, cast, delete, select, text, update

from saglik.store.schema import instance_state
from saglik.store.upsert import dialect_insert

LEGACY_AUDIT_KEY = "audit_hmac_key"
"""Where stores made before the key file kept their audit key: moved out on the first start."""
AUDIT_KEY_USED = "audit_key_used:"
"""Prefix of one row per audit key the store has used (``audit_key_used:k2`` → fingerprint)."""
CREDENTIALS_VERSION = "credentials_version"
LOCKS_VERSION = "locks_version"
INSTANCE_ID = "instance_id"
CHANGES_CHANNEL = "saglik_changes"
"""The PostgreSQL ``NOTIFY`` channel a version bump is announced on (``store/change_feed.py``)."""


@dataclass(frozen=True, slots=True)
class Versions:
    """What every worker must know is current before it admits a call: the users (with their
    rights, scope, allow-lists and passwords) and the guessing throttle's locks."""

    credentials: int = 0
    locks: int = 0


def get(conn: Connection, key: str) -> str | None:
    return conn.execute(select(instance_state.c.value).where(instance_state.c.key == key)).scalar()


def put(conn: Connection, key: str, value: str) -> None:
    if (
        conn.execute(
            update(instance_state).where(instance_state.c.key == key).values(value=value)
        ).rowcount
        == 0
    ):
        conn.execute(instance_state.insert().values(key=key, value=value))


def audit_keys(conn: Connection) -> tuple[dict[str, str], str | None]:
    """Key id → fingerprint of every audit key the store's pseudonyms were made with, and the
    legacy key if the store still holds it: one query, read at every start."""
    rows = conn.execute(
        select(instance_state.c.key, instance_state.c.value).where(
            instance_state.c.key.startswith(AUDIT_KEY_USED, autoescape=True)
            | (instance_state.c.key == LEGACY_AUDIT_KEY)
        )
    )
    used: dict[str, str] = {}
    legacy: str | None = None
    for key, value in rows:
        if key == LEGACY_AUDIT_KEY:
            legacy = value
        else:
            used[key.removeprefix(AUDIT_KEY_USED)] = value
    return used, legacy


def used_audit_keys(conn: Connection) -> dict[str, str]:
    """Key id → fingerprint of every audit key the store's pseudonyms were made with."""
    return audit_keys(conn)[0]


def record_audit_key(conn: Connection, key_id: str, fingerprint: str) -> None:
    """Idempotent, and safe for workers starting together: the first row written stays.

    A write, so that a transaction that also reads the used keys can write first: reading first
    and writing after would, on SQLite, upgrade a read snapshot to a write, which fails at once
    (no busy wait) when another worker committed in between."""
    conn.execute(
        dialect_insert(conn)(instance_state)
        .values(key=AUDIT_KEY_USED + key_id, value=fingerprint)
        .on_conflict_do_nothing()
    )


def drop(conn: Connection, key: str) -> None:
    conn.execute(delete(instance_state).where(instance_state.c.key == key))


VERSIONS_QUERY = select(instance_state.c.key, instance_state.c.value).where(
    instance_state.c.key.in_((CREDENTIALS_VERSION, LOCKS_VERSION))
)
"""Both versions in one statement: every worker reads them whenever the store may have changed
(``store/change_feed.py``)."""


def versions_of(rows: Iterable[Sequence[Any]]) -> Versions:
    found = {key: value for key, value in rows}
    return Versions(int(found.get(CREDENTIALS_VERSION, 0)), int(found.get(LOCKS_VERSION, 0)))


def versions(conn: Connection) -> Versions:
    return versions_of(conn.execute(VERSIONS_QUERY).all())


def _bump(conn: Connection, key: str) -> None:
    """One upsert that increments in the database: a read-then-write would let two concurrent
    changes write the same number (a worker reading between them would miss the second), and an
    update-else-insert would let two first changes both insert.

    On PostgreSQL the bump is also announced (``NOTIFY``, sent by the server only when the
    transaction commits), so a worker learns of it without asking."""
    first = dialect_insert(conn)(instance_state).values(key=key, value="1")
    conn.execute(
        first.on_conflict_do_update(
            index_elements=[instance_state.c.key],
            set_={"value": cast(cast(instance_state.c.value, Integer) + 1, String)},
        )
    )
    if conn.dialect.name == "postgresql":
        announce = text("SELECT pg_notify(:channel, :key)")
        conn.execute(announce, {"channel": CHANGES_CHANNEL, "key": key})


def bump_credentials_version(conn: Connection) -> None:
    """Tell every worker that users, rights, scope, allow-lists or passwords changed."""
    _bump(conn, CREDENTIALS_VERSION)


def bump_locks_version(conn: Connection) -> None:
    """Tell every worker that a guessing-throttle lock was set or lifted."""
    _bump(conn, LOCKS_VERSION)


def instance_id(conn: Connection) -> str:
    """A random name for this store, made on first use: what two services sharing one rate-limit
    storage (Redis) tell their counts apart by, where user ids repeat from store to store."""
    conn.execute(
        dialect_insert(conn)(instance_state)
        .values(key=INSTANCE_ID, value=uuid.uuid4().hex)
        .on_conflict_do_nothing()
    )
    value = get(conn, INSTANCE_ID)
    assert value is not None
    return value
