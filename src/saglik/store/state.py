"""Named instance values kept in ``instance_state``."""

from __future__ import annotations

import secrets

from sqlalchemy import Connection, select, update

from saglik.store.schema import instance_state

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
    """A random hex secret created on first use; racing workers agree on the first one written."""
    value = get(conn, key)
    if value is not None:
        return value
    candidate = secrets.token_hex(32)
    with conn.begin_nested():
        existing = get(conn, key)
        if existing is not None:
            return existing
        conn.execute(instance_state.insert().values(key=key, value=candidate))
    return candidate


def credentials_version(conn: Connection) -> int:
    value = get(conn, CREDENTIALS_VERSION)
    return int(value) if value is not None else 0


def bump_credentials_version(conn: Connection) -> None:
    """Tell every worker that users, rights or scope changed (their caches poll this)."""
    result = conn.execute(
        update(instance_state)
        .where(instance_state.c.key == CREDENTIALS_VERSION)
        .values(value=str(credentials_version(conn) + 1))
    )
    if result.rowcount == 0:
        conn.execute(instance_state.insert().values(key=CREDENTIALS_VERSION, value="1"))
