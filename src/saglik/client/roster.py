"""A roster of the people an institution checks, kept the way the HES document §4 asks.

The document (*Servis Kullanımında Dikkat Edilecek Hususlar*) asks integrators not to load the
shared service needlessly: take people who no longer concern the institution off the query
lists, never query more than one code for the same person, and rely on the fact that a code
that has not expired always reports the person's *current* risk status, whenever it was taken.
So the roster keeps exactly one code per person (a new code replaces the old one), forgets people
on :meth:`HesRoster.remove`, re-checks everybody on an interval rather than on every event, and
points out the people whose code has expired or is unknown: those need a new code from the
person, not more queries.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Unpack

from saglik.client.codes import normalize_code
from saglik.client.hes_models import (
    ERROR_EXPIRED,
    BulkResult,
    HesResult,
)

if TYPE_CHECKING:
    from saglik.client.hes import AsyncHesClient, HesClient, Many

DEFAULT_INTERVAL = timedelta(hours=4)
"""Our choice: risk status changes on the scale of days (isolation, quarantine); checking a whole
roster more often than a few times a working day only loads the shared service."""


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class RosterReport:
    """One check of the whole roster, by person key.

    ``failures`` holds the errorKey per person; ``needs_new_code`` are the people whose code
    expired or is unknown (ask them for a new one — re-querying will not help).
    """

    checked_at: datetime
    results: dict[str, HesResult]
    failures: dict[str, str]

    @property
    def risky(self) -> list[str]:
        return sorted(key for key, result in self.results.items() if result.risky)

    @property
    def riskless(self) -> list[str]:
        return sorted(key for key, result in self.results.items() if not result.risky)

    @property
    def expired(self) -> list[str]:
        return sorted(key for key, error in self.failures.items() if error == ERROR_EXPIRED)

    @property
    def needs_new_code(self) -> list[str]:
        return sorted(self.failures)


@dataclass
class HesRoster:
    """People (by the institution's own key: staff number, badge id…) and their one code each."""

    interval: timedelta = DEFAULT_INTERVAL
    clock: Callable[[], datetime] = field(default=_utc_now, repr=False)
    _codes: dict[str, str] = field(default_factory=dict, repr=False)
    _people: dict[str, str] = field(default_factory=dict, repr=False)
    last_checked: datetime | None = None

    def __post_init__(self) -> None:
        if self.interval <= timedelta(0):
            raise ValueError("the re-check interval must be positive")

    def add(self, person_key: str, code: str) -> None:
        """Registers ``person_key``'s code, replacing any earlier one: one code per person.

        The code is normalised (raises :class:`InvalidCode`). A code already registered to a
        different person raises ``ValueError``: a code belongs to one person, so two keys for it
        are the same person twice and would double the queries.
        """
        normal = normalize_code(code)
        holder = self._people.get(normal)
        if holder is not None and holder != person_key:
            raise ValueError("this code is already registered to another person key")
        previous = self._codes.get(person_key)
        if previous is not None:
            del self._people[previous]
        self._codes[person_key] = normal
        self._people[normal] = person_key

    def remove(self, person_key: str) -> None:
        """Takes a person who no longer concerns the institution off the roster (KeyError if
        absent, so a typo in a leaver's key does not silently keep them checked)."""
        code = self._codes.pop(person_key)
        del self._people[code]

    def discard(self, person_key: str) -> None:
        """As :meth:`remove`, without complaint when the person is not on the roster."""
        if person_key in self._codes:
            self.remove(person_key)

    def code_of(self, person_key: str) -> str:
        return self._codes[person_key]

    def __len__(self) -> int:
        return len(self._codes)

    def __contains__(self, person_key: object) -> bool:
        return person_key in self._codes

    def __iter__(self) -> Iterator[str]:
        return iter(self._codes)

    @property
    def next_due(self) -> datetime | None:
        """When the next check is due; ``None`` before the first one (due at once)."""
        return None if self.last_checked is None else self.last_checked + self.interval

    def due(self, now: datetime | None = None) -> bool:
        """Whether a check is due at ``now`` (default: the roster's clock)."""
        moment = now if now is not None else self.clock()
        return self.next_due is None or moment >= self.next_due

    def _report(self, answer: BulkResult[HesResult], now: datetime) -> RosterReport:
        # check_many keys by input, and the inputs are the normalised codes: map back to people.
        results = {
            person: answer.success[code]
            for person, code in self._codes.items()
            if code in answer.success
        }
        failures = {
            person: answer.failure[code]
            for person, code in self._codes.items()
            if code in answer.failure
        }
        self.last_checked = now
        return RosterReport(checked_at=now, results=results, failures=failures)

    def check(self, client: HesClient, **options: Unpack[Many]) -> RosterReport:
        """Checks every code once through ``check_many`` (bulk requests of at most 500);
        ``options`` are ``check_many``'s ``concurrency`` and ``progress``."""
        now = self.clock()
        return self._report(client.check_many(list(self._codes.values()), **options), now)

    async def check_async(self, client: AsyncHesClient, **options: Unpack[Many]) -> RosterReport:
        """As :meth:`check`, with the asyncio client."""
        now = self.clock()
        return self._report(await client.check_many(list(self._codes.values()), **options), now)


__all__ = ["DEFAULT_INTERVAL", "HesRoster", "RosterReport"]
