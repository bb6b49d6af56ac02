"""The ÖBS death notification query client (contract §5), blocking and asyncio.

State 2 (UYARI) raises :class:`ObsNotFound` — including a record outside the caller's scope,
which the service deliberately does not tell apart; State 0 (HATA) raises :class:`ObsInvalid`
with the service's Turkish message; HTTP 500 raises :class:`ObsAuthorizationFailed`.

The parameters travel in the query string (the service is GET-only), so identity numbers and
names appear in URLs: keep ``httpx`` request logging (logger ``httpx``, INFO) off in production.
"""

from __future__ import annotations

from datetime import date, datetime

from saglik.client import _obs_wire as wire
from saglik.client._core import AsyncService, SyncService
from saglik.client.obs_models import FormRef, ObsBasic, ObsFull

TUM_OLUMLER = "GetTumOlumlerByDate"
ADLI_FORMLAR = "GetAdliFormlarByDate"
GUNCELLENEN = "GetGuncellenenOlumlerByDate"
TC_BASIC = "GetOlumByTcKimlikNoBasic"
TC_FULL = "GetOlumByTcKimlikNoFull"
FORM_BASIC = "GetOlumByFormNoBasic"
FORM_FULL = "GetOlumByFormNoFull"
PASSPORT_BASIC = "GetOlumByPasaportNoBasic"
PASSPORT_FULL = "GetOlumByPasaportNoFull"
DEATH_DATE = "GetOlumTarihiByTcKimlikNo"


class ObsClient(SyncService):
    """Blocking ÖBS client. Thread-safe; reuse one per process.

    ``base_url`` ends before ``/OBS/`` (see :mod:`saglik.client.config`). Dates are Istanbul
    calendar days; every datetime returned is aware, in Europe/Istanbul.
    """

    def deaths_by_date(self, day: date, il: int | None = None) -> list[FormRef]:
        """``GetTumOlumlerByDate``: forms registered on ``day`` (optionally one province)."""
        return self._run(wire.by_date(TUM_OLUMLER, day, il))

    def forensic_by_date(self, day: date, il: int | None = None) -> list[FormRef]:
        """``GetAdliFormlarByDate``: forensic forms (manner of death 3 or 4) of ``day``."""
        return self._run(wire.by_date(ADLI_FORMLAR, day, il))

    def updated_by_date(self, day: date, il: int | None = None) -> list[FormRef]:
        """``GetGuncellenenOlumlerByDate``: forms corrected, returned or approved on ``day``."""
        return self._run(wire.by_date(GUNCELLENEN, day, il))

    def by_tc_basic(self, tc: str, first_name: str, last_name: str, birth_date: date) -> ObsBasic:
        """``GetOlumByTcKimlikNoBasic``: all four must match the record."""
        return self._run(wire.by_tc(TC_BASIC, wire.BASIC, tc, first_name, last_name, birth_date))

    def by_tc_full(self, tc: str, first_name: str, last_name: str, birth_date: date) -> ObsFull:
        """``GetOlumByTcKimlikNoFull``: with causes, autopsy and injury time."""
        return self._run(wire.by_tc(TC_FULL, wire.FULL, tc, first_name, last_name, birth_date))

    def by_form_basic(self, form_no: str, referans_no: str) -> ObsBasic:
        """``GetOlumByFormNoBasic``: both numbers are needed."""
        return self._run(wire.by_form(FORM_BASIC, wire.BASIC, form_no, referans_no))

    def by_form_full(self, form_no: str, referans_no: str) -> ObsFull:
        """``GetOlumByFormNoFull``."""
        return self._run(wire.by_form(FORM_FULL, wire.FULL, form_no, referans_no))

    def by_passport_basic(self, passport: str, first_name: str, last_name: str) -> ObsBasic:
        """``GetOlumByPasaportNoBasic``: foreigners, by passport number and names."""
        return self._run(
            wire.by_passport(PASSPORT_BASIC, wire.BASIC, passport, first_name, last_name)
        )

    def by_passport_full(self, passport: str, first_name: str, last_name: str) -> ObsFull:
        """``GetOlumByPasaportNoFull``."""
        return self._run(
            wire.by_passport(PASSPORT_FULL, wire.FULL, passport, first_name, last_name)
        )

    def death_date(self, tc: str) -> datetime:
        """``GetOlumTarihiByTcKimlikNo``: the moment of death, aware (Europe/Istanbul)."""
        return self._run(wire.call(DEATH_DATE, wire.DEATH_DATE, TcKimlikNo=tc))


class AsyncObsClient(AsyncService):
    """The asyncio twin of :class:`ObsClient`: the same methods, as coroutines."""

    async def deaths_by_date(self, day: date, il: int | None = None) -> list[FormRef]:
        """``GetTumOlumlerByDate``."""
        return await self._run(wire.by_date(TUM_OLUMLER, day, il))

    async def forensic_by_date(self, day: date, il: int | None = None) -> list[FormRef]:
        """``GetAdliFormlarByDate``."""
        return await self._run(wire.by_date(ADLI_FORMLAR, day, il))

    async def updated_by_date(self, day: date, il: int | None = None) -> list[FormRef]:
        """``GetGuncellenenOlumlerByDate``."""
        return await self._run(wire.by_date(GUNCELLENEN, day, il))

    async def by_tc_basic(
        self, tc: str, first_name: str, last_name: str, birth_date: date
    ) -> ObsBasic:
        """``GetOlumByTcKimlikNoBasic``."""
        return await self._run(
            wire.by_tc(TC_BASIC, wire.BASIC, tc, first_name, last_name, birth_date)
        )

    async def by_tc_full(
        self, tc: str, first_name: str, last_name: str, birth_date: date
    ) -> ObsFull:
        """``GetOlumByTcKimlikNoFull``."""
        return await self._run(
            wire.by_tc(TC_FULL, wire.FULL, tc, first_name, last_name, birth_date)
        )

    async def by_form_basic(self, form_no: str, referans_no: str) -> ObsBasic:
        """``GetOlumByFormNoBasic``."""
        return await self._run(wire.by_form(FORM_BASIC, wire.BASIC, form_no, referans_no))

    async def by_form_full(self, form_no: str, referans_no: str) -> ObsFull:
        """``GetOlumByFormNoFull``."""
        return await self._run(wire.by_form(FORM_FULL, wire.FULL, form_no, referans_no))

    async def by_passport_basic(self, passport: str, first_name: str, last_name: str) -> ObsBasic:
        """``GetOlumByPasaportNoBasic``."""
        return await self._run(
            wire.by_passport(PASSPORT_BASIC, wire.BASIC, passport, first_name, last_name)
        )

    async def by_passport_full(self, passport: str, first_name: str, last_name: str) -> ObsFull:
        """``GetOlumByPasaportNoFull``."""
        return await self._run(
            wire.by_passport(PASSPORT_FULL, wire.FULL, passport, first_name, last_name)
        )

    async def death_date(self, tc: str) -> datetime:
        """``GetOlumTarihiByTcKimlikNo``."""
        return await self._run(wire.call(DEATH_DATE, wire.DEATH_DATE, TcKimlikNo=tc))


__all__ = ["AsyncObsClient", "ObsClient"]
