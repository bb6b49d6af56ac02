"""Shared fixtures: a real store per backend (SQLite file and a fresh PostgreSQL database per run),
a real server on a loopback socket, a manual clock the server reads, and data factories.

Every test that uses ``store`` (directly or through ``server``) runs once per backend. PostgreSQL
is required when CI=true (the test fails if the server is unreachable); elsewhere it is skipped
with the reason. SAGLIK_TEST_BACKENDS=sqlite restricts a local run to one backend.
"""

from __future__ import annotations

import os
import random
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
import pytest
import uvicorn
from sqlalchemy import Engine

from saglik.config import Settings
from saglik.domain.clock import ManualClock
from saglik.domain.methods import ALL_METHODS
from saglik.domain.tckn import random_tckn
from saglik.services import passwords
from saglik.services.accounts import AccountService
from saglik.services.bootstrap import ensure_store
from saglik.services.hes import HesDataService
from saglik.store import state
from saglik.store.engine import make_engine
from saglik.store.schema import auth_failures
from saglik.web.app import create_app
from tests.change_support import change_log
from tests.pg_support import pg_database
from tests.ports import free_port

BASE_TIME = datetime(2026, 6, 15, 9, 0, tzinfo=UTC)
TEST_HASH_COST = {
    "SAGLIK_ARGON2_TIME_COST": "1",
    "SAGLIK_ARGON2_MEMORY_KIB": "8192",
    "SAGLIK_ARGON2_PARALLELISM": "1",
}
"""Argon2id at a cost of ~5 ms instead of ~100 ms a hash. The suite creates and checks hundreds
of credentials; at the production cost they took half of its CPU. The production cost and the
setting itself are tested in tests/services/test_passwords.py."""
TEST_AUDIT_KEY = f"k1:{secrets.token_hex(32)}"
"""The audit key ring of every store the suite makes (and every ``saglik`` process it starts),
given as a PostgreSQL deployment gives it: SAGLIK_AUDIT_KEY. One ring for SQLite and PostgreSQL
alike, so a test may use the session store and a store of its own under one environment. The
key file a first ``saglik serve`` makes beside an SQLite store is tested where the variable is
unset (tests/cli/test_audit_key.py, tests/services/test_audit_key.py)."""
BACKENDS = [
    b.strip() for b in os.environ.get("SAGLIK_TEST_BACKENDS", "sqlite,postgresql").split(",") if b
]


def pytest_configure(config: pytest.Config) -> None:
    """Before any test: in this process, and in every ``saglik`` process a test starts (they
    inherit the environment)."""
    for name, value in {**TEST_HASH_COST, "SAGLIK_AUDIT_KEY": TEST_AUDIT_KEY}.items():
        os.environ.setdefault(name, value)
    passwords.configure(Settings.from_env().hash_cost)


@pytest.fixture(scope="session")
def clock() -> ManualClock:
    return ManualClock(BASE_TIME)


@pytest.fixture(autouse=True)
def _reset_clock(clock: ManualClock) -> Iterator[None]:
    clock.set(BASE_TIME)
    yield
    clock.set(BASE_TIME)


@pytest.fixture(autouse=True)
def _no_guesses_carried_over(request: pytest.FixtureRequest) -> Iterator[None]:
    """Every test calls from 127.0.0.1: the wrong passwords of one test (counted per address by
    the guessing throttle) must not lock out the next one."""
    yield
    if "store" in request.fixturenames:
        with request.getfixturevalue("store").begin() as conn:
            if conn.execute(auth_failures.delete()).rowcount:
                state.bump_locks_version(conn)  # the servers' workers forget them too


@pytest.fixture(scope="session", params=BACKENDS)
def store(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Engine]:
    """A store of its own for this test run, prepared as every command prepares one: migrated,
    with the shipped districts, and no other data."""
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("sqlite") / "saglik.db"
        engine = make_engine(f"sqlite:///{path}")
        ensure_store(engine)
        yield engine
        engine.dispose()
        return
    with pg_database(f"saglik_test_{os.getpid()}_{uuid.uuid4().hex[:8]}") as url:
        engine = make_engine(url)
        ensure_store(engine)
        yield engine
        engine.dispose()


@dataclass
class LiveServer:
    base_url: str
    engine: Engine
    clock: ManualClock

    def client(self, **kwargs: object) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, timeout=10, **kwargs)  # type: ignore[arg-type]


def start_server(
    engine: Engine, clock: ManualClock, settings: Settings
) -> tuple[uvicorn.Server, threading.Thread, str]:
    """Runs the real app under uvicorn in a thread, on a loopback port; returns once it listens."""
    app = create_app(settings, clock=clock, engine=engine)
    port = free_port()
    # proxy_headers off, as `saglik serve` runs it: only SAGLIK_TRUSTED_PROXIES may vouch for XFF
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_config=None,
        access_log=False,
        lifespan="on",
        proxy_headers=False,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("test server did not start")
        time.sleep(0.02)
    return server, thread, f"http://127.0.0.1:{port}"


@pytest.fixture(scope="session")
def server(store: Engine, clock: ManualClock) -> Iterator[LiveServer]:
    # refusals folded by one test are written when the server stops, never amid a later test's
    # count of its own audit rows
    settings = Settings(database_url="unused-engine-injected", refusal_flush_seconds=0)
    srv, thread, base_url = start_server(store, clock, settings)
    yield LiveServer(base_url, store, clock)
    srv.should_exit = True
    thread.join(timeout=15)


@pytest.fixture
def accounts(store: Engine, clock: ManualClock) -> AccountService:
    return AccountService(store, clock, change_log(store, clock))


@pytest.fixture
def hes_data(store: Engine, clock: ManualClock) -> HesDataService:
    return HesDataService(store, clock, change_log(store, clock))


@dataclass(frozen=True)
class Credential:
    username: str
    password: str
    env: str

    @property
    def auth(self) -> tuple[str, str]:
        return (self.username, self.password)


@pytest.fixture
def make_user(accounts: AccountService) -> Callable[..., Credential]:
    """``make_user(env="test", methods=ALL_METHODS, **options)``: a user of a new institution."""

    def make(
        env: str = "test", methods: tuple[str, ...] = ALL_METHODS, **options: object
    ) -> Credential:
        institution = f"Kurum {uuid.uuid4().hex[:10]}"
        accounts.add_institution(institution)
        username = f"u{uuid.uuid4().hex[:12]}"
        issued = accounts.add_user(
            username=username,
            institution=institution,
            env=env,
            methods=methods,
            **options,  # type: ignore[arg-type]
        )
        return Credential(username, issued.password, env)

    return make


@dataclass(frozen=True)
class Holder:
    identity_number: str
    code: str
    first_name: str
    last_name: str


_rng = random.Random()


@pytest.fixture
def make_holder(hes_data: HesDataService) -> Callable[..., Holder]:
    """``make_holder(env="live", first_name=..., **issue)``: a person with one code."""

    def make(
        env: str = "live",
        first_name: str = "Ayşe Gül",
        last_name: str = "Yıldırım",
        **issue: object,
    ) -> Holder:
        tckn = random_tckn(_rng)
        hes_data.add_person(env, tckn, first_name, last_name)
        code, _ = hes_data.issue_code(env, tckn, **issue)  # type: ignore[arg-type]
        return Holder(tckn, code, first_name, last_name)

    return make
