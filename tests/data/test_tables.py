"""Shipped reference tables (contract §5.4, §6): the 81 provinces and the ÖBS enum tables."""

from __future__ import annotations

import csv
import io
import unicodedata
from importlib import resources

import pycountry
import pytest

from saglik.data.tables import DISTRICTS_FILE, data_text, obs_tables, provinces
from saglik.domain.turkish import nfc


def test_there_are_exactly_the_81_plate_codes() -> None:
    assert sorted(provinces()) == list(range(1, 82))


def test_province_names_are_those_of_the_shipped_district_table() -> None:
    """Two tables from two sources (ours and turkiye-api's districts) name each plate alike."""
    text = data_text(DISTRICTS_FILE)
    named = {
        (int(row["plate"]), nfc(row["province"].strip()))
        for row in csv.DictReader(io.StringIO(text, newline=""))
    }
    assert named == set(provinces().items())


def test_the_district_table_ships_with_its_licence_and_attribution() -> None:
    data = resources.files("saglik.data")
    licence = data.joinpath("LICENSE.turkiye-api.txt").read_text("utf-8")
    assert licence.startswith("MIT License")
    assert "Ubeyde Emir Özdemir" in licence
    attribution = data.joinpath("ATTRIBUTION.md").read_text("utf-8")
    assert DISTRICTS_FILE in attribution
    assert "LICENSE.turkiye-api.txt" in attribution


def test_province_names_are_nfc_and_trimmed() -> None:
    for name in provinces().values():
        assert name == nfc(name).strip()
        assert name


def _without_circumflex(name: str) -> str:
    return nfc(unicodedata.normalize("NFD", name).replace("\u0302", ""))


def test_province_names_agree_with_iso_3166_2_tr() -> None:
    """ISO writes Hakkâri with its circumflex; the plate list (and the shared refdata) writes
    Hakkari. Apart from the circumflex, the two must agree name for name."""
    iso = {
        int(sub.code.split("-")[1]): nfc(sub.name)
        for sub in pycountry.subdivisions.get(country_code="TR")
    }
    assert iso[30] == "Hakkâri"
    assert {k: _without_circumflex(v) for k, v in provinces().items()} == {
        k: _without_circumflex(v) for k, v in iso.items()
    }


def test_spot_check_of_well_known_plates() -> None:
    names = provinces()
    assert (names[6], names[34], names[35], names[81]) == ("Ankara", "İstanbul", "İzmir", "Düzce")


EXPECTED_TABLES: dict[str, set[int]] = {
    "ServisSonucDurumu": {0, 1, 2},
    "Cinsiyet": {1, 2, 3},
    "OlumSekli": {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 98, 99},
    "KadinOlumuNedeni": {1, 2, 3, 4, 7, 8, 9},
}


@pytest.mark.parametrize("table", list(EXPECTED_TABLES))
def test_the_design_enum_tables_have_exactly_their_codes(table: str) -> None:
    assert set(obs_tables()[table]) == EXPECTED_TABLES[table]


def test_enum_names_follow_the_design() -> None:
    tables = obs_tables()
    assert tables["ServisSonucDurumu"] == {0: "HATA", 1: "BASARILI", 2: "UYARI"}
    assert tables["Cinsiyet"] == {1: "Erkek", 2: "Kadın", 3: "Belirsiz"}
    assert tables["OlumSekli"][3] == "Bulaşıcı olmayan hastalık (Adli Olay)"
    assert tables["OlumSekli"][4] == "Bulaşıcı hastalık (Adli Olay)"
    assert tables["OlumSekli"][99] == "Bilinmiyor"
    assert tables["KadinOlumuNedeni"][3] == "Son 42 gün içinde gebelik sonlanmış"
    assert tables["KadinOlumuNedeni"][8] == "Uygulanamaz"


def test_every_table_has_integer_keys_and_non_blank_names_and_no_comment_entry() -> None:
    tables = obs_tables()
    assert not any(name.startswith("_") for name in tables)
    assert {"OlumYeri", "OlumNedeniTuru"} <= set(tables)
    for table in tables.values():
        assert table
        for code, name in table.items():
            assert isinstance(code, int)
            assert name.strip() == name
            assert name


def test_the_cause_kinds_are_the_who_chain_in_order() -> None:
    assert list(obs_tables()["OlumNedeniTuru"]) == [1, 2, 3, 4, 5]
