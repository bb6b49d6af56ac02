"""Rate limits and credential changes hold across the whole service (issue 12 §2, README "Many
workers, many machines"), black-box: ``saglik serve`` processes with several workers, and two
processes on different ports sharing one PostgreSQL database, calls spread over every worker on
fresh connections."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.cli.conftest import run_saglik
from tests.cluster_support import Node, add_user, cluster
from tests.pg_support import pg_database
from tests.web.conftest import path

EMPLOYEE = "check-employee-hes-code"
SPREAD = 24
"""Calls per check, each on a new connection, round-robin over the processes and concurrent, so
that every worker takes some (checked from the access log's pids)."""
PROXY = {"SAGLIK_TRUSTED_PROXIES": "127.0.0.1/32"}
"""Each call comes "through a proxy" from an address of its own (X-Forwarded-For), inside the
user's allow-list: the wrong passwords a test sends on purpose are then answered 401 each, never
held back by the guessing throttle (README "Guessing")."""
CALLERS = "198.51.100.0/24"


@dataclass(frozen=True)
class Service:
    url: str
    nodes: Sequence[Node]
    tmp: Path


def _config_id(config: tuple[str, int, int]) -> str:
    backend, nodes, workers = config
    return f"{backend}-{nodes}x{workers}"


CONFIGS = [("sqlite", 1, 2), ("postgresql", 1, 2), ("postgresql", 2, 1)]


@pytest.fixture(scope="module", params=CONFIGS, ids=_config_id)
def service(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Service]:
    backend, nodes, workers = request.param
    tmp = tmp_path_factory.mktemp("many")
    if backend == "sqlite":
        url = f"sqlite:///{tmp / 'saglik.db'}"
        add_user(url)  # migrates the new store before the processes start
        with cluster(url, nodes=nodes, workers=workers, env=PROXY, cwd=tmp) as started:
            yield Service(url, started, tmp)
        return
    with pg_database(f"saglik_many_{os.getpid()}_{uuid.uuid4().hex[:8]}") as url:
        add_user(url)
        with cluster(url, nodes=nodes, workers=workers, env=PROXY, cwd=tmp) as started:
            yield Service(url, started, tmp)


def _call(node: Node, auth: tuple[str, str], n: int) -> int:
    with node.client(auth=auth) as client:  # a connection of its own
        response = client.post(
            path("test", EMPLOYEE),
            json={"hes_code": "X"},
            headers={"X-Forwarded-For": f"198.51.100.{n % 250 + 1}"},
        )
        return response.status_code


def _spread(service: Service, auth: tuple[str, str], calls: int = SPREAD) -> list[int]:
    nodes = service.nodes
    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(lambda n: _call(nodes[n % len(nodes)], auth, n), range(calls)))


def _answering_pids(
    service: Service, spread: Callable[[], list[int]]
) -> tuple[list[int], set[int]]:
    """What ``spread`` got, and the worker processes that answered it (their access-log lines
    written meanwhile)."""
    seen = [len(node.stderr) for node in service.nodes]
    statuses = spread()
    pids = set()
    for node, start in zip(service.nodes, seen, strict=True):
        for line in node.stderr[start:]:
            entry = json.loads(line)
            if entry.get("logger") == "saglik.access" and entry.get("path", "").startswith(
                "/services/g2g/"
            ):
                pids.add(entry["pid"])
    return statuses, pids


ADMITTED = 400  # past the gateway: the made-up code "X" gets HES's error answer


def _on_every_worker(service: Service, auth: tuple[str, str], expected: int) -> None:
    """Every worker of every process answers ``auth``'s calls with ``expected``."""
    statuses, pids = _answering_pids(service, lambda: _spread(service, auth))
    assert statuses == [expected] * SPREAD, statuses
    assert len(pids) == sum(node.workers for node in service.nodes), pids


def test_a_rate_limit_is_counted_once_for_the_whole_service(service: Service) -> None:
    user = add_user(service.url, rate_limit="10/minute", ip_allowlist=[CALLERS])
    statuses = _spread(service, user.auth, calls=40)
    assert statuses.count(ADMITTED) == 10, statuses
    assert statuses.count(429) == 30, statuses


def test_the_call_right_after_a_cli_password_reset_is_refused_by_every_worker(
    service: Service,
) -> None:
    user = add_user(service.url, ip_allowlist=[CALLERS])
    _on_every_worker(service, user.auth, ADMITTED)  # each has verified the password: cached
    reset = run_saglik(
        ["user", "reset-password", user.username, "--env", "test"],
        env_url=service.url,
        cwd=service.tmp,
    )
    assert reset.returncode == 0, reset.stderr
    _on_every_worker(service, user.auth, 401)
    new_password = reset.stdout.strip().splitlines()[-1]
    _on_every_worker(service, (user.username, new_password), ADMITTED)


def test_the_call_right_after_an_operator_patch_is_refused_by_every_worker(
    service: Service,
) -> None:
    user = add_user(service.url, ip_allowlist=[CALLERS])
    _on_every_worker(service, user.auth, ADMITTED)
    created = run_saglik(
        ["token", "create", f"ops-{uuid.uuid4().hex[:8]}"], env_url=service.url, cwd=service.tmp
    )
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip().splitlines()[-1]
    with httpx.Client(base_url=service.nodes[-1].base_url, timeout=10) as operator:
        patched = operator.patch(
            f"/admin/api/users/test/{user.username}",
            json={"methods": ["check-visitor-hes-code"]},
            headers={"Authorization": f"Bearer {token}"},
        )
    assert patched.status_code == 200, patched.text
    _on_every_worker(service, user.auth, 403)  # the method is no longer granted
