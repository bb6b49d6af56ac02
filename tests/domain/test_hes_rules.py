"""HES query rules (contract §4.5): what one code answers at one instant."""

from __future__ import annotations

import calendar
import dataclasses
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from saglik.domain.hes import (
    ISTANBUL,
    NO_EXPIRY,
    CodeFacts,
    HealthStatus,
    HesCodeExpired,
    HesCodeNotFound,
    evaluate,
    months_before,
)

NOW = datetime(2026, 6, 15, 9, 0, tzinfo=UTC)
US = timedelta(microseconds=1)
H72 = timedelta(hours=72)


def facts(**changes: object) -> CodeFacts:
    base = CodeFacts(
        code="A1B2345678",
        expires_at=NOW + timedelta(days=30),
        cancelled=False,
        identity_number="10000000146",
        first_name="ÖMER FARUK",
        last_name="ŞAHİN",
        at_risk=False,
        consent_vaccination=True,
        consent_immunity=True,
        consent_test=True,
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def plus_of(f: CodeFacts, now: datetime = NOW):  # type: ignore[no-untyped-def]
    result = evaluate(f, now, plus=True)
    assert result.plus is not None
    return result.plus


# --- found, cancelled, expired -----------------------------------------------------------------


def test_an_unknown_code_is_not_found() -> None:
    with pytest.raises(HesCodeNotFound):
        evaluate(None, NOW, plus=False)


def test_not_found_and_expired_carry_the_wire_error_keys() -> None:
    assert (HesCodeNotFound.error_key, HesCodeNotFound.title) == (
        "hescodenotfound",
        "Hes code not found!",
    )
    assert (HesCodeExpired.error_key, HesCodeExpired.title) == (
        "hescodehasbeenexpired",
        "Hes code has been expired!",
    )


@pytest.mark.parametrize("plus", [False, True])
def test_a_cancelled_code_is_not_found(plus: bool) -> None:
    with pytest.raises(HesCodeNotFound):
        evaluate(facts(cancelled=True), NOW, plus=plus)


def test_a_cancelled_code_that_also_expired_is_not_found() -> None:
    with pytest.raises(HesCodeNotFound):
        evaluate(facts(cancelled=True, expires_at=NOW - US), NOW, plus=False)


@pytest.mark.parametrize("expires_at", [NOW, NOW - US, NOW - timedelta(days=400)])
def test_a_code_whose_expiry_is_not_after_now_has_expired(expires_at: datetime) -> None:
    with pytest.raises(HesCodeExpired):
        evaluate(facts(expires_at=expires_at), NOW, plus=False)


def test_a_code_expiring_just_after_now_is_answered() -> None:
    result = evaluate(facts(expires_at=NOW + US), NOW, plus=False)
    assert result.expiration_date == NOW + US


def test_the_no_expiry_date_is_the_observed_2070_12_30() -> None:
    assert datetime(2070, 12, 30, tzinfo=UTC) == NO_EXPIRY
    assert evaluate(facts(expires_at=NO_EXPIRY), NOW, plus=False).expiration_date == NO_EXPIRY


# --- status and masks --------------------------------------------------------------------------


def test_an_open_risk_period_answers_risky() -> None:
    assert evaluate(facts(at_risk=True), NOW, plus=False).current_health_status is (
        HealthStatus.RISKY
    )


def test_no_risk_period_answers_riskless() -> None:
    assert evaluate(facts(at_risk=False), NOW, plus=False).current_health_status is (
        HealthStatus.RISKLESS
    )


def test_status_values_are_the_wire_strings() -> None:
    assert [s.value for s in HealthStatus] == ["RISKY", "RISKLESS"]


def test_the_result_carries_the_expiry_and_the_masks() -> None:
    result = evaluate(facts(), NOW, plus=False)
    assert result.expiration_date == NOW + timedelta(days=30)
    assert result.masked_firstname == "ÖM**** FA****"
    assert result.masked_lastname == "ŞA****"
    assert result.masked_identity_number == "********146"


def test_the_plain_methods_carry_no_plus_fields() -> None:
    assert evaluate(facts(vaccine_doses=2), NOW, plus=False).plus is None


# --- plus fields -------------------------------------------------------------------------------


@settings(deadline=None)
@given(st.booleans(), st.booleans(), st.booleans())
def test_a_risky_person_has_null_plus_fields_whatever_the_consent(
    vaccination: bool, immunity: bool, test: bool
) -> None:
    plus = plus_of(
        facts(
            at_risk=True,
            consent_vaccination=vaccination,
            consent_immunity=immunity,
            consent_test=test,
            vaccine_doses=3,
            last_infection_at=NOW - timedelta(days=10),
            last_negative_test_at=NOW - timedelta(hours=1),
        )
    )
    assert (plus.is_vaccinated, plus.is_immune, plus.last_negative_test_date) == (None, None, None)
    assert plus.is_test_data_shared is test


@settings(deadline=None)
@given(st.booleans(), st.booleans(), st.booleans())
def test_each_plus_field_is_null_exactly_when_its_consent_is_not_given(
    vaccination: bool, immunity: bool, test: bool
) -> None:
    negative = NOW - timedelta(hours=5)
    plus = plus_of(
        facts(
            consent_vaccination=vaccination,
            consent_immunity=immunity,
            consent_test=test,
            vaccine_doses=2,
            last_infection_at=NOW - timedelta(days=10),
            last_negative_test_at=negative,
        )
    )
    assert plus.is_vaccinated == (True if vaccination else None)
    assert plus.is_immune == (True if immunity else None)
    assert plus.last_negative_test_date == (negative if test else None)
    assert plus.is_test_data_shared is test


def test_consented_fields_without_data_are_false_and_null() -> None:
    plus = plus_of(facts())
    assert plus.is_vaccinated is False
    assert plus.is_immune is False
    assert plus.last_negative_test_date is None
    assert plus.is_test_data_shared is True


@pytest.mark.parametrize(("doses", "vaccinated"), [(0, False), (1, False), (2, True), (3, True)])
def test_vaccinated_means_at_least_two_doses(doses: int, vaccinated: bool) -> None:
    assert plus_of(facts(vaccine_doses=doses)).is_vaccinated is vaccinated


@pytest.mark.parametrize(
    ("infected_at", "immune"),
    [
        (NOW, True),
        (NOW - timedelta(days=1), True),
        (months_before(NOW, 6), True),
        (months_before(NOW, 6) - US, False),
        (NOW - timedelta(days=200), False),
        (NOW + US, False),  # a future event (entered ahead of time) does not count yet
        (NOW + timedelta(days=5), False),
    ],
)
def test_immune_means_an_infection_within_the_last_six_calendar_months(
    infected_at: datetime, immune: bool
) -> None:
    assert plus_of(facts(last_infection_at=infected_at)).is_immune is immune


def test_six_calendar_months_is_neither_180_nor_183_days() -> None:
    # 15 June 2026 12:00 in Istanbul → 15 December 2025 12:00 in Istanbul = 182 days.
    assert months_before(NOW, 6) == datetime(2025, 12, 15, 9, 0, tzinfo=UTC)
    assert plus_of(facts(last_infection_at=NOW - timedelta(days=182))).is_immune is True
    assert plus_of(facts(last_infection_at=NOW - timedelta(days=182) - US)).is_immune is False


@pytest.mark.parametrize(
    ("tested_at", "shown"),
    [
        (NOW, True),
        (NOW - timedelta(hours=1), True),
        (NOW - H72, True),
        (NOW - H72 - US, False),
        (NOW - timedelta(days=10), False),
        (NOW + US, False),
        (NOW + timedelta(hours=2), False),
    ],
)
def test_the_last_negative_test_is_shown_only_within_the_last_72_hours(
    tested_at: datetime, shown: bool
) -> None:
    expected = tested_at if shown else None
    assert plus_of(facts(last_negative_test_at=tested_at)).last_negative_test_date == expected


# --- six calendar months in Istanbul ------------------------------------------------------------


def istanbul(*args: int) -> datetime:
    return datetime(*args, tzinfo=ISTANBUL)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("now", "six_months_earlier"),
    [
        (istanbul(2025, 8, 31, 12, 0), istanbul(2025, 2, 28, 12, 0)),
        (istanbul(2024, 8, 31, 12, 0), istanbul(2024, 2, 29, 12, 0)),  # leap year
        (istanbul(2026, 8, 29, 12, 0), istanbul(2026, 2, 28, 12, 0)),
        (istanbul(2026, 1, 31, 12, 0), istanbul(2025, 7, 31, 12, 0)),
        (istanbul(2026, 3, 31, 12, 0), istanbul(2025, 9, 30, 12, 0)),
        (istanbul(2026, 12, 31, 23, 59), istanbul(2026, 6, 30, 23, 59)),
        (istanbul(2026, 6, 15, 0, 0), istanbul(2025, 12, 15, 0, 0)),  # across a year
    ],
)
def test_months_before_keeps_the_wall_clock_and_clamps_the_day(
    now: datetime, six_months_earlier: datetime
) -> None:
    assert months_before(now.astimezone(UTC), 6) == six_months_earlier.astimezone(UTC)


def test_months_before_counts_calendar_months_in_istanbul_not_in_utc() -> None:
    # 30 Aug 22:00 UTC is already 31 Aug 01:00 in Istanbul: six months earlier is 28 Feb 01:00
    # in Istanbul (27 Feb 22:00 UTC), not 28 Feb 22:00 UTC as counting in UTC would give.
    assert months_before(datetime(2026, 8, 30, 22, 0, tzinfo=UTC), 6) == datetime(
        2026, 2, 27, 22, 0, tzinfo=UTC
    )


def test_months_before_keeps_the_istanbul_wall_clock_across_a_summer_time_change() -> None:
    # Until 2016 Istanbul kept summer time: 15 Sep 2015 was UTC+3, 15 Mar 2015 was UTC+2.
    now = istanbul(2015, 9, 15, 12, 0)
    earlier = months_before(now.astimezone(UTC), 6)
    assert earlier == datetime(2015, 3, 15, 10, 0, tzinfo=UTC)
    assert earlier.astimezone(ISTANBUL).hour == 12


def test_immunity_uses_the_istanbul_calendar_at_a_month_end() -> None:
    now = istanbul(2025, 8, 31, 12, 0).astimezone(UTC)
    border = istanbul(2025, 2, 28, 12, 0).astimezone(UTC)
    assert plus_of(facts(last_infection_at=border, expires_at=NO_EXPIRY), now).is_immune is True
    assert (
        plus_of(facts(last_infection_at=border - US, expires_at=NO_EXPIRY), now).is_immune is False
    )


@settings(deadline=None)
@given(
    st.datetimes(min_value=datetime(2017, 1, 1), max_value=datetime(2068, 12, 31)),
    st.integers(0, 36),
)
def test_months_before_moves_exactly_n_months_on_the_istanbul_calendar(
    local: datetime, months: int
) -> None:
    # Istanbul has kept UTC+3 all year since 2016, so every wall-clock time exists.
    now = local.replace(tzinfo=ISTANBUL).astimezone(UTC)
    earlier = months_before(now, months).astimezone(ISTANBUL)
    total = local.year * 12 + local.month - 1 - months
    year, month = divmod(total, 12)
    assert (earlier.year, earlier.month) == (year, month + 1)
    assert earlier.day == min(local.day, calendar.monthrange(year, month + 1)[1])
    assert earlier.time() == local.time()
    assert months_before(now, months) <= now


def test_zero_months_before_is_the_same_instant() -> None:
    assert months_before(NOW, 0) == NOW
