"""The demo population written through the batch upserts, on both backends: what the summary
counts is what the store holds, a second run adds nothing, and every generated death form is one
the registry itself would accept."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from saglik.domain.clock import ManualClock
from saglik.domain.population import anchor_for, generate_population
from saglik.services import demo
from saglik.services.demo import DemoError
from saglik.services.fixtures import apply_hes_fixtures, hes_fixtures
from saglik.services.obs import (
    DeathFormInput,
    ObsRegistryService,
    check_places_and_time,
    submitted_form,
)
from saglik.services.obs_fixtures import apply_obs_fixtures
from saglik.services.refdata import import_districts
from saglik.store import changes_repo, hes_repo
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
from tests.conftest import BASE_TIME
from tests.store.backends import backend_of, blank_engine

PERSONS = 1_500
SEED = 21


@pytest.fixture(scope="module")
def demo_store(fresh_store: Engine) -> Engine:
    import_districts(fresh_store)
    return fresh_store


@pytest.fixture(scope="module")
def first_run(demo_store: Engine) -> tuple[demo.DemoSummary, dict[str, int]]:
    """One generation in live, and the store's row counts right after it."""
    summary = demo.generate(
        demo_store, ManualClock(BASE_TIME), persons=PERSONS, years=5, seed=SEED, env="live"
    )
    return summary, _counts(demo_store, "live")


def _count(conn: Any, table: Any, env: str) -> int:
    if "env" in table.c:
        query = select(func.count()).select_from(table).where(table.c.env == env)
    else:
        query = (
            select(func.count())
            .select_from(table.join(persons, persons.c.id == table.c.person_id))
            .where(persons.c.env == env)
        )
    return int(conn.execute(query).scalar_one())


def _counts(engine: Engine, env: str) -> dict[str, int]:
    with engine.connect() as conn:
        counts = {
            t.name: _count(conn, t, env)
            for t in (persons, hes_codes, vaccinations, infections, pcr_results, risk_periods)
        }
        counts["death_forms"] = _count(conn, death_forms, env)
        counts["history"] = _count(conn, death_form_history, env)
        counts["causes"] = int(
            conn.execute(
                select(func.count())
                .select_from(death_causes.join(death_forms))
                .where(death_forms.c.env == env)
            ).scalar_one()
        )
    return counts


def _population(engine: Engine, count: int = PERSONS, seed: int = SEED) -> list[Any]:
    return list(
        generate_population(
            demo.tables(),
            seed=seed,
            count=count,
            years=5,
            anchor=anchor_for(BASE_TIME),
            districts=demo.load_districts(engine),
            exclude_identity_numbers=demo.reserved_identity_numbers(),
        )
    )


def test_the_summary_counts_what_the_store_holds(
    first_run: tuple[demo.DemoSummary, dict[str, int]],
) -> None:
    summary, counts = first_run
    assert summary.env == "live"
    assert summary.anchor == datetime(2026, 6, 15, tzinfo=UTC)
    assert summary.persons == counts["persons"] == PERSONS
    assert summary.codes == counts["hes_codes"] == PERSONS
    events = sum(counts[t] for t in ("vaccinations", "infections", "pcr_results", "risk_periods"))
    assert summary.events == events
    assert summary.deaths == counts["death_forms"] == counts["history"] > 0
    assert counts["causes"] >= summary.deaths
    assert summary.refused == 0
    assert 0 <= summary.forensic + summary.external + summary.maternal <= summary.deaths
    assert summary.seconds > 0
    line = summary.line()
    assert f"{PERSONS:,} persons" in line
    assert f"{summary.deaths:,} deaths" in line


def test_a_second_run_with_the_same_seed_adds_nothing(
    demo_store: Engine, first_run: tuple[demo.DemoSummary, dict[str, int]]
) -> None:
    summary, counts = first_run
    again = demo.generate(
        demo_store, ManualClock(BASE_TIME.replace(hour=20)), persons=PERSONS, years=5, seed=SEED
    )
    assert _counts(demo_store, "live") == counts  # no new rows, no "corrected" history entry
    assert (again.persons, again.codes, again.events, again.deaths, again.refused) == (
        summary.persons,
        summary.codes,
        summary.events,
        summary.deaths,
        0,
    )
    with demo_store.connect() as conn:
        assert (
            conn.execute(
                select(func.count())
                .select_from(death_forms)
                .where(death_forms.c.updated_at.isnot(None))
            ).scalar_one()
            == 0
        )


def test_the_store_holds_what_the_generator_yields(
    demo_store: Engine, first_run: tuple[demo.DemoSummary, dict[str, int]]
) -> None:
    people = _population(demo_store)
    sample = people[:: len(people) // 50]
    with demo_store.connect() as conn:
        for p in sample:
            row = conn.execute(
                select(persons, hes_codes.c.code, hes_codes.c.expires_at, hes_codes.c.cancelled_at)
                .join(hes_codes, hes_codes.c.person_id == persons.c.id)
                .where(
                    persons.c.env == "live", persons.c.identity_number == p.person.identity_number
                )
            ).one()
            assert (row.first_name, row.last_name) == (p.person.first_name, p.person.last_name)
            assert (row.code, row.expires_at, row.cancelled_at) == (
                p.code.code,
                p.code.expires_at,
                p.code.cancelled_at,
            )
            assert (row.consent_vaccination, row.consent_immunity, row.consent_test) == (
                p.person.consent_vaccination,
                p.person.consent_immunity,
                p.person.consent_test,
            )


def test_every_generated_death_form_passes_the_registry_s_validation(demo_store: Engine) -> None:
    with demo_store.connect() as conn:
        plates = {
            code: plate for code, plate in conn.execute(select(districts.c.code, districts.c.plate))
        }
    deaths = [p.death for p in _population(demo_store, count=6_000, seed=5) if p.death]
    assert len(deaths) > 100
    for record in deaths:
        form = DeathFormInput.model_validate(submitted_form(record))
        check_places_and_time(form, BASE_TIME, plates.get)
        numbers = (record.form_no, record.referans_no)
        assert ObsRegistryService.to_record(form, numbers, record.registered_at) == record


def test_the_test_environment_s_fixtures_are_never_overwritten(demo_store: Engine) -> None:
    clock = ManualClock(BASE_TIME)
    apply_hes_fixtures(demo_store, clock)
    apply_obs_fixtures(demo_store)
    before = _fixture_rows(demo_store)
    summary = demo.generate(demo_store, clock, persons=400, years=5, seed=3, env="test")
    assert summary.refused == 0
    assert _fixture_rows(demo_store) == before
    assert _counts(demo_store, "test")["persons"] == 400 + len(before)


def _fixture_rows(engine: Engine) -> list[tuple[Any, ...]]:
    numbers = [fx.identity_number for fx in hes_fixtures()]
    with engine.connect() as conn:
        return [
            tuple(row)
            for row in conn.execute(
                select(persons.c.identity_number, persons.c.first_name, persons.c.last_name)
                .where(persons.c.env == "test", persons.c.identity_number.in_(numbers))
                .order_by(persons.c.identity_number)
            )
        ]


def test_progress_is_reported_batch_by_batch(demo_store: Engine) -> None:
    seen: list[tuple[int, int]] = []
    demo.generate(
        demo_store,
        ManualClock(BASE_TIME),
        persons=250,
        years=2,
        seed=99,
        env="test",
        progress=lambda done, total: seen.append((done, total)),
        batch=100,
    )
    assert seen == [(0, 250), (100, 250), (200, 250), (250, 250)]


def test_an_explicit_anchor_reproduces_another_day(demo_store: Engine) -> None:
    summary = demo.generate(
        demo_store,
        ManualClock(BASE_TIME),
        persons=10,
        years=5,
        seed=98,
        env="test",
        anchor=date(2026, 1, 2),
    )
    assert summary.anchor == datetime(2026, 1, 2, tzinfo=UTC)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"env": "prod"}, "env must be one of"),
        ({"persons": -1}, "persons must be"),
        ({"years": 0}, "years 1–100"),
    ],
)
def test_impossible_arguments_are_refused(
    demo_store: Engine, args: dict[str, Any], message: str
) -> None:
    call: dict[str, Any] = {"persons": 1, "years": 5, "seed": 1, **args}
    with pytest.raises(DemoError, match=message):
        demo.generate(demo_store, ManualClock(BASE_TIME), **call)


def test_has_persons_sees_the_generated_ones(
    demo_store: Engine, first_run: tuple[demo.DemoSummary, dict[str, int]]
) -> None:
    assert demo.has_persons(demo_store, "live")


def test_districts_are_read_from_the_store(demo_store: Engine) -> None:
    loaded = demo.load_districts(demo_store)
    assert sum(len(codes) for codes in loaded.values()) == 973
    assert set(loaded) == set(range(1, 82))
    assert all(codes == sorted(codes) for codes in loaded.values())
    with demo_store.connect() as conn:
        expected: dict[int, list[int]] = {}
        for code, plate in conn.execute(
            select(districts.c.code, districts.c.plate).order_by(districts.c.code)
        ):
            expected.setdefault(plate, []).append(code)
    assert loaded == expected


def test_every_run_is_in_the_change_log(
    demo_store: Engine, first_run: tuple[demo.DemoSummary, dict[str, int]]
) -> None:
    with demo_store.connect() as conn:
        runs = [
            c
            for c in changes_repo.list_changes(conn, entity="demo", limit=1_000)
            if c.env == "live"
        ]
    assert runs
    first = runs[-1]
    assert (first.actor, first.action, first.target, first.subject_ref) == (
        "system",
        "generate",
        None,
        None,
    )
    assert json.loads(first.after or "{}") == {
        "seed": SEED,
        "persons": PERSONS,
        "years": 5,
        "anchor": "2026-06-15 00:00:00+00:00",
    }


# --- the guard against real persons -------------------------------------------------------------


@pytest.fixture
def empty_store(store: Engine, tmp_path: Path) -> Iterator[Engine]:
    with blank_engine(backend_of(store), tmp_path, migrated=True) as engine:
        yield engine


def _names(engine: Engine, env: str, number: str) -> tuple[str, str] | None:
    with engine.connect() as conn:
        row = conn.execute(
            select(persons.c.first_name, persons.c.last_name).where(
                persons.c.env == env, persons.c.identity_number == number
            )
        ).first()
    return None if row is None else (row[0], row[1])


def _demo_runs(engine: Engine) -> int:
    with engine.connect() as conn:
        return len(changes_repo.list_changes(conn, entity="demo"))


def test_an_environment_with_persons_no_demo_run_wrote_is_refused(empty_store: Engine) -> None:
    clock = ManualClock(BASE_TIME)
    shared = _population(empty_store, count=5, seed=7)[0].person.identity_number
    with empty_store.begin() as conn:  # a real person who happens to have a demo number
        hes_repo.upsert_person(
            conn, env="live", identity_number=shared, first_name="GERÇEK", last_name="KİŞİ",
            now=BASE_TIME,
        )  # fmt: skip
    with pytest.raises(DemoError, match=r"already holds persons that no demo run wrote.*--force"):
        demo.generate(empty_store, clock, persons=5, years=5, seed=7, env="live")
    assert _names(empty_store, "live", shared) == ("GERÇEK", "KİŞİ")
    assert _counts(empty_store, "live")["persons"] == 1
    assert _demo_runs(empty_store) == 0

    # the other environment is empty: nothing to overwrite there
    assert demo.generate(empty_store, clock, persons=5, years=5, seed=7, env="test").persons == 5

    forced = demo.generate(empty_store, clock, persons=5, years=5, seed=7, env="live", force=True)
    assert forced.persons == 5
    assert _names(empty_store, "live", shared) != ("GERÇEK", "KİŞİ")  # what --force risks
    assert _demo_runs(empty_store) == 2

    # once a demo run wrote into live, a rerun needs no --force
    demo.generate(empty_store, clock, persons=5, years=5, seed=7, env="live")
    assert _demo_runs(empty_store) == 3


def test_the_test_fixtures_alone_do_not_stop_a_run(empty_store: Engine) -> None:
    clock = ManualClock(BASE_TIME)
    apply_hes_fixtures(empty_store, clock)
    apply_obs_fixtures(empty_store)
    assert demo.has_persons(empty_store, "test")
    assert demo.generate(empty_store, clock, persons=5, years=5, seed=7, env="test").persons == 5


def test_has_persons_in_the_repository(empty_store: Engine) -> None:
    with empty_store.begin() as conn:
        assert not hes_repo.has_persons(conn, "live")
        hes_repo.upsert_person(
            conn, env="live", identity_number="10000000146", first_name="A", last_name="B",
            now=BASE_TIME,
        )  # fmt: skip
        assert hes_repo.has_persons(conn, "live")
        assert not hes_repo.has_persons(conn, "test")
        assert not hes_repo.has_persons(conn, "live", excluding={"10000000146"})
        assert hes_repo.has_persons(conn, "live", excluding={"10000000078"})
