"""hes_repo.find_facts: one query for any number of codes, known codes only, one environment."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from saglik.domain.clock import ManualClock
from saglik.domain.hescode import generate_code
from saglik.services.hes import HesDataService
from saglik.store import hes_repo
from saglik.store.prepared import PreparedSelect, ThreadConnections
from saglik.store.schema import hes_codes
from tests.conftest import Holder
from tests.store.readers import reading

DAY = timedelta(days=1)
HOUR = timedelta(hours=1)


class _CountingCursor:
    def __init__(self, cursor: Any, statements: list[str]) -> None:
        self._cursor = cursor
        self._statements = statements

    def execute(self, statement: str, parameters: Any) -> Any:
        self._statements.append(statement)
        return self._cursor.execute(statement, parameters)

    def fetchall(self) -> Any:
        return self._cursor.fetchall()


@contextmanager
def counted(store: Engine) -> Iterator[tuple[ThreadConnections, list[str]]]:
    """Readers on ``store`` and every statement they send to the driver."""
    statements: list[str] = []
    original = PreparedSelect.rows

    def rows(query: PreparedSelect, cursor: Any, params: dict[str, Any]) -> Any:
        return original(query, _CountingCursor(cursor, statements), params)

    PreparedSelect.rows = rows  # type: ignore[method-assign]
    try:
        with reading(store) as readers:
            yield readers, statements
    finally:
        PreparedSelect.rows = original  # type: ignore[method-assign]


def test_known_codes_are_found_in_one_query_and_unknown_ones_are_left_out(
    store: Engine, clock: ManualClock, make_holder: Callable[..., Holder]
) -> None:
    first = make_holder(first_name="ömer faruk", last_name="şahin")
    second = make_holder(first_name="Işıl", last_name="İnce")
    unknown = generate_code()
    with counted(store) as (readers, statements):
        found = hes_repo.find_facts(
            readers, "live", [first.code, unknown, second.code], clock.now(), plus=True
        )
    assert len(statements) == 1
    assert set(found) == {first.code, second.code}
    facts = found[first.code]
    assert facts.code == first.code
    assert facts.identity_number == first.identity_number
    assert (facts.first_name, facts.last_name) == ("ÖMER FARUK", "ŞAHİN")
    assert (found[second.code].first_name, found[second.code].last_name) == ("IŞIL", "İNCE")
    assert facts.expires_at == clock.now() + timedelta(days=365)
    assert not facts.cancelled
    assert not facts.at_risk


def test_five_hundred_codes_take_one_query(
    store: Engine, clock: ManualClock, make_holder: Callable[..., Holder]
) -> None:
    holders = [make_holder() for _ in range(3)]
    codes = [h.code for h in holders] + [generate_code() for _ in range(497)]
    with counted(store) as (readers, statements):
        found = hes_repo.find_facts(readers, "live", codes, clock.now(), plus=True)
    assert len(statements) == 1
    assert set(found) == {h.code for h in holders}


def test_no_codes_means_no_query(store: Engine, clock: ManualClock) -> None:
    with counted(store) as (readers, statements):
        assert hes_repo.find_facts(readers, "live", [], clock.now(), plus=True) == {}
    assert statements == []


def test_a_repeated_code_is_found_once(
    store: Engine, clock: ManualClock, make_holder: Callable[..., Holder]
) -> None:
    holder = make_holder()
    with reading(store) as readers:
        found = hes_repo.find_facts(readers, "live", [holder.code] * 3, clock.now(), plus=False)
    assert list(found) == [holder.code]


def test_each_environment_sees_only_its_own_codes(
    store: Engine, clock: ManualClock, hes_data: HesDataService, make_holder: Callable[..., Holder]
) -> None:
    live = make_holder(env="live", first_name="Canlı", last_name="Kişi")
    sandbox = make_holder(env="test", first_name="Deneme", last_name="Kişi", code=live.code)
    only_live = make_holder(env="live")
    with reading(store) as readers:
        in_live = hes_repo.find_facts(
            readers, "live", [live.code, only_live.code], clock.now(), plus=False
        )
        in_test = hes_repo.find_facts(
            readers, "test", [live.code, only_live.code], clock.now(), plus=False
        )
    assert set(in_live) == {live.code, only_live.code}
    assert in_live[live.code].identity_number == live.identity_number
    assert in_live[live.code].first_name == "CANLI"
    assert set(in_test) == {live.code}
    assert in_test[live.code].identity_number == sandbox.identity_number
    assert in_test[live.code].first_name == "DENEME"


def test_the_plain_query_leaves_the_plus_facts_empty(
    store: Engine, clock: ManualClock, hes_data: HesDataService, make_holder: Callable[..., Holder]
) -> None:
    holder = make_holder()
    now = clock.now()
    hes_data.vaccinate("live", holder.identity_number, 1, "CoronaVac", now - 10 * DAY)
    hes_data.vaccinate("live", holder.identity_number, 2, "CoronaVac", now - 5 * DAY)
    hes_data.record_infection("live", holder.identity_number, now - DAY)
    hes_data.record_pcr("live", holder.identity_number, negative=True, at=now - HOUR)
    with reading(store) as readers:
        facts = hes_repo.find_facts(readers, "live", [holder.code], now, plus=False)[holder.code]
    assert (facts.vaccine_doses, facts.last_infection_at, facts.last_negative_test_at) == (
        0,
        None,
        None,
    )


def test_plus_facts_count_only_events_up_to_now(
    store: Engine, clock: ManualClock, hes_data: HesDataService, make_holder: Callable[..., Holder]
) -> None:
    holder = make_holder()
    tckn = holder.identity_number
    now = clock.now()
    hes_data.vaccinate("live", tckn, 1, "CoronaVac", now - 100 * DAY)
    hes_data.vaccinate("live", tckn, 2, "CoronaVac", now + DAY)  # entered ahead of time
    hes_data.record_infection("live", tckn, now - 90 * DAY)
    hes_data.record_infection("live", tckn, now - 30 * DAY)
    hes_data.record_infection("live", tckn, now + HOUR)
    hes_data.record_pcr("live", tckn, negative=True, at=now - 50 * HOUR)
    hes_data.record_pcr("live", tckn, negative=True, at=now - 20 * HOUR)
    hes_data.record_pcr("live", tckn, negative=False, at=now - 2 * HOUR)
    hes_data.record_pcr("live", tckn, negative=True, at=now + HOUR)
    with reading(store) as readers:
        facts = hes_repo.find_facts(readers, "live", [holder.code], now, plus=True)[holder.code]
        later = hes_repo.find_facts(readers, "live", [holder.code], now + 2 * DAY, plus=True)
    assert facts.vaccine_doses == 1
    assert facts.last_infection_at == now - 30 * DAY
    assert facts.last_negative_test_at == now - 20 * HOUR
    assert later[holder.code].vaccine_doses == 2
    assert later[holder.code].last_infection_at == now + HOUR
    assert later[holder.code].last_negative_test_at == now + HOUR


def at_risk(store: Engine, code: str, now: datetime) -> bool:
    with reading(store) as readers:
        return hes_repo.find_facts(readers, "live", [code], now, plus=False)[code].at_risk


def test_an_open_risk_period_makes_the_person_at_risk_from_its_start(
    store: Engine, clock: ManualClock, hes_data: HesDataService, make_holder: Callable[..., Holder]
) -> None:
    holder = make_holder()
    start = clock.now() + DAY
    hes_data.open_risk("live", holder.identity_number, "contact", start)
    assert not at_risk(store, holder.code, start - timedelta(microseconds=1))
    assert at_risk(store, holder.code, start)
    assert at_risk(store, holder.code, start + 300 * DAY)


def test_a_closed_risk_period_is_over_from_its_end(
    store: Engine, clock: ManualClock, hes_data: HesDataService, make_holder: Callable[..., Holder]
) -> None:
    holder = make_holder()
    start, end = clock.now() - 10 * DAY, clock.now() - DAY
    hes_data.open_risk("live", holder.identity_number, "case", start)
    assert hes_data.close_risk("live", holder.identity_number, end) == 1
    assert at_risk(store, holder.code, end - timedelta(microseconds=1))
    assert not at_risk(store, holder.code, end)
    assert not at_risk(store, holder.code, clock.now())


def test_a_code_is_cancelled_from_its_cancellation_time(
    store: Engine, clock: ManualClock, make_holder: Callable[..., Holder]
) -> None:
    holder = make_holder()
    cancelled_at = clock.now() + HOUR
    with store.begin() as conn:
        conn.execute(
            hes_codes.update()
            .where(hes_codes.c.env == "live", hes_codes.c.code == holder.code)
            .values(cancelled_at=cancelled_at)
        )
    with reading(store) as readers:
        before = hes_repo.find_facts(
            readers, "live", [holder.code], cancelled_at - HOUR, plus=False
        )
        after = hes_repo.find_facts(readers, "live", [holder.code], cancelled_at, plus=False)
    assert not before[holder.code].cancelled
    assert after[holder.code].cancelled


def test_consent_flags_come_from_the_person(
    store: Engine, clock: ManualClock, hes_data: HesDataService, make_holder: Callable[..., Holder]
) -> None:
    holder = make_holder()
    with reading(store) as readers:
        facts = hes_repo.find_facts(readers, "live", [holder.code], clock.now(), plus=False)
    first = facts[holder.code]
    assert (first.consent_vaccination, first.consent_immunity, first.consent_test) == (
        False,
        False,
        False,
    )
    hes_data.set_consent(
        "live", holder.identity_number, vaccination=True, immunity=False, test=True
    )
    with reading(store) as readers:
        facts = hes_repo.find_facts(readers, "live", [holder.code], clock.now(), plus=False)
    second = facts[holder.code]
    assert (second.consent_vaccination, second.consent_immunity, second.consent_test) == (
        True,
        False,
        True,
    )
