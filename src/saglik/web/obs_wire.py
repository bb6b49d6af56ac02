"""ÖBS wire formats (contract §5.1, §5.4): the ``ServisSonucu`` envelope and the DTOs, PascalCase,
enums as integers beside their names, Istanbul local datetimes without offset."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from saglik.data.tables import obs_tables, provinces
from saglik.domain.obs import (
    NOT_FOUND_MESSAGE,
    DeathRecord,
    ServisSonucDurumu,
    istanbul_local,
)
from saglik.services.icd_names import IcdNames
from saglik.services.obs import Lookup


def envelope(state: ServisSonucDurumu, message: str | None, result: Any) -> dict[str, Any]:
    return {"State": int(state), "Message": message, "Result": result}


def success(result: Any) -> dict[str, Any]:
    return envelope(ServisSonucDurumu.BASARILI, None, result)


def not_found() -> dict[str, Any]:
    return envelope(ServisSonucDurumu.UYARI, NOT_FOUND_MESSAGE, None)


def invalid(message: str) -> dict[str, Any]:
    return envelope(ServisSonucDurumu.HATA, message, None)


def local(moment: datetime | None) -> str | None:
    return istanbul_local(moment) if moment is not None else None


def _day(value: date | None) -> str | None:
    return f"{value.isoformat()}T00:00:00" if value is not None else None


def _name(table: str, code: int | None) -> str | None:
    return obs_tables()[table].get(code) if code is not None else None


def form_list(pairs: list[tuple[str, str]]) -> list[dict[str, str]]:
    return [{"FormNo": form, "ReferansNo": reference} for form, reference in pairs]


def basic(lookup: Lookup) -> dict[str, Any]:
    r: DeathRecord = lookup.record
    names = lookup.district_names
    province_names = provinces()
    return {
        "FormNo": r.form_no,
        "ReferansNo": r.referans_no,
        "TcKimlikNo": r.identity_number,
        "PasaportNo": r.passport_no,
        "UyrukKodu": r.nationality,
        "Adi": r.first_name,
        "Soyadi": r.last_name,
        "BabaAdi": r.father_name,
        "AnaAdi": r.mother_name,
        "DogumTarihi": _day(r.birth_date),
        "DogumYeri": r.birth_place,
        "Cinsiyet": r.sex,
        "CinsiyetAdi": _name("Cinsiyet", r.sex),
        "OlumTarihi": local(r.died_at),
        "OlumYeriId": r.place_of_death_type,
        "OlumYeri": _name("OlumYeri", r.place_of_death_type),
        "OlumIlKodu": r.death_place.province,
        "OlumIlAdi": province_names.get(r.death_place.province),
        "OlumIlceKodu": r.death_place.district,
        "OlumIlceAdi": names.get(r.death_place.district) if r.death_place.district else None,
        "IkametIlKodu": r.residence.province,
        "IkametIlAdi": province_names.get(r.residence.province),
        "IkametIlceKodu": r.residence.district,
        "IkametIlceAdi": names.get(r.residence.district) if r.residence.district else None,
        "OlumSekliId": r.manner,
        "OlumSekli": _name("OlumSekli", r.manner),
        "KadinOlumuNedeniId": r.maternal_status,
        "KadinOlumuNedeni": _name("KadinOlumuNedeni", r.maternal_status),
        "KayitTarihi": local(r.registered_at),
        "GuncellemeTarihi": local(r.updated_at),
    }


def full(lookup: Lookup, icd_names: IcdNames) -> dict[str, Any]:
    """``IcdAdi`` is the name the service gives the code everywhere (``IcdNames.name``: the WHO
    title, or the operator's ``SAGLIK_ICD_NAMES``)."""
    out = basic(lookup)
    r = lookup.record
    out["OlumNedenleri"] = [
        {
            "Sira": i,
            "OlumNedeniTuruId": cause.kind,
            "OlumNedeniTuru": _name("OlumNedeniTuru", cause.kind),
            "IcdKodu": cause.icd_code,
            "IcdAdi": icd_names.name(cause.icd_code),
            "Sure": cause.interval,
        }
        for i, cause in enumerate(r.causes, start=1)
    ]
    out["OtopsiYapildiMi"] = r.autopsy
    out["YaralanmaTarihi"] = local(r.injured_at)
    return out
