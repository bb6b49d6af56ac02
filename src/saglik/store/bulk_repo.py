"""Batch upserts by natural key, for imports and the demo population.

Every function writes one batch inside the caller's transaction and is idempotent: writing the
same rows again changes nothing, so a batch that was rolled back (crash, ``kill -9``) can simply be
written again. Rows that cannot be written (unknown person, FormNo taken by another reference) are
returned by index with a reason; the rest of the batch is written.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select, tuple_, update

from saglik.domain.obs import DeathRecord
from saglik.store import obs_repo
from saglik.store.hes_repo import NEGATIVE, POSITIVE
from saglik.store.schema import (
    death_forms,
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

EVENT_KINDS = ("vaccination", "infection", "pcr", "risk")


@dataclass(frozen=True, slots=True)
class PersonRow:
    """Names already NFC, Turkish upper case."""

    identity_number: str
    first_name: str
    last_name: str
    consent_vaccination: bool = False
    consent_immunity: bool = False
    consent_test: bool = False


@dataclass(frozen=True, slots=True)
class CodeRow:
    code: str
    identity_number: str
    created_at: datetime
    expires_at: datetime
    cancelled_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class EventRow:
    """One health event; which optional fields apply depends on ``kind``:
    vaccination → ``dose``, ``vaccine``; pcr → ``negative``; risk → ``risk_kind``, ``ended_at``."""

    identity_number: str
    kind: str
    at: datetime
    dose: int | None = None
    vaccine: str | None = None
    negative: bool | None = None
    risk_kind: str | None = None
    ended_at: datetime | None = None


def _chunks(items: Sequence[Any], size: int = CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def person_ids(conn: Connection, env: str, identity_numbers: Iterable[str]) -> dict[str, int]:
    wanted = sorted(set(identity_numbers))
    found: dict[str, int] = {}
    for chunk in _chunks(wanted):
        found.update(
            (row[0], row[1])
            for row in conn.execute(
                select(persons.c.identity_number, persons.c.id).where(
                    persons.c.env == env, persons.c.identity_number.in_(chunk)
                )
            )
        )
    return found


def upsert_persons(
    conn: Connection, env: str, rows: Sequence[PersonRow], now: datetime
) -> dict[int, str]:
    """Insert new persons, update the names and consent of known ones (key: identity number)."""
    if not rows:
        return {}
    insert = dialect_insert(conn)(persons)
    statement = insert.on_conflict_do_update(
        index_elements=[persons.c.env, persons.c.identity_number],
        set_={
            "first_name": insert.excluded.first_name,
            "last_name": insert.excluded.last_name,
            "consent_vaccination": insert.excluded.consent_vaccination,
            "consent_immunity": insert.excluded.consent_immunity,
            "consent_test": insert.excluded.consent_test,
        },
    )
    # The last row wins when a batch names one person twice, as a second batch would.
    latest = {row.identity_number: row for row in rows}
    conn.execute(
        statement,
        [
            {
                "env": env,
                "identity_number": row.identity_number,
                "first_name": row.first_name,
                "last_name": row.last_name,
                "consent_vaccination": row.consent_vaccination,
                "consent_immunity": row.consent_immunity,
                "consent_test": row.consent_test,
                "created_at": now,
            }
            for row in latest.values()
        ],
    )
    return {}


def _resolve(
    conn: Connection, env: str, rows: Sequence[CodeRow | EventRow]
) -> tuple[dict[str, int], dict[int, str]]:
    ids = person_ids(conn, env, (row.identity_number for row in rows))
    rejected = {i: UNKNOWN_PERSON for i, row in enumerate(rows) if row.identity_number not in ids}
    return ids, rejected


def upsert_codes(conn: Connection, env: str, rows: Sequence[CodeRow]) -> dict[int, str]:
    """Point each code at its person with the given times (key: the code)."""
    ids, rejected = _resolve(conn, env, rows)
    latest = {row.code: row for i, row in enumerate(rows) if i not in rejected}
    if latest:
        insert = dialect_insert(conn)(hes_codes)
        conn.execute(
            insert.on_conflict_do_update(
                index_elements=[hes_codes.c.env, hes_codes.c.code],
                set_={
                    "person_id": insert.excluded.person_id,
                    "created_at": insert.excluded.created_at,
                    "expires_at": insert.excluded.expires_at,
                    "cancelled_at": insert.excluded.cancelled_at,
                },
            ),
            [
                {
                    "env": env,
                    "code": row.code,
                    "person_id": ids[row.identity_number],
                    "created_at": row.created_at,
                    "expires_at": row.expires_at,
                    "cancelled_at": row.cancelled_at,
                }
                for row in latest.values()
            ],
        )
    return rejected


def upsert_events(conn: Connection, env: str, rows: Sequence[EventRow]) -> dict[int, str]:
    """Health events by natural key: (person, dose), (person, diagnosis time),
    (person, sample time), (person, risk kind, start)."""
    ids, rejected = _resolve(conn, env, rows)
    by_kind: dict[str, dict[tuple[Any, ...], dict[str, Any]]] = {k: {} for k in EVENT_KINDS}
    for i, row in enumerate(rows):
        if i in rejected:
            continue
        person = ids[row.identity_number]
        if row.kind == "vaccination":
            by_kind[row.kind][(person, row.dose)] = {
                "person_id": person,
                "dose_number": row.dose,
                "vaccine": row.vaccine,
                "administered_at": row.at,
            }
        elif row.kind == "infection":
            by_kind[row.kind][(person, row.at)] = {"person_id": person, "diagnosed_at": row.at}
        elif row.kind == "pcr":
            by_kind[row.kind][(person, row.at)] = {
                "person_id": person,
                "sampled_at": row.at,
                "result": NEGATIVE if row.negative else POSITIVE,
            }
        elif row.kind == "risk":
            by_kind[row.kind][(person, row.risk_kind, row.at)] = {
                "person_id": person,
                "kind": row.risk_kind,
                "started_at": row.at,
                "ended_at": row.ended_at,
            }
        else:
            raise ValueError(f"unknown event kind {row.kind!r}")
    insert = dialect_insert(conn)
    plans = (
        (vaccinations, ("person_id", "dose_number"), ("vaccine", "administered_at"), "vaccination"),
        (infections, ("person_id", "diagnosed_at"), (), "infection"),
        (pcr_results, ("person_id", "sampled_at"), ("result",), "pcr"),
        (risk_periods, ("person_id", "kind", "started_at"), ("ended_at",), "risk"),
    )
    for table, key, changing, kind in plans:
        params = list(by_kind[kind].values())
        if not params:
            continue
        statement = insert(table)
        if changing:
            statement = statement.on_conflict_do_update(
                index_elements=[table.c[c] for c in key],
                set_={c: statement.excluded[c] for c in changing},
            )
        else:
            statement = statement.on_conflict_do_nothing(index_elements=[table.c[c] for c in key])
        conn.execute(statement, params)
    return rejected


def upsert_deaths(
    conn: Connection, env: str, records: Sequence[DeathRecord], now: datetime
) -> dict[int, str]:
    """Register new forms; a known (FormNo, ReferansNo) whose content differs is corrected,
    with a history entry, exactly as a correction by hand would be."""
    latest = {(r.form_no, r.referans_no): (i, r) for i, r in enumerate(records)}
    existing: dict[str, tuple[int, str]] = {}
    for chunk in _chunks(sorted({r.form_no for r in records})):
        existing.update(
            (row[0], (row[1], row[2]))
            for row in conn.execute(
                select(death_forms.c.form_no, death_forms.c.id, death_forms.c.referans_no).where(
                    death_forms.c.env == env, death_forms.c.form_no.in_(chunk)
                )
            )
        )
    rejected: dict[int, str] = {}
    fresh: list[DeathRecord] = []
    for (form_no, referans_no), (index, record) in latest.items():
        known = existing.get(form_no)
        if known is None:
            fresh.append(record)
        elif known[1] != referans_no:
            rejected[index] = FORM_NO_TAKEN
        elif changes := obs_repo.form_changes(conn, known[0], record):
            conn.execute(
                update(death_forms)
                .where(death_forms.c.id == known[0])
                .values(updated_at=now, **obs_repo.form_columns(record))
            )
            obs_repo.write_causes(conn, known[0], record.causes)
            obs_repo.add_history(conn, known[0], env, now, obs_repo.CORRECTED, changes)
    if fresh:
        _insert_forms(conn, env, fresh)
    return rejected


def _insert_forms(conn: Connection, env: str, records: Sequence[DeathRecord]) -> None:
    conn.execute(
        death_forms.insert(),
        [
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
        ],
    )
    ids: dict[tuple[str, str], int] = {}
    keys = [(r.form_no, r.referans_no) for r in records]
    for chunk in _chunks(keys, CHUNK // 2):
        ids.update(
            ((row[0], row[1]), row[2])
            for row in conn.execute(
                select(death_forms.c.form_no, death_forms.c.referans_no, death_forms.c.id).where(
                    death_forms.c.env == env,
                    tuple_(death_forms.c.form_no, death_forms.c.referans_no).in_(chunk),
                )
            )
        )
    obs_repo.write_many_causes(
        conn, [(ids[key], r.causes) for key, r in zip(keys, records, strict=True)]
    )
    obs_repo.add_many_history(
        conn, env, [(ids[key], r.registered_at) for key, r in zip(keys, records, strict=True)]
    )
