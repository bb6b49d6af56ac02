"""ÖBS domain rules (contract §5): parameter parsing with Turkish messages, Istanbul days, and the
scope rule (deaths in the area plus deaths elsewhere of people residing in it)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from saglik.domain.obs import (
    NAME_MAX,
    InvalidParameterError,
    Place,
    Scope,
    istanbul_day,
    istanbul_local,
    parse_date,
    parse_name,
    parse_province,
    parse_tckn,
)

VALID_TCKN = "10000000146"


# --- parse_date --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-03-14", date(2025, 3, 14)),
        (" 2024-02-29 ", date(2024, 2, 29)),
        ("1900-01-01", date(1900, 1, 1)),
    ],
)
def test_parse_date_accepts_yyyy_mm_dd(text: str, expected: date) -> None:
    assert parse_date(text, "Tarih") == expected


@pytest.mark.parametrize(
    "text",
    ["14.03.2025", "2025-3-4", "2025/03/14", "20250314", "2025-03-14T00:00:00", "２０２５-03-14"],
)
def test_parse_date_refuses_other_formats(text: str) -> None:
    with pytest.raises(InvalidParameterError, match="Tarih parametresi"):
        parse_date(text, "Tarih")


def test_a_wrong_format_names_the_expected_format() -> None:
    with pytest.raises(InvalidParameterError, match=r"yyyy-mm-dd biçiminde"):
        parse_date("14.03.2025", "Tarih")


@pytest.mark.parametrize("text", ["2025-02-30", "2025-13-01", "2023-02-29", "2025-04-31"])
def test_parse_date_refuses_impossible_dates(text: str) -> None:
    with pytest.raises(InvalidParameterError, match="geçerli bir tarih değil"):
        parse_date(text, "DogumTarihi")


@pytest.mark.parametrize("text", [None, "", "   "])
def test_parse_date_requires_a_value_and_names_the_parameter(text: str | None) -> None:
    with pytest.raises(InvalidParameterError, match="DogumTarihi parametresi zorunludur"):
        parse_date(text, "DogumTarihi")


# --- parse_province ----------------------------------------------------------------------------


@pytest.mark.parametrize("plate", range(1, 82))
def test_parse_province_accepts_every_plate_code(plate: int) -> None:
    assert parse_province(str(plate)) == plate


@pytest.mark.parametrize(("text", "expected"), [("06", 6), (" 34 ", 34), ("081", 81)])
def test_parse_province_accepts_a_leading_zero(text: str, expected: int) -> None:
    assert parse_province(text) == expected


@pytest.mark.parametrize("text", [None, "", "  "])
def test_parse_province_is_optional(text: str | None) -> None:
    assert parse_province(text) is None


@pytest.mark.parametrize(
    "text", ["0", "82", "-1", "+6", "abc", "6.0", "０６", "٦", "1e1", "0061", "1" * 5000]
)
def test_parse_province_refuses_anything_but_a_plate_code(text: str) -> None:
    """Over 3 characters is refused before ``int()``, which raises its own error past 4300
    digits."""
    with pytest.raises(InvalidParameterError, match="IlKodu 1 ile 81 arasında"):
        parse_province(text)


# --- parse_tckn / parse_name -------------------------------------------------------------------


def test_parse_tckn_accepts_a_valid_number() -> None:
    assert parse_tckn(f" {VALID_TCKN} ") == VALID_TCKN


@pytest.mark.parametrize("text", ["10000000147", "1000000014", "00000000146", "1000000014a"])
def test_parse_tckn_refuses_a_failed_checksum_or_shape(text: str) -> None:
    with pytest.raises(
        InvalidParameterError, match=r"geçerli bir T\.C\. Kimlik Numarası değil"
    ) as e:
        parse_tckn(text)
    assert text not in str(e.value)


@pytest.mark.parametrize("text", [None, "", " "])
def test_parse_tckn_is_required(text: str | None) -> None:
    with pytest.raises(InvalidParameterError, match="TcKimlikNo parametresi zorunludur"):
        parse_tckn(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ayşe  gül ", "AYŞE GÜL"),
        ("ismail", "İSMAİL"),
        ("ılgaz", "ILGAZ"),
        ("s\u0327u\u0308kru\u0308", "ŞÜKRÜ"),  # decomposed input, NFC output
    ],
)
def test_parse_name_is_nfc_turkish_upper_case(text: str, expected: str) -> None:
    assert parse_name(text, "Adi") == expected


@pytest.mark.parametrize("text", [None, "", "  \t "])
def test_parse_name_refuses_a_blank_name(text: str | None) -> None:
    with pytest.raises(InvalidParameterError, match="Soyadi parametresi zorunludur"):
        parse_name(text, "Soyadi")


def test_parse_name_is_bounded_without_its_surrounding_white_space() -> None:
    assert parse_name(" " * 300 + "a" * NAME_MAX + " " * 300, "Adi") == "A" * NAME_MAX
    with pytest.raises(InvalidParameterError) as refused:
        parse_name("ayşe" * 51, "Adi")
    assert str(refused.value) == f"Adi parametresi en fazla {NAME_MAX} karakter olabilir."


# --- Istanbul time -----------------------------------------------------------------------------


def test_an_istanbul_day_is_21_00_utc_to_21_00_utc() -> None:
    start, end = istanbul_day(date(2025, 3, 14))
    assert start == datetime(2025, 3, 13, 21, 0, tzinfo=UTC)
    assert end == datetime(2025, 3, 14, 21, 0, tzinfo=UTC)
    assert start.utcoffset() == timedelta(0)


@pytest.mark.parametrize("day", [date(2025, 3, 30), date(2025, 10, 26), date(2024, 12, 31)])
def test_istanbul_days_have_no_summer_time_since_2016(day: date) -> None:
    start, end = istanbul_day(day)
    assert end - start == timedelta(hours=24)
    assert start.hour == 21


def test_istanbul_local_is_wall_clock_time_without_offset() -> None:
    assert istanbul_local(datetime(2025, 3, 13, 21, 30, 5, 999, tzinfo=UTC)) == (
        "2025-03-14T00:30:05"
    )
    assert istanbul_local(datetime(2025, 7, 1, 9, 0, tzinfo=UTC)) == "2025-07-01T12:00:00"


# --- scope -------------------------------------------------------------------------------------

provinces = st.integers(min_value=1, max_value=81)
districts = st.one_of(st.none(), st.integers(min_value=1100, max_value=1110))
places = st.builds(Place, provinces, districts)


@given(death=places, residence=places)
def test_an_unscoped_user_sees_every_death(death: Place, residence: Place) -> None:
    assert Scope().sees(death, residence)


@given(province=provinces, death=places, residence=places)
def test_a_province_user_sees_deaths_in_or_of_residents_of_the_province(
    province: int, death: Place, residence: Place
) -> None:
    expected = province in (death.province, residence.province)
    assert Scope(province).sees(death, residence) is expected


@given(
    province=provinces,
    district=st.integers(min_value=1100, max_value=1110),
    death=places,
    residence=places,
)
def test_a_district_user_sees_deaths_in_or_of_residents_of_the_district(
    province: int, district: int, death: Place, residence: Place
) -> None:
    expected = district in (death.district, residence.district)
    assert Scope(province, district).sees(death, residence) is expected


def test_a_district_user_does_not_see_the_rest_of_the_province() -> None:
    scope = Scope(6, 1231)
    assert not scope.sees(Place(6, 1130), Place(6, 1130))
    assert not scope.sees(Place(6, None), Place(6, None))
    assert scope.sees(Place(34, 1421), Place(6, 1231))
    assert scope.sees(Place(6, 1231), Place(34, 1421))


@pytest.mark.parametrize("day", [date.min, date.max])
def test_istanbul_day_holds_at_the_ends_of_the_calendar(day: date) -> None:
    start, end = istanbul_day(day)
    assert start < end
    assert start.tzinfo is UTC
    assert end.tzinfo is UTC
