"""Each user's own rate limit (``10/minute``), counted where every worker counts.

The counts live in the storage ``SAGLIK_RATE_LIMIT_STORAGE`` names, through the ``limits``
library's asyncio API (a count never blocks the event loop):

- ``memory://``: in the worker's memory. Right for one worker; with several, each would count
  alone, so ``saglik serve`` refuses it with ``--workers`` above 1 (README "Many workers").
- ``redis://host:port/db`` (or ``rediss://``): one count for every worker and machine. Why
  Redis rather than the database: ``benchmarks/README.md`` ("Where the rate-limit counts live").

A count is kept per store (``state.instance_id``) and user, so two services sharing one Redis,
or one service's successive test stores, never share a count because their user ids repeat.
"""

from __future__ import annotations

import math
import time
from urllib.parse import urlsplit

from limits import RateLimitItem
from limits import parse as parse_rate_limit
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import StorageError

SCHEMES = ("memory", "redis", "rediss")


STORAGE_TIMEOUT_SECONDS = 1.0
"""How long a count may wait for Redis before the call is refused as unavailable: a storage that
stopped answering must not hold the caller's connection (or the worker's slots) open."""


class RateLimitsUnavailableError(Exception):
    """The storage could not count: the call is refused (503), never let through uncounted."""


class RateLimitStorageError(ValueError):
    """A storage URL this service cannot use (the message never quotes it: it may hold a
    password)."""


def storage_scheme(url: str) -> str:
    scheme = urlsplit(url).scheme
    if scheme not in SCHEMES:
        raise RateLimitStorageError(
            "the rate-limit storage must be memory://, redis:// or rediss://"
        )
    return scheme


def is_shared(url: str) -> bool:
    """Whether every worker and machine counting here shares one count."""
    return storage_scheme(url) != "memory"


def _storage(url: str) -> Storage:
    scheme = storage_scheme(url)
    if scheme == "memory":
        return MemoryStorage()
    # redis-py's asyncio client (the ``redis`` dependency), not coredis, the library's default
    return RedisStorage(
        url,
        implementation="redispy",
        key_prefix="saglik",
        wrap_exceptions=True,  # every failure of the storage is a StorageError
        socket_timeout=STORAGE_TIMEOUT_SECONDS,
        socket_connect_timeout=STORAGE_TIMEOUT_SECONDS,
    )


class RateLimits:
    def __init__(self, storage_url: str, store_id: str) -> None:
        self._limiter = MovingWindowRateLimiter(_storage(storage_url))
        self._store_id = store_id
        self._items: dict[str, RateLimitItem] = {}

    async def retry_after(self, rule: str, user_id: int) -> int | None:
        """Counts one call against ``rule``: None if it is within the limit, else the seconds
        until the window lets the next one in."""
        item = self._items.get(rule)
        if item is None:
            item = self._items[rule] = parse_rate_limit(rule)
        key = f"{self._store_id}:{user_id}"
        try:
            if await self._limiter.hit(item, key):
                return None
            reset = (await self._limiter.get_window_stats(item, key)).reset_time
        except StorageError as exc:
            raise RateLimitsUnavailableError(type(exc.storage_error).__name__) from None
        return max(1, math.ceil(reset - time.time()))

    async def reachable(self) -> bool:
        """For the readiness probe: whether the storage answers."""
        try:
            return await self._limiter.storage.check()
        except Exception:
            return False
