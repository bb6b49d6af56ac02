"""Operator API tokens, kept as SHA-256 digests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, select
from sqlalchemy.exc import IntegrityError

from saglik.store.accounts_repo import DuplicateError, NotFoundError
from saglik.store.schema import operator_tokens


@dataclass(frozen=True, slots=True)
class TokenRecord:
    name: str
    created_at: datetime
    revoked_at: datetime | None


def _name_taken(conn: Connection, name: str) -> bool:
    found = conn.execute(select(operator_tokens.c.id).where(operator_tokens.c.name == name))
    return found.first() is not None


def add_token(conn: Connection, name: str, digest: str, now: datetime) -> None:
    """The check gives the usual refusal; the unique index gives the same one to the second of two
    concurrent creations with one name (a digest is 256 random bits: only the name can clash).
    On PostgreSQL that leaves the caller's transaction aborted, to be rolled back."""
    duplicate = DuplicateError(f"a token named {name!r} exists (revoke it or pick another name)")
    if _name_taken(conn, name):
        raise duplicate
    try:
        conn.execute(operator_tokens.insert().values(name=name, token_hash=digest, created_at=now))
    except IntegrityError:
        raise duplicate from None  # the database's message quotes the digest


def active_name(conn: Connection, digest: str) -> str | None:
    """The name of the unrevoked token with this digest."""
    return conn.execute(
        select(operator_tokens.c.name).where(
            operator_tokens.c.token_hash == digest, operator_tokens.c.revoked_at.is_(None)
        )
    ).scalar()


def revoke(conn: Connection, name: str, now: datetime) -> None:
    result = conn.execute(
        operator_tokens.update()
        .where(operator_tokens.c.name == name, operator_tokens.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    if result.rowcount == 0:
        raise NotFoundError(f"no active token named {name!r}")


def list_tokens(conn: Connection) -> list[TokenRecord]:
    rows = conn.execute(
        select(
            operator_tokens.c.name, operator_tokens.c.created_at, operator_tokens.c.revoked_at
        ).order_by(operator_tokens.c.name)
    )
    return [TokenRecord(*row) for row in rows]
