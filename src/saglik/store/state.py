"""Named instance values kept in ``instance_state``."""

from __future__ import annotations

from sqlalchemy import Connection, Integer, String, cast, delete, select, update

from saglik.store.schema import instance_state
from saglik.store.upsert import dialect_insert

LEGACY_AUDIT_KEY = "audit_hmac_key"
"""Where stores made before the key file kept their audit key: moved out on the first start."""
AUDIT_KEY_USED = "audit_key_used:"
"""Prefix of one row per audit key the store has used (``audit_key_used:k2`` → fingerprint)."""
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
