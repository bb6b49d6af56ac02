"""``check-hes-code-plus`` rules over the wire, driven by the server's clock (contract §4.5)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from saglik.services.hes import HesDataService
from tests.conftest import BASE_TIME, Holder, LiveServer
from tests.web.conftest import MILLIS_FORMAT, PLUS_KEYS, Caller, assert_json, millis

PLUS = "check-hes-code-plus"
H = timedelta(hours=1)
D = timedelta(days=1)


@dataclass
class Person:
    holder: Holder
    data: HesDataService
    caller: Caller

    @property
    def tckn(self) -> str:
        return self.holder.identity_number

    def consent(self, vaccination: bool = True, immunity: bool = True, test: bool = True) -> None:
        self.data.set_consent(
            "live", self.tckn, vaccination=vaccination, immunity=immunity, test=test
        )

    def plus(self) -> dict[str, Any]:
        body = assert_json(self.caller.check(PLUS, self.holder.code))
        assert list(body) == PLUS_KEYS
        return body

    def status(self) -> str:
        body = assert_json(self.caller.check("check-employee-hes-code", self.holder.code))
        return str(body["current_health_status"])

    def triple(self) -> tuple[Any, Any, Any]:
        body = self.plus()
        return body["is_vaccinated"], body["is_immune"], body["last_negative_test_date"]


@pytest.fixture
def person(live: Caller, make_holder: Callable[..., Holder], hes_data: HesDataService) -> Person:
    return Person(make_holder(), hes_data, live)


def everything(p: Person, now: datetime) -> str:
    """Two doses, a recent infection and a recent negative test; returns the expected date."""
    p.data.vaccinate("live", p.tckn, 1, "CoronaVac", at=now - 60 * D)
    p.data.vaccinate("live", p.tckn, 2, "CoronaVac", at=now - 30 * D)
    p.data.record_infection("live", p.tckn, at=now - 20 * D)
    sampled = now - 5 * H - timedelta(milliseconds=250)
    p.data.record_pcr("live", p.tckn, True, at=sampled)
    return millis(sampled)


# --- risk ------------------------------------------------------------------------------------


def test_risky_person_gets_three_nulls_even_with_full_consent(person: Person) -> None:
    person.consent()
    everything(person, BASE_TIME)
    assert person.triple()[0] is True  # control: the data is there while riskless
    person.data.open_risk("live", person.tckn, "case")
    body = person.plus()
    assert body["current_health_status"] == "RISKY"
    assert (body["is_vaccinated"], body["is_immune"], body["last_negative_test_date"]) == (
        None,
        None,
        None,
    )


@pytest.mark.parametrize("kind", ["case", "contact"])
def test_open_risk_period_of_either_kind_makes_the_person_risky(person: Person, kind: str) -> None:
    assert person.status() == "RISKLESS"
    person.data.open_risk("live", person.tckn, kind)
    assert person.status() == "RISKY"
    assert person.plus()["current_health_status"] == "RISKY"


def test_closed_risk_period_makes_the_person_riskless_again(
    person: Person, server: LiveServer
) -> None:
    person.consent()
    everything(person, BASE_TIME)
    person.data.open_risk("live", person.tckn, "contact", at=BASE_TIME - 10 * D)
    assert person.status() == "RISKY"
    person.data.close_risk("live", person.tckn, at=BASE_TIME - H)
    assert person.status() == "RISKLESS"
    assert person.triple()[:2] == (True, True)


def test_risk_period_closing_in_the_future_is_risky_until_then(
    person: Person, server: LiveServer
) -> None:
    person.data.open_risk("live", person.tckn, "case", at=BASE_TIME - 5 * D)
    person.data.close_risk("live", person.tckn, at=BASE_TIME + 2 * D)
    assert person.status() == "RISKY"
    server.clock.advance(2 * D - timedelta(seconds=1))
    assert person.status() == "RISKY"
    server.clock.advance(timedelta(seconds=1))
    assert person.status() == "RISKLESS"


def test_risk_period_starting_in_the_future_is_not_yet_risky(
    person: Person, server: LiveServer
) -> None:
    person.data.open_risk("live", person.tckn, "contact", at=BASE_TIME + 3 * H)
    assert person.status() == "RISKLESS"
    server.clock.advance(3 * H - timedelta(seconds=1))
    assert person.status() == "RISKLESS"
    server.clock.advance(timedelta(seconds=1))
    assert person.status() == "RISKY"


def test_is_test_data_shared_is_reported_even_when_risky(person: Person) -> None:
    person.consent(vaccination=False, immunity=False, test=True)
    person.data.open_risk("live", person.tckn, "case")
    body = person.plus()
    assert body["current_health_status"] == "RISKY"
    assert body["is_test_data_shared"] is True


# --- consent ---------------------------------------------------------------------------------


def test_no_consent_gives_nulls_whatever_the_data(person: Person) -> None:
    everything(person, BASE_TIME)
    body = person.plus()
    assert body["current_health_status"] == "RISKLESS"
    assert (body["is_vaccinated"], body["is_immune"], body["last_negative_test_date"]) == (
        None,
        None,
        None,
    )
    assert body["is_test_data_shared"] is False


def test_withdrawn_consent_turns_fields_back_to_null(person: Person) -> None:
    person.consent()
    expected_date = everything(person, BASE_TIME)
    assert person.triple() == (True, True, expected_date)
    person.consent(vaccination=False, immunity=False, test=False)
    assert person.triple() == (None, None, None)


@pytest.mark.parametrize(
    ("vaccination", "immunity", "test"),
    [
        (True, False, False),
        (False, True, False),
        (False, False, True),
        (True, True, False),
        (False, True, True),
    ],
)
def test_each_consent_item_controls_only_its_own_field(
    person: Person, vaccination: bool, immunity: bool, test: bool
) -> None:
    person.consent(vaccination=vaccination, immunity=immunity, test=test)
    expected_date = everything(person, BASE_TIME)
    body = person.plus()
    assert body["is_vaccinated"] is (True if vaccination else None)
    assert body["is_immune"] is (True if immunity else None)
    assert body["last_negative_test_date"] == (expected_date if test else None)


@pytest.mark.parametrize("shared", [True, False])
def test_is_test_data_shared_mirrors_the_test_consent(person: Person, shared: bool) -> None:
    person.consent(vaccination=not shared, immunity=not shared, test=shared)
    assert person.plus()["is_test_data_shared"] is shared


def test_consent_with_no_data_gives_false_false_null(person: Person) -> None:
    person.consent()
    assert person.triple() == (False, False, None)
    assert person.plus()["is_test_data_shared"] is True


# --- vaccination -----------------------------------------------------------------------------


def test_two_doses_make_is_vaccinated_true(person: Person) -> None:
    person.consent()
    person.data.vaccinate("live", person.tckn, 1, "CoronaVac", at=BASE_TIME - 50 * D)
    person.data.vaccinate("live", person.tckn, 2, "CoronaVac", at=BASE_TIME - 20 * D)
    assert person.plus()["is_vaccinated"] is True


def test_one_dose_leaves_is_vaccinated_false(person: Person) -> None:
    person.consent()
    person.data.vaccinate("live", person.tckn, 1, "CoronaVac", at=BASE_TIME - 20 * D)
    assert person.plus()["is_vaccinated"] is False


def test_three_doses_are_still_vaccinated(person: Person) -> None:
    person.consent()
    for dose in (1, 2, 3):
        person.data.vaccinate("live", person.tckn, dose, "BioNTech", at=BASE_TIME - dose * D)
    assert person.plus()["is_vaccinated"] is True


def test_second_dose_counts_from_the_moment_it_is_administered(
    person: Person, server: LiveServer
) -> None:
    person.consent()
    person.data.vaccinate("live", person.tckn, 1, "CoronaVac", at=BASE_TIME - 30 * D)
    person.data.vaccinate("live", person.tckn, 2, "CoronaVac", at=BASE_TIME + 2 * H)
    assert person.plus()["is_vaccinated"] is False
    server.clock.advance(2 * H)
    assert person.plus()["is_vaccinated"] is True


# --- immunity --------------------------------------------------------------------------------


def test_infection_five_months_ago_makes_is_immune_true(person: Person) -> None:
    person.consent()
    person.data.record_infection("live", person.tckn, at=datetime(2026, 1, 15, 9, tzinfo=UTC))
    assert person.plus()["is_immune"] is True


def test_infection_seven_months_ago_leaves_is_immune_false(person: Person) -> None:
    person.consent()
    person.data.record_infection("live", person.tckn, at=datetime(2025, 11, 15, 9, tzinfo=UTC))
    assert person.plus()["is_immune"] is False


def test_immunity_window_is_six_calendar_months_not_a_fixed_number_of_days(
    person: Person, server: LiveServer
) -> None:
    # 2026-08-31 12:00 Istanbul; six calendar months back is 2026-02-28 12:00 (day clamped),
    # 184 days earlier — a "182 days" or "180 days" rule answers differently.
    server.clock.set(datetime(2026, 8, 31, 9, tzinfo=UTC))
    person.consent()
    person.data.record_infection("live", person.tckn, at=datetime(2026, 2, 28, 9, tzinfo=UTC))
    assert person.plus()["is_immune"] is True
    server.clock.advance(timedelta(seconds=1))
    assert person.plus()["is_immune"] is False


def test_immunity_ends_when_the_infection_leaves_the_window(
    person: Person, server: LiveServer
) -> None:
    person.consent()
    person.data.record_infection("live", person.tckn, at=BASE_TIME - 10 * D)
    assert person.plus()["is_immune"] is True
    server.clock.set(datetime(2026, 12, 5, 9, 0, 1, tzinfo=UTC))  # six months and a second later
    assert person.plus()["is_immune"] is False


def test_newest_infection_counts_for_immunity(person: Person) -> None:
    person.consent()
    person.data.record_infection("live", person.tckn, at=BASE_TIME - 400 * D)
    person.data.record_infection("live", person.tckn, at=BASE_TIME - 40 * D)
    assert person.plus()["is_immune"] is True


def test_infection_recorded_in_the_future_does_not_count_yet(
    person: Person, server: LiveServer
) -> None:
    person.consent()
    person.data.record_infection("live", person.tckn, at=BASE_TIME + D)
    assert person.plus()["is_immune"] is False
    server.clock.advance(D)
    assert person.plus()["is_immune"] is True


# --- negative PCR ------------------------------------------------------------------------------


def test_negative_pcr_71_hours_ago_is_returned_with_milliseconds(person: Person) -> None:
    person.consent()
    sampled = BASE_TIME - 71 * H + timedelta(milliseconds=597)
    person.data.record_pcr("live", person.tckn, True, at=sampled)
    value = person.plus()["last_negative_test_date"]
    assert MILLIS_FORMAT.fullmatch(value)
    assert value == "2026-06-12T10:00:00.597Z"


def test_negative_pcr_73_hours_ago_is_null(person: Person) -> None:
    person.consent()
    person.data.record_pcr("live", person.tckn, True, at=BASE_TIME - 73 * H)
    assert person.plus()["last_negative_test_date"] is None


def test_negative_pcr_exactly_72_hours_ago_is_still_returned(
    person: Person, server: LiveServer
) -> None:
    person.consent()
    person.data.record_pcr("live", person.tckn, True, at=BASE_TIME - 72 * H)
    assert person.plus()["last_negative_test_date"] == "2026-06-12T09:00:00.000Z"
    server.clock.advance(timedelta(milliseconds=1))
    assert person.plus()["last_negative_test_date"] is None


def test_negative_pcr_date_has_zero_padded_milliseconds(person: Person) -> None:
    person.consent()
    sampled = BASE_TIME - 3 * H + timedelta(milliseconds=7, microseconds=999)
    person.data.record_pcr("live", person.tckn, True, at=sampled)
    assert person.plus()["last_negative_test_date"] == "2026-06-15T06:00:00.007Z"


def test_newest_negative_pcr_is_chosen(person: Person) -> None:
    person.consent()
    person.data.record_pcr("live", person.tckn, True, at=BASE_TIME - 50 * H)
    person.data.record_pcr("live", person.tckn, True, at=BASE_TIME - 10 * H)
    person.data.record_pcr("live", person.tckn, True, at=BASE_TIME - 30 * H)
    assert person.plus()["last_negative_test_date"] == "2026-06-14T23:00:00.000Z"


def test_positive_pcr_is_ignored(person: Person) -> None:
    person.consent()
    person.data.record_pcr("live", person.tckn, True, at=BASE_TIME - 20 * H)
    person.data.record_pcr("live", person.tckn, False, at=BASE_TIME - 2 * H)
    assert person.plus()["last_negative_test_date"] == "2026-06-14T13:00:00.000Z"


def test_only_positive_pcr_gives_null(person: Person) -> None:
    person.consent()
    person.data.record_pcr("live", person.tckn, False, at=BASE_TIME - 2 * H)
    assert person.plus()["last_negative_test_date"] is None


def test_negative_pcr_drops_out_as_the_clock_passes_72_hours(
    person: Person, server: LiveServer
) -> None:
    person.consent()
    person.data.record_pcr("live", person.tckn, True, at=BASE_TIME - 70 * H)
    assert person.plus()["last_negative_test_date"] == "2026-06-12T11:00:00.000Z"
    server.clock.advance(3 * H)
    assert person.plus()["last_negative_test_date"] is None


def test_negative_pcr_sampled_in_the_future_is_not_returned(person: Person) -> None:
    person.consent()
    person.data.record_pcr("live", person.tckn, True, at=BASE_TIME - 40 * H)
    person.data.record_pcr("live", person.tckn, True, at=BASE_TIME + H)
    assert person.plus()["last_negative_test_date"] == "2026-06-13T17:00:00.000Z"


def test_plus_fields_follow_the_test_environment_data_on_the_test_path(
    sandbox: Caller, make_holder: Callable[..., Holder], hes_data: HesDataService
) -> None:
    holder = make_holder(env="test")
    hes_data.set_consent("test", holder.identity_number, vaccination=True, immunity=True, test=True)
    hes_data.vaccinate("test", holder.identity_number, 1, "CoronaVac", at=BASE_TIME - 9 * D)
    hes_data.vaccinate("test", holder.identity_number, 2, "CoronaVac", at=BASE_TIME - 8 * D)
    body = assert_json(sandbox.check(PLUS, holder.code))
    assert (body["is_vaccinated"], body["is_immune"], body["last_negative_test_date"]) == (
        True,
        False,
        None,
    )
