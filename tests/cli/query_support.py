"""What the query CLI tests share: a real server on a loopback socket (``server``), a service
user whose credentials reach the command only through SAGLIK_CLIENT_* variables, and a runner
that fails any test whose output shows the password.

The commands are clients: they must never open the local store, so every run also checks that
the store file the ``cli`` fixture points SAGLIK_DATABASE_URL at was not created.

The fixtures are named ``query`` and ``sandbox_user``; a test module imports their functions
(``query_fixture``, ``sandbox_user_fixture``) so that pytest finds them.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from typer.testing import Result

from tests.cli.conftest import Invoke, Store
from tests.conftest import Credential, LiveServer

TEST_BASE = "/services/g2g/test/saglik"
LIVE_BASE = "/services/g2g/saglik"


def clear_client_env(monkeypatch: pytest.MonkeyPatch, config: str) -> None:
    """No SAGLIK_CLIENT_* from the developer's shell, and a config file path that does not exist
    (never the real ~/.config/saglik/client.toml)."""
    for name in list(os.environ):
        if name.startswith("SAGLIK_CLIENT_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("SAGLIK_CLIENT_CONFIG", config)


def use(monkeypatch: pytest.MonkeyPatch, server: LiveServer, user: Credential) -> None:
    """Point the commands at ``server`` as ``user`` through the environment only."""
    base = TEST_BASE if user.env == "test" else LIVE_BASE
    monkeypatch.setenv("SAGLIK_CLIENT_BASE_URL", server.base_url + base)
    monkeypatch.setenv("SAGLIK_CLIENT_USERNAME", user.username)
    monkeypatch.setenv("SAGLIK_CLIENT_PASSWORD", user.password)


@dataclass
class Query:
    """Runs ``saglik ...`` in-process; every run is checked for the password and the store."""

    cli: Invoke
    store: Store
    secrets: list[str]

    def __call__(self, *args: str, input: str | None = None) -> Result:
        result = self.cli(*args, input=input)
        for secret in self.secrets:
            assert secret not in result.stdout, "the password reached standard output"
            assert secret not in result.stderr, "the password reached standard error"
        assert not self.store.path.exists(), "a query command opened the local store"
        return result


@pytest.fixture(name="query")
def query_fixture(
    cli: Invoke, store_file: Store, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> Query:
    clear_client_env(monkeypatch, str(tmp_path / "no-such-client.toml"))
    monkeypatch.setenv("COLUMNS", "200")  # wide enough that no table cell wraps
    return Query(cli, store_file, [])


@pytest.fixture(name="sandbox_user")
def sandbox_user_fixture(
    server: LiveServer,
    make_user: Callable[..., Credential],
    query: Query,
    monkeypatch: pytest.MonkeyPatch,
) -> Credential:
    """A test-environment user with every method, in SAGLIK_CLIENT_* variables."""
    user = make_user(env="test")
    use(monkeypatch, server, user)
    query.secrets.append(user.password)
    return user


def raw(server: LiveServer, user: Credential, http_method: str, path: str, **request: Any) -> Any:
    """The service's own answer (the oracle the printed output is compared with)."""
    base = TEST_BASE if user.env == "test" else LIVE_BASE
    with httpx.Client(timeout=10, auth=user.auth) as http:
        response = http.request(http_method, f"{server.base_url}{base}/{path}", **request)
    assert response.status_code == 200, response.text
    return response.json()
