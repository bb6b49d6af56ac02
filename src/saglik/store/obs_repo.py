"""ÖBS data: death forms, their cause chains and their history."""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Connection,
    bindparam,
    delete,
    or_,
    select,
    update,
)
from sqlalchemy.engine import Dialect

from saglik.domain.obs import SCOPE_PLACES, Cause, DeathRecord, Place, Scope
from saglik.store import copy_load
from saglik.store.prepared import PreparedSelect, ThreadConnections
from saglik.store.schema import death_causes, death_form_history, death_forms, districts
from saglik.store.types import UtcDateTime

REGISTERED, RETURNED, APPROVED = "registered", "returned", "approved"
CORRECTED = "corrected"


def _area_filter(name: str, level: str) -> ColumnElement[bool]:
    """``Scope.sees`` in SQL: any of the ``SCOPE_PLACES`` lies in the area, whose code is bound
    as ``name``."""
    area: BindParameter[int] = bindparam(name)
    return or_(*(death_forms.c[f"{place}_{level}"] == area for place in SCOPE_PLACES))


Areas = tuple[tuple[str, str], ...]
"""(bound parameter name, area level) of each area filter: the statement's shape."""


def _scope_params(scope: Scope, il_kodu: int | None) -> tuple[Areas, dict[str, Any]]:
    """Which area filters apply and their values: the user's scope, and ``IlKodu``."""
    areas: list[tuple[str, str]] = []
    params: dict[str, Any] = {}
    for name, area in (("scope_area", scope.area()), ("il_kodu", Scope(il_kodu).area())):
        if area is not None:
            areas.append((name, area.level))
            params[name] = area.code
    return tuple(areas), params


# Every statement below is built once per shape with bound parameters, not per call: building
# one and computing its cache key cost SQLAlchemy more CPU than running it (benchmarks/README.md).


@functools.cache
def _registered_query(areas: Areas, forensic: bool) -> Any:
    query = select(death_forms.c.form_no, death_forms.c.referans_no).where(
        death_forms.c.env == bindparam("env"),
        death_forms.c.registered_at >= bindparam("start", type_=UtcDateTime()),
        death_forms.c.registered_at < bindparam("end", type_=UtcDateTime()),
        *(_area_filter(*area) for area in areas),
    )
    if forensic:
        query = query.where(death_forms.c.manner.in_(bindparam("manners", expanding=True)))
    return query.order_by(death_forms.c.registered_at, death_forms.c.id)


@functools.cache
def _updated_query(areas: Areas) -> Any:
    changed = (
        select(death_form_history.c.form_id)
        .where(
            death_form_history.c.env == bindparam("env"),
            death_form_history.c.at >= bindparam("start", type_=UtcDateTime()),
            death_form_history.c.at < bindparam("end", type_=UtcDateTime()),
            death_form_history.c.action != REGISTERED,
        )
        .distinct()
    )
    return (
        select(death_forms.c.form_no, death_forms.c.referans_no)
        .where(death_forms.c.id.in_(changed), *(_area_filter(*area) for area in areas))
        .order_by(death_forms.c.id)
    )


@functools.lru_cache(maxsize=64)
def _prepared_feed(dialect: Dialect, feed: str, areas: Areas) -> PreparedSelect:
    if feed == "updated":
        return PreparedSelect(_updated_query(areas), dialect)
    return PreparedSelect(_registered_query(areas, feed == "forensic"), dialect)


def _feed_pairs(
    readers: ThreadConnections,
    feed: str,
    env: str,
    start: datetime,
    end: datetime,
    scope: Scope,
    il_kodu: int | None,
    **extra: Any,
) -> list[tuple[str, str]]:
    """(FormNo, ReferansNo) of a feed. A day is up to ~2,000 rows: read on the hot path
    (``store/prepared.py``), as plain tuples."""
    areas, params = _scope_params(scope, il_kodu)
    params.update(env=env, start=start, end=end, **extra)
    query = _prepared_feed(readers.dialect, feed, areas)
    return [(row[0], row[1]) for row in readers.rows(query, params)]


def forms_registered_between(
    readers: ThreadConnections,
    env: str,
    start: datetime,
    end: datetime,
    scope: Scope,
    il_kodu: int | None,
    manners: Iterable[int] | None = None,
) -> list[tuple[str, str]]:
    if manners is None:
        return _feed_pairs(readers, "registered", env, start, end, scope, il_kodu)
    return _feed_pairs(readers, "forensic", env, start, end, scope, il_kodu, manners=list(manners))


def forms_updated_between(
    readers: ThreadConnections,
    env: str,
    start: datetime,
    end: datetime,
    scope: Scope,
    il_kodu: int | None,
) -> list[tuple[str, str]]:
    return _feed_pairs(readers, "updated", env, start, end, scope, il_kodu)


_CAUSES = (
    select(death_causes.c.kind, death_causes.c.icd_code, death_causes.c.interval)
    .where(death_causes.c.form_id == bindparam("form_id"))
    .order_by(death_causes.c.seq)
)

_FORM_COLUMNS = [c for c in death_forms.c if c.name != "id"]


def _record(readers: ThreadConnections, row: Any, with_causes: bool) -> DeathRecord:
    form_id, *values = row
    m = dict(zip((c.name for c in _FORM_COLUMNS), values, strict=True))
    causes: tuple[Cause, ...] = ()
    if with_causes:
        causes = tuple(
            Cause(kind=kind, icd_code=icd_code, interval=interval)
            for kind, icd_code, interval in readers.rows(
                _prepared(readers.dialect, "causes"), {"form_id": form_id}
            )
        )
    return _from_columns(m, causes)


def _from_columns(m: Any, causes: tuple[Cause, ...]) -> DeathRecord:
    return DeathRecord(
        form_no=m["form_no"],
        referans_no=m["referans_no"],
        identity_number=m["identity_number"],
        passport_no=m["passport_no"],
        nationality=m["nationality"],
        first_name=m["first_name"],
        last_name=m["last_name"],
        father_name=m["father_name"],
        mother_name=m["mother_name"],
        birth_date=m["birth_date"],
        birth_place=m["birth_place"],
        sex=m["sex"],
        died_at=m["died_at"],
        place_of_death_type=m["place_of_death_type"],
        death_place=Place(m["death_province"], m["death_district"]),
        residence=Place(m["residence_province"], m["residence_district"]),
        manner=m["manner"],
        maternal_status=m["maternal_status"],
        registered_at=m["registered_at"],
        updated_at=m["updated_at"],
        autopsy=m["autopsy"],
        injured_at=m["injured_at"],
        causes=causes,
    )


def stored_form(conn: Connection, form: int) -> tuple[DeathRecord, str]:
    """A form as the operator sees it: the record with its causes, and its status."""
    row = conn.execute(select(death_forms).where(death_forms.c.id == form)).one()._mapping
    causes = tuple(
        Cause(kind=c.kind, icd_code=c.icd_code, interval=c.interval)
        for c in conn.execute(_CAUSES, {"form_id": form})
    )
    return _from_columns(row, causes), row["status"]


def form_status(conn: Connection, form: int) -> str:
    return str(conn.execute(select(death_forms.c.status).where(death_forms.c.id == form)).scalar())


def form_identity(conn: Connection, form: int) -> str | None:
    """The T.C. number on the form (None for a passport holder)."""
    return conn.execute(
        select(death_forms.c.identity_number).where(death_forms.c.id == form)
    ).scalar()


def form_history(conn: Connection, form: int) -> list[dict[str, Any]]:
    rows = conn.execute(
        select(death_form_history.c.at, death_form_history.c.action, death_form_history.c.changes)
        .where(death_form_history.c.form_id == form)
        .order_by(death_form_history.c.id)
    )
    return [
        {"at": r.at, "action": r.action, "changes": json.loads(r.changes) if r.changes else None}
        for r in rows
    ]


_LOOKUP_KEYS = {
    "identity": ("identity_number",),
    "form": ("form_no", "referans_no"),
    "passport": ("passport_no",),
}


@functools.cache
def _forms_query(lookup: str) -> Any:
    """Forms by one of the lookups, newest death first (a person has at most one in practice)."""
    return (
        select(death_forms.c.id, *_FORM_COLUMNS)
        .where(
            death_forms.c.env == bindparam("env"),
            *(death_forms.c[key] == bindparam(key) for key in _LOOKUP_KEYS[lookup]),
        )
        .order_by(death_forms.c.died_at.desc(), death_forms.c.id.desc())
    )


@functools.lru_cache(maxsize=64)
def _prepared(dialect: Dialect, query: str) -> PreparedSelect:
    """The lookups' statements on the hot path (``store/prepared.py``)."""
    if query == "causes":
        return PreparedSelect(_CAUSES, dialect)
    if query == "districts":
        return PreparedSelect(_DISTRICT_NAMES, dialect)
    return PreparedSelect(_forms_query(query), dialect)


def _find_forms(
    readers: ThreadConnections,
    env: str,
    lookup: str,
    values: dict[str, str],
    *,
    with_causes: bool,
) -> list[DeathRecord]:
    rows = readers.rows(_prepared(readers.dialect, lookup), {"env": env, **values})
    return [_record(readers, row, with_causes) for row in rows]


def by_identity(
    readers: ThreadConnections, env: str, tckn: str, *, with_causes: bool
) -> list[DeathRecord]:
    return _find_forms(readers, env, "identity", {"identity_number": tckn}, with_causes=with_causes)


def by_form(
    readers: ThreadConnections, env: str, form_no: str, referans_no: str, *, with_causes: bool
) -> list[DeathRecord]:
    if "\x00" in form_no or "\x00" in referans_no:
        return []  # no stored number holds NUL (PostgreSQL text cannot; it refuses the query)
    return _find_forms(
        readers,
        env,
        "form",
        {"form_no": form_no, "referans_no": referans_no},
        with_causes=with_causes,
    )


def by_passport(
    readers: ThreadConnections, env: str, passport_no: str, *, with_causes: bool
) -> list[DeathRecord]:
    if "\x00" in passport_no:
        return []  # as in by_form
    return _find_forms(
        readers, env, "passport", {"passport_no": passport_no}, with_causes=with_causes
    )


_DISTRICT_NAMES = select(districts.c.code, districts.c.name).where(
    districts.c.code.in_(bindparam("codes", expanding=True))
)


def district_names(readers: ThreadConnections, codes: Iterable[int | None]) -> dict[int, str]:
    wanted = sorted({c for c in codes if c is not None})
    if not wanted:
        return {}
    rows = readers.rows(_prepared(readers.dialect, "districts"), {"codes": wanted})
    return {code: name for code, name in rows}


def district_plate(conn: Connection, code: int) -> int | None:
    return conn.execute(select(districts.c.plate).where(districts.c.code == code)).scalar()


def has_districts(conn: Connection) -> bool:
    return conn.execute(select(districts.c.code).limit(1)).first() is not None


def upsert_districts(conn: Connection, rows: Sequence[tuple[int, int, str]]) -> int:
    """Insert or rename districts; returns how many rows were written."""
    existing = {c for (c,) in conn.execute(select(districts.c.code))}
    new = [{"code": c, "plate": p, "name": n} for c, p, n in rows if c not in existing]
    if new:
        conn.execute(districts.insert(), new)
    for code, plate, name in rows:
        if code in existing:
            conn.execute(
                update(districts).where(districts.c.code == code).values(plate=plate, name=name)
            )
    return len(rows)


# --- writes -----------------------------------------------------------------------------------


def form_exists(conn: Connection, env: str, form_no: str) -> bool:
    found = conn.execute(
        select(death_forms.c.id).where(death_forms.c.env == env, death_forms.c.form_no == form_no)
    ).first()
    return found is not None


def form_id(conn: Connection, env: str, form_no: str, referans_no: str) -> tuple[int, str] | None:
    row = conn.execute(
        select(death_forms.c.id, death_forms.c.status).where(
            death_forms.c.env == env,
            death_forms.c.form_no == form_no,
            death_forms.c.referans_no == referans_no,
        )
    ).first()
    return (row[0], row[1]) if row else None


def form_columns(record: DeathRecord) -> dict[str, Any]:
    return {
        "identity_number": record.identity_number,
        "passport_no": record.passport_no,
        "nationality": record.nationality,
        "first_name": record.first_name,
        "last_name": record.last_name,
        "father_name": record.father_name,
        "mother_name": record.mother_name,
        "birth_date": record.birth_date,
        "birth_place": record.birth_place,
        "sex": record.sex,
        "died_at": record.died_at,
        "place_of_death_type": record.place_of_death_type,
        "death_province": record.death_place.province,
        "death_district": record.death_place.district,
        "residence_province": record.residence.province,
        "residence_district": record.residence.district,
        "manner": record.manner,
        "maternal_status": record.maternal_status,
        "autopsy": record.autopsy,
        "injured_at": record.injured_at,
    }


def write_causes(conn: Connection, form: int, causes: Sequence[Cause]) -> None:
    conn.execute(delete(death_causes).where(death_causes.c.form_id == form))
    write_many_causes(conn, [(form, causes)])


def write_many_causes(conn: Connection, chains: Sequence[tuple[int, Sequence[Cause]]]) -> None:
    """The cause chains of forms that have none yet, in one statement."""
    rows = [
        {"form_id": form, "seq": i, "kind": c.kind, "icd_code": c.icd_code, "interval": c.interval}
        for form, causes in chains
        for i, c in enumerate(causes, start=1)
    ]
    copy_load.insert_rows(conn, death_causes, rows)


def add_many_history(
    conn: Connection, env: str, registered: Sequence[tuple[int, datetime]]
) -> None:
    """The "registered" history entries of new forms, in one statement."""
    copy_load.insert_rows(
        conn,
        death_form_history,
        [
            {"form_id": f, "env": env, "at": at, "action": REGISTERED, "changes": None}
            for f, at in registered
        ],
    )


def add_history(
    conn: Connection, form: int, env: str, at: datetime, action: str, changes: Any
) -> None:
    conn.execute(
        death_form_history.insert().values(
            form_id=form,
            env=env,
            at=at,
            action=action,
            changes=json.dumps(changes, ensure_ascii=False, default=str) if changes else None,
        )
    )


def insert_form(conn: Connection, env: str, record: DeathRecord) -> int:
    result = conn.execute(
        death_forms.insert().values(
            env=env,
            form_no=record.form_no,
            referans_no=record.referans_no,
            status=REGISTERED,
            registered_at=record.registered_at,
            updated_at=None,
            **form_columns(record),
        )
    )
    assert result.inserted_primary_key is not None
    form = int(result.inserted_primary_key[0])
    write_causes(conn, form, record.causes)
    add_history(conn, form, env, record.registered_at, REGISTERED, None)
    return form


def form_changes(conn: Connection, form: int, record: DeathRecord) -> dict[str, Any]:
    """What replacing the stored form with ``record`` changes: {field: [before, after]}."""
    before = conn.execute(select(death_forms).where(death_forms.c.id == form)).one()._mapping
    changes = {k: [before[k], v] for k, v in form_columns(record).items() if before[k] != v}
    old_causes = [
        (c.kind, c.icd_code, c.interval)
        for c in conn.execute(
            select(death_causes).where(death_causes.c.form_id == form).order_by(death_causes.c.seq)
        )
    ]
    new_causes = [(c.kind, c.icd_code, c.interval) for c in record.causes]
    if old_causes != new_causes:
        changes["causes"] = [old_causes, new_causes]
    return changes


def correct_form(
    conn: Connection, env: str, form: int, record: DeathRecord, at: datetime
) -> dict[str, Any]:
    """Replace the form's content; returns the changed fields as {field: [before, after]}."""
    changes = form_changes(conn, form, record)
    conn.execute(
        update(death_forms)
        .where(death_forms.c.id == form)
        .values(updated_at=at, **form_columns(record))
    )
    write_causes(conn, form, record.causes)
    add_history(conn, form, env, at, CORRECTED, changes)
    return changes


def set_status(conn: Connection, env: str, form: int, status: str, at: datetime) -> None:
    conn.execute(
        update(death_forms).where(death_forms.c.id == form).values(status=status, updated_at=at)
    )
    add_history(conn, form, env, at, status, None)


def delete_forms(conn: Connection, env: str, form_nos: Iterable[str]) -> None:
    """Remove forms (fixtures are re-laid this way); causes and history go with them."""
    ids = select(death_forms.c.id).where(
        death_forms.c.env == env, death_forms.c.form_no.in_(list(form_nos))
    )
    conn.execute(delete(death_causes).where(death_causes.c.form_id.in_(ids)))
    conn.execute(delete(death_form_history).where(death_form_history.c.form_id.in_(ids)))
    conn.execute(delete(death_forms).where(death_forms.c.id.in_(ids)))
