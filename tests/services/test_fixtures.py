"""Test-environment fixtures (contract §4.6): one code per category, stable, idempotent to apply,
and valid relative to whatever "now" the clock says."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from saglik.domain.clock import ManualClock
from saglik.domain.hes import HealthStatus, HesCodeExpired
from saglik.domain.hescode import lookup_key
from saglik.domain.pseudonym import Pseudonymizer
from saglik.domain.tckn import is_valid_tckn
from saglik.domain.turkish import normalize_name
from saglik.services.fixtures import TEST_ENV, apply_hes_fixtures, hes_fixtures
from saglik.services.hes import HesQueryService
from saglik.store.schema import (
    hes_codes,
    infections,
    pcr_results,
    persons,
    risk_periods,
    vaccinations,
)
from tests.hes_fixture_support import DOCUMENT_CATEGORIES
from tests.store.backends import backend_of, blank_engine

H = timedelta(hours=1)
INSTANTS = [
    datetime(2015, 3, 29, 1, 30, tzinfo=UTC),  # Istanbul still kept summer time then
    datetime(2026, 6, 15, 9, 0, tzinfo=UTC),
    datetime(2044, 2, 29, 23, 59, 59, tzinfo=UTC),
    datetime(2061, 8, 31, 21, 0, tzinfo=UTC),
]


# code → (status, is_vaccinated, is_immune, hours since the shown negative test, test shared)
EXPECTED: dict[str, tuple[HealthStatus, bool | None, bool | None, int | None, bool]] = {
    "A1S10001S1": (HealthStatus.RISKLESS, True, False, None, True),
    "B2S20002S2": (HealthStatus.RISKLESS, False, True, None, True),
    "C3S30003S3": (HealthStatus.RISKLESS, False, False, 6, True),
    "D4S40004S4": (HealthStatus.RISKY, None, None, None, True),
    "E5S50005S5": (HealthStatus.RISKLESS, True, True, 10, True),
    "F6S60006S6": (HealthStatus.RISKLESS, True, True, None, True),
    "G7S70007S7": (HealthStatus.RISKLESS, True, False, 20, True),
    "H8S80008S8": (HealthStatus.RISKLESS, False, True, 30, True),
    "K2S10010S0": (HealthStatus.RISKLESS, None, None, None, False),
    "L3S11011S1": (HealthStatus.RISKLESS, False, False, None, True),
}
EXPIRED = "J1S90009S9"


def fixture_counts(engine: Engine) -> dict[str, int]:
    ids = select(persons.c.id).where(
        persons.c.env == TEST_ENV,
        persons.c.identity_number.in_([f.identity_number for f in hes_fixtures()]),
    )
    counts = {}
    with engine.connect() as conn:
        for table in (vaccinations, infections, pcr_results, risk_periods):
            counts[table.name] = conn.execute(
                select(func.count()).select_from(table).where(table.c.person_id.in_(ids))
            ).scalar_one()
        counts["persons"] = conn.execute(
            select(func.count()).select_from(persons).where(persons.c.env == TEST_ENV)
        ).scalar_one()
        counts["codes"] = conn.execute(
            select(func.count()).select_from(hes_codes).where(hes_codes.c.env == TEST_ENV)
        ).scalar_one()
        counts["live"] = conn.execute(
            select(func.count()).select_from(persons).where(persons.c.env == "live")
        ).scalar_one()
    return counts


def test_there_is_one_fixture_per_document_category_plus_expired_no_consent_and_plain() -> None:
    categories = [f.category for f in hes_fixtures()]
    assert len(categories) == len(set(categories)) == 11
    assert set(categories) >= set(DOCUMENT_CATEGORIES)
    assert {f.code for f in hes_fixtures()} == set(EXPECTED) | {EXPIRED}


def test_fixture_codes_are_valid_codes_ending_in_s_and_a_digit() -> None:
    for fx in hes_fixtures():
        assert lookup_key(fx.code) == fx.code
        assert fx.code[-2] == "S"
        assert fx.code[-1].isdigit()


def test_fixture_people_have_valid_identity_numbers_and_stored_form_names() -> None:
    numbers = [f.identity_number for f in hes_fixtures()]
    assert len(set(numbers)) == len(numbers)
    for fx in hes_fixtures():
        assert is_valid_tckn(fx.identity_number)
        assert fx.first_name == normalize_name(fx.first_name)
        assert fx.last_name == normalize_name(fx.last_name)


def test_applying_the_fixtures_twice_changes_nothing(fresh_store: Engine) -> None:
    clock = ManualClock(INSTANTS[1])
    apply_hes_fixtures(fresh_store, clock)
    first = fixture_counts(fresh_store)
    apply_hes_fixtures(fresh_store, clock)
    assert fixture_counts(fresh_store) == first
    assert first["persons"] == first["codes"] == len(hes_fixtures())
    assert first["live"] == 0
    assert first["risk_periods"] == 1


def test_applying_the_fixtures_at_another_instant_moves_them_instead_of_adding(
    fresh_store: Engine,
) -> None:
    apply_hes_fixtures(fresh_store, ManualClock(INSTANTS[1]))
    first = fixture_counts(fresh_store)
    apply_hes_fixtures(fresh_store, ManualClock(INSTANTS[-1]))
    apply_hes_fixtures(fresh_store, ManualClock(INSTANTS[0]))
    assert fixture_counts(fresh_store) == first


@pytest.mark.parametrize("now", INSTANTS, ids=[i.strftime("%Y-%m-%d") for i in INSTANTS])
def test_every_fixture_answers_its_category_at_any_instant(
    fresh_store: Engine, now: datetime
) -> None:
    clock = ManualClock(now)
    apply_hes_fixtures(fresh_store, clock)
    service = HesQueryService(fresh_store, clock, Pseudonymizer(b"k" * 32))
    for code, (status, vaccinated, immune, negative_hours, shared) in EXPECTED.items():
        outcome = service.check(TEST_ENV, code, plus=True)
        assert outcome.error is None, code
        result = outcome.result
        assert result is not None
        assert result.current_health_status is status, code
        assert result.expiration_date > now
        assert result.plus is not None
        assert result.plus.is_vaccinated == vaccinated, code
        assert result.plus.is_immune == immune, code
        expected_negative = None if negative_hours is None else now - negative_hours * H
        assert result.plus.last_negative_test_date == expected_negative, code
        assert result.plus.is_test_data_shared is shared, code
    expired = service.check(TEST_ENV, EXPIRED, plus=True)
    assert isinstance(expired.error, HesCodeExpired)


def test_the_fixtures_exist_only_in_the_test_environment(fresh_store: Engine) -> None:
    clock = ManualClock(INSTANTS[1])
    apply_hes_fixtures(fresh_store, clock)
    service = HesQueryService(fresh_store, clock, Pseudonymizer(b"k" * 32))
    outcome = service.check_many("live", [f.code for f in hes_fixtures()], plus=False)
    assert outcome.success == {}
    assert set(outcome.failure.values()) == {"hescodenotfound"}


WORKERS = 8


def test_workers_applying_the_fixtures_at_once_to_an_empty_store_leave_one_set(
    store: Engine, tmp_path: Path
) -> None:
    clock = ManualClock(INSTANTS[1])
    with blank_engine(backend_of(store), tmp_path, migrated=True) as empty:
        warm = [empty.connect() for _ in range(WORKERS)]  # no worker waits for a new connection
        for conn in warm:
            conn.close()
        start = threading.Barrier(WORKERS)
        errors: list[BaseException] = []

        def worker() -> None:
            start.wait()
            try:
                apply_hes_fixtures(empty, clock)
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=worker) for _ in range(WORKERS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        counts = fixture_counts(empty)
        assert counts["persons"] == counts["codes"] == len(hes_fixtures())
        apply_hes_fixtures(empty, clock)
        assert fixture_counts(empty) == counts
