"""Batch upserts by natural key, for imports and the demo population.

Every function writes one batch inside the caller's transaction and is idempotent: writing the
same rows again changes nothing, so a batch that was rolled back (crash, ``kill -9``) can simply be
written again. On PostgreSQL a batch travels by ``COPY`` into a staging table and is merged with
one ``INSERT … SELECT … ON CONFLICT`` (``copy_load``); on SQLite, by one executemany.

Rows that cannot be written (unknown person, a code or FormNo that belongs to someone else, a
value longer than its column) are returned by index with a reason that names no personal value;
the rest of the batch is written. Nothing a caller passes can make the database refuse the batch
as a whole, so one bad row never costs the others.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Column,
    ColumnElement,
    Connection,
    Select,
    Table,
    any_,
    bindparam,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.sql.dml import Insert

from saglik.domain.obs import DeathRecord
from saglik.domain.records import CodeRow, EventRow, PersonRow
from saglik.store import copy_load, obs_repo
from saglik.store.hes_repo import NEGATIVE, POSITIVE
from saglik.store.schema import (
    death_causes,
    death_form_history,
    death_forms,
    districts,
    hes_codes,
    infections,
    pcr_results,
    persons,
    risk_periods,
    vaccinations,
)
from saglik.store.upsert import dialect_insert

CHUNK = 500
"""Keys per IN (…) query: well under SQLite's and PostgreSQL's parameter limits."""

UNKNOWN_PERSON = "no person with this identity number in this environment (import persons first)"
FORM_NO_TAKEN = "this FormNo belongs to a form with another ReferansNo"
CODE_TAKEN = "this code belongs to another person"

EVENT_KINDS = ("vaccination", "infection", "pcr", "risk")

FILLS: dict[str, tuple[Table, ...]] = {
    "persons": (persons,),
    "codes": (hes_codes,),
    "events": (vaccinations, infections, pcr_results, risk_periods),
    "deaths": (death_forms, death_causes, death_form_history),
}
"""The tables each kind of batch writes: those whose statistics a bulk load keeps current while
it grows them (``statistics.GrowthAnalyzer``)."""
READS: dict[str, tuple[Table, ...]] = {"codes": (persons,), "events": (persons,)}
"""The tables a kind's batches look rows up in without writing them."""
ALL_BULK_TABLES = tuple(table for tables in FILLS.values() for table in tables)


def commit_without_waiting(conn: Connection) -> None:
    """Call first in a batch's transaction. On PostgreSQL its commit then returns before the WAL
    reaches disk (``synchronous_commit = off`` for this transaction only): a crash of the server
    can lose the last batches committed, never part of one, and the idempotent rerun writes them
    again, as after SQLite's ``synchronous=NORMAL`` loses its last commits to a power cut. A
    bulk load then does not wait on a disk flush once a batch."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SET LOCAL synchronous_commit = off")


def _chunks(items: Sequence[Any], size: int = CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


@functools.cache
def _limits(table: Table) -> dict[str, int]:
    """The string columns that have a length, and that length."""
    limits = {}
    for column in table.c:
        length = getattr(column.type, "length", None)
        if isinstance(length, int):
            limits[column.name] = length
    return limits


def _too_long(table: Table, values: Mapping[str, Any]) -> str | None:
    """PostgreSQL refuses a string longer than its column (and would abort the whole batch);
    SQLite would keep it. Refusing the row here treats both alike."""
    for name, limit in _limits(table).items():
        value = values.get(name)
        if isinstance(value, str) and len(value) > limit:
            return f"{name} is longer than {limit} characters"
    return None


def _upsert(
    insert: Any,
    table: Table,
    key: Sequence[str],
    changing: Sequence[str],
    keep_set: Sequence[str] = (),
) -> Any:
    """INSERT … ON CONFLICT (key) DO UPDATE of ``changing``, only where a value differs: a
    rerun then writes no row at all (no page write on SQLite, no dead tuple on PostgreSQL).
    Columns in ``keep_set`` keep a stored value and are only filled where it is NULL. Without
    ``changing``, an existing row is left as it is."""
    if not changing:
        return insert.on_conflict_do_nothing(index_elements=[table.c[c] for c in key])
    new = {
        c: func.coalesce(table.c[c], insert.excluded[c]) if c in keep_set else insert.excluded[c]
        for c in changing
    }
    differs: ColumnElement[bool] = or_(*(table.c[c].is_distinct_from(v) for c, v in new.items()))
    return insert.on_conflict_do_update(
        index_elements=[table.c[c] for c in key], set_=new, where=differs
    )


def _merge(
    conn: Connection,
    table: Table,
    key: Sequence[str],
    changing: Sequence[str],
    rows: Sequence[dict[str, Any]],
    keep_set: Sequence[str] = (),
) -> None:
    """One batch of ``rows`` (distinct keys, the same columns) into ``table`` by ``key``."""
    if not rows:
        return
    insert: Insert = dialect_insert(conn)(table)
    if conn.dialect.name != "postgresql":
        conn.execute(_upsert(insert, table, key, changing, keep_set), rows)
        return
    staged = copy_load.stage(conn, table, rows)
    names = list(rows[0])
    from_stage = insert.from_select(names, select(*(staged.c[name] for name in names)))
    conn.execute(_upsert(from_stage, table, key, changing, keep_set))


def district_plates(conn: Connection) -> dict[int, int]:
    """Every district's province plate: ~1,000 rows, read once by an import instead of once per
    death form."""
    return {row[0]: row[1] for row in conn.execute(select(districts.c.code, districts.c.plate))}


LOOKUPS: dict[str, tuple[Column[Any], ...]] = {
    "persons": (persons.c.identity_number, persons.c.id),
    "codes": (hes_codes.c.code, hes_codes.c.person_id),
    "forms": (death_forms.c.form_no, death_forms.c.id, death_forms.c.referans_no),
}
"""A batch's lookups by natural key: the key column first, then what is read with it."""


def lookup(dialect: str, name: str, env: str, keys: Sequence[str]) -> Select[Any]:
    """One lookup of ``keys`` in ``env``. On PostgreSQL the keys travel as one array
    (``= ANY``): one parameter however many keys, where an ``IN`` list costs the client a bound
    parameter per key; SQLite has no arrays. Its plan is what ``statistics`` keeps on the index."""
    columns = LOOKUPS[name]
    key = columns[0]
    if dialect == "postgresql":
        matches = key == any_(bindparam("keys", list(keys), type_=ARRAY(key.type)))
    else:
        matches = key.in_(keys)
    table = key.table
    assert isinstance(table, Table)
    return select(*columns).where(table.c.env == env, matches)


def _looked_up(conn: Connection, name: str, env: str, keys: Iterable[str]) -> list[Any]:
    wanted = sorted(set(keys))
    if not wanted:
        return []
    dialect = conn.dialect.name
    chunks = [wanted] if dialect == "postgresql" else _chunks(wanted)
    return [row for chunk in chunks for row in conn.execute(lookup(dialect, name, env, chunk))]


def person_ids(conn: Connection, env: str, identity_numbers: Iterable[str]) -> dict[str, int]:
    return {row[0]: row[1] for row in _looked_up(conn, "persons", env, identity_numbers)}


CONSENTS = ("consent_vaccination", "consent_immunity", "consent_test")


def upsert_persons(
    conn: Connection, env: str, rows: Sequence[PersonRow], now: datetime
) -> dict[int, str]:
    """Insert new persons, update the names and the given consent of known ones (key: identity
    number). A consent left None keeps the stored choice (False for a new person): a file
    without consent columns must not withdraw what people chose."""
    rejected: dict[int, str] = {}
    latest: dict[str, tuple[frozenset[str], dict[str, Any]]] = {}
    for i, row in enumerate(rows):
        given = frozenset(c for c in CONSENTS if getattr(row, c) is not None)
        values = {
            "env": env,
            "identity_number": row.identity_number,
            "first_name": row.first_name,
            "last_name": row.last_name,
            **{c: bool(getattr(row, c)) for c in CONSENTS},
            "created_at": now,
        }
        if reason := _too_long(persons, values):
            rejected[i] = reason
        else:
            # The last row wins when a batch names one person twice, as a second batch would
            # (and PostgreSQL refuses to update one row twice in one statement).
            latest[row.identity_number] = (given, values)
    groups: dict[frozenset[str], list[dict[str, Any]]] = {}
    for given, values in latest.values():
        groups.setdefault(given, []).append(values)
    for given, params in groups.items():
        changing = ("first_name", "last_name", *(c for c in CONSENTS if c in given))
        _merge(conn, persons, ("env", "identity_number"), changing, params)
    return rejected


def _resolve(
    conn: Connection, env: str, rows: Sequence[CodeRow | EventRow]
) -> tuple[dict[str, int], dict[int, str]]:
    ids = person_ids(conn, env, (row.identity_number for row in rows))
    rejected = {i: UNKNOWN_PERSON for i, row in enumerate(rows) if row.identity_number not in ids}
    return ids, rejected


def _code_owners(conn: Connection, env: str, codes: Iterable[str]) -> dict[str, int]:
    return {row[0]: row[1] for row in _looked_up(conn, "codes", env, codes)}


def upsert_codes(
    conn: Connection, env: str, rows: Sequence[CodeRow], now: datetime | None = None
) -> dict[int, str]:
    """Codes with their times (key: the code). A code already issued to another person is
    refused, never moved: a moved code would answer for the wrong citizen. ``now`` is needed
    only for rows without ``created_at``."""
    ids, rejected = _resolve(conn, env, rows)
    for i, row in enumerate(rows):
        if i not in rejected and (reason := _too_long(hes_codes, {"code": row.code})):
            rejected[i] = reason
    owners = _code_owners(conn, env, (row.code for i, row in enumerate(rows) if i not in rejected))
    latest: dict[str, CodeRow] = {}
    for i, row in enumerate(rows):
        if i in rejected:
            continue
        person = ids[row.identity_number]
        earlier = latest.get(row.code)
        owner = owners.get(row.code, earlier and ids[earlier.identity_number])
        if owner is not None and owner != person:
            rejected[i] = CODE_TAKEN
        else:
            latest[row.code] = row
    dated = [row for row in latest.values() if row.created_at is not None]
    undated = [row for row in latest.values() if row.created_at is None]
    if undated and now is None:
        raise ValueError("rows without created_at need now")
    changing = ["person_id", "expires_at", "cancelled_at"]
    for group, keep_created in ((dated, False), (undated, True)):
        _merge(
            conn,
            hes_codes,
            ("env", "code"),
            changing if keep_created else [*changing, "created_at"],
            [
                {
                    "env": env,
                    "code": row.code,
                    "person_id": ids[row.identity_number],
                    "created_at": row.created_at or now,
                    "expires_at": row.expires_at,
                    "cancelled_at": row.cancelled_at,
                }
                for row in group
            ],
            keep_set=("cancelled_at",),
        )
    return rejected


_EVENT_PLANS = (
    (vaccinations, ("person_id", "dose_number"), ("vaccine", "administered_at"), "vaccination"),
    (infections, ("person_id", "diagnosed_at"), (), "infection"),
    (pcr_results, ("person_id", "sampled_at"), ("result",), "pcr"),
    (risk_periods, ("person_id", "kind", "started_at"), ("ended_at",), "risk"),
)
_EVENT_TABLES = {kind: (table, key) for table, key, _changing, kind in _EVENT_PLANS}


def _event_values(row: EventRow, person: int) -> dict[str, Any]:
    if row.kind == "vaccination":
        return {
            "person_id": person,
            "dose_number": row.dose,
            "vaccine": row.vaccine,
            "administered_at": row.at,
        }
    if row.kind == "infection":
        return {"person_id": person, "diagnosed_at": row.at}
    if row.kind == "pcr":
        return {
            "person_id": person,
            "sampled_at": row.at,
            "result": NEGATIVE if row.negative else POSITIVE,
        }
    if row.kind == "risk":
        return {
            "person_id": person,
            "kind": row.risk_kind,
            "started_at": row.at,
            "ended_at": row.ended_at,
        }
    raise ValueError(f"unknown event kind {row.kind!r}")


def upsert_events(conn: Connection, env: str, rows: Sequence[EventRow]) -> dict[int, str]:
    """Health events by natural key: (person, dose), (person, diagnosis time),
    (person, sample time), (person, risk kind, start)."""
    ids, rejected = _resolve(conn, env, rows)
    by_kind: dict[str, dict[tuple[Any, ...], dict[str, Any]]] = {k: {} for k in EVENT_KINDS}
    for i, row in enumerate(rows):
        if i in rejected:
            continue
        values = _event_values(row, ids[row.identity_number])
        table, key = _EVENT_TABLES[row.kind]
        if reason := _too_long(table, values):
            rejected[i] = reason
            continue
        # One row per key and statement: the last of a batch wins, as a later batch would.
        by_kind[row.kind][tuple(values[c] for c in key)] = values
    for table, key, changing, kind in _EVENT_PLANS:
        _merge(conn, table, key, changing, list(by_kind[kind].values()))
    return rejected


def _death_too_long(record: DeathRecord) -> str | None:
    numbers = {"form_no": record.form_no, "referans_no": record.referans_no}
    if reason := _too_long(death_forms, {**numbers, **obs_repo.form_columns(record)}):
        return reason
    for cause in record.causes:
        if reason := _too_long(
            death_causes, {"icd_code": cause.icd_code, "interval": cause.interval}
        ):
            return f"causes: {reason}"
    return None


def upsert_deaths(
    conn: Connection, env: str, records: Sequence[DeathRecord], now: datetime
) -> dict[int, str]:
    """Register new forms; a known (FormNo, ReferansNo) whose content differs is corrected,
    with a history entry, exactly as a correction by hand would be; one whose content is the
    same is left alone (no history, ``updated_at`` kept). A FormNo stands for one form: another
    ReferansNo with it is refused, in the store or earlier in the batch."""
    rejected: dict[int, str] = {}
    latest: dict[tuple[str, str], tuple[int, DeathRecord]] = {}
    for i, record in enumerate(records):
        if reason := _death_too_long(record):
            rejected[i] = reason
        else:
            latest[(record.form_no, record.referans_no)] = (i, record)
    existing: dict[str, dict[str, int]] = {}
    for form_no, form_id, referans_no in _looked_up(conn, "forms", env, (f for f, _r in latest)):
        existing.setdefault(form_no, {})[referans_no] = form_id
    fresh: list[DeathRecord] = []
    claimed: dict[str, str] = {}
    known: list[tuple[int, DeathRecord]] = []
    for (form_no, referans_no), (index, record) in sorted(latest.items(), key=lambda i: i[1][0]):
        stored = existing.get(form_no, {})
        if referans_no in stored:
            known.append((stored[referans_no], record))
        elif stored or claimed.get(form_no, referans_no) != referans_no:
            rejected[index] = FORM_NO_TAKEN
        else:
            claimed[form_no] = referans_no
            fresh.append(record)
    for form_id, record in _differing(conn, known):
        changes = obs_repo.form_changes(conn, form_id, record)
        if not changes:
            continue
        conn.execute(
            update(death_forms)
            .where(death_forms.c.id == form_id)
            .values(updated_at=now, **obs_repo.form_columns(record))
        )
        obs_repo.write_causes(conn, form_id, record.causes)
        obs_repo.add_history(conn, form_id, env, now, obs_repo.CORRECTED, changes)
    if fresh:
        _insert_forms(conn, env, fresh)
    return rejected


def _differing(
    conn: Connection, known: Sequence[tuple[int, DeathRecord]]
) -> list[tuple[int, DeathRecord]]:
    """The known forms whose stored content differs from the record, found with two queries per
    chunk: rerunning an import of 50,000 unchanged forms must not cost 100,000 round trips."""
    columns = list(obs_repo.form_columns(known[0][1])) if known else []
    differing: list[tuple[int, DeathRecord]] = []
    for chunk in _chunks(known):
        ids = [form_id for form_id, _record in chunk]
        stored = {
            row[0]: dict(zip(columns, row[1:], strict=True))
            for row in conn.execute(
                select(death_forms.c.id, *(death_forms.c[c] for c in columns)).where(
                    death_forms.c.id.in_(ids)
                )
            )
        }
        causes: dict[int, list[tuple[Any, ...]]] = {form_id: [] for form_id in ids}
        for form_id, kind, icd_code, interval in conn.execute(
            select(
                death_causes.c.form_id,
                death_causes.c.kind,
                death_causes.c.icd_code,
                death_causes.c.interval,
            )
            .where(death_causes.c.form_id.in_(ids))
            .order_by(death_causes.c.form_id, death_causes.c.seq)
        ):
            causes[form_id].append((kind, icd_code, interval))
        for form_id, record in chunk:
            wanted = [(c.kind, c.icd_code, c.interval) for c in record.causes]
            if stored[form_id] != obs_repo.form_columns(record) or causes[form_id] != wanted:
                differing.append((form_id, record))
    return differing


def _insert_forms(conn: Connection, env: str, records: Sequence[DeathRecord]) -> None:
    """New forms with their causes and "registered" history, three statements for the batch."""
    rows = [
        {
            "env": env,
            "form_no": r.form_no,
            "referans_no": r.referans_no,
            "status": obs_repo.REGISTERED,
            "registered_at": r.registered_at,
            "updated_at": None,
            **obs_repo.form_columns(r),
        }
        for r in records
    ]
    if conn.dialect.name == "postgresql":
        staged = copy_load.stage(conn, death_forms, rows)
        names = list(rows[0])
        inserted = conn.execute(
            death_forms.insert()
            .from_select(names, select(*(staged.c[name] for name in names)))
            .returning(death_forms.c.form_no, death_forms.c.id)
        )
        by_form_no = {form_no: form_id for form_no, form_id in inserted}  # unique in a batch
        ids = [by_form_no[r.form_no] for r in records]
    else:
        ids = list(
            conn.scalars(
                death_forms.insert().returning(death_forms.c.id, sort_by_parameter_order=True),
                rows,
            )
        )
    obs_repo.write_many_causes(
        conn, [(form_id, r.causes) for form_id, r in zip(ids, records, strict=True)]
    )
    obs_repo.add_many_history(
        conn, env, [(form_id, r.registered_at) for form_id, r in zip(ids, records, strict=True)]
    )
