"""The roster helper of the HES document §4: one code per person, leavers removed, a re-check
interval; checked against the real server."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from saglik.client import (
    ERROR_EXPIRED,
    ERROR_NOT_FOUND,
    AsyncHesClient,
    HesClient,
    HesRoster,
    InvalidCode,
)

T0 = datetime(2026, 6, 15, 9, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def test_one_code_per_person() -> None:
    roster = HesRoster()
    roster.add("personel-1", "a1s1-0001-s1")
    roster.add("personel-1", "L3S11011S1")  # a new code replaces the old one
    assert (len(roster), roster.code_of("personel-1")) == (1, "L3S11011S1")
    roster.add("personel-2", "A1S10001S1")  # the first code is free again
    with pytest.raises(ValueError, match="another person"):
        roster.add("personel-3", "l3s1-1011-s1")
    roster.add("personel-1", "L3S1-1011-S1")  # the same person again is fine
    with pytest.raises(InvalidCode):
        roster.add("personel-4", "nope")
    assert list(roster) == ["personel-1", "personel-2"]
    roster.remove("personel-1")
    assert "personel-1" not in roster
    roster.add("personel-3", "L3S11011S1")  # the leaver's code is free again
    with pytest.raises(KeyError):
        roster.remove("personel-1")
    roster.discard("personel-1")
    roster.discard("personel-3")
    assert list(roster) == ["personel-2"]


def test_due_follows_the_interval() -> None:
    clock = Clock()
    roster = HesRoster(interval=timedelta(hours=4), clock=clock)
    assert roster.due()
    assert roster.next_due is None
    roster.last_checked = T0
    assert roster.next_due == T0 + timedelta(hours=4)
    clock.now = T0 + timedelta(hours=3, minutes=59)
    assert not roster.due()
    assert roster.due(T0 + timedelta(hours=4))
    with pytest.raises(ValueError, match="positive"):
        HesRoster(interval=timedelta(0))


@pytest.mark.usefixtures("test_fixtures")
def test_check_reports_by_person(hes: HesClient) -> None:
    clock = Clock()
    roster = HesRoster(clock=clock)
    roster.add("ayse", "D4S4-0004-S4")
    roster.add("mehmet", "L3S11011S1")
    roster.add("fatma", "J1S90009S9")
    roster.add("ali", "Z9Z99999Z9")
    report = roster.check(hes)
    assert report.checked_at == T0 == roster.last_checked
    assert (report.risky, report.riskless) == (["ayse"], ["mehmet"])
    assert report.failures == {"fatma": ERROR_EXPIRED, "ali": ERROR_NOT_FOUND}
    assert report.expired == ["fatma"]
    assert report.needs_new_code == ["ali", "fatma"]
    assert not roster.due()


@pytest.mark.usefixtures("test_fixtures")
def test_check_async(async_hes: AsyncHesClient) -> None:
    roster = HesRoster()
    roster.add("ayse", "D4S40004S4")

    async def scenario() -> None:
        async with async_hes as client:
            report = await roster.check_async(client)
        assert report.risky == ["ayse"]

    asyncio.run(scenario())
