"""The guessing throttle (``domain/throttle.py``) over the shared ``auth_failures`` counts.

Every worker reads the same rows, so a lock set by one holds in all. A request whose password
must be checked with Argon2 (every guess is one) reads its keys' locks from the store first;
a request whose credential is already verified in this worker is checked against the locks this
worker knows, read again whenever the store's locks version moves (``store/change_feed.py``), so a
lock set or lifted in any worker holds for the next request in every other.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine

from saglik.domain import throttle
from saglik.domain.clock import Clock
from saglik.services.versioned import VersionedCopy
from saglik.store import throttle_repo


class GuessThrottle:
    def __init__(self, engine: Engine, clock: Clock) -> None:
        self._engine = engine
        self._clock = clock
        self._known = VersionedCopy[dict[str, datetime]](self._current_locks, {})

    async def sync(self, version: int) -> None:
        """Makes the known locks current with the store's locks ``version``."""
        await self._known.sync(version)

    def _current_locks(self, _version: int) -> dict[str, datetime]:
        with self._engine.connect() as conn:
            return throttle_repo.current_locks(conn, self._clock.now())

    def known_lock(self, keys: throttle.Keys) -> datetime | None:
        """The hot path's check: the locks this worker knows of, as of the last ``sync``."""
        known = self._known.value
        if not known:
            return None
        now = self._clock.now()
        running = [u for k in keys.checked() if (u := known.get(k)) is not None and u > now]
        return max(running, default=None)

    def stored_lock(self, keys: throttle.Keys) -> datetime | None:
        """The exact check before an Argon2 verification (blocking: call it off the loop)."""
        with self._engine.connect() as conn:
            return throttle_repo.locked_until(conn, keys.checked(), self._clock.now())

    def failed(self, keys: throttle.Keys) -> None:
        """Counts a wrong password on both keys, once if they are one (blocking: call it off the
        loop)."""
        now = self._clock.now()

        def counter(failures: int, last: datetime | None) -> tuple[int, datetime | None]:
            count = throttle.counted_failures(failures, last, now)
            lock = throttle.lock_for(count)
            return count, (now + lock if lock else None)

        with self._engine.begin() as conn:
            locks = {
                key: throttle_repo.count_failure(conn, key, now, counter)
                for key in dict.fromkeys((keys.user, keys.address))
            }
        self._known.value.update({key: until for key, until in locks.items() if until is not None})

    def succeeded(self, keys: throttle.Keys) -> None:
        """A right password forgives the username's count (not the address's: a caller with one
        valid account must not be able to wipe its guesses at another)."""
        with self._engine.begin() as conn:
            throttle_repo.clear(conn, (keys.user,))
        self._known.value.pop(keys.user, None)
