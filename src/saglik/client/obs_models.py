"""ÖBS answers as typed values (contract §5.4).

Attributes are the wire's PascalCase names in snake_case (``OlumIlKodu`` → ``olum_il_kodu``), so
the service's documentation stays the reference. Datetimes on the wire are Europe/Istanbul local
time without an offset; here they are aware datetimes in that zone, so comparing them with any
other aware datetime is right across DST history.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from zoneinfo import ZoneInfo

from pydantic import AfterValidator, BaseModel, ConfigDict
from pydantic.alias_generators import to_pascal

from saglik.client._enums import OpenIntEnum

ISTANBUL = ZoneInfo("Europe/Istanbul")


def _in_istanbul(value: datetime) -> datetime:
    if value.tzinfo is None:
        return value.replace(tzinfo=ISTANBUL)
    return value.astimezone(ISTANBUL)


IstanbulDateTime = Annotated[datetime, AfterValidator(_in_istanbul)]


class ServisSonucDurumu(OpenIntEnum):
    HATA = 0
    BASARILI = 1
    UYARI = 2


class Cinsiyet(OpenIntEnum):
    ERKEK = 1
    KADIN = 2
    BELIRSIZ = 3


class OlumYeri(OpenIntEnum):
    SAGLIK_KURULUSU = 1
    EV = 2
    IS_YERI = 3
    YOL_TRAFIK = 4
    HUZUREVI_BAKIMEVI = 5
    DIGER = 98
    BILINMIYOR = 99


class OlumSekli(OpenIntEnum):
    BULASICI_OLMAYAN_HASTALIK = 1
    BULASICI_HASTALIK = 2
    BULASICI_OLMAYAN_HASTALIK_ADLI_OLAY = 3
    BULASICI_HASTALIK_ADLI_OLAY = 4
    TRAFIK_KAZASI = 5
    IS_KAZASI = 6
    DIGER_KAZALAR = 7
    INTIHAR = 8
    OLDURULME = 9
    DOGAL_AFET = 10
    DIGER = 98
    BILINMIYOR = 99


class KadinOlumuNedeni(OpenIntEnum):
    """Pregnancy status of a deceased woman (WHO/VRDR codes)."""

    SON_BIR_YILDA_GEBE_DEGIL = 1
    OLUM_ANINDA_GEBE = 2
    SON_42_GUNDE_GEBELIK_SONLANMIS = 3
    GEBELIK_43_GUN_1_YIL_ONCE_SONLANMIS = 4
    BELIRTILMEMIS = 7
    UYGULANAMAZ = 8
    BILINMIYOR = 9


class OlumNedeniTuru(OpenIntEnum):
    """The line of the WHO cause chain: a, b, c, d of Part I, then Part II."""

    DOGRUDAN_NEDEN = 1
    ARA_NEDEN_B = 2
    ARA_NEDEN_C = 3
    ALTTA_YATAN_NEDEN = 4
    KATKIDA_BULUNAN_DURUM = 5


class _Wire(BaseModel):
    model_config = ConfigDict(
        frozen=True, extra="ignore", alias_generator=to_pascal, populate_by_name=True
    )


class FormRef(_Wire):
    """A form's two numbers: both are needed to look the form up."""

    form_no: str
    referans_no: str


class OlumNedeni(_Wire):
    """One line of the cause-of-death chain."""

    sira: int
    olum_nedeni_turu_id: OlumNedeniTuru
    olum_nedeni_turu: str
    icd_kodu: str
    icd_adi: str | None
    sure: str | None


class ObsBasic(_Wire):
    """``ObsBasicDto``: the summary of a death."""

    form_no: str
    referans_no: str
    tc_kimlik_no: str | None
    pasaport_no: str | None
    uyruk_kodu: str
    adi: str
    soyadi: str
    baba_adi: str | None
    ana_adi: str | None
    dogum_tarihi: IstanbulDateTime | None
    dogum_yeri: str | None
    cinsiyet: Cinsiyet
    cinsiyet_adi: str
    olum_tarihi: IstanbulDateTime
    olum_yeri_id: OlumYeri
    olum_yeri: str
    olum_il_kodu: int
    olum_il_adi: str
    olum_ilce_kodu: int | None
    olum_ilce_adi: str | None
    ikamet_il_kodu: int
    ikamet_il_adi: str
    ikamet_ilce_kodu: int | None
    ikamet_ilce_adi: str | None
    olum_sekli_id: OlumSekli
    olum_sekli: str
    kadin_olumu_nedeni_id: KadinOlumuNedeni | None
    kadin_olumu_nedeni: str | None
    kayit_tarihi: IstanbulDateTime
    guncelleme_tarihi: IstanbulDateTime | None

    @property
    def form(self) -> FormRef:
        return FormRef(form_no=self.form_no, referans_no=self.referans_no)


class ObsFull(ObsBasic):
    """``ObsFullDto``: the summary plus the causes in chain order, autopsy and injury time."""

    olum_nedenleri: list[OlumNedeni]
    otopsi_yapildi_mi: bool | None
    yaralanma_tarihi: IstanbulDateTime | None


__all__ = [
    "ISTANBUL",
    "Cinsiyet",
    "FormRef",
    "KadinOlumuNedeni",
    "ObsBasic",
    "ObsFull",
    "OlumNedeni",
    "OlumNedeniTuru",
    "OlumSekli",
    "OlumYeri",
    "ServisSonucDurumu",
]
