"""bulk_repo: batch upserts by natural key on both backends — idempotent reruns (no duplicate,
no extra history), rows refused by index while the rest of the batch is written, corrections of
death forms on rerun, and values the database would refuse turned into row rejects."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import Engine, Table, func, select, text

from saglik.domain.hes import NO_EXPIRY
from saglik.domain.obs import ISTANBUL, Cause, DeathRecord, Place
from saglik.domain.records import CodeRow, EventRow, PersonRow
from saglik.domain.tckn import random_tckn
from saglik.services.refdata import import_districts
from saglik.store import bulk_repo
from saglik.store.schema import (
    death_causes,
    death_form_history,
    death_forms,
    hes_codes,
    infections,
    pcr_results,
    persons,
    risk_periods,
    vaccinations,
)
from tests.store.backends import backend_of, blank_engine

ENV = "live"
NOW = datetime(2026, 6, 15, 9, 0, tzinfo=UTC)
H = timedelta(hours=1)
_rng = random.Random()


@pytest.fixture(scope="module")
def db(store: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """A migrated database of this module's own (counts below must see only its rows)."""
    with blank_engine(backend_of(store), tmp_path_factory.mktemp("bulk"), migrated=True) as engine:
        import_districts(engine)
        yield engine


def count(db: Engine, table: Table, *where: Any) -> int:
    with db.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one())


def people(n: int) -> list[PersonRow]:
    return [PersonRow(random_tckn(_rng), "AYŞE", "YILDIRIM") for _ in range(n)]


def write_persons(db: Engine, rows: list[PersonRow], env: str = ENV) -> dict[int, str]:
    with db.begin() as conn:
        return bulk_repo.upsert_persons(conn, env, rows, NOW)


def ids_of(rows: list[PersonRow]) -> list[str]:
    return [r.identity_number for r in rows]


# --- persons -----------------------------------------------------------------------------------


def test_persons_rerun_adds_nothing_and_keeps_the_creation_time(db: Engine) -> None:
    rows = people(30)
    assert write_persons(db, rows) == {}
    with db.begin() as conn:
        assert bulk_repo.upsert_persons(conn, ENV, rows, NOW + 24 * H) == {}
    where = persons.c.identity_number.in_(ids_of(rows))
    assert count(db, persons, where) == 30
    with db.connect() as conn:
        created = set(conn.execute(select(persons.c.created_at).where(where)).scalars())
    assert created == {NOW}


def row_versions(db: Engine, table: Table) -> Any:
    """Something that moves whenever a row of ``table`` is written, even with equal values:
    PostgreSQL's xmin of each row; SQLite's count of changed rows on one connection."""
    if db.dialect.name == "postgresql":
        with db.connect() as conn:
            return conn.execute(
                text(f"SELECT id, xmin::text FROM {table.name} ORDER BY id")  # noqa: S608
            ).all()
    return None


def test_a_rerun_writes_no_row_at_all(db: Engine) -> None:
    """Not just equal values: no update happens (no page write on SQLite, no dead tuple on
    PostgreSQL), for persons, codes and events alike."""
    rows = people(5)
    write_persons(db, rows)
    codes = [CodeRow(next(_codes), r.identity_number, None, NO_EXPIRY) for r in rows]
    events = [EventRow(r.identity_number, "pcr", NOW, negative=True) for r in rows]
    with db.begin() as conn:
        bulk_repo.upsert_codes(conn, ENV, codes, NOW)
        bulk_repo.upsert_events(conn, ENV, events)
    before = [row_versions(db, t) for t in (persons, hes_codes, pcr_results)]
    with db.begin() as conn:
        changes = getattr(conn.connection.driver_connection, "total_changes", None)
        bulk_repo.upsert_persons(conn, ENV, rows, NOW + H)
        bulk_repo.upsert_codes(conn, ENV, codes, NOW + H)
        bulk_repo.upsert_events(conn, ENV, events)
        if changes is not None:
            assert conn.connection.driver_connection.total_changes == changes
    assert [row_versions(db, t) for t in (persons, hes_codes, pcr_results)] == before


def test_persons_update_names_and_consent_of_known_ones(db: Engine) -> None:
    [row] = people(1)
    write_persons(db, [row])
    changed = replace(row, first_name="FATMA", consent_test=True)
    assert write_persons(db, [changed]) == {}
    with db.connect() as conn:
        stored = conn.execute(
            select(persons.c.first_name, persons.c.consent_test).where(
                persons.c.identity_number == row.identity_number
            )
        ).one()
    assert tuple(stored) == ("FATMA", True)


def _consent(db: Engine, identity_number: str) -> tuple[bool, bool, bool]:
    with db.connect() as conn:
        row = conn.execute(
            select(
                persons.c.consent_vaccination, persons.c.consent_immunity, persons.c.consent_test
            ).where(persons.c.identity_number == identity_number)
        ).one()
    return (bool(row[0]), bool(row[1]), bool(row[2]))


def test_consent_not_given_keeps_the_stored_choice(db: Engine) -> None:
    [row] = people(1)
    write_persons(db, [replace(row, consent_vaccination=True, consent_immunity=True)])
    unsaid = replace(
        row, first_name="FATMA", consent_vaccination=None, consent_immunity=None, consent_test=None
    )
    write_persons(db, [unsaid])
    assert _consent(db, row.identity_number) == (True, True, False)
    write_persons(db, [replace(unsaid, consent_immunity=False)])
    assert _consent(db, row.identity_number) == (True, False, False)


def test_a_new_person_without_consent_shares_nothing(db: Engine) -> None:
    [row] = people(1)
    unsaid = replace(row, consent_vaccination=None, consent_immunity=None, consent_test=None)
    write_persons(db, [unsaid])
    assert _consent(db, row.identity_number) == (False, False, False)


def test_the_last_row_of_a_batch_wins_for_one_person(db: Engine) -> None:
    [row] = people(1)
    assert write_persons(db, [row, replace(row, last_name="KAYA")]) == {}
    with db.connect() as conn:
        last = conn.execute(
            select(persons.c.last_name).where(persons.c.identity_number == row.identity_number)
        ).scalar_one()
    assert last == "KAYA"
    assert count(db, persons, persons.c.identity_number == row.identity_number) == 1


def test_a_name_longer_than_its_column_is_refused_and_the_rest_written(db: Engine) -> None:
    """PostgreSQL would abort the whole batch; SQLite would keep it: both refuse the row."""
    rows = people(3)
    rows[1] = replace(rows[1], first_name="A" * 201)
    assert write_persons(db, rows) == {1: "first_name is longer than 200 characters"}
    assert count(db, persons, persons.c.identity_number.in_(ids_of(rows))) == 2


def test_environments_are_separate(db: Engine) -> None:
    rows = people(2)
    write_persons(db, rows, "test")
    with db.begin() as conn:
        refused = bulk_repo.upsert_codes(
            conn, ENV, [CodeRow("T1E5T00001", rows[0].identity_number, NOW, NO_EXPIRY)]
        )
    assert refused == {0: bulk_repo.UNKNOWN_PERSON}


# --- codes -------------------------------------------------------------------------------------

_codes = iter(f"C{n:09d}" for n in range(_rng.randrange(10**8), 10**9))


def test_codes_rerun_changes_nothing(db: Engine) -> None:
    rows = people(5)
    write_persons(db, rows)
    codes = [CodeRow(next(_codes), r.identity_number, NOW, NOW + 365 * 24 * H) for r in rows]
    for _ in range(2):
        with db.begin() as conn:
            assert bulk_repo.upsert_codes(conn, ENV, codes) == {}
    assert count(db, hes_codes, hes_codes.c.code.in_([c.code for c in codes])) == 5


def test_a_reimported_code_stays_cancelled(db: Engine) -> None:
    [row] = people(1)
    write_persons(db, [row])
    code = CodeRow(next(_codes), row.identity_number, NOW, NOW + 365 * 24 * H)
    with db.begin() as conn:
        bulk_repo.upsert_codes(conn, ENV, [replace(code, cancelled_at=NOW + H)])
    with db.begin() as conn:
        assert bulk_repo.upsert_codes(conn, ENV, [code]) == {}
    with db.connect() as conn:
        cancelled = conn.execute(
            select(hes_codes.c.cancelled_at).where(hes_codes.c.code == code.code)
        ).scalar_one()
    assert cancelled == NOW + H


def test_an_unknown_person_is_refused_and_the_others_written(db: Engine) -> None:
    rows = people(2)
    write_persons(db, rows)
    stranger = random_tckn(_rng)
    codes = [
        CodeRow(next(_codes), rows[0].identity_number, NOW, NO_EXPIRY),
        CodeRow(next(_codes), stranger, NOW, NO_EXPIRY),
        CodeRow(next(_codes), rows[1].identity_number, NOW, NO_EXPIRY),
    ]
    with db.begin() as conn:
        assert bulk_repo.upsert_codes(conn, ENV, codes) == {1: bulk_repo.UNKNOWN_PERSON}
    assert count(db, hes_codes, hes_codes.c.code.in_([c.code for c in codes])) == 2


def test_a_code_of_another_person_is_refused_never_moved(db: Engine) -> None:
    a, b = people(2)
    write_persons(db, [a, b])
    code = next(_codes)
    with db.begin() as conn:
        bulk_repo.upsert_codes(conn, ENV, [CodeRow(code, a.identity_number, NOW, NO_EXPIRY)])
    moved = CodeRow(code, b.identity_number, NOW, NO_EXPIRY)
    fresh = next(_codes)
    with db.begin() as conn:
        refused = bulk_repo.upsert_codes(
            conn,
            ENV,
            [moved, CodeRow(fresh, a.identity_number, NOW, NO_EXPIRY)],
        )
    assert refused == {0: bulk_repo.CODE_TAKEN}
    # ... also when both claims are in one batch: the first one holds it
    other = next(_codes)
    with db.begin() as conn:
        refused = bulk_repo.upsert_codes(
            conn,
            ENV,
            [
                CodeRow(other, a.identity_number, NOW, NO_EXPIRY),
                CodeRow(other, b.identity_number, NOW, NO_EXPIRY),
            ],
        )
    assert refused == {1: bulk_repo.CODE_TAKEN}
    with db.connect() as conn:
        owners = set(
            conn.execute(
                select(persons.c.identity_number)
                .join(hes_codes, hes_codes.c.person_id == persons.c.id)
                .where(hes_codes.c.code.in_([code, other]))
            ).scalars()
        )
    assert owners == {a.identity_number}


def test_a_code_without_creation_time_gets_now_once_and_keeps_it(db: Engine) -> None:
    [row] = people(1)
    write_persons(db, [row])
    code = CodeRow(next(_codes), row.identity_number, None, NO_EXPIRY)
    with db.begin() as conn:
        bulk_repo.upsert_codes(conn, ENV, [code], NOW)
    with db.begin() as conn:
        bulk_repo.upsert_codes(conn, ENV, [replace(code, cancelled_at=NOW + H)], NOW + 48 * H)
    with db.connect() as conn:
        created, cancelled = conn.execute(
            select(hes_codes.c.created_at, hes_codes.c.cancelled_at).where(
                hes_codes.c.code == code.code
            )
        ).one()
    assert (created, cancelled) == (NOW, NOW + H)


def test_an_explicit_creation_time_is_the_files(db: Engine) -> None:
    [row] = people(1)
    write_persons(db, [row])
    code = CodeRow(next(_codes), row.identity_number, NOW, NO_EXPIRY)
    for created in (NOW, NOW - 24 * H):
        with db.begin() as conn:
            bulk_repo.upsert_codes(conn, ENV, [replace(code, created_at=created)])
    with db.connect() as conn:
        stored = conn.execute(
            select(hes_codes.c.created_at).where(hes_codes.c.code == code.code)
        ).scalar_one()
    assert stored == NOW - 24 * H


# --- events ------------------------------------------------------------------------------------


def event_counts(db: Engine, person_ids: list[int]) -> dict[str, int]:
    return {
        t.name: count(db, t, t.c.person_id.in_(person_ids))
        for t in (vaccinations, infections, pcr_results, risk_periods)
    }


def test_events_upsert_by_natural_key(db: Engine) -> None:
    a, b = people(2)
    write_persons(db, [a, b])
    ta, tb = a.identity_number, b.identity_number
    events = [
        EventRow(ta, "vaccination", NOW - 60 * 24 * H, dose=1, vaccine="CoronaVac"),
        EventRow(ta, "vaccination", NOW - 30 * 24 * H, dose=2, vaccine="CoronaVac"),
        EventRow(ta, "infection", NOW - 90 * 24 * H),
        EventRow(ta, "pcr", NOW - 5 * H, negative=True),
        EventRow(tb, "risk", NOW - 24 * H, risk_kind="contact"),
        EventRow(tb, "risk", NOW - 24 * H, risk_kind="case"),
    ]
    for _ in range(2):
        with db.begin() as conn:
            assert bulk_repo.upsert_events(conn, ENV, events) == {}
    with db.connect() as conn:
        ids = bulk_repo.person_ids(conn, ENV, [ta, tb])
    assert event_counts(db, list(ids.values())) == {
        "vaccinations": 2,
        "infections": 1,
        "pcr_results": 1,
        "risk_periods": 2,
    }
    # The same keys with new values update in place: dose 2 another vaccine, the PCR positive,
    # the contact period ended; a duplicate key in one batch counts once (the last wins).
    updated = [
        EventRow(ta, "vaccination", NOW - 29 * 24 * H, dose=2, vaccine="Sinovac"),
        EventRow(ta, "vaccination", NOW - 29 * 24 * H, dose=2, vaccine="BioNTech"),
        EventRow(ta, "pcr", NOW - 5 * H, negative=False),
        EventRow(tb, "risk", NOW - 24 * H, risk_kind="contact", ended_at=NOW),
        EventRow(ta, "infection", NOW - 90 * 24 * H),
    ]
    with db.begin() as conn:
        assert bulk_repo.upsert_events(conn, ENV, updated) == {}
    assert event_counts(db, list(ids.values()))["vaccinations"] == 2
    with db.connect() as conn:
        vaccine = conn.execute(
            select(vaccinations.c.vaccine, vaccinations.c.administered_at).where(
                vaccinations.c.person_id == ids[ta], vaccinations.c.dose_number == 2
            )
        ).one()
        result = conn.execute(
            select(pcr_results.c.result).where(pcr_results.c.person_id == ids[ta])
        ).scalar_one()
        ended = conn.execute(
            select(risk_periods.c.ended_at).where(
                risk_periods.c.person_id == ids[tb], risk_periods.c.kind == "contact"
            )
        ).scalar_one()
    assert tuple(vaccine) == ("BioNTech", NOW - 29 * 24 * H)
    assert (result, ended) == ("POSITIVE", NOW)


def test_events_of_an_unknown_person_are_refused_the_rest_written(db: Engine) -> None:
    [a] = people(1)
    write_persons(db, [a])
    events = [
        EventRow(random_tckn(_rng), "infection", NOW),
        EventRow(a.identity_number, "infection", NOW),
        EventRow(a.identity_number, "vaccination", NOW, dose=1, vaccine="X" * 101),
    ]
    with db.begin() as conn:
        refused = bulk_repo.upsert_events(conn, ENV, events)
        ids = bulk_repo.person_ids(conn, ENV, [a.identity_number])
    assert refused == {
        0: bulk_repo.UNKNOWN_PERSON,
        2: "vaccine is longer than 100 characters",
    }
    assert event_counts(db, list(ids.values()))["infections"] == 1


def test_times_in_other_offsets_are_the_same_key(db: Engine) -> None:
    """A key is an instant: 12:00+03:00 and 09:00Z are one infection."""
    [a] = people(1)
    write_persons(db, [a])
    istanbul = NOW.astimezone(ISTANBUL)
    assert istanbul.hour == 12
    with db.begin() as conn:
        bulk_repo.upsert_events(conn, ENV, [EventRow(a.identity_number, "infection", NOW)])
        bulk_repo.upsert_events(conn, ENV, [EventRow(a.identity_number, "infection", istanbul)])
        ids = bulk_repo.person_ids(conn, ENV, [a.identity_number])
    assert event_counts(db, list(ids.values()))["infections"] == 1


# --- death forms -------------------------------------------------------------------------------

_form_numbers = iter(range(_rng.randrange(10**9, 5 * 10**9), 10**10))
CANKAYA = Place(6, 1231)


def death(**changes: Any) -> DeathRecord:
    base = DeathRecord(
        form_no=str(next(_form_numbers)),
        referans_no="ABCDEFGH",
        identity_number="10000000146",
        passport_no=None,
        nationality="TR",
        first_name="AYŞE",
        last_name="YILDIRIM",
        father_name=None,
        mother_name=None,
        birth_date=None,
        birth_place=None,
        sex=2,
        died_at=NOW - 24 * H,
        place_of_death_type=1,
        death_place=CANKAYA,
        residence=CANKAYA,
        manner=1,
        maternal_status=None,
        registered_at=NOW - 20 * H,
        updated_at=None,
        causes=(Cause(1, "I21.9", "2 saat"), Cause(4, "I25.1", None)),
    )
    return replace(base, **changes)


def write_deaths(db: Engine, records: list[DeathRecord], now: datetime = NOW) -> dict[int, str]:
    with db.begin() as conn:
        return bulk_repo.upsert_deaths(conn, ENV, records, now)


def form_ids(db: Engine, records: list[DeathRecord]) -> list[int]:
    with db.connect() as conn:
        return list(
            conn.execute(
                select(death_forms.c.id).where(
                    death_forms.c.form_no.in_([r.form_no for r in records])
                )
            ).scalars()
        )


def test_deaths_rerun_writes_no_duplicate_and_no_history(db: Engine) -> None:
    records = [death() for _ in range(12)]
    assert write_deaths(db, records) == {}
    assert write_deaths(db, records, NOW + 24 * H) == {}
    ids = form_ids(db, records)
    assert len(ids) == 12
    assert count(db, death_causes, death_causes.c.form_id.in_(ids)) == 24
    assert count(db, death_form_history, death_form_history.c.form_id.in_(ids)) == 12
    with db.connect() as conn:
        updated = set(
            conn.execute(
                select(death_forms.c.updated_at).where(death_forms.c.id.in_(ids))
            ).scalars()
        )
    assert updated == {None}


def test_a_changed_form_on_rerun_is_corrected_with_one_history_row(db: Engine) -> None:
    first, other = death(), death()
    write_deaths(db, [first, other])
    corrected = replace(first, manner=2, causes=(Cause(1, "J18.9", None),))
    later = NOW + 24 * H
    assert write_deaths(db, [corrected, other], later) == {}
    [form_id] = form_ids(db, [first])
    with db.connect() as conn:
        manner, updated_at = conn.execute(
            select(death_forms.c.manner, death_forms.c.updated_at).where(
                death_forms.c.id == form_id
            )
        ).one()
        history = conn.execute(
            select(
                death_form_history.c.action, death_form_history.c.at, death_form_history.c.changes
            )
            .where(death_form_history.c.form_id == form_id)
            .order_by(death_form_history.c.id)
        ).all()
        causes = (
            conn.execute(select(death_causes.c.icd_code).where(death_causes.c.form_id == form_id))
            .scalars()
            .all()
        )
    assert (manner, updated_at) == (2, later)
    assert [(h.action, h.at) for h in history] == [
        ("registered", first.registered_at),
        ("corrected", later),
    ]
    assert '"manner": [1, 2]' in history[1].changes
    assert causes == ["J18.9"]
    # the untouched form kept its single history row; a third run changes nothing more
    assert (
        count(db, death_form_history, death_form_history.c.form_id.in_(form_ids(db, [other]))) == 1
    )
    write_deaths(db, [corrected], later + H)
    assert count(db, death_form_history, death_form_history.c.form_id == form_id) == 2


def test_a_form_no_with_another_referans_no_is_refused(db: Engine) -> None:
    stored = death()
    write_deaths(db, [stored])
    thief = replace(stored, referans_no="ZZZZZZZZ", first_name="FATMA")
    fine = death()
    assert write_deaths(db, [thief, fine]) == {0: bulk_repo.FORM_NO_TAKEN}
    assert len(form_ids(db, [stored])) == 1
    assert len(form_ids(db, [fine])) == 1


def test_a_form_no_with_two_referans_nos_in_one_batch_keeps_the_first(db: Engine) -> None:
    record = death()
    twin = replace(record, referans_no="ZZZZZZZZ")
    assert write_deaths(db, [record, twin]) == {1: bulk_repo.FORM_NO_TAKEN}
    with db.connect() as conn:
        refs = (
            conn.execute(
                select(death_forms.c.referans_no).where(death_forms.c.form_no == record.form_no)
            )
            .scalars()
            .all()
        )
    assert refs == ["ABCDEFGH"]


def test_a_form_repeated_in_one_batch_is_written_once_the_last_wins(db: Engine) -> None:
    record = death()
    assert write_deaths(db, [record, replace(record, manner=2)]) == {}
    [form_id] = form_ids(db, [record])
    with db.connect() as conn:
        manner = conn.execute(
            select(death_forms.c.manner).where(death_forms.c.id == form_id)
        ).scalar_one()
    assert manner == 2
    assert count(db, death_form_history, death_form_history.c.form_id == form_id) == 1


def test_a_form_value_longer_than_its_column_is_refused(db: Engine) -> None:
    records = [death(birth_place="Ş" * 101), death(), death(form_no="1" * 21)]
    assert write_deaths(db, records) == {
        0: "birth_place is longer than 100 characters",
        2: "form_no is longer than 20 characters",
    }
    assert len(form_ids(db, records)) == 1


def test_district_plates_reads_every_district(db: Engine) -> None:
    with db.connect() as conn:
        plates = bulk_repo.district_plates(conn)
    assert plates[1231] == 6
    assert plates[1421] == 34
    assert len(plates) == 973


# --- batches in one transaction; values as they are read back ------------------------------------


def test_two_batches_in_one_transaction_are_both_written_once(db: Engine) -> None:
    """A staging table used twice before a commit (PostgreSQL) holds the second batch only."""
    first, second = people(40), people(25)
    with db.begin() as conn:
        assert bulk_repo.upsert_persons(conn, ENV, first, NOW) == {}
        assert bulk_repo.upsert_persons(conn, ENV, second, NOW) == {}
    wanted = ids_of(first + second)
    assert count(db, persons, persons.c.env == ENV, persons.c.identity_number.in_(wanted)) == 65


def test_a_batch_reads_back_what_one_row_at_a_time_would_have_written(db: Engine) -> None:
    """Times in any offset, names with Turkish letters and a backslash, a tab, None: the bulk
    path binds values as the single-row path does."""
    holder = people(1)[0]
    odd = PersonRow(random_tckn(_rng), "ŞÜKRÜ\\\tİĞNE", "ÖZ ÇAĞ", consent_test=True)
    write_persons(db, [holder, odd])
    istanbul = timezone(timedelta(hours=3))
    at = datetime(2026, 2, 3, 4, 5, 6, 789_000, tzinfo=istanbul)
    code = CodeRow("T1S23456T7", holder.identity_number, at, at + timedelta(days=30), None)
    with db.begin() as conn:
        assert bulk_repo.upsert_codes(conn, ENV, [code]) == {}
    with db.connect() as conn:
        stored = conn.execute(
            select(persons.c.first_name, persons.c.last_name, persons.c.consent_test).where(
                persons.c.identity_number == odd.identity_number
            )
        ).one()
        times = conn.execute(
            select(hes_codes.c.created_at, hes_codes.c.expires_at, hes_codes.c.cancelled_at).where(
                hes_codes.c.code == "T1S23456T7"
            )
        ).one()
    assert tuple(stored) == ("ŞÜKRÜ\\\tİĞNE", "ÖZ ÇAĞ", True)
    assert times == (at.astimezone(UTC), (at + timedelta(days=30)).astimezone(UTC), None)
