"""Users' rate limits counted where every worker counts (``services/rate_limits.py``)."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest

from saglik.services.rate_limits import (
    RateLimits,
    RateLimitStorageError,
    RateLimitsUnavailableError,
    is_shared,
)
from tests.redis_support import redis_url

UNREACHABLE = "redis://127.0.0.1:9/0"
"""The discard port: nothing listens there."""


def _store_id() -> str:
    return uuid.uuid4().hex


async def _answers(limits: RateLimits, calls: int, rule: str = "10/minute", user: int = 1) -> int:
    return sum([await limits.retry_after(rule, user) is None for _ in range(calls)])


def test_one_worker_in_memory_gets_exactly_its_limit() -> None:
    async def scenario() -> None:
        limits = RateLimits("memory://", _store_id())
        assert await _answers(limits, 15) == 10
        retry_after = await limits.retry_after("10/minute", 1)
        assert retry_after is not None
        assert 1 <= retry_after <= 60

    asyncio.run(scenario())


def test_workers_sharing_redis_share_one_count() -> None:
    """Two workers (two limiters, two connections) of one store: 10 answers a minute in all."""
    url, store = redis_url(), _store_id()

    async def scenario() -> None:
        workers = [RateLimits(url, store), RateLimits(url, store)]
        answered = await asyncio.gather(*(_answers(w, 10) for w in workers))
        assert sum(answered) == 10
        assert await workers[0].retry_after("10/minute", 1) is not None
        assert await workers[1].retry_after("10/minute", 2) is None  # another user's own count

    asyncio.run(scenario())


def test_two_stores_sharing_redis_never_share_a_count() -> None:
    """User ids repeat from store to store (a test run's stores, two services on one Redis)."""
    url = redis_url()

    async def scenario() -> None:
        first, second = RateLimits(url, _store_id()), RateLimits(url, _store_id())
        assert await _answers(first, 10) == 10
        assert await _answers(second, 10) == 10

    asyncio.run(scenario())


def test_an_unreachable_storage_refuses_quickly_and_says_so() -> None:
    async def scenario() -> None:
        limits = RateLimits(UNREACHABLE, _store_id())
        started = time.monotonic()
        with pytest.raises(RateLimitsUnavailableError):
            await limits.retry_after("10/minute", 1)
        assert time.monotonic() - started < 5
        assert not await limits.reachable()

    asyncio.run(scenario())


def test_a_reachable_storage_is_ready() -> None:
    async def scenario() -> None:
        assert await RateLimits(redis_url(), _store_id()).reachable()
        assert await RateLimits("memory://", _store_id()).reachable()

    asyncio.run(scenario())


@pytest.mark.parametrize("url", ["memcached://127.0.0.1", "mongodb://x", "redis-cluster://x", ""])
def test_a_storage_other_than_memory_or_redis_is_refused(url: str) -> None:
    with pytest.raises(RateLimitStorageError):
        is_shared(url)


def test_only_redis_is_shared() -> None:
    assert not is_shared("memory://")
    assert is_shared("redis://127.0.0.1:6379/0")
    assert is_shared("rediss://user:pw@example.net:6380/1")
