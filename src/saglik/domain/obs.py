"""ÖBS rules (contract §5): the death record model, parameter validation and the scope rule.

Enum *values* are the wire integers; their Turkish names live in ``data/obs_tables.json`` so the
official SKRS tables can replace them without touching code.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from saglik.domain.tckn import is_valid_tckn
from saglik.domain.turkish import normalize_name

ISTANBUL = ZoneInfo("Europe/Istanbul")
NOT_FOUND_MESSAGE = "Arama kriterlerine uygun kayıt bulunamadı."
AUTH_FAILURE_MESSAGE = "Servis kullanımı yetkisi için servis sağlayıcısı kurum ile görüşünüz..."


class ServisSonucDurumu(enum.IntEnum):
    HATA = 0
    BASARILI = 1
    UYARI = 2


FORENSIC_MANNERS = frozenset({3, 4})
"""OlumSekli 3 and 4: the two "(Adli Olay)" manners GetAdliFormlarByDate returns."""
FEMALE = 2


class InvalidParameterError(ValueError):
    """Becomes ``State 0`` with this Turkish message (HTTP 200)."""


@dataclass(frozen=True, slots=True)
class Scope:
    """A service user's ÖBS scope; both None = the whole country."""

    province: int | None = None
    district: int | None = None

    def area(self) -> Area | None:
        """The narrowest area the user is bound to; None = the whole country."""
        if self.district is not None:
            return Area(DISTRICT, self.district)
        if self.province is not None:
            return Area(PROVINCE, self.province)
        return None

    def sees(self, death: Place, residence: Place) -> bool:
        """The scope rule; ``store/obs_repo.py`` states the same rule in SQL from ``area`` and
        ``SCOPE_PLACES``."""
        area = self.area()
        places = {"death": death, "residence": residence}
        return area is None or any(area.holds(places[name]) for name in SCOPE_PLACES)


PROVINCE, DISTRICT = "province", "district"

SCOPE_PLACES = ("death", "residence")
"""A scope sees the deaths that occurred in its area, plus deaths elsewhere of people residing in
it (contract §5); ``IlKodu`` filters a feed by the same two places."""


@dataclass(frozen=True, slots=True)
class Area:
    level: str
    """``PROVINCE`` (``code`` is a plate) or ``DISTRICT`` (``code`` is a district code)."""
    code: int

    def holds(self, place: Place) -> bool:
        return (place.district if self.level == DISTRICT else place.province) == self.code


@dataclass(frozen=True, slots=True)
class Place:
    province: int
    district: int | None = None


@dataclass(frozen=True, slots=True)
class Cause:
    """One line of the WHO cause chain: Part I a–d (immediate → underlying), then Part II."""

    kind: int
    icd_code: str
    interval: str | None = None


@dataclass(frozen=True, slots=True)
class DeathRecord:
    form_no: str
    referans_no: str
    identity_number: str | None
    passport_no: str | None
    nationality: str
    first_name: str
    last_name: str
    father_name: str | None
    mother_name: str | None
    birth_date: date | None
    birth_place: str | None
    sex: int
    died_at: datetime
    place_of_death_type: int
    death_place: Place
    residence: Place
    manner: int
    maternal_status: int | None
    registered_at: datetime
    updated_at: datetime | None
    autopsy: bool | None = None
    injured_at: datetime | None = None
    causes: tuple[Cause, ...] = field(default_factory=tuple)


# --- parameters -------------------------------------------------------------------------------

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")

# Every parameter is bounded (contract §5.2, Bounds), measured without surrounding white space.
# Dates (10) and TcKimlikNo (11) are bounded by their shape; the others here.
PROVINCE_MAX = 3
"""``IlKodu``: a plate code, with a leading zero at most (``081``); without a bound a long run of
digits would reach ``int()``, which refuses more than 4300 of them with an error of its own."""
NAME_MAX = 200
"""``Adi``, ``Soyadi``: no longer name is ever registered (a death form's names), so a longer one
could match nothing; refused before it is normalised."""


def parse_date(value: str | None, name: str) -> date:
    if value is None or not value.strip():
        raise InvalidParameterError(f"{name} parametresi zorunludur (yyyy-mm-dd).")
    value = value.strip()
    if _DATE.fullmatch(value) is None:
        raise InvalidParameterError(f"{name} parametresi yyyy-mm-dd biçiminde olmalıdır.")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidParameterError(f"{name} parametresi geçerli bir tarih değil.") from None


def parse_province(value: str | None) -> int | None:
    """Optional ``IlKodu``: a plate code 1–81 (a leading zero is accepted: ``06``)."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    if (
        len(value) > PROVINCE_MAX
        or not value.isascii()
        or not value.isdigit()
        or not 1 <= int(value) <= 81
    ):
        raise InvalidParameterError("IlKodu 1 ile 81 arasında bir plaka kodu olmalıdır.")
    return int(value)


def parse_tckn(value: str | None) -> str:
    if value is None or not value.strip():
        raise InvalidParameterError("TcKimlikNo parametresi zorunludur.")
    value = value.strip()
    if not is_valid_tckn(value):
        raise InvalidParameterError("TcKimlikNo geçerli bir T.C. Kimlik Numarası değil.")
    return value


def parse_name(value: str | None, name: str) -> str:
    trimmed = (value or "").strip()
    _refuse_longer(trimmed, name, NAME_MAX)
    normalized = normalize_name(trimmed)
    if not normalized:
        raise InvalidParameterError(f"{name} parametresi zorunludur.")
    return normalized


def parse_required(value: str | None, name: str, max_length: int = 64) -> str:
    if value is None or not value.strip():
        raise InvalidParameterError(f"{name} parametresi zorunludur.")
    value = value.strip()
    _refuse_longer(value, name, max_length)
    return value


def _refuse_longer(value: str, name: str, max_length: int) -> None:
    """The message names the parameter and its bound, never the value (a name, a number)."""
    if len(value) > max_length:
        raise InvalidParameterError(f"{name} parametresi en fazla {max_length} karakter olabilir.")


def _istanbul_midnight_utc(day: date) -> datetime:
    try:
        return datetime.combine(day, time(0), tzinfo=ISTANBUL).astimezone(UTC)
    except OverflowError:  # 0001-01-01 local is before the first UTC instant Python can hold
        return datetime.min.replace(tzinfo=UTC)


def istanbul_day(day: date) -> tuple[datetime, datetime]:
    """The UTC instants bounding one Istanbul calendar day, ``[start, end)``; the days at the
    ends of the calendar (0001-01-01, 9999-12-31) are clamped to what ``datetime`` can hold."""
    start = _istanbul_midnight_utc(day)
    if day == date.max:
        return start, datetime.max.replace(tzinfo=UTC)
    return start, _istanbul_midnight_utc(day + timedelta(days=1))


def istanbul_local(moment: datetime) -> str:
    """The wire form: Istanbul wall-clock time without offset, to the second."""
    return moment.astimezone(ISTANBUL).strftime("%Y-%m-%dT%H:%M:%S")
