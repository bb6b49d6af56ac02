"""Rate limits counted in Redis, and what a caller is told when the count cannot be made
(README "Many workers"), over a real socket."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest
from sqlalchemy import Engine

from saglik.config import Settings
from saglik.domain.clock import ManualClock
from tests.conftest import Credential, start_server
from tests.redis_support import redis_url
from tests.web.conftest import assert_http_problem, path
from tests.web.obs_helpers import envelope, obs_get

EMPLOYEE = "check-employee-hes-code"
UNREACHABLE = "redis://127.0.0.1:9/0"
"""The discard port: nothing listens there."""


def _server(store: Engine, clock: ManualClock, storage: str) -> Iterator[httpx.Client]:
    settings = Settings(database_url="unused", rate_limit_storage=storage)
    srv, thread, base_url = start_server(store, clock, settings)
    with httpx.Client(base_url=base_url, timeout=10) as client:
        yield client
    srv.should_exit = True
    thread.join(timeout=15)


@pytest.fixture(scope="module")
def on_redis(store: Engine, clock: ManualClock) -> Iterator[httpx.Client]:
    yield from _server(store, clock, redis_url())


@pytest.fixture(scope="module")
def storage_down(store: Engine, clock: ManualClock) -> Iterator[httpx.Client]:
    yield from _server(store, clock, UNREACHABLE)


def _hes(http: httpx.Client, user: Credential) -> httpx.Response:
    return http.post(path("live", EMPLOYEE), json={"hes_code": "X"}, auth=user.auth)


def test_a_limit_counted_in_redis_answers_as_in_memory(
    on_redis: httpx.Client, make_user: Callable[..., Credential]
) -> None:
    user = make_user(env="live", rate_limit="3/minute")
    assert [_hes(on_redis, user).status_code for _ in range(3)] == [400] * 3  # admitted
    refused = _hes(on_redis, user)
    assert_http_problem(refused, 429)
    assert 1 <= int(refused.headers["retry-after"]) <= 60


def test_hes_answers_503_when_the_count_cannot_be_made(
    storage_down: httpx.Client, make_user: Callable[..., Credential]
) -> None:
    """Never let through uncounted: the limit is what protects the service."""
    user = make_user(env="live", rate_limit="100/minute")
    response = _hes(storage_down, user)
    body = assert_http_problem(response, 503)
    assert body["detail"] == "The rate-limit store is unavailable; try again later"
    assert response.headers["retry-after"] == "5"


def test_obs_answers_its_envelope_with_503_when_the_count_cannot_be_made(
    storage_down: httpx.Client, make_user: Callable[..., Credential]
) -> None:
    user = make_user(env="live", rate_limit="100/minute")
    response = obs_get(
        storage_down, "live", "GetTumOlumlerByDate", user.auth, {"Tarih": "2025-03-14"}
    )
    body = envelope(response, 503)
    assert body == {
        "State": 0,
        "Message": "İstek sınırı denetlenemedi; lütfen tekrar deneyiniz.",
        "Result": None,
    }
    assert response.headers["retry-after"] == "5"


def test_a_user_without_a_limit_needs_no_count(
    storage_down: httpx.Client, make_user: Callable[..., Credential]
) -> None:
    assert _hes(storage_down, make_user(env="live")).status_code == 400  # admitted


def test_readiness_says_the_storage_is_unreachable(storage_down: httpx.Client) -> None:
    response = storage_down.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "reason": "rate-limit storage unreachable"}
