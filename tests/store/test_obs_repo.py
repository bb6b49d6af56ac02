"""obs_repo: the ByDate feeds (registered / updated in a UTC window, by scope and IlKodu), the
history every change leaves, fixture removal, and district loading."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from saglik.domain.obs import Cause, DeathRecord, Place, Scope, istanbul_day
from saglik.services.refdata import import_districts
from saglik.store import obs_repo
from saglik.store.prepared import ThreadConnections
from saglik.store.schema import death_causes, death_form_history, death_forms, districts
from tests.store.backends import backend_of, blank_engine
from tests.store.readers import reading

ENV = "live"
DAY = date(2025, 3, 14)
START, END = istanbul_day(DAY)
H = timedelta(hours=1)
EVERYONE = Scope()
CANKAYA = Place(6, 1231)

# Districts from the shared list: 1231 Çankaya (6), 1130 Keçiören (6), 1421 Kadıköy (34),
# 1104 Seyhan (1), 2039 Muratpaşa (7).


@pytest.fixture(scope="module")
def db(store: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """A migrated database of this module's own, with the shared districts."""
    with blank_engine(backend_of(store), tmp_path_factory.mktemp("obs"), migrated=True) as engine:
        import_districts(engine)
        yield engine


_serial = iter(range(1_000_000_000, 9_999_999_999))


def record(
    *,
    death: Place = CANKAYA,
    residence: Place = CANKAYA,
    registered_at: datetime = START + H,
    manner: int = 1,
    **changes: object,
) -> DeathRecord:
    base = DeathRecord(
        form_no=str(next(_serial)),
        referans_no="ABCDEFGH",
        identity_number="10000000146",
        passport_no=None,
        nationality="TR",
        first_name="AYŞE",
        last_name="YILMAZ",
        father_name=None,
        mother_name=None,
        birth_date=date(1950, 1, 1),
        birth_place=None,
        sex=2,
        died_at=registered_at - 5 * H,
        place_of_death_type=1,
        death_place=death,
        residence=residence,
        manner=manner,
        maternal_status=None,
        registered_at=registered_at,
        updated_at=None,
        causes=(Cause(1, "I21.9", "2 saat"),),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def insert(db: Engine, *records: DeathRecord, env: str = ENV) -> list[int]:
    with db.begin() as conn:
        return [obs_repo.insert_form(conn, env, r) for r in records]


def registered(db: Engine, day: date, scope: Scope = EVERYONE, il: int | None = None, **kw):
    start, end = istanbul_day(day)
    readers = ThreadConnections(db)
    try:
        return obs_repo.forms_registered_between(readers, ENV, start, end, scope, il, **kw)
    finally:
        readers.close()


def updated(db: Engine, day: date, scope: Scope = EVERYONE, il: int | None = None):
    start, end = istanbul_day(day)
    readers = ThreadConnections(db)
    try:
        return obs_repo.forms_updated_between(readers, ENV, start, end, scope, il)
    finally:
        readers.close()


def pair(r: DeathRecord) -> tuple[str, str]:
    return (r.form_no, r.referans_no)


# --- registered feed ---------------------------------------------------------------------------


def test_the_registered_feed_is_one_istanbul_day_half_open(db: Engine) -> None:
    day = date(2025, 1, 10)
    start, end = istanbul_day(day)
    first = record(registered_at=start)
    last = record(registered_at=end - timedelta(microseconds=1))
    before = record(registered_at=start - timedelta(seconds=1))
    after = record(registered_at=end)
    insert(db, after, last, before, first)
    assert registered(db, day) == [pair(first), pair(last)]
    assert pair(after) in registered(db, date(2025, 1, 11))


def test_the_registered_feed_keeps_environments_apart(db: Engine) -> None:
    day = date(2025, 1, 12)
    start, _ = istanbul_day(day)
    live, test = record(registered_at=start + H), record(registered_at=start + H)
    insert(db, live)
    insert(db, test, env="test")
    assert registered(db, day) == [pair(live)]


def test_scope_and_ilkodu_select_by_place_of_death_or_residence(db: Engine) -> None:
    day = date(2025, 1, 14)
    at = istanbul_day(day)[0] + H
    in_ankara = record(registered_at=at, death=Place(6, 1231), residence=Place(6, 1231))
    died_in_ankara = record(registered_at=at, death=Place(6, 1130), residence=Place(34, 1421))
    resident_of_ankara = record(registered_at=at, death=Place(7, 2039), residence=Place(6, 1231))
    elsewhere = record(registered_at=at, death=Place(1, 1104), residence=Place(34, 1421))
    insert(db, in_ankara, died_in_ankara, resident_of_ankara, elsewhere)
    everyone = [pair(in_ankara), pair(died_in_ankara), pair(resident_of_ankara), pair(elsewhere)]

    assert registered(db, day) == everyone
    ankara = [pair(in_ankara), pair(died_in_ankara), pair(resident_of_ankara)]
    assert registered(db, day, Scope(6)) == ankara
    assert registered(db, day, il=6) == ankara
    assert registered(db, day, Scope(6, 1231)) == [pair(in_ankara), pair(resident_of_ankara)]
    assert registered(db, day, Scope(6, 1130)) == [pair(died_in_ankara)]
    assert registered(db, day, il=34) == [pair(died_in_ankara), pair(elsewhere)]
    # Scope and IlKodu together: both must hold.
    assert registered(db, day, Scope(6), il=34) == [pair(died_in_ankara)]
    assert registered(db, day, Scope(6, 1231), il=7) == [pair(resident_of_ankara)]
    assert registered(db, day, Scope(1), il=6) == []


def test_the_forensic_feed_filters_on_manner(db: Engine) -> None:
    day = date(2025, 1, 16)
    at = istanbul_day(day)[0] + H
    forms = [record(registered_at=at, manner=m) for m in (1, 3, 4, 5)]
    insert(db, *forms)
    assert registered(db, day, manners={3, 4}) == [pair(forms[1]), pair(forms[2])]
    assert len(registered(db, day)) == 4


# --- history and the updated feed --------------------------------------------------------------


def history(db: Engine, form_id: int) -> list[tuple[str, datetime, object]]:
    with db.connect() as conn:
        rows = conn.execute(
            select(
                death_form_history.c.action, death_form_history.c.at, death_form_history.c.changes
            )
            .where(death_form_history.c.form_id == form_id)
            .order_by(death_form_history.c.id)
        ).all()
    return [(a, at, json.loads(c) if c else None) for a, at, c in rows]


def test_registration_correction_approval_and_return_each_leave_a_history_row(db: Engine) -> None:
    at = datetime(2025, 2, 1, 8, 0, tzinfo=UTC)
    original = record(registered_at=at)
    (form_id,) = insert(db, original)
    corrected_at, approved_at, returned_at = at + 24 * H, at + 48 * H, at + 72 * H
    fixed = replace(
        original,
        manner=3,
        causes=(Cause(1, "S06.9", "1 saat"), Cause(4, "I61.9", None)),
    )
    with db.begin() as conn:
        changes = obs_repo.correct_form(conn, ENV, form_id, fixed, corrected_at)
        obs_repo.set_status(conn, ENV, form_id, obs_repo.APPROVED, approved_at)
        obs_repo.set_status(conn, ENV, form_id, obs_repo.RETURNED, returned_at)

    assert changes == {
        "manner": [1, 3],
        "causes": [[(1, "I21.9", "2 saat")], [(1, "S06.9", "1 saat"), (4, "I61.9", None)]],
    }
    rows = history(db, form_id)
    assert [(a, t) for a, t, _ in rows] == [
        ("registered", at),
        ("corrected", corrected_at),
        ("approved", approved_at),
        ("returned", returned_at),
    ]
    assert rows[1][2] == {
        "manner": [1, 3],
        "causes": [[[1, "I21.9", "2 saat"]], [[1, "S06.9", "1 saat"], [4, "I61.9", None]]],
    }
    with reading(db) as readers:
        (stored,) = obs_repo.by_form(
            readers, ENV, original.form_no, original.referans_no, with_causes=True
        )
    with db.connect() as conn:
        status = conn.execute(
            select(death_forms.c.status).where(death_forms.c.id == form_id)
        ).scalar_one()
    assert stored.manner == 3
    assert stored.causes == fixed.causes
    assert stored.updated_at == returned_at
    assert stored.registered_at == at
    assert status == "returned"


def test_a_correction_that_changes_nothing_still_records_history(db: Engine) -> None:
    original = record(registered_at=datetime(2025, 2, 5, 8, 0, tzinfo=UTC))
    (form_id,) = insert(db, original)
    with db.begin() as conn:
        changes = obs_repo.correct_form(
            conn, ENV, form_id, original, datetime(2025, 2, 6, 8, tzinfo=UTC)
        )
    assert changes == {}
    assert [a for a, _, _ in history(db, form_id)] == ["registered", "corrected"]


def test_the_updated_feed_lists_forms_changed_that_day_once_and_not_registrations(
    db: Engine,
) -> None:
    day = date(2025, 2, 20)
    start, end = istanbul_day(day)
    registered_only = record(registered_at=start + H)
    corrected_twice = record(registered_at=start - 48 * H)
    approved_late = record(
        registered_at=start - 48 * H, death=Place(34, 1421), residence=Place(34, 1421)
    )
    approved_next_day = record(registered_at=start - 48 * H)
    ids = insert(db, registered_only, corrected_twice, approved_late, approved_next_day)
    with db.begin() as conn:
        obs_repo.correct_form(conn, ENV, ids[1], corrected_twice, start)
        obs_repo.correct_form(conn, ENV, ids[1], corrected_twice, start + 2 * H)
        obs_repo.set_status(conn, ENV, ids[2], obs_repo.APPROVED, end - timedelta(seconds=1))
        obs_repo.set_status(conn, ENV, ids[3], obs_repo.APPROVED, end)

    assert updated(db, day) == [pair(corrected_twice), pair(approved_late)]
    assert updated(db, day, Scope(6)) == [pair(corrected_twice)]
    assert updated(db, day, il=34) == [pair(approved_late)]
    assert updated(db, day, Scope(6, 1130)) == []
    assert updated(db, day + timedelta(days=1)) == [pair(approved_next_day)]


# --- delete_forms ------------------------------------------------------------------------------


def test_delete_forms_removes_the_forms_their_causes_and_history_in_one_environment(
    db: Engine,
) -> None:
    at = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
    gone, kept = record(registered_at=at), record(registered_at=at)
    same_number_test = replace(gone, referans_no="ZZZZZZZZ")
    ids = insert(db, gone, kept)
    (test_id,) = insert(db, same_number_test, env="test")
    with db.begin() as conn:
        obs_repo.set_status(conn, ENV, ids[0], obs_repo.APPROVED, at + H)
        obs_repo.delete_forms(conn, ENV, [gone.form_no, "0000000000"])

    def counts(form_id: int) -> tuple[int, int, int]:
        with db.connect() as conn:
            return tuple(  # type: ignore[return-value]
                conn.execute(select(func.count()).where(col == form_id)).scalar_one()
                for col in (death_forms.c.id, death_causes.c.form_id, death_form_history.c.form_id)
            )

    assert counts(ids[0]) == (0, 0, 0)
    assert counts(ids[1]) == (1, 1, 1)
    assert counts(test_id) == (1, 1, 1)


def test_delete_forms_with_no_numbers_deletes_nothing(db: Engine) -> None:
    (form_id,) = insert(db, record(registered_at=datetime(2025, 3, 2, tzinfo=UTC)))
    with db.begin() as conn:
        before = conn.execute(select(func.count()).select_from(death_forms)).scalar_one()
        obs_repo.delete_forms(conn, ENV, [])
        after = conn.execute(select(func.count()).select_from(death_forms)).scalar_one()
    assert before == after
    assert history(db, form_id)


# --- districts ---------------------------------------------------------------------------------


def test_the_shared_districts_are_loaded(db: Engine) -> None:
    with db.connect() as conn:
        assert conn.execute(select(func.count()).select_from(districts)).scalar_one() == 973
        assert obs_repo.district_plate(conn, 1231) == 6
        assert obs_repo.district_plate(conn, 999_999) is None
    with reading(db) as readers:
        assert obs_repo.district_names(readers, [1231, None, 1421, 1231]) == {
            1231: "Çankaya",
            1421: "Kadıköy",
        }
        assert obs_repo.district_names(readers, [None]) == {}


def test_upsert_districts_is_idempotent_and_renames(store: Engine, tmp_path: Path) -> None:
    with blank_engine(backend_of(store), tmp_path, migrated=True) as engine:

        def table() -> list[tuple[int, int, str]]:
            with engine.connect() as conn:
                return [
                    tuple(r) for r in conn.execute(select(districts).order_by(districts.c.code))
                ]

        rows = [(1, 6, "Birinci"), (2, 34, "İkinci")]
        with engine.begin() as conn:
            assert obs_repo.upsert_districts(conn, rows) == 2
        with engine.begin() as conn:
            assert obs_repo.upsert_districts(conn, rows) == 2
        assert table() == [(1, 6, "Birinci"), (2, 34, "İkinci")]

        with engine.begin() as conn:
            obs_repo.upsert_districts(conn, [(2, 35, "Yeni Ad"), (3, 1, "Üçüncü")])
        assert table() == [(1, 6, "Birinci"), (2, 35, "Yeni Ad"), (3, 1, "Üçüncü")]
