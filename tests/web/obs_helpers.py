"""Helpers for the black-box ÖBS tests (contract §5): wire paths, envelope assertions, unique test
people and days, and death forms registered through the operator service the server reads.

Everything here talks to the server over its socket (``server.base_url``) or writes/reads the
store it uses; nothing calls into the web layer directly.
"""

from __future__ import annotations

import itertools
import json
import random
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from saglik.domain.methods import OBS_METHODS
from saglik.domain.tckn import random_tckn
from saglik.services.obs import ObsRegistryService, parse_form
from tests.change_support import change_log
from tests.conftest import LiveServer

ISTANBUL = ZoneInfo("Europe/Istanbul")
LIVE_BASE = "/services/g2g/saglik/OBS/"
TEST_BASE = "/services/g2g/test/saglik/OBS/"

DATE_METHODS = ("GetTumOlumlerByDate", "GetAdliFormlarByDate", "GetGuncellenenOlumlerByDate")
TC_METHODS = ("GetOlumByTcKimlikNoBasic", "GetOlumByTcKimlikNoFull")
FORM_METHODS = ("GetOlumByFormNoBasic", "GetOlumByFormNoFull")
PASSPORT_METHODS = ("GetOlumByPasaportNoBasic", "GetOlumByPasaportNoFull")
DEATH_DATE_METHOD = "GetOlumTarihiByTcKimlikNo"
LOOKUP_METHODS = (*TC_METHODS, *FORM_METHODS, *PASSPORT_METHODS, DEATH_DATE_METHOD)
FULL_METHODS = ("GetOlumByTcKimlikNoFull", "GetOlumByFormNoFull", "GetOlumByPasaportNoFull")
assert set(OBS_METHODS) == {*DATE_METHODS, *LOOKUP_METHODS}

NOT_FOUND_MESSAGE = "Arama kriterlerine uygun kayıt bulunamadı."
NOT_FOUND = {"State": 2, "Message": NOT_FOUND_MESSAGE, "Result": None}
AUTH_FAILURE_MESSAGE = "Servis kullanımı yetkisi için servis sağlayıcısı kurum ile görüşünüz..."

BASIC_KEYS = [
    "FormNo",
    "ReferansNo",
    "TcKimlikNo",
    "PasaportNo",
    "UyrukKodu",
    "Adi",
    "Soyadi",
    "BabaAdi",
    "AnaAdi",
    "DogumTarihi",
    "DogumYeri",
    "Cinsiyet",
    "CinsiyetAdi",
    "OlumTarihi",
    "OlumYeriId",
    "OlumYeri",
    "OlumIlKodu",
    "OlumIlAdi",
    "OlumIlceKodu",
    "OlumIlceAdi",
    "IkametIlKodu",
    "IkametIlAdi",
    "IkametIlceKodu",
    "IkametIlceAdi",
    "OlumSekliId",
    "OlumSekli",
    "KadinOlumuNedeniId",
    "KadinOlumuNedeni",
    "KayitTarihi",
    "GuncellemeTarihi",
]
FULL_KEYS = [*BASIC_KEYS, "OlumNedenleri", "OtopsiYapildiMi", "YaralanmaTarihi"]
CAUSE_KEYS = ["Sira", "OlumNedeniTuruId", "OlumNedeniTuru", "IcdKodu", "IcdAdi", "Sure"]


# --- wire --------------------------------------------------------------------------------------


def obs_path(env: str, method: str) -> str:
    return (LIVE_BASE if env == "live" else TEST_BASE) + method


def obs_get(
    client: httpx.Client,
    env: str,
    method: str,
    auth: tuple[str, str] | None,
    params: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    return client.get(obs_path(env, method), params=params or {}, auth=auth, headers=headers)


def envelope(response: httpx.Response, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].split(";")[0].strip() == "application/json"
    body = json.loads(response.content)
    assert isinstance(body, dict)
    assert list(body) == ["State", "Message", "Result"], body
    return body


def success(response: httpx.Response) -> Any:
    """The ``Result`` of a ``State 1`` answer (HTTP 200, ``Message`` null)."""
    body = envelope(response)
    assert body["State"] == 1, body
    assert body["Message"] is None
    return body["Result"]


def assert_not_found(response: httpx.Response) -> None:
    assert envelope(response) == NOT_FOUND


def invalid_message(response: httpx.Response) -> str:
    """The Turkish message of a ``State 0`` answer (HTTP 200, ``Result`` null)."""
    body = envelope(response)
    assert body["State"] == 0, body
    assert body["Result"] is None
    message = body["Message"]
    assert isinstance(message, str)
    assert message.strip()
    return message


def assert_auth_failure(response: httpx.Response) -> bytes:
    body = envelope(response, 500)
    assert body == {"State": 0, "Message": AUTH_FAILURE_MESSAGE, "Result": None}
    return response.content


def pairs(result: Any) -> list[tuple[str, str]]:
    """A ``[ObsFormListDto]`` as (FormNo, ReferansNo) pairs, checking each item's exact keys."""
    assert isinstance(result, list)
    for item in result:
        assert list(item) == ["FormNo", "ReferansNo"], item
    return [(item["FormNo"], item["ReferansNo"]) for item in result]


def istanbul(moment: datetime) -> str:
    return moment.astimezone(ISTANBUL).strftime("%Y-%m-%dT%H:%M:%S")


# --- unique people and days --------------------------------------------------------------------

_rng = random.Random()
_days = itertools.count()
FIRST_DAY = date(2004, 1, 5)
"""Tests that read the by-date feeds each take a day of their own, far from the fixtures' 2025
and the suite's 2026 clock, so an exact membership assertion sees only that test's forms."""


def new_tckn() -> str:
    return random_tckn(_rng)


def new_passport() -> str:
    return "T" + uuid.uuid4().hex[:10].upper()


def fresh_day() -> date:
    return FIRST_DAY + timedelta(days=2 * next(_days))


def at_istanbul(day: date, hour: int = 12, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=ISTANBUL).astimezone(UTC)


# --- death forms -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Registered:
    form_no: str
    referans_no: str
    form: dict[str, Any]

    @property
    def pair(self) -> tuple[str, str]:
        return (self.form_no, self.referans_no)

    def tc_params(self) -> dict[str, str]:
        return {
            "TcKimlikNo": self.form["identity_number"],
            "Adi": self.form["first_name"],
            "Soyadi": self.form["last_name"],
            "DogumTarihi": self.form["birth_date"],
        }

    def form_params(self) -> dict[str, str]:
        return {"FormNo": self.form_no, "ReferansNo": self.referans_no}

    def passport_params(self) -> dict[str, str]:
        return {
            "PasaportNo": self.form["passport_no"],
            "Adi": self.form["first_name"],
            "Soyadi": self.form["last_name"],
        }

    def params_for(self, method: str) -> dict[str, str]:
        if method in TC_METHODS:
            return self.tc_params()
        if method in FORM_METHODS:
            return self.form_params()
        if method in PASSPORT_METHODS:
            return self.passport_params()
        if method == DEATH_DATE_METHOD:
            return {"TcKimlikNo": self.form["identity_number"]}
        raise AssertionError(method)


def form_body(*, passport: bool = False, **overrides: Any) -> dict[str, Any]:
    """A valid death form (the operator's JSON); a T.C. citizen unless ``passport``."""
    body: dict[str, Any] = {
        "first_name": "Mehmet Emin",
        "last_name": "Yıldız",
        "father_name": "Hasan",
        "mother_name": "Fatma",
        "birth_date": "1950-04-03",
        "birth_place": "Ankara",
        "sex": 1,
        "place_of_death_type": 1,
        "death_province": 6,
        "death_district": 1231,
        "residence_province": 6,
        "residence_district": 1231,
        "manner": 1,
        "autopsy": False,
        "causes": [{"kind": 1, "icd_code": "I21.9", "interval": "2 saat"}],
    }
    if passport:
        body.update(passport_no=new_passport(), nationality="DE")
    else:
        body["identity_number"] = new_tckn()
    body.update(overrides)
    return body


class Registry:
    """Registers, corrects and approves/returns forms at chosen moments of the server's clock."""

    def __init__(self, server: LiveServer) -> None:
        self.server = server
        self.service = ObsRegistryService(
            server.engine, server.clock, change_log(server.engine, server.clock)
        )

    def _at(self, at: datetime | None) -> None:
        if at is not None:
            self.server.clock.set(at)

    def register(
        self,
        env: str = "live",
        *,
        at: datetime | None = None,
        passport: bool = False,
        **overrides: Any,
    ) -> Registered:
        self._at(at)
        now = self.server.clock.now()
        body = form_body(passport=passport, **overrides)
        body.setdefault("died_at", (now - timedelta(hours=3)).isoformat())
        form_no, referans_no = self.service.register(env, parse_form(json.dumps(body)))
        return Registered(form_no, referans_no, body)

    def correct(
        self, reg: Registered, env: str = "live", *, at: datetime | None = None, **changes: Any
    ) -> Registered:
        self._at(at)
        body = {**reg.form, **changes}
        self.service.correct(env, reg.form_no, reg.referans_no, parse_form(json.dumps(body)))
        return Registered(reg.form_no, reg.referans_no, body)

    def set_status(
        self, reg: Registered, status: str, env: str = "live", *, at: datetime | None = None
    ) -> None:
        self._at(at)
        self.service.set_status(env, reg.form_no, reg.referans_no, status)


CITIZEN = {
    "TcKimlikNo": "76883560160",
    "Adi": "Mehmet Emin",
    "Soyadi": "Yıldız",
    "DogumTarihi": "1941-05-02",
}
"""The test environment's T.C. citizen fixture, as lookup parameters (contract §5.6)."""
FOREIGNER = {"PasaportNo": "C01X00T47", "Adi": "Anna Maria", "Soyadi": "Schmidt"}
FORM = {"FormNo": "9000000011", "ReferansNo": "TSTA7K2M"}
