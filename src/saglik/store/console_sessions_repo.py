"""The console's sessions (``console_sessions``), each tied to the operator token that opened it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, delete, select, update

from saglik.store.schema import console_sessions, operator_tokens


@dataclass(frozen=True, slots=True)
class SessionRecord:
    token_name: str
    csrf: str
    created_at: datetime
    last_seen_at: datetime


def token_id(conn: Connection, name: str) -> int:
    found = conn.execute(select(operator_tokens.c.id).where(operator_tokens.c.name == name))
    return int(found.scalar_one())


def add(conn: Connection, id_hash: str, token: int, csrf: str, now: datetime) -> None:
    conn.execute(
        console_sessions.insert().values(
            id_hash=id_hash, token_id=token, csrf=csrf, created_at=now, last_seen_at=now
        )
    )


def live(conn: Connection, id_hash: str) -> SessionRecord | None:
    """The session, if its token has not been revoked since it was opened."""
    row = conn.execute(
        select(
            operator_tokens.c.name,
            console_sessions.c.csrf,
            console_sessions.c.created_at,
            console_sessions.c.last_seen_at,
        )
        .join(operator_tokens, operator_tokens.c.id == console_sessions.c.token_id)
        .where(console_sessions.c.id_hash == id_hash, operator_tokens.c.revoked_at.is_(None))
    ).first()
    return None if row is None else SessionRecord(*row)


def touch(conn: Connection, id_hash: str, now: datetime) -> None:
    conn.execute(
        update(console_sessions)
        .where(console_sessions.c.id_hash == id_hash)
        .values(last_seen_at=now)
    )


def remove(conn: Connection, id_hash: str) -> bool:
    return bool(
        conn.execute(delete(console_sessions).where(console_sessions.c.id_hash == id_hash)).rowcount
    )


def remove_idle(conn: Connection, seen_before: datetime, created_before: datetime) -> int:
    """Forgets sessions idle since ``seen_before`` or opened before ``created_before``."""
    return int(
        conn.execute(
            delete(console_sessions).where(
                (console_sessions.c.last_seen_at < seen_before)
                | (console_sessions.c.created_at < created_before)
            )
        ).rowcount
    )
