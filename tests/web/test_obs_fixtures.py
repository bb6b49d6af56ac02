"""The ÖBS sandbox fixtures (contract §5.6): every listed form answers on the test path as its
category promises — citizen, foreigner, forensic, maternal, out-of-province, corrected."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from saglik.domain.methods import OBS_METHODS
from saglik.services.obs_fixtures import ObsFixture, obs_fixtures
from tests.conftest import Credential
from tests.web.conftest import Users
from tests.web.obs_helpers import (
    BASIC_KEYS,
    FULL_KEYS,
    assert_not_found,
    obs_get,
    pairs,
    success,
)

FIXTURES = obs_fixtures()
REGISTERED_DAY = "2025-03-14"
CORRECTED_DAY = "2025-03-16"


def by_category(word: str) -> ObsFixture:
    found = [fx for fx in FIXTURES if word.lower() in fx.category.lower()]
    assert len(found) == 1, [fx.category for fx in FIXTURES]
    return found[0]


CITIZEN = by_category("T.C. vatandaşı")
FOREIGNER = by_category("pasaport")
FORENSIC = by_category("Adli")
MATERNAL = by_category("Anne")
ELSEWHERE = by_category("İkamet ili dışında")
CORRECTED = by_category("Düzeltilmiş")


def form_params(fx: ObsFixture) -> dict[str, str]:
    return {"FormNo": fx.form_no, "ReferansNo": fx.referans_no}


def tc_params(fx: ObsFixture) -> dict[str, str]:
    assert fx.form.identity_number is not None
    assert fx.form.birth_date is not None
    return {
        "TcKimlikNo": fx.form.identity_number,
        "Adi": fx.form.first_name,
        "Soyadi": fx.form.last_name,
        "DogumTarihi": fx.form.birth_date.isoformat(),
    }


def sandbox(http: httpx.Client, users: Users, method: str, params: dict[str, str]) -> object:
    return success(obs_get(http, "test", method, users.test.auth, params))


def test_the_fixture_set_covers_every_documented_case() -> None:
    assert len(FIXTURES) == 6
    assert len({fx.form_no for fx in FIXTURES}) == 6
    assert FOREIGNER.form.passport_no is not None
    assert FOREIGNER.form.identity_number is None
    assert FORENSIC.form.manner in (3, 4)
    assert (MATERNAL.form.sex, MATERNAL.form.maternal_status) == (2, 3)
    assert ELSEWHERE.form.death_province != ELSEWHERE.form.residence_province
    assert CORRECTED.correction is not None


@pytest.mark.parametrize("fx", FIXTURES, ids=[fx.form_no for fx in FIXTURES])
@pytest.mark.parametrize("method", ["GetOlumByFormNoBasic", "GetOlumByFormNoFull"])
def test_every_fixture_answers_by_form_number_on_the_test_path(
    http: httpx.Client, users: Users, fx: ObsFixture, method: str
) -> None:
    result = sandbox(http, users, method, form_params(fx))
    assert isinstance(result, dict)
    assert list(result) == (FULL_KEYS if method.endswith("Full") else BASIC_KEYS)
    assert (result["FormNo"], result["ReferansNo"]) == (fx.form_no, fx.referans_no)
    assert result["OlumIlKodu"] == fx.form.death_province
    assert result["IkametIlKodu"] == fx.form.residence_province
    assert result["TcKimlikNo"] == fx.form.identity_number
    assert result["KayitTarihi"] == fx.registered_at.strftime("%Y-%m-%dT%H:%M:%S")


@pytest.mark.parametrize(
    "fx",
    [fx for fx in FIXTURES if fx.form.identity_number is not None],
    ids=lambda fx: fx.form_no,
)
def test_every_citizen_fixture_answers_by_identity_number_names_and_birth_date(
    http: httpx.Client, users: Users, fx: ObsFixture
) -> None:
    full = sandbox(http, users, "GetOlumByTcKimlikNoFull", tc_params(fx))
    assert isinstance(full, dict)
    assert full["FormNo"] == fx.form_no
    basic = sandbox(http, users, "GetOlumByTcKimlikNoBasic", tc_params(fx))
    assert isinstance(basic, dict)
    assert basic["FormNo"] == fx.form_no
    died = sandbox(
        http, users, "GetOlumTarihiByTcKimlikNo", {"TcKimlikNo": tc_params(fx)["TcKimlikNo"]}
    )
    assert died == fx.form.died_at.strftime("%Y-%m-%dT%H:%M:%S")


def test_the_citizen_fixture_reads_as_documented(http: httpx.Client, users: Users) -> None:
    result = sandbox(
        http,
        users,
        "GetOlumByTcKimlikNoFull",
        {
            "TcKimlikNo": "76883560160",
            "Adi": "mehmet emin",
            "Soyadi": "YILDIZ",
            "DogumTarihi": "1941-05-02",
        },
    )
    assert isinstance(result, dict)
    assert (result["FormNo"], result["ReferansNo"]) == ("9000000011", "TSTA7K2M")
    assert (result["Adi"], result["Soyadi"]) == ("MEHMET EMİN", "YILDIZ")
    assert result["DogumTarihi"] == "1941-05-02T00:00:00"
    assert result["OlumTarihi"] == "2025-03-13T06:40:00"
    assert result["KayitTarihi"] == "2025-03-14T09:15:00"
    assert (result["OlumIlceKodu"], result["OlumIlceAdi"]) == (1231, "Çankaya")
    assert [(c["Sira"], c["IcdKodu"]) for c in result["OlumNedenleri"]] == [
        (1, "I21.9"),
        (2, "I25.1"),
        (3, "E11.9"),
    ]


def test_the_foreigner_fixture_answers_by_passport_and_names(
    http: httpx.Client, users: Users
) -> None:
    assert FOREIGNER.form.passport_no is not None
    params = {
        "PasaportNo": FOREIGNER.form.passport_no,
        "Adi": FOREIGNER.form.first_name,
        "Soyadi": FOREIGNER.form.last_name,
    }
    for method in ("GetOlumByPasaportNoBasic", "GetOlumByPasaportNoFull"):
        result = sandbox(http, users, method, params)
        assert isinstance(result, dict)
        assert result["FormNo"] == FOREIGNER.form_no
        assert result["PasaportNo"] == FOREIGNER.form.passport_no
        assert result["TcKimlikNo"] is None
        assert result["UyrukKodu"] == FOREIGNER.form.nationality
        assert (result["Adi"], result["Soyadi"]) == ("ANNA MARIA", "SCHMIDT")
    wrong = params | {"Soyadi": "Schmitt"}
    assert_not_found(obs_get(http, "test", "GetOlumByPasaportNoBasic", users.test.auth, wrong))


def test_the_registration_day_lists_every_fixture_and_the_forensic_one_alone_as_forensic(
    http: httpx.Client, users: Users
) -> None:
    tarih = {"Tarih": REGISTERED_DAY}
    all_forms = pairs(sandbox(http, users, "GetTumOlumlerByDate", tarih))
    assert all_forms == [(fx.form_no, fx.referans_no) for fx in FIXTURES]
    forensic = pairs(sandbox(http, users, "GetAdliFormlarByDate", tarih))
    assert forensic == [(FORENSIC.form_no, FORENSIC.referans_no)]
    result = sandbox(http, users, "GetOlumByFormNoFull", form_params(FORENSIC))
    assert isinstance(result, dict)
    assert result["OlumSekliId"] in (3, 4)
    assert result["OtopsiYapildiMi"] is True
    assert result["YaralanmaTarihi"] == "2025-03-13T16:45:00"


def test_the_maternal_death_carries_its_pregnancy_status(http: httpx.Client, users: Users) -> None:
    result = sandbox(http, users, "GetOlumByTcKimlikNoFull", tc_params(MATERNAL))
    assert isinstance(result, dict)
    assert result["FormNo"] == MATERNAL.form_no
    assert (result["Cinsiyet"], result["CinsiyetAdi"]) == (2, "Kadın")
    assert (result["KadinOlumuNedeniId"], result["KadinOlumuNedeni"]) == (
        3,
        "Son 42 gün içinde gebelik sonlanmış",
    )
    assert result["OlumNedenleri"][0]["IcdKodu"].startswith("O")


@pytest.mark.parametrize(
    ("scope", "sees"),
    [
        ({"province_code": 1}, True),  # residence: Adana
        ({"province_code": 1, "district_code": 1104}, True),  # residence district: Seyhan
        ({"province_code": 7}, True),  # place of death: Antalya
        ({"province_code": 7, "district_code": 2039}, True),  # death district: Muratpaşa
        ({"province_code": 6}, False),
        ({"province_code": 1, "district_code": 1219}, False),  # another district of Adana
        ({}, True),
    ],
)
def test_the_out_of_province_death_is_seen_from_residence_and_death_province_only(
    http: httpx.Client,
    make_user: Callable[..., Credential],
    scope: dict[str, int],
    sees: bool,
) -> None:
    assert (ELSEWHERE.form.residence_province, ELSEWHERE.form.death_province) == (1, 7)
    user = make_user(env="test", methods=OBS_METHODS, **scope)
    lookups = {
        "GetOlumByTcKimlikNoBasic": tc_params(ELSEWHERE),
        "GetOlumByTcKimlikNoFull": tc_params(ELSEWHERE),
        "GetOlumByFormNoBasic": form_params(ELSEWHERE),
        "GetOlumByFormNoFull": form_params(ELSEWHERE),
        "GetOlumTarihiByTcKimlikNo": {"TcKimlikNo": tc_params(ELSEWHERE)["TcKimlikNo"]},
    }
    for method, params in lookups.items():
        response = obs_get(http, "test", method, user.auth, params)
        if sees:
            assert success(response)
        else:
            assert_not_found(response)
    listed = pairs(
        success(obs_get(http, "test", "GetTumOlumlerByDate", user.auth, {"Tarih": REGISTERED_DAY}))
    )
    assert ((ELSEWHERE.form_no, ELSEWHERE.referans_no) in listed) is sees


def test_the_corrected_form_is_in_the_updated_feed_with_its_corrected_causes(
    http: httpx.Client, users: Users
) -> None:
    assert CORRECTED.correction is not None
    updated = pairs(sandbox(http, users, "GetGuncellenenOlumlerByDate", {"Tarih": CORRECTED_DAY}))
    assert updated == [(CORRECTED.form_no, CORRECTED.referans_no)]
    assert sandbox(http, users, "GetGuncellenenOlumlerByDate", {"Tarih": REGISTERED_DAY}) == []
    result = sandbox(http, users, "GetOlumByFormNoFull", form_params(CORRECTED))
    assert isinstance(result, dict)
    assert result["GuncellemeTarihi"] == "2025-03-16T11:00:00"
    assert result["KayitTarihi"] == "2025-03-14T16:05:00"
    expected = [
        (i, c["kind"], c["icd_code"], c["interval"])
        for i, c in enumerate(CORRECTED.correction["causes"], start=1)
    ]
    assert [
        (c["Sira"], c["OlumNedeniTuruId"], c["IcdKodu"], c["Sure"]) for c in result["OlumNedenleri"]
    ] == expected
    assert expected[0][2] == "I50.9"  # the correction, not the original R99
    assert all(c["IcdAdi"] for c in result["OlumNedenleri"])


def test_uncorrected_fixtures_have_no_update_time(http: httpx.Client, users: Users) -> None:
    for fx in FIXTURES:
        result = sandbox(http, users, "GetOlumByFormNoBasic", form_params(fx))
        assert isinstance(result, dict)
        assert (result["GuncellemeTarihi"] is None) is (fx.correction is None)
