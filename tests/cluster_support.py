"""A service made of several ``saglik serve`` processes on one store, as a deployment runs it:
K processes (each on its own loopback port, each with W workers) sharing one database, for
black-box tests of what must hold across workers and machines (issue 12).

    url = ...                                       # an SQLite file or a pg_database(...)
    user = add_user(url, methods=("check-visitor-hes-code",), rate_limit="10/minute")
    with cluster(url, nodes=2, workers=2, env={"SAGLIK_MOI_ENDPOINT": ...}) as nodes:
        with nodes[0].client(auth=user.auth) as client: ...

Every process is bounded in time: the context waits for each to be ready, and on the way out
stops each with SIGTERM and asserts a clean exit (status 0, every worker's lifespan shut down, no
traceback). If the body fails, the processes are killed instead, whole process groups.
"""

from __future__ import annotations

import contextlib
import secrets
import signal
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from saglik.domain.clock import SystemClock
from saglik.domain.methods import ALL_METHODS
from saglik.services.accounts import AccountService
from saglik.services.bootstrap import ensure_store
from saglik.store.engine import make_engine
from tests.change_support import change_log
from tests.cli.conftest import SAGLIK
from tests.conftest import Credential
from tests.ports import free_port
from tests.process_support import Served, spawn
from tests.redis_support import redis_url

START_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0
SHUT_DOWN = "shut down cleanly"
"""What each worker logs once its lifespan has ended."""


@dataclass
class Node(Served):
    """One ``saglik serve`` process (its main process and its workers)."""

    workers: int = 1

    def wait_ready(self, timeout: float = START_TIMEOUT) -> None:
        """Until every worker has started (granian logs ``Started worker-N`` once its lifespan
        start-up is done) and ``/readyz`` answers 200."""
        deadline = time.monotonic() + timeout
        with self.client(timeout=2) as client:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    self.join_readers()
                    pytest.fail(f"saglik serve exited early ({self.proc.returncode}):\n{self.err}")
                started = all(f"Started worker-{n}" in self.err for n in range(1, self.workers + 1))
                with contextlib.suppress(httpx.TransportError):
                    if started and client.get("/readyz").status_code == 200:
                        return
                time.sleep(0.1)
        pytest.fail(f"saglik serve was not ready within {timeout} s:\n{self.err}")

    def stop_cleanly(self) -> None:
        """SIGTERM, then the clean exit described in the module's docstring."""
        assert self.stop(signal.SIGTERM, timeout=STOP_TIMEOUT) == 0, self.err
        assert self.err.count(SHUT_DOWN) == self.workers, self.err
        assert "Traceback" not in self.err, self.err


def _spawn(store_url: str, workers: int, env: Mapping[str, str], cwd: Path | None) -> Node:
    port = free_port()
    command = [SAGLIK, "serve", "--host", "127.0.0.1", "--port", str(port)]
    served = spawn(
        [*command, "--workers", str(workers)],
        port=port,
        env={"SAGLIK_DATABASE_URL": store_url, **env},
        cwd=cwd,
    )
    return Node(served.proc, served.base_url, served.stdout, served.stderr, served.readers, workers)


@contextlib.contextmanager
def cluster(
    store_url: str,
    *,
    nodes: int = 1,
    workers: int = 1,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> Iterator[Sequence[Node]]:
    """``nodes`` processes of ``workers`` workers on ``store_url``, ready; stopped cleanly after.

    ``env`` adds or overrides ``SAGLIK_*`` settings for every process. More than one worker in
    all needs a shared rate-limit storage: the test Redis (``tests/redis_support.py``; skipped or,
    under CI, failed when unreachable) unless ``env`` names another. The first process prepares
    the store (migration, fixtures, sandbox user) before the others start, as an operator brings
    up the first machine first."""
    settings = dict(env or {})
    if nodes * workers > 1:
        settings.setdefault("SAGLIK_RATE_LIMIT_STORAGE", redis_url())
    started: list[Node] = []
    try:
        for _ in range(nodes):
            started.append(_spawn(store_url, workers, settings, cwd))
            if len(started) == 1:
                started[0].wait_ready()
        for node in started[1:]:
            node.wait_ready()
        yield tuple(started)
        for node in started:
            node.stop_cleanly()
    finally:
        for node in started:
            node.kill()


def add_user(
    store_url: str,
    *,
    env: str = "test",
    methods: Sequence[str] = ALL_METHODS,
    rate_limit: str | None = None,
    **options: object,
) -> Credential:
    """A service user of a new institution, written straight to the store (migrated first if it
    is new), with a password the test knows. ``options``: what ``AccountService.add_user`` takes
    besides (``ip_allowlist``, ``province_code``, …)."""
    engine = make_engine(store_url)
    try:
        ensure_store(engine)
        clock = SystemClock()
        accounts = AccountService(engine, clock, change_log(engine, clock))
        institution = f"Kurum {uuid.uuid4().hex[:10]}"
        accounts.add_institution(institution)
        username = f"u{uuid.uuid4().hex[:12]}"
        password = secrets.token_urlsafe(18)
        accounts.add_user(
            username=username,
            institution=institution,
            env=env,
            methods=methods,
            password=password,
            rate_limit=rate_limit,
            **options,  # type: ignore[arg-type]
        )
    finally:
        engine.dispose()
    return Credential(username, password, env)
