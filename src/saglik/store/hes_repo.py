"""HES data: persons, codes and the health events the plus fields are computed from."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, bindparam, exists, func, or_, select
from sqlalchemy.engine import Dialect

from saglik.domain.errors import NotFound
from saglik.domain.hes import CodeFacts
from saglik.store.prepared import PreparedSelect, ThreadConnections
from saglik.store.schema import (
    hes_codes,
    infections,
    pcr_results,
    persons,
    risk_periods,
    vaccinations,
)
from saglik.store.types import UtcDateTime

NEGATIVE = "NEGATIVE"
POSITIVE = "POSITIVE"


class UnknownPersonError(NotFound):
    pass


@functools.cache
def _facts_query(*, plus: bool, many: bool) -> Any:
    """Built once per shape, with bound parameters ``now``, ``env`` and ``code`` (or the expanding
    ``codes``): a statement built per call costs more CPU than the lookup itself, since SQLAlchemy
    has to walk it for its cache key every time; a reused one is compiled once and keyed once."""
    person = persons.c.id
    now = bindparam("now", type_=UtcDateTime())
    at_risk = exists().where(
        risk_periods.c.person_id == person,
        risk_periods.c.started_at <= now,
        or_(risk_periods.c.ended_at.is_(None), risk_periods.c.ended_at > now),
    )
    columns: list[Any] = [
        hes_codes.c.code,
        hes_codes.c.expires_at,
        hes_codes.c.cancelled_at,
        persons.c.identity_number,
        persons.c.first_name,
        persons.c.last_name,
        at_risk.label("at_risk"),
        persons.c.consent_vaccination,
        persons.c.consent_immunity,
        persons.c.consent_test,
    ]
    if plus:
        columns += [
            select(func.count())
            .where(vaccinations.c.person_id == person, vaccinations.c.administered_at <= now)
            .scalar_subquery()
            .label("doses"),
            select(func.max(infections.c.diagnosed_at))
            .where(infections.c.person_id == person, infections.c.diagnosed_at <= now)
            .scalar_subquery()
            .label("last_infection"),
            select(func.max(pcr_results.c.sampled_at))
            .where(
                and_(
                    pcr_results.c.person_id == person,
                    pcr_results.c.result == NEGATIVE,
                    pcr_results.c.sampled_at <= now,
                )
            )
            .scalar_subquery()
            .label("last_negative"),
        ]
    query = (
        select(*columns)
        .join(persons, persons.c.id == hes_codes.c.person_id)
        .where(hes_codes.c.env == bindparam("env"))
    )
    if many:
        return query.where(hes_codes.c.code.in_(bindparam("codes", expanding=True)))
    return query.where(hes_codes.c.code == bindparam("code"))


@functools.lru_cache(maxsize=64)
def _prepared(dialect: Dialect, *, plus: bool, many: bool) -> PreparedSelect:
    return PreparedSelect(_facts_query(plus=plus, many=many), dialect)


def find_facts(
    readers: ThreadConnections, env: str, codes: Iterable[str], now: datetime, *, plus: bool
) -> dict[str, CodeFacts]:
    """Facts for every known code among ``codes`` (already in lookup form), in one query."""
    wanted = list(dict.fromkeys(codes))
    if not wanted:
        return {}
    many = len(wanted) > 1
    params: dict[str, Any] = {"now": now, "env": env}
    if many:
        params["codes"] = wanted
    else:
        params["code"] = wanted[0]
    found: dict[str, CodeFacts] = {}
    # positional unpacking: a bulk call reads up to 500 rows, and named access costs ~25x more
    for row in readers.rows(_prepared(readers.dialect, plus=plus, many=many), params):
        (
            code,
            expires_at,
            cancelled_at,
            identity_number,
            first_name,
            last_name,
            at_risk,
            consent_vaccination,
            consent_immunity,
            consent_test,
            *plus_columns,
        ) = row
        doses, last_infection, last_negative = plus_columns if plus else (0, None, None)
        found[code] = CodeFacts(
            code=code,
            expires_at=expires_at,
            cancelled=cancelled_at is not None and cancelled_at <= now,
            identity_number=identity_number,
            first_name=first_name,
            last_name=last_name,
            at_risk=bool(at_risk),
            consent_vaccination=bool(consent_vaccination),
            consent_immunity=bool(consent_immunity),
            consent_test=bool(consent_test),
            vaccine_doses=int(doses),
            last_infection_at=last_infection,
            last_negative_test_at=last_negative,
        )
    return found


# --- data entry -------------------------------------------------------------------------------


def person_id(conn: Connection, env: str, identity_number: str) -> int:
    found = conn.execute(
        select(persons.c.id).where(
            persons.c.env == env, persons.c.identity_number == identity_number
        )
    ).scalar()
    if found is None:
        raise UnknownPersonError("no person with that identity number in this environment")
    return int(found)


def upsert_person(
    conn: Connection,
    *,
    env: str,
    identity_number: str,
    first_name: str,
    last_name: str,
    now: datetime,
) -> int:
    existing = conn.execute(
        select(persons.c.id).where(
            persons.c.env == env, persons.c.identity_number == identity_number
        )
    ).scalar()
    if existing is not None:
        conn.execute(
            persons.update()
            .where(persons.c.id == existing)
            .values(first_name=first_name, last_name=last_name)
        )
        return int(existing)
    result = conn.execute(
        persons.insert().values(
            env=env,
            identity_number=identity_number,
            first_name=first_name,
            last_name=last_name,
            consent_vaccination=False,
            consent_immunity=False,
            consent_test=False,
            created_at=now,
        )
    )
    assert result.inserted_primary_key is not None
    return int(result.inserted_primary_key[0])


def set_consent(
    conn: Connection, person: int, *, vaccination: bool, immunity: bool, test: bool
) -> None:
    conn.execute(
        persons.update()
        .where(persons.c.id == person)
        .values(consent_vaccination=vaccination, consent_immunity=immunity, consent_test=test)
    )


def code_exists(conn: Connection, env: str, code: str) -> bool:
    return (
        conn.execute(
            select(hes_codes.c.id).where(hes_codes.c.env == env, hes_codes.c.code == code)
        ).first()
        is not None
    )


def insert_code(
    conn: Connection,
    *,
    env: str,
    code: str,
    person: int,
    created_at: datetime,
    expires_at: datetime,
) -> None:
    conn.execute(
        hes_codes.insert().values(
            env=env, code=code, person_id=person, created_at=created_at, expires_at=expires_at
        )
    )


def close_risks(conn: Connection, person: int, ended_at: datetime) -> int:
    result = conn.execute(
        risk_periods.update()
        .where(risk_periods.c.person_id == person, risk_periods.c.ended_at.is_(None))
        .values(ended_at=ended_at)
    )
    return int(result.rowcount)


def clear_events(conn: Connection, person: int) -> None:
    """Remove a person's health events (used to refresh time-relative test fixtures)."""
    for table in (risk_periods, vaccinations, infections, pcr_results):
        conn.execute(table.delete().where(table.c.person_id == person))


def upsert_code(
    conn: Connection,
    *,
    env: str,
    code: str,
    person: int,
    created_at: datetime,
    expires_at: datetime,
) -> None:
    """Point ``code`` at ``person`` with the given times, active (fixtures use this)."""
    result = conn.execute(
        hes_codes.update()
        .where(hes_codes.c.env == env, hes_codes.c.code == code)
        .values(person_id=person, created_at=created_at, expires_at=expires_at, cancelled_at=None)
    )
    if result.rowcount == 0:
        insert_code(
            conn, env=env, code=code, person=person, created_at=created_at, expires_at=expires_at
        )


def person_row(conn: Connection, env: str, identity_number: str) -> dict[str, Any]:
    """The person's stored fields (names, consent flags, created_at)."""
    row = conn.execute(
        select(persons).where(persons.c.env == env, persons.c.identity_number == identity_number)
    ).first()
    if row is None:
        raise UnknownPersonError("no person with that identity number in this environment")
    return dict(row._mapping)


def codes_of(conn: Connection, person: int) -> list[dict[str, Any]]:
    """Every code the person was issued, newest first."""
    rows = conn.execute(
        select(
            hes_codes.c.code,
            hes_codes.c.created_at,
            hes_codes.c.expires_at,
            hes_codes.c.cancelled_at,
        )
        .where(hes_codes.c.person_id == person)
        .order_by(hes_codes.c.created_at.desc(), hes_codes.c.id.desc())
    )
    return [dict(r._mapping) for r in rows]


def events_of(conn: Connection, person: int) -> dict[str, list[dict[str, Any]]]:
    """The person's health events by kind, oldest first (what the plus fields are computed from)."""
    queries = {
        "vaccinations": select(
            vaccinations.c.dose_number, vaccinations.c.vaccine, vaccinations.c.administered_at
        )
        .where(vaccinations.c.person_id == person)
        .order_by(vaccinations.c.dose_number),
        "infections": select(infections.c.diagnosed_at)
        .where(infections.c.person_id == person)
        .order_by(infections.c.diagnosed_at),
        "pcr_results": select(pcr_results.c.sampled_at, pcr_results.c.result)
        .where(pcr_results.c.person_id == person)
        .order_by(pcr_results.c.sampled_at),
        "risk_periods": select(
            risk_periods.c.kind, risk_periods.c.started_at, risk_periods.c.ended_at
        )
        .where(risk_periods.c.person_id == person)
        .order_by(risk_periods.c.started_at),
    }
    return {
        kind: [dict(r._mapping) for r in conn.execute(query)] for kind, query in queries.items()
    }


def code_holder(conn: Connection, env: str, code: str) -> tuple[int, str, datetime | None] | None:
    """(code row id, holder's identity number, cancelled_at) of a code, None if unknown."""
    row = conn.execute(
        select(hes_codes.c.id, persons.c.identity_number, hes_codes.c.cancelled_at)
        .join(persons, persons.c.id == hes_codes.c.person_id)
        .where(hes_codes.c.env == env, hes_codes.c.code == code)
    ).first()
    return (row[0], row[1], row[2]) if row else None


def cancel_code(conn: Connection, code_id: int, at: datetime) -> bool:
    """False when the code was cancelled already (by a concurrent cancel, say)."""
    result = conn.execute(
        hes_codes.update()
        .where(hes_codes.c.id == code_id, hes_codes.c.cancelled_at.is_(None))
        .values(cancelled_at=at)
    )
    return bool(result.rowcount)


def has_persons(conn: Connection, env: str, *, excluding: Iterable[str] = ()) -> bool:
    """Whether ``env`` holds a person, not counting those with an identity number in
    ``excluding`` (a few dozen at most: they are one ``NOT IN``)."""
    query = select(persons.c.id).where(persons.c.env == env)
    if skipped := sorted(set(excluding)):
        query = query.where(persons.c.identity_number.not_in(skipped))
    return conn.execute(query.limit(1)).first() is not None
