"""The ten ÖBS methods over the wire (contract §5.1, §5.2, §5.4, §5.5): the ServisSonucu envelope,
the DTOs in their key order, Istanbul local datetimes, not found, invalid parameters, the by-date
feeds, case-insensitive names and Turkish-aware name matching."""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from saglik.domain.methods import OBS_METHODS
from tests.conftest import LiveServer
from tests.web.conftest import Users
from tests.web.obs_helpers import (
    BASIC_KEYS,
    CAUSE_KEYS,
    DATE_METHODS,
    DEATH_DATE_METHOD,
    FORM_METHODS,
    FULL_KEYS,
    FULL_METHODS,
    LOOKUP_METHODS,
    NOT_FOUND,
    PASSPORT_METHODS,
    TC_METHODS,
    Registered,
    Registry,
    assert_not_found,
    at_istanbul,
    envelope,
    fresh_day,
    invalid_message,
    new_passport,
    new_tckn,
    obs_get,
    obs_path,
    pairs,
    success,
)

DIED = datetime(2026, 6, 14, 21, 30, tzinfo=UTC)
"""00:30 on 15 June in Istanbul: the UTC date and the local date differ."""

CAUSES = [
    {"kind": 1, "icd_code": "I21.9", "interval": "2 saat"},
    {"kind": 4, "icd_code": "I25.1", "interval": "10 yıl"},
    {"kind": 5, "icd_code": "E11.9", "interval": None},
]
EXPECTED_CAUSES = [
    {
        "Sira": 1,
        "OlumNedeniTuruId": 1,
        "OlumNedeniTuru": "Ölüme yol açan doğrudan neden (a)",
        "IcdKodu": "I21.9",
        "IcdAdi": "Acute myocardial infarction, unspecified",
        "Sure": "2 saat",
    },
    {
        "Sira": 2,
        "OlumNedeniTuruId": 4,
        "OlumNedeniTuru": "Altta yatan neden (d)",
        "IcdKodu": "I25.1",
        "IcdAdi": "Atherosclerotic heart disease",
        "Sure": "10 yıl",
    },
    {
        "Sira": 3,
        "OlumNedeniTuruId": 5,
        "OlumNedeniTuru": "Ölüme katkıda bulunan diğer önemli durumlar (II)",
        "IcdKodu": "E11.9",
        "IcdAdi": "Type 2 diabetes mellitus without complications",
        "Sure": None,
    },
]


@pytest.fixture
def registry(server: LiveServer) -> Registry:
    return Registry(server)


def get(
    http: httpx.Client, users: Users, method: str, params: dict[str, str], env: str = "live"
) -> httpx.Response:
    user = users.live if env == "live" else users.test
    return obs_get(http, env, method, user.auth, params)


def _expected_basic(reg: Registered) -> dict[str, Any]:
    return {
        "FormNo": reg.form_no,
        "ReferansNo": reg.referans_no,
        "TcKimlikNo": reg.form.get("identity_number"),
        "PasaportNo": reg.form.get("passport_no"),
        "UyrukKodu": reg.form.get("nationality", "TR"),
        "Adi": "MEHMET EMİN",
        "Soyadi": "YILDIZ",
        "BabaAdi": "HASAN",
        "AnaAdi": "FATMA",
        "DogumTarihi": "1950-04-03T00:00:00",
        "DogumYeri": "ANKARA",
        "Cinsiyet": 1,
        "CinsiyetAdi": "Erkek",
        "OlumTarihi": "2026-06-15T00:30:00",
        "OlumYeriId": 1,
        "OlumYeri": "Sağlık kuruluşu",
        "OlumIlKodu": 6,
        "OlumIlAdi": "Ankara",
        "OlumIlceKodu": 1231,
        "OlumIlceAdi": "Çankaya",
        "IkametIlKodu": 34,
        "IkametIlAdi": "İstanbul",
        "IkametIlceKodu": 1421,
        "IkametIlceAdi": "Kadıköy",
        "OlumSekliId": 1,
        "OlumSekli": "Bulaşıcı olmayan hastalık",
        "KadinOlumuNedeniId": None,
        "KadinOlumuNedeni": None,
        "KayitTarihi": "2026-06-15T12:00:00",
        "GuncellemeTarihi": None,
    }


def _register_full_example(registry: Registry, *, passport: bool = False) -> Registered:
    """Registered at the suite clock (09:00Z = 12:00 Istanbul) for a death at 21:30Z the day
    before, died in Çankaya (Ankara), resided in Kadıköy (İstanbul)."""
    return registry.register(
        passport=passport,
        died_at=DIED.isoformat(),
        residence_province=34,
        residence_district=1421,
        causes=CAUSES,
    )


# --- success -----------------------------------------------------------------------------------


@pytest.mark.parametrize("method", [*TC_METHODS, *FORM_METHODS])
def test_lookups_answer_the_dto_with_every_field_in_order(
    http: httpx.Client, users: Users, registry: Registry, method: str
) -> None:
    reg = _register_full_example(registry)
    result = success(get(http, users, method, reg.params_for(method)))
    expected = _expected_basic(reg)
    if method in FULL_METHODS:
        expected |= {
            "OlumNedenleri": EXPECTED_CAUSES,
            "OtopsiYapildiMi": False,
            "YaralanmaTarihi": None,
        }
        assert list(result) == FULL_KEYS
        assert [list(c) for c in result["OlumNedenleri"]] == [CAUSE_KEYS] * 3
    else:
        assert list(result) == BASIC_KEYS
    assert result == expected


@pytest.mark.parametrize("method", PASSPORT_METHODS)
def test_passport_lookups_answer_the_foreigners_dto(
    http: httpx.Client, users: Users, registry: Registry, method: str
) -> None:
    reg = _register_full_example(registry, passport=True)
    result = success(get(http, users, method, reg.passport_params()))
    expected = _expected_basic(reg)
    assert expected["TcKimlikNo"] is None
    assert expected["UyrukKodu"] == "DE"
    expected["Adi"] = "MEHMET EMIN"  # a passport's plain upper case, not the Turkish İ
    if method in FULL_METHODS:
        assert list(result) == FULL_KEYS
        assert result["OlumNedenleri"] == EXPECTED_CAUSES
        result = {k: v for k, v in result.items() if k in BASIC_KEYS}
    assert list(result) == BASIC_KEYS
    assert result == expected


def test_passport_number_is_matched_ignoring_case_and_spaces(
    http: httpx.Client, users: Users, registry: Registry
) -> None:
    reg = registry.register(passport=True)
    number = reg.form["passport_no"]
    spaced = f" {number[:4].lower()} {number[4:]} "
    params = {**reg.passport_params(), "PasaportNo": spaced}
    assert success(get(http, users, "GetOlumByPasaportNoBasic", params))["FormNo"] == reg.form_no


def test_full_dto_carries_autopsy_injury_time_and_maternal_status(
    http: httpx.Client, users: Users, registry: Registry
) -> None:
    injured = DIED - timedelta(minutes=50)
    reg = registry.register(
        died_at=DIED.isoformat(),
        injured_at=injured.isoformat(),
        autopsy=True,
        sex=2,
        maternal_status=3,
        manner=3,
        place_of_death_type=4,
        causes=[{"kind": 1, "icd_code": "S06.9", "interval": "35 dakika"}],
    )
    result = success(get(http, users, "GetOlumByFormNoFull", reg.form_params()))
    assert result["OtopsiYapildiMi"] is True
    assert result["YaralanmaTarihi"] == "2026-06-14T23:40:00"
    assert (result["Cinsiyet"], result["CinsiyetAdi"]) == (2, "Kadın")
    assert (result["KadinOlumuNedeniId"], result["KadinOlumuNedeni"]) == (
        3,
        "Son 42 gün içinde gebelik sonlanmış",
    )
    assert (result["OlumSekliId"], result["OlumSekli"]) == (
        3,
        "Bulaşıcı olmayan hastalık (Adli Olay)",
    )
    assert (result["OlumYeriId"], result["OlumYeri"]) == (4, "Yol / trafik")
    assert result["OlumNedenleri"] == [
        {
            "Sira": 1,
            "OlumNedeniTuruId": 1,
            "OlumNedeniTuru": "Ölüme yol açan doğrudan neden (a)",
            "IcdKodu": "S06.9",
            "IcdAdi": "Intracranial injury, unspecified",
            "Sure": "35 dakika",
        }
    ]


def test_death_date_by_identity_number_is_the_istanbul_local_time(
    http: httpx.Client, users: Users, registry: Registry
) -> None:
    reg = _register_full_example(registry)
    params = {"TcKimlikNo": reg.form["identity_number"]}
    assert success(get(http, users, DEATH_DATE_METHOD, params)) == "2026-06-15T00:30:00"


def test_death_date_in_winter_uses_the_same_fixed_offset(
    http: httpx.Client, users: Users, registry: Registry
) -> None:
    reg = registry.register(died_at="2026-01-10T22:15:00+00:00")
    params = {"TcKimlikNo": reg.form["identity_number"]}
    assert success(get(http, users, DEATH_DATE_METHOD, params)) == "2026-01-11T01:15:00"


@pytest.mark.parametrize("method", ["GetTumOlumlerByDate", "GetAdliFormlarByDate"])
def test_registration_feeds_list_forms_by_the_istanbul_day_of_registration(
    server: LiveServer, http: httpx.Client, users: Users, registry: Registry, method: str
) -> None:
    day = fresh_day()
    previous, next_day = day - timedelta(days=1), day + timedelta(days=1)
    forensic = {"manner": 3}
    # 20:59Z is 23:59 of the previous Istanbul day; 21:00Z is already 00:00 of ``day``
    late_previous = registry.register(at=at_istanbul(previous, 23, 59), **forensic)
    first = registry.register(at=at_istanbul(day, 0, 0), **forensic)
    second = registry.register(at=at_istanbul(day, 23, 59), **forensic)
    assert pairs(success(get(http, users, method, {"Tarih": day.isoformat()}))) == [
        first.pair,
        second.pair,
    ]
    assert pairs(success(get(http, users, method, {"Tarih": previous.isoformat()}))) == [
        late_previous.pair
    ]
    assert success(get(http, users, method, {"Tarih": next_day.isoformat()})) == []


def test_a_death_just_after_utc_midnight_local_falls_on_the_istanbul_day(
    server: LiveServer, http: httpx.Client, users: Users, registry: Registry
) -> None:
    day = fresh_day()
    moment = at_istanbul(day, 0, 30)  # 21:30Z the day before
    assert moment.astimezone(UTC).date() == day - timedelta(days=1)
    reg = registry.register(at=moment, died_at=(moment - timedelta(minutes=1)).isoformat())
    result = success(get(http, users, "GetOlumByFormNoBasic", reg.form_params()))
    assert result["KayitTarihi"] == f"{day.isoformat()}T00:30:00"
    assert result["OlumTarihi"] == f"{day.isoformat()}T00:29:00"
    assert pairs(success(get(http, users, "GetTumOlumlerByDate", {"Tarih": day.isoformat()}))) == [
        reg.pair
    ]
    utc_day = (day - timedelta(days=1)).isoformat()
    assert success(get(http, users, "GetTumOlumlerByDate", {"Tarih": utc_day})) == []


@pytest.mark.parametrize("method", DATE_METHODS)
def test_a_day_without_records_is_success_with_an_empty_list(
    http: httpx.Client, users: Users, method: str
) -> None:
    response = get(http, users, method, {"Tarih": fresh_day().isoformat()})
    assert envelope(response) == {"State": 1, "Message": None, "Result": []}


def test_forensic_feed_lists_only_manners_3_and_4(
    http: httpx.Client, users: Users, registry: Registry
) -> None:
    day = fresh_day()
    made = {
        manner: registry.register(at=at_istanbul(day, 8, i), manner=manner)
        for i, manner in enumerate((1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 98, 99))
    }
    tarih = {"Tarih": day.isoformat()}
    assert pairs(success(get(http, users, "GetAdliFormlarByDate", tarih))) == [
        made[3].pair,
        made[4].pair,
    ]
    assert pairs(success(get(http, users, "GetTumOlumlerByDate", tarih))) == [
        reg.pair for reg in made.values()
    ]


def test_il_kodu_selects_by_place_of_death_or_residence(
    http: httpx.Client, users: Users, registry: Registry
) -> None:
    day = fresh_day()
    died_ankara = registry.register(
        at=at_istanbul(day, 9), residence_province=34, residence_district=1421
    )
    lived_ankara = registry.register(
        at=at_istanbul(day, 10), death_province=34, death_district=1421
    )
    izmir = registry.register(
        at=at_istanbul(day, 11),
        death_province=35,
        death_district=1819,
        residence_province=35,
        residence_district=1819,
    )
    no_district = registry.register(
        at=at_istanbul(day, 12),
        death_province=35,
        death_district=None,
        residence_province=6,
        residence_district=None,
    )

    def feed(il: str | None) -> list[tuple[str, str]]:
        params = {"Tarih": day.isoformat()} | ({"IlKodu": il} if il is not None else {})
        return pairs(success(get(http, users, "GetTumOlumlerByDate", params)))

    assert feed(None) == [died_ankara.pair, lived_ankara.pair, izmir.pair, no_district.pair]
    assert feed("6") == [died_ankara.pair, lived_ankara.pair, no_district.pair]
    assert feed("06") == feed("6")
    assert feed("34") == [died_ankara.pair, lived_ankara.pair]
    assert feed("35") == [izmir.pair, no_district.pair]
    assert feed("1") == []
    assert feed("") == feed(None)


# --- the change feed and corrections -----------------------------------------------------------


def test_updated_feed_lists_a_form_on_the_days_it_changed_not_the_day_it_was_registered(
    http: httpx.Client, users: Users, registry: Registry
) -> None:
    day = fresh_day()
    registered_day, corrected_day, approved_day = day, day + timedelta(days=1), day + timedelta(3)
    returned_day = day + timedelta(days=4)
    reg = registry.register(at=at_istanbul(registered_day, 10))
    untouched = registry.register(at=at_istanbul(registered_day, 11))
    registry.correct(reg, at=at_istanbul(corrected_day, 9), manner=2)
    registry.set_status(reg, "approved", at=at_istanbul(approved_day, 14))
    registry.set_status(reg, "returned", at=at_istanbul(returned_day, 23, 59))

    def updated(d: Any) -> list[tuple[str, str]]:
        return pairs(
            success(get(http, users, "GetGuncellenenOlumlerByDate", {"Tarih": d.isoformat()}))
        )

    assert updated(registered_day) == []
    assert updated(corrected_day) == [reg.pair]
    assert updated(corrected_day + timedelta(days=1)) == []
    assert updated(approved_day) == [reg.pair]
    assert updated(returned_day) == [reg.pair]
    assert untouched.pair not in updated(returned_day)
    # the registration feed still lists it on its registration day only
    tum = success(get(http, users, "GetTumOlumlerByDate", {"Tarih": registered_day.isoformat()}))
    assert pairs(tum) == [reg.pair, untouched.pair]
    assert (
        success(get(http, users, "GetTumOlumlerByDate", {"Tarih": corrected_day.isoformat()})) == []
    )


def test_a_form_changed_on_its_registration_day_is_in_that_days_updated_feed(
    http: httpx.Client, users: Users, registry: Registry
) -> None:
    day = fresh_day()
    reg = registry.register(at=at_istanbul(day, 8))
    other = registry.register(at=at_istanbul(day, 8, 30))
    registry.set_status(reg, "approved", at=at_istanbul(day, 17))
    registry.correct(reg, at=at_istanbul(day, 18), manner=5)
    result = success(get(http, users, "GetGuncellenenOlumlerByDate", {"Tarih": day.isoformat()}))
    assert pairs(result) == [reg.pair]
    assert other.pair not in pairs(result)


def test_full_dto_after_a_correction_shows_the_new_content_and_update_time(
    http: httpx.Client, users: Users, registry: Registry
) -> None:
    day = fresh_day()
    reg = registry.register(
        at=at_istanbul(day, 10),
        causes=[{"kind": 1, "icd_code": "R99", "interval": None}],
    )
    before = success(get(http, users, "GetOlumByFormNoFull", reg.form_params()))
    assert before["GuncellemeTarihi"] is None
    assert before["KayitTarihi"] == f"{day.isoformat()}T10:00:00"
    corrected_at = at_istanbul(day + timedelta(days=2), 11, 5)
    fixed = registry.correct(
        reg,
        at=corrected_at,
        manner=4,
        residence_province=34,
        residence_district=1421,
        causes=[
            {"kind": 1, "icd_code": "I50.9", "interval": "3 gün"},
            {"kind": 4, "icd_code": "I11.0", "interval": "12 yıl"},
        ],
    )
    for method in ("GetOlumByFormNoFull", "GetOlumByTcKimlikNoFull"):
        after = success(get(http, users, method, fixed.params_for(method)))
        assert after["KayitTarihi"] == f"{day.isoformat()}T10:00:00"
        assert after["GuncellemeTarihi"] == f"{(day + timedelta(days=2)).isoformat()}T11:05:00"
        assert (after["OlumSekliId"], after["IkametIlKodu"], after["IkametIlceAdi"]) == (
            4,
            34,
            "Kadıköy",
        )
        assert [
            (c["Sira"], c["IcdKodu"], c["IcdAdi"], c["Sure"]) for c in after["OlumNedenleri"]
        ] == [
            (1, "I50.9", "Heart failure, unspecified", "3 gün"),
            (2, "I11.0", "Hypertensive heart disease with (congestive) heart failure", "12 yıl"),
        ]
    basic = success(get(http, users, "GetOlumByFormNoBasic", fixed.form_params()))
    assert basic["GuncellemeTarihi"] == f"{(day + timedelta(days=2)).isoformat()}T11:05:00"
    # a correction that makes it forensic does not move it in the registration feeds
    adli = success(get(http, users, "GetAdliFormlarByDate", {"Tarih": day.isoformat()}))
    assert pairs(adli) == [reg.pair]


def test_approval_bumps_the_update_time(
    http: httpx.Client, users: Users, registry: Registry
) -> None:
    day = fresh_day()
    reg = registry.register(at=at_istanbul(day, 10))
    registry.set_status(reg, "approved", at=at_istanbul(day + timedelta(days=1), 7, 45))
    result = success(get(http, users, "GetOlumByFormNoBasic", reg.form_params()))
    assert result["GuncellemeTarihi"] == f"{(day + timedelta(days=1)).isoformat()}T07:45:00"


# --- not found ---------------------------------------------------------------------------------


@pytest.mark.parametrize("method", LOOKUP_METHODS)
def test_a_lookup_without_a_record_is_state_2_with_the_documented_message(
    http: httpx.Client, users: Users, method: str
) -> None:
    params = {
        "TcKimlikNo": new_tckn(),
        "Adi": "Yok",
        "Soyadi": "Kimse",
        "DogumTarihi": "1970-01-01",
        "FormNo": "1234567890",
        "ReferansNo": "ABCDEFGH",
        "PasaportNo": new_passport(),
    }
    response = get(http, users, method, params)
    assert response.status_code == 200
    assert envelope(response) == NOT_FOUND
    assert response.json()["Message"] == "Arama kriterlerine uygun kayıt bulunamadı."


@pytest.mark.parametrize(
    ("method", "change"),
    [
        ("GetOlumByTcKimlikNoBasic", {"DogumTarihi": "1950-04-04"}),
        ("GetOlumByTcKimlikNoFull", {"DogumTarihi": "1951-04-03"}),
        ("GetOlumByTcKimlikNoBasic", {"Adi": "Mehmet"}),
        ("GetOlumByTcKimlikNoBasic", {"Adi": "Mehmet Emin Ali"}),
        ("GetOlumByTcKimlikNoFull", {"Soyadi": "Yıldırım"}),
        ("GetOlumByTcKimlikNoBasic", {"Adi": "Yıldız", "Soyadi": "Mehmet Emin"}),
    ],
)
def test_identity_lookup_needs_every_field_to_match(
    http: httpx.Client, users: Users, registry: Registry, method: str, change: dict[str, str]
) -> None:
    reg = registry.register()
    assert success(get(http, users, method, reg.tc_params()))["FormNo"] == reg.form_no
    assert_not_found(get(http, users, method, reg.tc_params() | change))


def test_identity_lookup_of_another_valid_number_with_the_same_names_is_not_found(
    http: httpx.Client, users: Users, registry: Registry
) -> None:
    reg = registry.register()
    params = reg.tc_params() | {"TcKimlikNo": new_tckn()}
    assert_not_found(get(http, users, "GetOlumByTcKimlikNoBasic", params))


@pytest.mark.parametrize("method", PASSPORT_METHODS)
@pytest.mark.parametrize(
    "change",
    [{"Adi": "Anna"}, {"Soyadi": "Schmitt"}, {"PasaportNo": "X0000000"}],
    ids=["first-name", "last-name", "passport"],
)
def test_passport_lookup_needs_number_and_both_names(
    http: httpx.Client, users: Users, registry: Registry, method: str, change: dict[str, str]
) -> None:
    reg = registry.register(passport=True, first_name="Anna Maria", last_name="Schmidt")
    assert success(get(http, users, method, reg.passport_params()))["FormNo"] == reg.form_no
    assert_not_found(get(http, users, method, reg.passport_params() | change))


@pytest.mark.parametrize("method", FORM_METHODS)
def test_form_lookup_needs_the_matching_reference_number(
    http: httpx.Client, users: Users, registry: Registry, method: str
) -> None:
    reg = registry.register()
    other = registry.register()
    assert_not_found(
        get(http, users, method, {**reg.form_params(), "ReferansNo": other.referans_no})
    )
    assert_not_found(get(http, users, method, {**reg.form_params(), "FormNo": other.form_no}))
    assert success(get(http, users, method, reg.form_params()))["FormNo"] == reg.form_no


# --- invalid parameters ------------------------------------------------------------------------


BAD_DATES = [None, "", "2025-13-01", "2025-02-30", "14.03.2025", "2025/03/14", "20250314", "x"]


@pytest.mark.parametrize("method", DATE_METHODS)
@pytest.mark.parametrize("tarih", BAD_DATES)
def test_by_date_methods_refuse_a_missing_or_bad_date_with_state_0(
    http: httpx.Client, users: Users, method: str, tarih: str | None
) -> None:
    params = {} if tarih is None else {"Tarih": tarih}
    message = invalid_message(get(http, users, method, params))
    assert "Tarih" in message


@pytest.mark.parametrize("method", DATE_METHODS)
@pytest.mark.parametrize("il", ["0", "82", "abc", "-6", "6.0", "٦", "100"])
def test_by_date_methods_refuse_a_province_code_outside_1_to_81(
    http: httpx.Client, users: Users, method: str, il: str
) -> None:
    message = invalid_message(get(http, users, method, {"Tarih": "2025-03-14", "IlKodu": il}))
    assert "IlKodu" in message


@pytest.mark.parametrize("il", ["1", "81"])
def test_province_codes_1_and_81_are_accepted(http: httpx.Client, users: Users, il: str) -> None:
    params = {"Tarih": fresh_day().isoformat(), "IlKodu": il}
    assert success(get(http, users, "GetTumOlumlerByDate", params)) == []


def _tc_params(**changes: str | None) -> dict[str, str]:
    params: dict[str, str | None] = {
        "TcKimlikNo": new_tckn(),
        "Adi": "Ali",
        "Soyadi": "Veli",
        "DogumTarihi": "1960-01-01",
    }
    params.update(changes)
    return {k: v for k, v in params.items() if v is not None}


def _bad_checksum() -> str:
    number = new_tckn()
    return number[:10] + str((int(number[10]) + 1) % 10)


@pytest.mark.parametrize("method", TC_METHODS)
@pytest.mark.parametrize(
    ("changes", "names"),
    [
        ({"TcKimlikNo": "checksum"}, "TcKimlikNo"),
        ({"TcKimlikNo": "1234567890"}, "TcKimlikNo"),
        ({"TcKimlikNo": "01234567890"}, "TcKimlikNo"),
        ({"TcKimlikNo": "abcdefghijk"}, "TcKimlikNo"),
        ({"TcKimlikNo": None}, "TcKimlikNo"),
        ({"Adi": None}, "Adi"),
        ({"Adi": "   "}, "Adi"),
        ({"Soyadi": None}, "Soyadi"),
        ({"DogumTarihi": None}, "DogumTarihi"),
        ({"DogumTarihi": "2025-13-01"}, "DogumTarihi"),
        ({"DogumTarihi": "03.04.1950"}, "DogumTarihi"),
    ],
)
def test_identity_lookups_refuse_bad_parameters_with_state_0(
    http: httpx.Client, users: Users, method: str, changes: dict[str, str | None], names: str
) -> None:
    if changes.get("TcKimlikNo") == "checksum":
        changes = {"TcKimlikNo": _bad_checksum()}
    message = invalid_message(get(http, users, method, _tc_params(**changes)))
    assert names in message


def test_a_failed_checksum_is_refused_even_for_a_registered_person(
    http: httpx.Client, users: Users, registry: Registry
) -> None:
    reg = registry.register()
    number = reg.form["identity_number"]
    broken = number[:10] + str((int(number[10]) + 1) % 10)
    for method in (*TC_METHODS, DEATH_DATE_METHOD):
        params = reg.params_for(method) | {"TcKimlikNo": broken}
        assert "TcKimlikNo" in invalid_message(get(http, users, method, params))


@pytest.mark.parametrize("number", ["checksum", "", "123", "1234567890a"])
def test_death_date_lookup_refuses_a_bad_identity_number(
    http: httpx.Client, users: Users, number: str
) -> None:
    if number == "checksum":
        number = _bad_checksum()
    message = invalid_message(get(http, users, DEATH_DATE_METHOD, {"TcKimlikNo": number}))
    assert "TcKimlikNo" in message


@pytest.mark.parametrize("method", FORM_METHODS)
def test_form_number_without_reference_number_is_refused(
    http: httpx.Client, users: Users, registry: Registry, method: str
) -> None:
    reg = registry.register()
    for params in ({"FormNo": reg.form_no}, {"FormNo": reg.form_no, "ReferansNo": "  "}):
        assert "ReferansNo" in invalid_message(get(http, users, method, params))
    assert "FormNo" in invalid_message(get(http, users, method, {"ReferansNo": reg.referans_no}))


@pytest.mark.parametrize("method", PASSPORT_METHODS)
@pytest.mark.parametrize("missing", ["PasaportNo", "Adi", "Soyadi"])
def test_passport_lookups_refuse_a_missing_parameter(
    http: httpx.Client, users: Users, method: str, missing: str
) -> None:
    params = {"PasaportNo": new_passport(), "Adi": "Anna", "Soyadi": "Schmidt"}
    del params[missing]
    assert missing in invalid_message(get(http, users, method, params))


@pytest.mark.parametrize("method", OBS_METHODS)
def test_no_parameters_at_all_is_state_0_never_an_error_status(
    http: httpx.Client, users: Users, method: str
) -> None:
    invalid_message(get(http, users, method, {}))


# --- names of parameters and methods -----------------------------------------------------------


@pytest.mark.parametrize(
    "keys",
    [
        ("TcKimlikNo", "Adi", "Soyadi", "DogumTarihi"),
        ("tckimlikno", "adi", "soyadi", "dogumtarihi"),
        ("TCKIMLIKNO", "ADI", "SOYADI", "DOGUMTARIHI"),
        ("TcKimlikNO", "aDI", "SoyAdi", "DogumTARIHI"),
    ],
)
def test_query_parameter_names_match_case_insensitively(
    http: httpx.Client, users: Users, registry: Registry, keys: tuple[str, ...]
) -> None:
    reg = registry.register()
    values = list(reg.tc_params().values())
    params = dict(zip(keys, values, strict=True))
    assert success(get(http, users, "GetOlumByTcKimlikNoBasic", params))["FormNo"] == reg.form_no


@pytest.mark.parametrize("key", ["Tarih", "tarih", "TARIH", "tARiH"])
def test_date_parameter_name_is_case_insensitive(
    http: httpx.Client, users: Users, registry: Registry, key: str
) -> None:
    day = fresh_day()
    reg = registry.register(at=at_istanbul(day, 10), death_province=34, death_district=1421)
    listed = pairs(success(get(http, users, "GetTumOlumlerByDate", {key: day.isoformat()})))
    assert listed == [reg.pair]
    for il in ("ilkodu", "ILKODU", "IlKodu"):
        params = {key: day.isoformat(), il: "35"}
        assert success(get(http, users, "GetTumOlumlerByDate", params)) == []


@pytest.mark.parametrize(
    "keys",
    [("formno", "referansno"), ("FORMNO", "REFERANSNO"), ("FormNO", "referansNo")],
)
def test_form_parameter_names_are_case_insensitive(
    http: httpx.Client, users: Users, registry: Registry, keys: tuple[str, str]
) -> None:
    reg = registry.register()
    params = dict(zip(keys, (reg.form_no, reg.referans_no), strict=True))
    assert success(get(http, users, "GetOlumByFormNoBasic", params))["FormNo"] == reg.form_no


@pytest.mark.parametrize(
    "spelling", ["getolumbyformnofull", "GETOLUMBYFORMNOFULL", "GetOlumByFormNoFULL"]
)
def test_method_names_match_case_insensitively(
    http: httpx.Client, users: Users, registry: Registry, spelling: str
) -> None:
    reg = registry.register()
    result = success(get(http, users, spelling, reg.form_params()))
    assert list(result) == FULL_KEYS
    assert result["FormNo"] == reg.form_no


@pytest.mark.parametrize("env", ["live", "test"])
@pytest.mark.parametrize("method", ["GetOlumByAdi", "GetTumOlumler", "x", "GetOlumByFormNo"])
def test_unknown_method_is_404_in_the_envelope(
    http: httpx.Client, users: Users, env: str, method: str
) -> None:
    response = get(http, users, method, {"Tarih": "2025-03-14"}, env=env)
    body = envelope(response, 404)
    assert body["State"] == 0
    assert body["Result"] is None
    assert isinstance(body["Message"], str)
    assert body["Message"]


def test_unknown_method_is_404_even_without_credentials(http: httpx.Client) -> None:
    response = http.get(obs_path("live", "GetNothing"))
    assert envelope(response, 404)["State"] == 0


def test_repeated_parameter_uses_the_first_value(
    http: httpx.Client, users: Users, registry: Registry
) -> None:
    reg = registry.register()
    query = [("FormNo", reg.form_no), ("formno", "1"), ("ReferansNo", reg.referans_no)]
    response = http.get(
        obs_path("live", "GetOlumByFormNoBasic"), params=query, auth=users.live.auth
    )
    assert success(response)["FormNo"] == reg.form_no


# --- Turkish names -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "adi",
    [
        "Mehmet Emin",
        "mehmet emin",
        "MEHMET  EMİN ",
        "  mehmet\temin",
        unicodedata.normalize("NFD", "MEHMET EMİN"),
        unicodedata.normalize("NFD", "mehmet emin"),
    ],
    ids=["as-registered", "lower", "upper-extra-spaces", "tab", "nfd-upper", "nfd-lower"],
)
def test_first_name_matches_turkish_aware(
    http: httpx.Client, users: Users, registry: Registry, adi: str
) -> None:
    reg = registry.register(first_name="Mehmet Emin")
    params = reg.tc_params() | {"Adi": adi}
    assert success(get(http, users, "GetOlumByTcKimlikNoBasic", params))["FormNo"] == reg.form_no


@pytest.mark.parametrize(
    ("registered", "asked", "found"),
    [
        ("İsmail", "ismail", True),
        ("İSMAİL", "ismail", True),
        ("ismail", "İSMAİL", True),
        ("İSMAİL", "ISMAIL", False),
        ("İsmail", "Ismail", False),
        ("Işıl", "IŞIL", True),
        ("Işıl", "ışıl", True),
        ("Işıl", "İŞİL", False),
        ("Işıl", "isil", False),
        ("Gülşen", unicodedata.normalize("NFD", "GÜLŞEN"), True),
    ],
)
def test_dotted_and_dotless_i_are_different_letters(
    http: httpx.Client,
    users: Users,
    registry: Registry,
    registered: str,
    asked: str,
    found: bool,
) -> None:
    reg = registry.register(first_name=registered)
    response = get(http, users, "GetOlumByTcKimlikNoBasic", reg.tc_params() | {"Adi": asked})
    if found:
        assert success(response)["FormNo"] == reg.form_no
    else:
        assert_not_found(response)


@pytest.mark.parametrize("asked", ["Schmidt", "SCHMIDT", "schmidt", " sCHmidt  "])
def test_foreign_names_match_as_the_passport_writes_them_or_the_turkish_way(
    http: httpx.Client, users: Users, registry: Registry, asked: str
) -> None:
    reg = registry.register(passport=True, first_name="Anna Maria", last_name="Schmidt")
    response = get(
        http, users, "GetOlumByPasaportNoBasic", reg.passport_params() | {"Soyadi": asked}
    )
    result = success(response)
    assert (result["Adi"], result["Soyadi"]) == ("ANNA MARIA", "SCHMIDT")


def test_names_on_the_wire_are_turkish_upper_case(
    http: httpx.Client, users: Users, registry: Registry
) -> None:
    reg = registry.register(
        first_name="ismail hakkı",
        last_name=unicodedata.normalize("NFD", "Çağlayangil"),
        father_name="ömer",
        mother_name="şükriye",
        birth_place="izmir",
    )
    result = success(get(http, users, "GetOlumByTcKimlikNoBasic", reg.tc_params()))
    assert (result["Adi"], result["Soyadi"], result["BabaAdi"], result["AnaAdi"]) == (
        "İSMAİL HAKKI",
        "ÇAĞLAYANGİL",
        "ÖMER",
        "ŞÜKRİYE",
    )
    assert result["DogumYeri"] == "İZMİR"
    assert unicodedata.is_normalized("NFC", result["Soyadi"])


@pytest.mark.parametrize("method", OBS_METHODS)
def test_every_method_answers_json_in_the_envelope(
    http: httpx.Client, users: Users, registry: Registry, method: str
) -> None:
    reg = registry.register(passport=method in PASSPORT_METHODS)
    params = {"Tarih": "2026-06-15"} if method in DATE_METHODS else reg.params_for(method)
    result = success(get(http, users, method, params))
    if method in DATE_METHODS:
        assert isinstance(result, list)
    elif method == DEATH_DATE_METHOD:
        assert isinstance(result, str)
    else:
        assert result["FormNo"] == reg.form_no
