"""Institutions, service users and their rights."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, Select, func, select

from saglik.domain.errors import Conflict, NotFound
from saglik.store import state
from saglik.store.schema import institutions, service_users, user_rights


@dataclass(frozen=True, slots=True)
class UserRecord:
    id: int
    institution_id: int
    institution_name: str
    env: str
    username: str
    password_hash: str
    active: bool
    methods: frozenset[str]
    province_code: int | None
    district_code: int | None
    ip_allowlist: tuple[str, ...]
    rate_limit: str | None


class DuplicateError(Conflict):
    pass


class NotFoundError(NotFound):
    pass


def add_institution(conn: Connection, name: str, now: datetime) -> int:
    if conn.execute(select(institutions.c.id).where(institutions.c.name == name)).first():
        raise DuplicateError(f"institution {name!r} exists")
    result = conn.execute(institutions.insert().values(name=name, created_at=now))
    assert result.inserted_primary_key is not None
    return int(result.inserted_primary_key[0])


def institution_id(conn: Connection, name: str) -> int:
    found = conn.execute(select(institutions.c.id).where(institutions.c.name == name)).scalar()
    if found is None:
        raise NotFoundError(f"no institution named {name!r}")
    return int(found)


def add_user(
    conn: Connection,
    *,
    institution: int,
    env: str,
    username: str,
    password_hash: str,
    methods: frozenset[str],
    now: datetime,
    province_code: int | None = None,
    district_code: int | None = None,
    ip_allowlist: tuple[str, ...] = (),
    rate_limit: str | None = None,
) -> int:
    exists = conn.execute(
        select(service_users.c.id).where(
            service_users.c.env == env, service_users.c.username == username
        )
    ).first()
    if exists:
        raise DuplicateError(f"user {username!r} exists in the {env} environment")
    result = conn.execute(
        service_users.insert().values(
            institution_id=institution,
            env=env,
            username=username,
            password_hash=password_hash,
            active=True,
            province_code=province_code,
            district_code=district_code,
            ip_allowlist=stored_allowlist(ip_allowlist),
            rate_limit=rate_limit,
            created_at=now,
            updated_at=now,
        )
    )
    assert result.inserted_primary_key is not None
    user_id = int(result.inserted_primary_key[0])
    if methods:
        conn.execute(
            user_rights.insert(), [{"user_id": user_id, "method": m} for m in sorted(methods)]
        )
    state.bump_credentials_version(conn)
    return user_id


def set_password_hash(
    conn: Connection, env: str, username: str, password_hash: str, now: datetime
) -> None:
    result = conn.execute(
        service_users.update()
        .where(service_users.c.env == env, service_users.c.username == username)
        .values(password_hash=password_hash, updated_at=now)
    )
    if result.rowcount == 0:
        raise NotFoundError(f"no user {username!r} in the {env} environment")
    state.bump_credentials_version(conn)


def _user_query() -> Select[Any]:
    return select(service_users, institutions.c.name.label("institution_name")).join(
        institutions, institutions.c.id == service_users.c.institution_id
    )


def _methods(conn: Connection, user_ids: list[int]) -> dict[int, set[str]]:
    out: dict[int, set[str]] = {uid: set() for uid in user_ids}
    if user_ids:
        rows = conn.execute(
            select(user_rights.c.user_id, user_rights.c.method).where(
                user_rights.c.user_id.in_(user_ids)
            )
        )
        for uid, method in rows:
            out[uid].add(method)
    return out


def _record(row: Row[Any], methods: set[str]) -> UserRecord:
    m = row._mapping
    return UserRecord(
        id=m["id"],
        institution_id=m["institution_id"],
        institution_name=m["institution_name"],
        env=m["env"],
        username=m["username"],
        password_hash=m["password_hash"],
        active=bool(m["active"]),
        methods=frozenset(methods),
        province_code=m["province_code"],
        district_code=m["district_code"],
        ip_allowlist=tuple(json.loads(m["ip_allowlist"])) if m["ip_allowlist"] else (),
        rate_limit=m["rate_limit"],
    )


def find_user(conn: Connection, env: str, username: str) -> UserRecord | None:
    row = conn.execute(
        _user_query().where(service_users.c.env == env, service_users.c.username == username)
    ).first()
    if row is None:
        return None
    return _record(row, _methods(conn, [row.id])[row.id])


def list_users(conn: Connection, env: str | None = None) -> list[UserRecord]:
    """Every user, or those of ``env``; by environment and username."""
    query = _user_query().order_by(service_users.c.env, service_users.c.username)
    if env is not None:
        query = query.where(service_users.c.env == env)
    rows = conn.execute(query).all()
    methods = _methods(conn, [r.id for r in rows])
    return [_record(r, methods[r.id]) for r in rows]


def count_users(conn: Connection, env: str) -> int:
    return int(
        conn.execute(
            select(func.count()).select_from(service_users).where(service_users.c.env == env)
        ).scalar_one()
    )


def list_institutions(conn: Connection) -> list[tuple[int, str, datetime, int]]:
    """(id, name, created_at, number of users), by name."""
    users = (
        select(func.count())
        .select_from(service_users)
        .where(service_users.c.institution_id == institutions.c.id)
        .scalar_subquery()
    )
    rows = conn.execute(
        select(institutions.c.id, institutions.c.name, institutions.c.created_at, users).order_by(
            institutions.c.name
        )
    )
    return [(r[0], r[1], r[2], int(r[3])) for r in rows]


def update_user(
    conn: Connection,
    user_id: int,
    now: datetime,
    *,
    columns: dict[str, Any],
    methods: frozenset[str] | None,
) -> None:
    """Change a user's settings; every worker's credential cache drops them at once."""
    conn.execute(
        service_users.update()
        .where(service_users.c.id == user_id)
        .values(updated_at=now, **columns)
    )
    if methods is not None:
        conn.execute(user_rights.delete().where(user_rights.c.user_id == user_id))
        if methods:
            conn.execute(
                user_rights.insert(), [{"user_id": user_id, "method": m} for m in sorted(methods)]
            )
    state.bump_credentials_version(conn)


def stored_allowlist(networks: tuple[str, ...]) -> str | None:
    return json.dumps(list(networks)) if networks else None
