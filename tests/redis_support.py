"""The Redis that shared rate limits are tested against (``SAGLIK_TEST_REDIS``): required, like
PostgreSQL, when CI=true (the test fails if it is unreachable); elsewhere skipped with the reason.

Counts are kept per store (``state.instance_id``), so test runs sharing this Redis, and the
stores of one run, never share a count."""

from __future__ import annotations

import os

import pytest
import redis

from tests.pg_support import IN_CI

REDIS_URL = os.environ.get("SAGLIK_TEST_REDIS", "redis://127.0.0.1:6379/15")


def redis_url() -> str:
    """The URL, once Redis has answered a ping."""
    try:
        with redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3) as client:
            client.ping()
    except redis.RedisError as exc:
        if IN_CI:
            pytest.fail(f"Redis unreachable at {REDIS_URL} under CI: {exc}")
        pytest.skip(f"Redis unreachable at {REDIS_URL} (set CI=true to require it)")
    return REDIS_URL
