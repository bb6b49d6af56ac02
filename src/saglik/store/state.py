"""Named instance values kept in ``instance_state``."""

from __future__ import annotations

import secrets

from sqlalchemy import Connection, Integer, String, cast, select, update

from saglik.store.schema import instance_state
from saglik.store.upsert import dialect_insert

AUDIT_KEY = "audit_hmac_key"
CREDENTIALS_VERSION = "credentials_version"


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


def get_or_create_secret(conn: Connection, key: str) -> str:
    """A random hex secret created on first use; racing workers agree on the first one written.

    One conditional insert, then a read: reading first and inserting after would, on SQLite,
    upgrade a read snapshot to a write, which fails at once (no busy wait) when another worker
    committed in between."""
    value = get(conn, key)
    if value is not None:
        return value
    conn.execute(
        dialect_insert(conn)(instance_state)
        .values(key=key, value=secrets.token_hex(32))
        .on_conflict_do_nothing()
    )
    value = get(conn, key)
    assert value is not None
    return value


def credentials_version(conn: Connection) -> int:
    value = get(conn, CREDENTIALS_VERSION)
    return int(value) if value is not None else 0


def bump_credentials_version(conn: Connection) -> None:
    """Tell every worker that users, rights or scope changed (their caches poll this).

    One upsert that increments in the database: a read-then-write would let two concurrent
    changes write the same number (a worker polling between them would miss the second), and an
    update-else-insert would let two first changes both insert."""
    first = dialect_insert(conn)(instance_state).values(key=CREDENTIALS_VERSION, value="1")
    conn.execute(
        first.on_conflict_do_update(
            index_elements=[instance_state.c.key],
            set_={"value": cast(cast(instance_state.c.value, Integer) + 1, String)},
        )
    )
