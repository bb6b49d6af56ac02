"""Fixtures for the SDK tests: clients pointed at the real server over its socket.

The client sees only the wire, so these tests run against one store backend (SQLite): what the
backend does is the server's tests' concern, and running every client test twice would only
double the time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TypeVar

import httpx
import pytest

from saglik.client import (
    AsyncHesClient,
    AsyncObsClient,
    HesClient,
    ObsClient,
    RetryPolicy,
)
from tests.conftest import Credential, LiveServer
from tests.web.conftest import Users, test_fixtures, users  # noqa: F401 (fixtures)

NO_WAIT = RetryPolicy(attempts=4, base=0.0, cap=0.0, jitter=False)
"""Retries without sleeping: tests on the real server never need the backoff itself."""


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    client_dir = config.rootpath / "tests" / "client"
    keep: list[pytest.Item] = []
    dropped: list[pytest.Item] = []
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        in_client = item.path.is_relative_to(client_dir)
        (dropped if in_client and params.get("store") == "postgresql" else keep).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep


def sandbox_base(server: LiveServer) -> str:
    return server.base_url + "/services/g2g/test/saglik"


def live_base(server: LiveServer) -> str:
    return server.base_url + "/services/g2g/saglik"


def base_for(server: LiveServer, credential: Credential) -> str:
    return sandbox_base(server) if credential.env == "test" else live_base(server)


class CountingTransport(httpx.HTTPTransport):
    """The real network transport, counting requests (and the bulk sizes sent)."""

    def __init__(self) -> None:
        super().__init__()
        self.requests: list[httpx.Request] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return super().handle_request(request)


C = TypeVar("C", HesClient, ObsClient)


def _factory(server: LiveServer, kind: type[C]) -> Iterator[Callable[..., C]]:
    made: list[C] = []

    def make(credential: Credential, **options: object) -> C:
        options.setdefault("retry", NO_WAIT)
        client = kind(
            base_for(server, credential),
            credential.username,
            credential.password,
            **options,  # type: ignore[arg-type]
        )
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


@pytest.fixture
def hes_for(server: LiveServer) -> Iterator[Callable[..., HesClient]]:
    """``hes_for(credential, **options)``: a HES client for that user, closed after the test."""
    yield from _factory(server, HesClient)


@pytest.fixture
def obs_for(server: LiveServer) -> Iterator[Callable[..., ObsClient]]:
    """``obs_for(credential, **options)``: an ÖBS client for that user, closed after the test."""
    yield from _factory(server, ObsClient)


@pytest.fixture
def hes(hes_for: Callable[..., HesClient], users: Users) -> HesClient:  # noqa: F811
    """A test-environment client of an all-methods, unlimited user."""
    return hes_for(users.test)


@pytest.fixture
def obs(obs_for: Callable[..., ObsClient], users: Users) -> ObsClient:  # noqa: F811
    return obs_for(users.test)


@pytest.fixture
def async_hes(server: LiveServer, users: Users) -> AsyncHesClient:  # noqa: F811
    """Closed by each test inside its own event loop (``async with``)."""
    return AsyncHesClient(
        sandbox_base(server), users.test.username, users.test.password, retry=NO_WAIT
    )


@pytest.fixture
def async_obs(server: LiveServer, users: Users) -> AsyncObsClient:  # noqa: F811
    return AsyncObsClient(
        sandbox_base(server), users.test.username, users.test.password, retry=NO_WAIT
    )
